"""Regenerate the recordings in fixtures_data/ from their sources, deterministically.

    python fixtures_data/regenerate.py [--realdata fixtures_data/realdata]

Sources (third-party factual match data; see realdata/ATTRIBUTION.md for full attribution):
- AI CUP 2026 table tennis rally data, GitHub jabir95tsai/pingpong_aicup_2026,
  artifacts/local_benchmark/train.csv @ aa72d0af: real point-by-point matches with observed servers
  (file aicup2026_points_derived.csv). Points whose server was inferred, not observed, are sent
  without `team` on Point Started, so the engine must derive their server itself.
- ITTF official results, GitHub flying-dolphin/table-tennis-db @ e94c25fb (file
  ittf_results_sample.csv): real game scores; the point order inside a game is synthetic.

Each recording `<name>.jsonl` gets `<name>.expected.json`: what the source says the match was
(games, points per game, winner), written from the source, not from the engine.
"""

from __future__ import annotations

import argparse
import csv
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import orjson

from engine.core.rules import Side
from engine.feed.catalogue import SendType
from engine.feed.wire import Action, Summary, encode_frame
from engine.io.recording import Frame, RecordingMeta, write_recording
from engine.testing.feedgen import (
    POINT_SCORED,
    MatchScript,
    ScriptedPoint,
    match_stream,
    points_from_scores,
)

HERE = Path(__file__).resolve().parent
NAMESPACE = uuid.UUID("2b1f3f0e-2d7c-4b43-8f3a-5b8c6a1d9e01")
AICUP_SOURCE = "AI CUP 2026 rally data (github.com/jabir95tsai/pingpong_aicup_2026 @ aa72d0af), derived"
ITTF_SOURCE = "ITTF official results (github.com/flying-dolphin/table-tennis-db @ e94c25fb); point order synthetic"


def read_csv(path: Path) -> list[dict[str, str]]:
    """All rows of a CSV file with a header."""
    with open(path, newline="") as source:
        return list(csv.DictReader(source))


def fixture_id(name: str) -> str:
    """A stable fixture UUID for a recording name."""
    return str(uuid.uuid5(NAMESPACE, name))


def recv_time(index: int) -> str:
    """A deterministic receive time for frame `index` (one frame every 4 seconds)."""
    minutes, seconds = divmod(index * 4, 60)
    hours, minutes = divmod(minutes, 60)
    return f"2026-01-01T{10 + hours:02d}:{minutes:02d}:{seconds:02d}.000Z"


def write(
    name: str,
    actions: list[Action],
    best_of: int,
    doubles: bool,
    source: str,
    expected: dict[str, Any],
    frames: list[str] | None = None,
) -> None:
    """Write `<name>.jsonl` and `<name>.expected.json`."""
    texts = frames if frames is not None else [encode_frame(action) for action in actions]
    meta = RecordingMeta(actions[0].fixture_id, best_of, doubles)
    write_recording(
        HERE / f"{name}.jsonl",
        (Frame(text, recv_time(index)) for index, text in enumerate(texts)),
        meta,
    )
    body = {"source": source, "summary": expected}
    (HERE / f"{name}.expected.json").write_bytes(
        orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )


def truth(script: MatchScript, last_seq: int) -> dict[str, Any]:
    """The summary keys the source determines."""
    home, away = script.games_won()
    return {
        "fixtureId": script.fixture_id,
        "status": "finished",
        "games": [home, away],
        "points": [list(score) for score in script.game_scores()],
        "winner": "home" if home > away else "away",
        "result": "normal",
        "lastSeq": last_seq,
        "discrepancies": 0,
        "malformed": 0,
    }


# --- AI CUP: real points with observed servers -------------------------------------------------


def aicup(realdata: Path) -> None:
    summary = {row["match"]: row for row in read_csv(realdata / "aicup2026_match_summary.csv")}
    rows = read_csv(realdata / "aicup2026_points_derived.csv")
    for match, info in summary.items():
        if not info["format_inferred"].startswith("best_of_"):
            continue  # incomplete match: not a whole match
        best_of = int(info["format_inferred"].removeprefix("best_of_"))
        games: dict[int, list[ScriptedPoint]] = {}
        for row in rows:
            if row["match"] != match:
                continue
            side = {row["playerA"]: Side.HOME, row["playerB"]: Side.AWAY}
            observed = row["source"] == "observed"
            point = ScriptedPoint(side[row["winner"]], side[row["server"]] if observed else None)
            games.setdefault(int(row["game"]), []).append(point)
        name = f"aicup2026_m{int(match):02d}_{info['sex']}_bo{best_of}"
        script = MatchScript(
            fixture_id(name),
            tuple(tuple(games[g]) for g in sorted(games)),
            f"AICUP player {info['playerA']}",
            f"AICUP player {info['playerB']}",
        )
        actions = match_stream(script)
        expected = truth(script, len(actions))
        assert " ".join(f"{h}-{a}" for h, a in script.game_scores()) == info["game_scores_A_B"], name
        write(name, actions, best_of, False, AICUP_SOURCE, expected)


