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
import gzip
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import msgspec
import orjson

from engine import playback
from engine.analysis.report import summarize
from engine.core.match.rules import MatchFormat, Side
from engine.feed.catalogue import ActionKind, SendType
from engine.feed.encode import encode_frame, heartbeat_frame
from engine.feed.wire import Action, Summary
from engine.io.recording import Frame, RecordingMeta, read_recording, write_recording
from engine.testing import GeneratedMatch
from engine.testing.feedgen import (
    EXPEDITE,
    POINT_SCORED,
    MatchScript,
    ScriptedPoint,
    match_stream,
    points_from_scores,
)
from engine.testing.matches import MatchBuilder

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
    signals: list[dict[str, Any]] | None = None,
    recv: Callable[[int], str] | None = None,
    types: dict[int, ActionKind] | None = None,
) -> None:
    """Write `<name>.jsonl` and `<name>.expected.json`: the source's truth (`truth`, written from the
    source, never from the engine), the engine's whole summary of the replay (`summary`, the golden
    file: any change to any outcome shows in review) and, for a scenario, the signals it must emit
    (`signals`, in order, among all the others)."""
    texts = frames if frames is not None else [encode_frame(action) for action in actions]
    meta = RecordingMeta(actions[0].fixture_id, best_of, doubles, types or {})
    path = HERE / f"{name}.jsonl"
    write_recording(path, (Frame(text, (recv or recv_time)(index)) for index, text in enumerate(texts)), meta)
    body: dict[str, Any] = {"source": source, "truth": expected, "summary": replayed_summary(path)}
    if signals:
        body["signals"] = signals
    (HERE / f"{name}.expected.json").write_bytes(
        orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )


def replayed_summary(path: Path) -> dict[str, Any]:
    """What the engine makes of a recording (the CLI's replay)."""
    return summarize(playback.fold(read_recording(path)))


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


def _games(row: dict[str, str]) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in (game.split(":") for game in row["games"].split())]


def _deuce_games(row: dict[str, str]) -> int:
    return sum(1 for home, away in _games(row) if min(home, away) >= 10)


def _clean(sub_event: str, to_win: str) -> Callable[[dict[str, str]], bool]:
    return lambda r: r["sub_event"] == sub_event and r["games_won_winner"] == to_win and not r["flags"]


# (name, how many, which rows): distinct rows, first come first served, in file order.
ITTF_PICKS: list[tuple[str, int, Callable[[dict[str, str]], bool]]] = [
    ("ittf_ws_bo7_deuce", 1, lambda r: _clean("WS", "4")(r) and "14:12" in r["games"]),
    ("ittf_ws_bo5", 1, _clean("WS", "3")),
    ("ittf_wd_bo5_doubles", 1, _clean("WD", "3")),
    ("ittf_xd_bo5_doubles", 1, _clean("XD", "3")),
    ("ittf_ws_bo5_{n}", 4, _clean("WS", "3")),
    ("ittf_ws_bo7_{n}", 4, _clean("WS", "4")),
    ("ittf_wd_bo5_doubles_{n}", 2, _clean("WD", "3")),
    ("ittf_xd_bo5_mixed_{n}", 3, _clean("XD", "3")),
    ("ittf_ws_bo7_deuce_heavy_{n}", 2, lambda r: _clean("WS", "4")(r) and _deuce_games(r) >= 3),
    ("ittf_ws_bo5_deuce_heavy_{n}", 1, lambda r: _clean("WS", "3")(r) and _deuce_games(r) >= 2),
    ("ittf_xd_bo5_deuce_heavy_{n}", 1, lambda r: _clean("XD", "3")(r) and _deuce_games(r) >= 3),
    ("ittf_xd_bo7_mixed_{n}", 1, _clean("XD", "4")),
]


