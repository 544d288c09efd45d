"""Issue 16: the match picture for every recording, and a folder of recordings as one table equal
to the replay summaries field by field."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import matplotlib.image
import pyarrow.parquet
import pytest

from engine import playback
from engine.analysis.report import summarize
from engine.analysis.review import review_file
from engine.analysis.review_plot import draw
from engine.cli import main
from engine.core.markets.signals import Reason
from engine.io.recording import read_recording

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures_data"
RECORDINGS = sorted(FIXTURES.glob("*.jsonl"))


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_every_recording_draws_a_picture_that_is_not_blank(path: Path, tmp_path: Path) -> None:
    picture = tmp_path / "match.png"
    draw(review_file(path), picture)
    pixels = matplotlib.image.imread(picture)
    assert pixels.shape[:2] == (612, 1080)  # 12 x 6.8 inches at 90 dpi
    assert pixels.std() > 0.05  # not one colour
    assert (pixels[..., :3].mean(axis=2) < 0.5).mean() > 0.005  # some ink: lines, dots, text


def test_report_writes_png_and_svg(tmp_path: Path) -> None:
    recording = FIXTURES / "scenario_timeout_injury_play_stopped.jsonl"
    for suffix in (".png", ".svg"):
        out = tmp_path / f"match{suffix}"
        assert main(["report", str(recording), "-o", str(out)]) == 0
        assert out.stat().st_size > 10_000
    assert "suspended: timeout" in (tmp_path / "match.svg").read_text()


def test_the_review_sees_the_stoppages_and_the_corrections() -> None:
    stopped = review_file(FIXTURES / "scenario_timeout_injury_play_stopped.jsonl").suspended()
    for reason in (Reason.TIMEOUT, Reason.INJURY, Reason.PLAY_STOPPED):
        count, seconds = stopped[reason]
        assert count >= 1
        assert seconds > 0
    stale = review_file(FIXTURES / "scenario_stale_feed.jsonl").suspended()
    assert stale[Reason.STALE_FEED][0] == 1
    corrected = review_file(FIXTURES / "scenario_point_moved_and_deleted.jsonl")
    kinds = {mark.kind for mark in corrected.marks}
    assert {"correction", "rolled back", "settled", "ended"} <= kinds
    assert corrected.row()["rollbacks"] >= 1


def _summary_fields(summary: dict[str, object]) -> dict[str, object]:
    """The summary's fields as the table writes them (games and points as text)."""
    games = summary["games"]
    points = summary["points"]
    assert isinstance(games, list)
    assert isinstance(points, list)
    return {
        "fixtureId": summary["fixtureId"],
        "bestOf": summary["bestOf"],
        "doubles": summary["doubles"],
        "status": summary["status"],
        "result": summary["result"],
        "winner": summary["winner"],
        "games": "-".join(str(won) for won in games),
        "points": " ".join(f"{home}-{away}" for home, away in points),
        "lastSeq": summary["lastSeq"],
        "discrepancies": summary["discrepancies"],
        "malformed": summary["malformed"],
        "gaps": summary["gaps"],
        "duplicates": summary["duplicates"],
        "unknownActions": summary["unknownActions"],
    }


def test_the_table_equals_the_replay_summaries_field_by_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_out, parquet_out = tmp_path / "season.csv", tmp_path / "season.parquet"
    assert main(["replay", str(FIXTURES), "--table", str(csv_out)]) == 0
    assert main(["replay", str(FIXTURES), "--table", str(parquet_out)]) == 0
    assert "52 rows from 52 recordings, 0 unreadable" in capsys.readouterr().err
    with open(csv_out, newline="") as source:
        from_csv = list(csv.DictReader(source))
    from_parquet = pyarrow.parquet.read_table(parquet_out).to_pylist()
    assert len(from_csv) == len(from_parquet) == len(RECORDINGS)
    for path, text_row, typed_row in zip(RECORDINGS, from_csv, from_parquet, strict=True):
        assert typed_row["source"] == text_row["source"] == str(path)
        expected = _summary_fields(summarize(playback.fold(read_recording(path))))
        for key, value in expected.items():
            assert typed_row[key] == value, (path.name, key)
            assert text_row[key] == ("" if value is None else str(value)), (path.name, key)
        assert typed_row["home"]
        assert typed_row["away"]
        assert typed_row["durationSeconds"] > 0
        assert typed_row["ball_in_play_count"] > 0 or typed_row["status"] != "finished" or not typed_row["points"]


def test_an_unreadable_recording_is_one_line_and_the_rest_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "season"
    folder.mkdir()
    (folder / "a_good.jsonl").write_bytes((FIXTURES / "ittf_ws_bo5.jsonl").read_bytes())
    (folder / "b_garbage.jsonl").write_text("not json\n" * 5)
    (folder / "c_notes.txt").write_text("not a recording and not read")
    out = tmp_path / "season.csv"
    assert main(["replay", str(folder), "--table", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert "b_garbage.jsonl" in err[0]
    assert "skipped" in err[0]
    assert "1 rows from 2 recordings, 1 unreadable" in err[1]
    with open(out, newline="") as source:
        (row,) = list(csv.DictReader(source))
    assert row["source"].endswith("a_good.jsonl")


def test_the_demo_summary_and_the_row_agree_on_the_demo_match() -> None:
    """The row's counts come from the same replay: settlements counted in the row equal the settled
    markets of the final book."""
    path = FIXTURES / "aicup2026_m05_female_bo7.jsonl"
    row = review_file(path).row()
    book = json.loads(json.dumps(summarize(playback.fold(read_recording(path)))))["markets"]
    assert row["settlements"] == sum(1 for entry in book.values() if entry["status"] == "settled")
    assert row["voids"] == sum(1 for entry in book.values() if entry["status"] == "void")


def test_without_matplotlib_report_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert main(["report", str(RECORDINGS[0]), "-o", "match.png"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "pip install 'ttengine[plot]'" in err


def test_the_table_is_the_same_whatever_the_number_of_processes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--jobs` replays in worker processes: the same rows in the same order, the same unreadable lines."""
    folder = tmp_path / "season"
    folder.mkdir()
    for index, path in enumerate(RECORDINGS[:9]):
        (folder / f"{index:02d}_{path.name}").write_bytes(path.read_bytes())
    (folder / "04b_garbage.jsonl").write_text("not json\n")
    outputs = []
    for jobs in ("1", "3"):
        out = tmp_path / f"season_{jobs}.csv"
        assert main(["replay", str(folder), "--table", str(out), "--jobs", jobs]) == 2
        err = capsys.readouterr().err.splitlines()
        assert [line for line in err if "garbage" in line] == [err[0]]
        assert "9 rows from 10 recordings, 1 unreadable" in err[-1]
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1]
    assert outputs[0].count("\n") == 10  # the header and nine rows
