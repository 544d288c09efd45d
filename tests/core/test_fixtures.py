"""Golden replays: every recording in fixtures_data/ folds to what its source says, via the CLI too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scenario import with_prior

from engine import playback
from engine.analysis.report import describe_signal, is_signal, summarize
from engine.cli import main
from engine.core.config import DEFAULT_MARKETS
from engine.core.markets.signals import expand
from engine.core.reduce import reduce
from engine.feed.catalogue import ActionKind
from engine.io.recording import RecordingError, read_recording

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures_data"
RECORDINGS = sorted(FIXTURES.glob("*.jsonl"))
CONTRACT_KEYS = {
    "fixtureId",
    "status",
    "games",
    "points",
    "server",
    "winner",
    "result",
    "lastSeq",
    "discrepancies",
    "malformed",
}


def _replay(path: Path) -> dict[str, Any]:
    return summarize(playback.fold(read_recording(path)))


def test_the_corpus_holds_every_real_aicup_match_and_twenty_real_ittf_matches() -> None:
    names = [path.stem for path in RECORDINGS]
    assert len([n for n in names if n.startswith("aicup2026_")]) == 8
    assert len([n for n in names if n.startswith("ittf_")]) >= 20
    assert len(names) >= 40
    for path in RECORDINGS:
        assert path.with_suffix(".expected.json").exists(), path.name


def _trace_signals(path: Path) -> list[dict[str, Any]]:
    recording = read_recording(path)
    state = playback.start_state(recording, None, False, with_prior(DEFAULT_MARKETS))  # the mechanics, not the prior
    signals: list[dict[str, Any]] = []
    for _, message in playback.inputs(recording):
        state, events = reduce(state, message)
        # Scoped signals expanded to the per-market signals they stand for (`expand`): the
        # expectations say what happens to each market, whatever the grouping.
        signals.extend(describe_signal(single) for event in events if is_signal(event) for single in expand(event))
    return signals


def _in_order(expected: list[dict[str, Any]], signals: list[dict[str, Any]]) -> bool:
    """True when each expected signal (its given keys) is found, in order, among `signals`."""
    found = iter(signals)
    return all(any(all(got.get(k) == v for k, v in want.items()) for got in found) for want in expected)


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_each_recording_replays_to_its_golden_summary_and_its_source_truth(path: Path) -> None:
    expected = json.loads(path.with_suffix(".expected.json").read_text())
    assert expected["source"]
    summary = _replay(path)
    assert summary.keys() >= CONTRACT_KEYS
    assert summary == expected["summary"]  # golden: any change to any outcome is a diff in review
    truth = expected["truth"]  # written from the source, not by the engine
    for key, value in truth.items():
        if key == "markets":
            markets: dict[str, Any] = summary["markets"]
            assert {market: markets[market] for market in value} == value
        else:
            assert summary[key] == value, key
    if "signals" in expected:
        assert _in_order(expected["signals"], _trace_signals(path))


def test_the_signal_check_can_fail() -> None:
    signals = [{"signal": "MarketSettled", "market": "a", "result": "home"}, {"signal": "MarketVoided", "market": "b"}]
    assert _in_order([{"market": "a"}, {"market": "b"}], signals)
    assert not _in_order([{"market": "b"}, {"market": "a"}], signals)
    assert not _in_order([{"market": "a", "result": "away"}], signals)


def test_cli_summary_and_trace(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / "aicup2026_m05_female_bo7.jsonl"
    assert main(["replay", str(path), "--summary"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["games"] == [1, 4]
    assert summary["winner"] == "away"
    assert main(["replay", str(path), "--trace"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["seq"] == 1
    assert lines[-1]["seq"] is None  # the end of the stream
    assert lines[-1]["state"] == {key: value for key, value in summary.items() if key != "markets"}
    assert any("MatchWon" in line["events"] for line in lines)
    assert set(lines[10]) >= {"seq", "input", "recv", "events", "signals", "state"}  # keys only added
    assert set(lines[10]) - {"seq", "input", "recv", "events", "signals", "state"} == {"fixtureId", "timestamp"}
    assert lines[10]["fixtureId"] == summary["fixtureId"]
    assert lines[10]["input"] == "Action"
    assert lines[-1]["input"] == "EndOfStream"
    assert lines[0]["recv"].endswith("Z")
    assert lines[0]["recv"] <= lines[10]["recv"] <= lines[-1]["recv"]


def test_trace_names_non_message_inputs_and_refusals(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 12.2: the input kind of every line (Stale from a silence in the receive times) and the
    reason decode gave for a refused frame."""
    assert main(["replay", str(FIXTURES / "scenario_stale_feed.jsonl"), "--trace"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any(line["input"] == "Stale" and line["seq"] is None and "recv" in line for line in lines)
    assert main(["replay", str(FIXTURES / "scenario_duplicates_reorder_malformed.jsonl"), "--trace"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    refused = [line for line in lines if line["input"] == "Malformed"]
    assert refused
    assert all(line["refused"] for line in refused)
    assert all("refused" not in line for line in lines if line["input"] != "Malformed")


def test_cli_flags_override_the_recording_meta(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    path = FIXTURES / "aicup2026_m05_female_bo7.jsonl"
    assert main(["replay", str(path), "--best-of", "3"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["bestOf"] == 7  # the feed played on past best of 3, then best of 5: the feed wins
    assert summary["discrepancies"] == 0  # a disproved format is not a score discrepancy (issue 20.5)
    assert summary["games"] == [1, 4]
    assert summary["markets"]["match_winner"]["result"] == "away"
    assert caplog.text.count("the feed contradicts the format") == 2
    assert "now treated as best of 5" in caplog.text
    assert "now treated as best of 7" in caplog.text


def test_cli_reads_a_json_array_of_provider_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recording = read_recording(FIXTURES / "ittf_ws_bo5.jsonl")
    array = tmp_path / "actions.json"
    array.write_text("[" + ",".join(f.text for f in recording.frames) + "]")  # type: ignore[union-attr]
    assert main(["replay", str(array)]) == 0
    assert json.loads(capsys.readouterr().out)["games"] == [3, 0]


def test_cli_errors_are_one_line_and_non_zero(tmp_path: Path) -> None:
    missing = subprocess.run(
        [sys.executable, "-m", "engine", "replay", str(tmp_path / "nope.jsonl")], capture_output=True, text=True
    )
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1
    assert "cannot read" in missing.stderr
    bad_format = subprocess.run(
        [sys.executable, "-m", "engine", "replay", str(FIXTURES / "ittf_ws_bo5.jsonl"), "--best-of", "4"],
        capture_output=True,
        text=True,
    )
    assert bad_format.returncode == 2
    assert "an odd number of games from 1 to 9, not 4" in bad_format.stderr


def test_a_broken_recording_line_is_counted_not_fatal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = (FIXTURES / "ittf_ws_bo5.jsonl").read_text().splitlines()
    lines.insert(5, "{broken")
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(lines))
    assert main(["replay", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["malformed"] == 1
    assert summary["games"] == [3, 0]


def test_the_expedite_recording_maps_its_type_and_the_engine_follows_the_service_order() -> None:
    path = FIXTURES / "scenario_expedite.jsonl"
    assert read_recording(path).meta.types == {9901: ActionKind.EXPEDITE}
    recording = read_recording(path)
    state = playback.start_state(recording, None, False)
    names: list[str] = []
    for _, message in playback.inputs(recording):
        state, events = reduce(state, message)
        names.extend(type(event).__name__ for event in events)
    assert state.match.expedite
    assert state.match.unknown_actions == 0
    assert "UnexpectedServer" not in names  # every named server after expedite is the one expected


@pytest.mark.parametrize("types", ['{"x": "expedite"}', '{"9901": "nonsense"}', '["expedite"]'])
def test_a_bad_types_map_in_the_meta_is_a_clear_error(tmp_path: Path, types: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"meta": {"fixtureId": "fx", "types": ' + types + "}}\n")
    with pytest.raises(RecordingError, match="types"):
        read_recording(path)