def ittf(realdata: Path) -> None:
    rows = read_csv(realdata / "ittf_results_sample.csv")
    used: set[int] = set()
    for pattern, count, wanted in ITTF_PICKS:
        picked = [i for i, row in enumerate(rows) if i not in used and wanted(row)][:count]
        assert len(picked) == count, pattern
        for n, index in enumerate(picked, start=1):
            used.add(index)
            row = rows[index]
            name = pattern.format(n=n)
            scores = _games(row)
            best_of = 2 * int(row["games_won_winner"]) - 1
            doubles = row["sub_event"] in ("WD", "XD", "MD")
            script = MatchScript(fixture_id(name), points_from_scores(scores, Side.HOME), row["side_a"], row["side_b"])
            actions = match_stream(script)
            write(name, actions, best_of, doubles, _ittf_source(row), truth(script, len(actions)))
    ittf_flagged(rows)


def _ittf_source(row: dict[str, str], note: str = "") -> str:
    where = f"{row['year']} {row['event']} {row['sub_event']} {row['round']}".rstrip()
    return f"{ITTF_SOURCE}: {where}{note}"


def ittf_flagged(rows: list[dict[str, str]]) -> None:
    """Flagged rows: a match stopped after four complete games (a retirement), and walkovers."""
    retired = next(r for r in rows if r["flags"] == "match_score_ne_games" and r["side_a"].startswith("HAN Ying"))
    scores = _games(retired)  # 2-2 in games of a best of 7 that side B won: A retired before game 5
    name = "ittf_ws_bo7_retired"
    builder = MatchBuilder(fixture_id(name), MatchFormat(best_of=7), Side.HOME, (retired["side_a"], retired["side_b"]))
    for game in points_from_scores(scores, Side.HOME):
        for point in game:
            builder.play(point.winner)
    match = builder.finish("retired", Side.AWAY)
    note = "; games 2-2 and B the winner: read as A retiring before game 5"
    write_generated(
        name, match, _ittf_source(retired, note), [_signal("MarketVoided", "match_winner", reason="retired")]
    )
    walkovers = [r for r in rows if r["flags"] == "zero_zero_games;no_game_scores" and r["sub_event"] == "WS"][:2]
    for n, row in enumerate(walkovers, start=1):
        name = f"ittf_ws_walkover_{n}"
        best_of = 7 if row["match_score"] in ("4-0", "0-4") else 5
        builder = MatchBuilder(
            fixture_id(name), MatchFormat(best_of=best_of), Side.HOME, (row["side_a"], row["side_b"])
        )
        winner = Side.HOME if row["winner_side"] == "A" else Side.AWAY
        match = builder.finish("walkover", winner)
        write_generated(
            name,
            match,
            _ittf_source(row, "; 0:0 games: read as a walkover"),
            [_signal("MarketVoided", "match_winner", reason="walkover")],
        )


def write_generated(name: str, match: GeneratedMatch, source: str, signals: list[dict[str, Any]] | None = None) -> None:
    """Write a recording built by `engine.testing.MatchBuilder`, its truth from the builder."""
    actions = [m for m in match.messages if isinstance(m, Action)]
    truth_of = match.truth
    expected = {
        "fixtureId": match.fixture_id,
        "status": "abandoned" if truth_of.result == "abandoned" else "finished",
        "games": list(truth_of.games),
        "points": [list(score) for score in truth_of.points],
        "winner": None if truth_of.winner is None else truth_of.winner.value,
        "result": truth_of.result,
        "markets": {market: _market_entry(outcome) for market, outcome in sorted(truth_of.markets.items())},
    }
    types = {EXPEDITE: ActionKind.EXPEDITE} if "expedite" in match.disturbances else None
    write(
        name,
        actions,
        match.format.best_of,
        match.format.doubles,
        source,
        expected,
        match.frames(),
        signals,
        types=types,
    )


def _market_entry(outcome: str) -> dict[str, Any]:
    status, _, value = outcome.partition(":")
    if status == "settled":
        return {"status": "settled", "result": value, "reasons": []}
    return {"status": "void", "result": None, "reasons": [value]}


def _signal(name: str, market: str, **fields: Any) -> dict[str, Any]:
    return {"signal": name, "market": market, **fields}


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
    moved = msgspec.structs.replace(last, home_points=last.home_points + home, away_points=last.away_points + away)
    return msgspec.structs.replace(summary, periods=(*summary.periods[:-1], moved))


