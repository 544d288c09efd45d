"""The command line at its edges (issue 12): inputs that are not recordings, compressed and raw
inputs, and every refused command-line value — one line on stderr and exit code 2."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import random
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from engine.cli import main
from engine.cli.one_match import DEMO_RECORDING
from engine.core.markets.catalogue import Market, MarketCatalogue, MarketType
from engine.core.match.rules import MatchFormat, Side
from engine.core.pricing.game import Strengths
from engine.core.pricing.model import Position, price

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures_data"
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
    assert captured.err.startswith("ttengine replay: ")


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
    "demo": ["demo", "--speed", "1000"],
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


UNSET = "TT_TEST_SURELY_UNSET_VARIABLE"
PRICE = ["--best-of", "5", "--score", "11-7,9-11,3-2", "--server", "home", "--p-home-serve", "0.6"]
PRICE += ["--p-away-serve", "0.55"]
ITTF = FIXTURES / "realdata" / "ittf_results_matches_2014_2026.csv.gz"
REFUSALS: dict[str, tuple[list[str], str]] = {
    # (arguments, what the one line must say)
    "best-of huge": (["replay", str(RECORDING), "--best-of", "99999999999"], "odd number of games from 1 to 9"),
    "best-of over the bound": (["replay", str(RECORDING), "--best-of", "10001"], "not 10001"),
    "best-of even": (["replay", str(RECORDING), "--best-of", "4"], "--best-of"),
    "best-of zero": (["connect", "f", "--token-env", "HOME", "--best-of", "0"], "--best-of"),
    "best-of text": (["replay", str(RECORDING), "--best-of", "seven"], "not 'seven'"),
    "replay speed zero": (["replay", str(RECORDING), "--speed", "0"], "a positive number"),
    "replay speed nan": (["replay", str(RECORDING), "--speed", "nan"], "a positive number"),
    "demo speed negative": (["demo", "--speed", "-1"], "--speed"),
    "replay missing file": (["replay", "/nonexistent/recording.jsonl"], "cannot read /nonexistent/recording.jsonl"),
    "serve port too big": (["serve", str(RECORDING), "--token", "t", "--port", "99999"], "a port from 0 to 65535"),
    "serve port negative": (["serve", str(RECORDING), "--token", "t", "--port", "-1"], "--port"),
    "serve duplicate over 1": (["serve", str(RECORDING), "--token", "t", "--duplicate", "2"], "probability"),
    "serve reorder negative": (["serve", str(RECORDING), "--token", "t", "--reorder", "-1"], "--reorder"),
    "serve delay negative": (["serve", str(RECORDING), "--token", "t", "--delay", "-1"], "--delay"),
    "serve drop-after negative": (["serve", str(RECORDING), "--token", "t", "--drop-after", "-2"], "--drop-after"),
    "serve silence negative": (["serve", str(RECORDING), "--token", "t", "--silence-after", "-1"], "--silence"),
    "serve heartbeat zero": (["serve", str(RECORDING), "--token", "t", "--heartbeat", "0"], "--heartbeat"),
    "serve no token": (["serve", str(RECORDING)], "give --token T or --token-env VAR"),
    "serve token-env unset": (["serve", str(RECORDING), "--token-env", UNSET], UNSET),
    "serve not a recording": (["serve", "/nonexistent", "--token", "t"], "/nonexistent"),
    "connect token-env unset": (["connect", "f", "--token-env", UNSET], UNSET),
    "connect insecure": (["connect", "f", "--token-env", "HOME", "--base", "ws://example.com"], "--allow-insecure"),
    "connect max-retries negative": (["connect", "f", "--token-env", "HOME", "--max-retries", "-1"], "--max-retries"),
    "connect stale-after zero": (["connect", "f", "--token-env", "HOME", "--stale-after", "0"], "--stale-after"),
    "connect types missing": (["connect", "f", "--token-env", "HOME", "--types", "/nonexistent.json"], "cannot read"),
    "connect types bad": (["connect", "f", "--token-env", "HOME", "--types", str(RECORDING)], "not JSON"),
    "price score text": (["price", *PRICE[:2], "--score", "eleven", *PRICE[4:]], "--score: games are points"),
    "price unfinished game": (["price", *PRICE[:2], "--score", "5-3,2-2", *PRICE[4:]], "game 1 at 5-3 is not finished"),
    "price match over": (["price", *PRICE[:2], "--score", "11-0,11-0,11-0,0-0", *PRICE[4:]], "the match is over"),
    "price current finished": (["price", *PRICE[:2], "--score", "11-7", *PRICE[4:]], "cannot stand at 11-7"),
    "price probability": (["price", *PRICE[:6], "--p-home-serve", "1.5", *PRICE[8:]], "a probability from 0 to 1"),
    "price server": (["price", *PRICE[:4], "--server", "middle", *PRICE[6:]], "--server"),
    "calibrate missing file": (["calibrate", "/nonexistent/results.csv"], "/nonexistent/results.csv"),
    "calibrate not results": (["calibrate", str(RECORDING)], "leaves 0 matches to fit"),
    "calibrate year too early": (["calibrate", str(ITTF), "--split-year", "1990"], "leaves 0 matches to fit"),
    "calibrate plot folder": (["calibrate", str(ITTF), "--plot", "/nonexistent/r.png"], "no such folder"),
    "calibrate strength zero": (["calibrate", str(ITTF), "--strength", "0"], "a positive number"),
    "report missing file": (["report", "/nonexistent.jsonl", "-o", "m.png"], "/nonexistent.jsonl"),
    "report suffix": (["report", str(RECORDING), "-o", "match.pdf"], "write .png or .svg"),
    "report no output": (["report", str(RECORDING)], "-o"),
    "replay folder without table": (["replay", str(FIXTURES)], "give --table"),
    "replay table suffix": (["replay", str(FIXTURES), "--table", "season.xlsx"], "write .csv or .parquet"),
    "replay table with trace": (["replay", str(FIXTURES), "--table", "t.csv", "--trace"], "no --trace"),
    "replay table empty folder": (["replay", str(FIXTURES / "realdata"), "--table", "t.csv"], "no recording"),
    "price one strength": (["price", *PRICE[:8]], "give both --p-home-serve and --p-away-serve"),
    "price pre-match and strengths": (["price", *PRICE, "--pre-match", "1.5", "2.6"], "--pre-match sets"),
    "price margin too small": (["price", *PRICE, "--margin", "0.01"], "minimum margin 0.02"),
    "price margin text": (["price", *PRICE, "--margin", "five"], "a margin from 0 up to 1"),
    "pre-match odds of 1": (["replay", str(RECORDING), "--pre-match", "1", "3"], "decimal odds above 1"),
    "pre-match sure profit": (["replay", str(RECORDING), "--pre-match", "2.2", "2.2"], "sure profit"),
    "pre-match format unknown": (
        ["connect", "f", "--token-env", "HOME", "--pre-match", "1.5", "2.6"],
        "give --best-of",
    ),
    "pre-match with table": (["replay", str(FIXTURES), "--table", "t.csv", "--pre-match", "1.5", "2.6"], "--table"),
    "margin without prices": (["replay", str(RECORDING), "--no-prices", "--margin", "0.05"], "--no-prices"),
    "unknown command": (["fly"], "invalid choice"),
    "no command": ([], "COMMAND"),
    "log level": (["--log-level", "LOUD", "demo"], "--log-level"),
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_every_bad_value_gets_one_line_and_exit_2(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 12.4: a refused value is one line on stderr naming what is wrong, exit code 2."""
    arguments, says = REFUSALS[name]
    with pytest.raises(SystemExit) as stopped:
        raise SystemExit(main(arguments))
    captured = capsys.readouterr()
    assert stopped.value.code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert says in captured.err
    assert captured.err.startswith("ttengine")


