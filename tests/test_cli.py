"""The command line at its edges (issue 12): inputs that are not recordings, compressed and raw
inputs, and every refused command-line value — one line on stderr and exit code 2."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from engine.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures_data"
RECORDING = FIXTURES / "aicup2026_m01_female_bo5.jsonl"


def _raw_messages(path: Path) -> bytes:
    """The provider messages of a recording, one per line, without the recording's wrapper."""
    lines = path.read_bytes().splitlines()[1:]
    return b"\n".join(orjson.loads(line)["text"].encode() for line in lines) + b"\n"


NOT_RECORDINGS: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty": (lambda: b"", "no actions read: the file holds no frames"),
    "random bytes": (lambda: random.Random(7).randbytes(4000), "not a recording frame or provider message"),
    "an object": (lambda: b'{"a":1}\n', "no actions read: 1 line, 1 message without a readable action"),
    "zstd-like": (lambda: b"\x28\xb5\x2f\xfd" + bytes(range(200)), "compressed"),
    "broken gzip": (lambda: gzip.compress(RECORDING.read_bytes())[:100], "not a readable gzip file"),
}


@pytest.mark.parametrize("name", sorted(NOT_RECORDINGS))
def test_a_file_without_actions_exits_2_with_one_line(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content, says = NOT_RECORDINGS[name]
    path = tmp_path / "input.jsonl"
    path.write_bytes(content())
    assert main(["replay", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert says in captured.err
    assert captured.err.startswith("engine replay: ")


def _replayed(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["replay", str(path)]) == 0
    return dict(json.loads(capsys.readouterr().out))


COMPRESSIONS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
}


@pytest.mark.parametrize("name", sorted(COMPRESSIONS))
def test_compressed_recordings_replay_transparently(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "recording.jsonl"  # recognised by its first bytes, not its name
    path.write_bytes(COMPRESSIONS[name](RECORDING.read_bytes()))
    assert _replayed(path, capsys) == _replayed(RECORDING, capsys)


def test_raw_provider_messages_replay_and_name_their_fixture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One provider message per line, no meta line: the fixture id comes from the actions; the
    format is unknown (no bestOf), so only what does not depend on it is compared."""
    path = tmp_path / "raw.jsonl"
    path.write_bytes(_raw_messages(RECORDING))
    raw, direct = _replayed(path, capsys), _replayed(RECORDING, capsys)
    assert raw["fixtureId"] == direct["fixtureId"] is not None
    assert raw["bestOf"] is None
    for key in ("status", "games", "points", "winner", "result", "lastSeq", "malformed"):
        assert raw[key] == direct[key], key
    assert raw["markets"]["match_winner"] == direct["markets"]["match_winner"]  # type: ignore[index]


PIPED = {
    "replay --trace": ["replay", str(RECORDING), "--trace"],
    "replay --trace --speed": ["replay", str(RECORDING), "--trace", "--speed", "1000"],
    "demo": ["demo"],
}


@pytest.mark.parametrize("name", sorted(PIPED))
def test_output_piped_into_head_ends_quietly(name: str) -> None:
    """Issue 12.3: `… | head -1` ends with the SIGPIPE status and nothing on stderr (before: a
    BrokenPipeError traceback, or a reconnect on the live path)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", *PIPED[name]], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    process.stdout.readline()
    process.stdout.close()  # what head does after its lines
    _, err = process.communicate(timeout=120)
    assert err == b""
    assert process.returncode in (0, 141)  # 141 (SIGPIPE) when it wrote after head left