def _real_points(realdata: Path, match: str = "1") -> list[list[Side]]:
    """Who won each point of a real AI CUP match, game by game (home = player A)."""
    games: dict[int, list[Side]] = {}
    for row in read_csv(realdata / "aicup2026_points_derived.csv"):
        if row["match"] == match:
            games.setdefault(int(row["game"]), []).append(Side.HOME if row["winner"] == row["playerA"] else Side.AWAY)
    return [games[g] for g in sorted(games)]


# (name, description, {point index in the match (0-based): disturbance}, ending, signals it must emit)
SCENARIOS: list[tuple[str, str, dict[int, str], str, list[dict[str, Any]]]] = [
    (
        "scenario_video_check_overturned",
        "a point reviewed and given to the other side",
        {6: "video check overturned"},
        "normal",
        [  # the real point 7 went to A (home): first called for B, then overturned
            _signal("MarketSettled", "point_winner:1:7", result="away"),
            _signal("SettlementRolledBack", "point_winner:1:7", previous="away"),
            _signal("MarketSettled", "point_winner:1:7", result="home"),
        ],
    ),
    (
        "scenario_video_check_upheld",
        "a point reviewed and upheld",
        {6: "video check upheld"},
        "normal",
        [_signal("MarketSettled", "point_winner:1:7", result="home")],
    ),
    (
        "scenario_point_deleted_after_review",
        "a phantom point scored, then deleted",
        {3: "phantom deleted"},
        "normal",
        [  # the real point 4 went to B (away); the phantom before it to A
            _signal("MarketSettled", "point_winner:1:4", result="home"),
            _signal("SettlementRolledBack", "point_winner:1:4", previous="home"),
            _signal("MarketSettled", "point_winner:1:4", result="away"),
        ],
    ),
    (
        "scenario_point_moved_to_the_other_side",
        "a point given to the wrong side, then Updated",
        {10: "updated to the other side"},
        "normal",
        [_signal("SettlementRolledBack", "point_winner:1:11")],
    ),
    (
        "scenario_deleted_then_restored",
        "a point deleted, then restored",
        {12: "deleted then restored"},
        "normal",
        [_signal("SettlementRolledBack", "point_winner:1:13"), _signal("MarketSettled", "point_winner:1:13")],
    ),
    (
        "scenario_penalty_point",
        "a penalty point: Point Scored with no rally",
        {20: "penalty point"},
        "normal",
        [_signal("MarketSettled", "point_winner:2:1")],
    ),
    (
        "scenario_pending_confirmed_and_cancelled",
        "a Pending point confirmed; another cancelled and scored for the other side",
        {4: "pending confirmed", 8: "pending cancelled"},
        "normal",
        [  # already suspended for the rally: the reasons change, no second suspension
            _signal("SuspensionReasonsChanged", "match_winner", reasons=["ball_in_play", "pending_action"])
        ],
    ),
    (
        "scenario_timeout_injury_play_stopped",
        "a timeout, an injury and play stopped, each until Play Resumed",
        {2: "timeout", 25: "injury", 40: "play stopped"},
        "normal",
        [
            _signal("MarketSuspended", "match_winner", reasons=["timeout"]),
            _signal("MarketSuspended", "match_winner", reasons=["injury"]),
            _signal("MarketSuspended", "match_winner", reasons=["play_stopped"]),
        ],
    ),
    (
        "scenario_not_live_data",
        "a point collected offline (delayStatus): its market is void",
        {5: "offline"},
        "normal",
        [_signal("MarketVoided", "point_winner:1:6", reason="not_live_data")],
    ),
    (
        "scenario_collection_dropped",
        "collection dropped then back",
        {30: "collection dropped"},
        "normal",
        [_signal("MarketSuspended", "match_winner", reasons=["collection"])],
    ),
    (
        "scenario_timeout_inserted_into_the_past",
        "a timeout the provider adds afterwards, between earlier actions",
        {15: "timeout inserted into the past"},
        "normal",
        [],
    ),
    (
        "scenario_expedite",
        "the expedite system comes on in game 2 (its type id mapped in the recording's meta)",
        {25: "expedite"},
        "normal",
        [],
    ),
    (
        "scenario_retired_mid_game",
        "player A retires in the middle of game 2",
        {},
        "retired@28",
        [  # game 1 (9-11) stands; the rest is void, in book order
            _signal("MarketSettled", "game_winner:1", result="away"),
            _signal("MarketVoided", "match_winner", reason="retired"),
            _signal("MarketVoided", "game_winner:2", reason="retired"),
        ],
    ),
    (
        "scenario_disqualified",
        "player B disqualified in game 3",
        {},
        "disqualified@40",
        [_signal("MarketVoided", "match_winner", reason="disqualified")],
    ),
    (
        "scenario_abandoned",
        "the match abandoned in game 2",
        {},
        "abandoned@30",
        [
            _signal("MarketVoided", "match_winner", reason="abandoned"),
            _signal("MarketVoided", "correct_score", reason="abandoned"),
        ],
    ),
]