# --- ITTF: real game scores ---------------------------------------------------------------------

ITTF_PICKS = [
    # (name, predicate over a sample row): the first matching row is used
    ("ittf_ws_bo7_deuce", lambda r: r["sub_event"] == "WS" and r["games_won_winner"] == "4" and "14:12" in r["games"]),
    ("ittf_ws_bo5", lambda r: r["sub_event"] == "WS" and r["games_won_winner"] == "3" and not r["flags"]),
    ("ittf_wd_bo5_doubles", lambda r: r["sub_event"] == "WD" and r["games_won_winner"] == "3" and not r["flags"]),
    ("ittf_xd_bo5_doubles", lambda r: r["sub_event"] == "XD" and r["games_won_winner"] == "3" and not r["flags"]),
]


def ittf(realdata: Path) -> None:
    rows = read_csv(realdata / "ittf_results_sample.csv")
    for name, wanted in ITTF_PICKS:
        row = next(r for r in rows if wanted(r))
        scores = [tuple(int(x) for x in game.split(":")) for game in row["games"].split()]
        best_of = 2 * int(row["games_won_winner"]) - 1
        doubles = row["sub_event"] in ("WD", "XD", "MD")
        script = MatchScript(
            fixture_id(name),
            points_from_scores([(h, a) for h, a in scores], Side.HOME),
            row["side_a"],
            row["side_b"],
        )
        actions = match_stream(script)
        source = f"{ITTF_SOURCE}: {row['year']} {row['event']} {row['sub_event']} {row['round']}"
        write(name, actions, best_of, doubles, source, truth(script, len(actions)))


# --- scenarios on a real match ------------------------------------------------------------------


def scenario_noise(realdata: Path) -> None:
    """A real match with duplicates, local reordering and a malformed frame: same outcome."""
    del realdata
    name = "scenario_duplicates_reorder_malformed"
    scores = [(11, 7), (12, 14), (7, 11), (4, 11), (5, 11)]  # AI CUP match 5's game scores
    script = MatchScript(fixture_id(name), points_from_scores(scores, Side.HOME))
    actions = match_stream(script)
    texts = [encode_frame(action) for action in actions]
    noisy: list[str] = []
    for index, text in enumerate(texts):
        if index % 17 == 5 and index + 1 < len(texts):
            continue  # sent late: appended after its successor below
        noisy.append(text)
        if index % 17 == 6:
            noisy.append(texts[index - 1])
        if index % 23 == 0:
            noisy.append(text)  # duplicate
    noisy.insert(40, '{"fixtureAction": {"fixtureId": 42}')
    noisy.insert(41, '{"type":"heartbeat"}')
    expected = truth(script, len(actions))
    expected["malformed"] = 1
    write(name, actions, 7, False, "synthetic noise over AI CUP match 5's game scores", expected, noisy)


def scenario_point_deleted_and_moved(realdata: Path) -> None:
    """A point first given to the wrong side is corrected (Updated); a phantom point is deleted."""
    del realdata
    name = "scenario_point_moved_and_deleted"
    scores = [(11, 9), (11, 6), (11, 8)]
    script = MatchScript(fixture_id(name), points_from_scores(scores, Side.AWAY))
    actions = match_stream(script)
    target = [a for a in actions if a.type_id == POINT_SCORED][2]  # game 1, third point
    assert target.side is not None
    assert target.summary is not None
    wrong_side = target.side.other
    wrong_team = next(a.team for a in actions if a.side is wrong_side)
    phantom_id = fixture_id(name + "/phantom")
    out: list[Action] = []
    for action in actions:
        if action is not target:
            out.append(action)
            continue
        out.append(attrs.evolve(action, team=wrong_team, summary=_plus_point(target.summary, wrong_side, -1)))
        out.append(attrs.evolve(action, send_type=SendType.UPDATED))
        phantom = attrs.evolve(
            action,
            action_id=phantom_id,
            timeline=action.timeline + 0.5,
            summary=_plus_point(target.summary, Side.HOME, 0),
        )
        out.append(phantom)
        out.append(attrs.evolve(phantom, send_type=SendType.DELETED, summary=target.summary))
    renumbered = [attrs.evolve(action, seq=index + 1) for index, action in enumerate(out)]
    write(name, renumbered, 5, False, "synthetic correction scenario", truth(script, len(renumbered)))


def _plus_point(summary: Summary, side: Side, other_delta: int) -> Summary:
    """`summary` with one more point for `side` in the last game and `other_delta` for the other."""
    last = summary.periods[-1]
    home, away = (1, other_delta) if side is Side.HOME else (other_delta, 1)
    moved = attrs.evolve(last, home_points=last.home_points + home, away_points=last.away_points + away)
    return attrs.evolve(summary, periods=(*summary.periods[:-1], moved))


BUILDERS: list[Callable[[Path], None]] = [aicup, ittf, scenario_noise, scenario_point_deleted_and_moved]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--realdata", type=Path, default=HERE / "realdata")
    args = parser.parse_args()
    for build in BUILDERS:
        build(args.realdata)


if __name__ == "__main__":
    main()