def test_version_and_help_name_the_program_and_show_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.startswith("ttengine ")
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    shown = capsys.readouterr().out
    assert shown.startswith("usage: ttengine serve")
    assert "(default: 8765)" in shown


def _as_from_a_terminal() -> None:
    """The child's signal state as a shell gives it (SIGINT delivered, not blocked or ignored),
    whatever the test worker's own state is."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_on_serve_exits_130() -> None:
    """Issue 12.4: serve ended with 0 on Ctrl-C; every other command with 130."""
    process = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "engine", "serve", str(RECORDING), "--token", "t", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_as_from_a_terminal,
    )
    assert process.stdout is not None
    assert process.stdout.readline().startswith(b"serving ws://127.0.0.1:")  # it is listening
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)  # -X faulthandler: where it hung, on stderr
        _, err = process.communicate(timeout=20)
        raise AssertionError(f"serve did not end on SIGINT: {err.decode()[-4000:]}") from None
    assert process.returncode == 130
    assert err.decode().strip() == "ttengine: interrupted"


CONNECT = [sys.executable, "-m", "engine", "connect", "f", "--token-env", "HOME"]


def test_a_closed_port_logs_each_retry_and_gives_up_after_max_retries() -> None:
    """Issue 12.4: a closed port retried forever without a word of attempt or delay."""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.run(
        [*CONNECT, "--max-retries", "2", "--base", f"ws://127.0.0.1:{port}"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    err = process.stderr.decode()
    assert process.returncode == 1
    assert "reconnecting in" in err
    assert "(retry 1 of 2)" in err
    assert "(retry 2 of 2)" in err
    assert err.strip().splitlines()[-1] == "ttengine connect: fixture f: gave up after 3 failed connections in a row"


def test_the_demo_match_ships_in_the_package_and_is_the_corpus_recording() -> None:
    """Issue 12.5: the installed demo cannot reach fixtures_data/, so its match is package data (a
    gzip copy regenerate.py writes); it must not drift from the recording the tests check."""
    packaged = gzip.decompress(DEMO_RECORDING.read_bytes())
    assert packaged == (FIXTURES / "aicup2026_m05_female_bo7.jsonl").read_bytes()
    assert (DEMO_RECORDING.parent / "ATTRIBUTION.md").read_text().count("aa72d0afa7dd38db1060d39951d9c5caad7750e3") == 1


def test_importing_the_core_loads_neither_websockets_nor_hypothesis() -> None:
    """Issue 14: `import engine` is lazy; the core's imports stay below the adapter and the tests."""
    code = (
        "import sys, engine.core.reduce, engine.feed.wire\n"
        "assert 'websockets' not in sys.modules and 'hypothesis' not in sys.modules, sorted(sys.modules)\n"
        "import engine\n"
        "assert engine.MatchState.new is not None and 'websockets' not in sys.modules\n"
        "assert engine.connect and 'websockets' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_price_prints_every_undecided_market_of_the_default_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 15.4: one JSON object, market id -> outcome -> probability, as engine.pricing gives it."""
    assert main(["price", *PRICE]) == 0
    printed = json.loads(capsys.readouterr().out)
    position = Position(MatchFormat(best_of=5), (1, 1), 3, (3, 2), Side.HOME)
    catalogue = MarketCatalogue()
    markets = [*catalogue.match_markets(position.format)]
    for game in (3, 4, 5):
        markets.extend(catalogue.game_markets(game))
    markets.append(Market(MarketType.POINT_WINNER, 3, number=6))
    assert printed == price(position, Strengths(0.6, 0.55), markets)
    assert "game_winner:1" not in printed  # decided: no price
    assert "point_winner:3:6" in printed
    assert all(abs(sum(outcomes.values()) - 1) < 1e-9 for outcomes in printed.values())