def scenarios(realdata: Path) -> None:
    """Real AI CUP match 1 (best of 5), point by point, with one kind of trouble each."""
    games = _real_points(realdata)
    order = [side for game in games for side in game]
    for name, description, disturbances, ending, signals in SCENARIOS:
        kind, _, stop = ending.partition("@")
        builder = MatchBuilder(
            fixture_id(name), MatchFormat(best_of=5), Side.HOME, ("AICUP player A", "AICUP player B")
        )
        for index, winner in enumerate(order[: int(stop)] if stop else order):
            applied = builder.play(winner, disturbances.get(index, "none"))
            assert applied == disturbances.get(index, "none"), (name, index, applied)
        match = builder.finish(kind, Side.AWAY if kind != "abandoned" else None)
        write_generated(name, match, f"{AICUP_SOURCE}, match 1's points; {description}", signals)


def scenario_stale_feed(realdata: Path) -> None:
    """A real match whose feed goes silent for 40 s mid-game: the replay suspends every market."""
    name = "scenario_stale_feed"
    builder = MatchBuilder(fixture_id(name), MatchFormat(best_of=5), Side.HOME, ("AICUP player A", "AICUP player B"))
    for game in _real_points(realdata):
        for winner in game:
            builder.play(winner)
    match = builder.finish()
    silent_from = 30

    def recv(index: int) -> str:
        return recv_time(index + (10 if index >= silent_from else 0))  # 4 s steps: a 44 s silence

    write_generated_timed(name, match, f"{AICUP_SOURCE}, match 1's points; 44 s without a frame", recv)


def write_generated_timed(name: str, match: GeneratedMatch, source: str, recv: Callable[[int], str]) -> None:
    """`write_generated` with chosen receive times."""
    actions = [m for m in match.messages if isinstance(m, Action)]
    signals = [
        _signal("MarketSuspended", "match_winner", reasons=["stale_feed"]),
        _signal("MarketResumed", "match_winner"),
    ]
    expected = {"games": list(match.truth.games), "points": [list(p) for p in match.truth.points]}
    write(name, actions, match.format.best_of, False, source, expected, match.frames(), signals, recv)


def scenario_heartbeats(realdata: Path) -> None:
    """A real match with heartbeats between the actions: they change nothing."""
    name = "scenario_heartbeats"
    builder = MatchBuilder(fixture_id(name), MatchFormat(best_of=5), Side.HOME, ("AICUP player A", "AICUP player B"))
    for game in _real_points(realdata):
        for winner in game:
            builder.play(winner, "heartbeat")
    match = builder.finish()
    assert heartbeat_frame() in match.frames()
    write_generated(name, match, f"{AICUP_SOURCE}, match 1's points; a heartbeat after every point")


BUILDERS: list[Callable[[Path], None]] = [
    aicup,
    ittf,
    scenario_noise,
    scenario_point_deleted_and_moved,
    scenarios,
    scenario_stale_feed,
    scenario_heartbeats,
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--realdata", type=Path, default=HERE / "realdata")
    args = parser.parse_args()
    for build in BUILDERS:
        build(args.realdata)
    # The demo's match ships inside the package (the installed demo has no fixtures_data/).
    demo = HERE / "aicup2026_m05_female_bo7.jsonl"
    (HERE.parent / "engine" / "data" / "demo_match.jsonl.gz").write_bytes(gzip.compress(demo.read_bytes(), mtime=0))


if __name__ == "__main__":
    main()
