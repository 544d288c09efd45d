"""Real matches nobody here wrote (fixtures_data/realdata, see ATTRIBUTION.md) against the engine.

ITTF 2.13 (service order) on the AI CUP 2026 rallies: the feed names only the first observed server of
the match; the engine must predict every other observed server before its rally starts.
"""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pytest

from engine.core.inputs import EndOfStream
from engine.core.match.rules import MatchFormat, Side
from engine.core.reduce import reduce
from engine.core.state import MatchState
from engine.feed.encode import encode_frame
from engine.feed.wire import decode
from engine.testing.feedgen import POINT_STARTED, MatchScript, ScriptedPoint, match_stream, points_from_scores

REALDATA = Path(__file__).resolve().parents[2] / "fixtures_data" / "realdata"


def _rows(name: str) -> list[dict[str, str]]:
    with open(REALDATA / name, newline="") as source:
        return list(csv.DictReader(source))


SUMMARIES = {row["match"]: row for row in _rows("aicup2026_match_summary.csv")}
POINTS = _rows("aicup2026_points_derived.csv")
COMPLETE = [m for m, row in SUMMARIES.items() if row["format_inferred"].startswith("best_of_")]


def test_the_real_data_has_the_eight_complete_matches() -> None:
    assert len(COMPLETE) == 8
    assert sum(1 for row in POINTS if row["match"] in COMPLETE and row["source"] == "observed") > 450


@pytest.mark.parametrize("match", COMPLETE)
def test_every_observed_server_is_predicted_from_the_first_one(match: str) -> None:
    rows = [row for row in POINTS if row["match"] == match]
    info = SUMMARIES[match]
    side = {info["playerA"]: Side.HOME, info["playerB"]: Side.AWAY}
    first_observed = next(i for i, row in enumerate(rows) if row["source"] == "observed")
    games: dict[int, list[ScriptedPoint]] = {}
    for index, row in enumerate(rows):
        named = side[row["server"]] if index == first_observed else None
        games.setdefault(int(row["game"]), []).append(ScriptedPoint(side[row["winner"]], named))
    script = MatchScript(
        str(uuid.uuid5(uuid.NAMESPACE_URL, f"aicup-{match}")), tuple(tuple(games[g]) for g in sorted(games))
    )
    best_of = int(info["format_inferred"].removeprefix("best_of_"))

    state = MatchState.new(script.fixture_id, MatchFormat(best_of=best_of))
    rally = 0
    checked = 0
    for action in match_stream(script):
        if action.type_id == POINT_STARTED:
            row = rows[rally]
            if rally > first_observed and row["source"] == "observed":
                assert state.server is side[row["server"]], f"match {match} rally {rally}: {row}"
                checked += 1
            rally += 1
        state, events = reduce(state, decode(encode_frame(action)))
        assert not [e for e in events if type(e).__name__ in ("Discrepancy", "UnexpectedServer")]
    state, _ = reduce(state, EndOfStream())

    assert checked >= sum(1 for row in rows if row["source"] == "observed") - 1
    real_games = [tuple(int(x) for x in game.split("-")) for game in info["game_scores_A_B"].split()]
    assert list(state.points) == real_games
    assert state.games == (int(info["games_A"]), int(info["games_B"]))
    assert state.winner is (Side.HOME if info["winner"] == "A" else Side.AWAY)


ITTF = [row for row in _rows("ittf_results_sample.csv") if not row["flags"]]


@pytest.mark.parametrize("row", ITTF[::8], ids=lambda row: f"{row['sub_event']}-{row['games'].replace(' ', '_')}")
def test_ittf_official_game_scores_fold_to_the_official_result(row: dict[str, str]) -> None:
    scores = [(int(a), int(b)) for a, b in (game.split(":") for game in row["games"].split())]
    best_of = 2 * int(row["games_won_winner"]) - 1
    script = MatchScript("ittf", points_from_scores(scores))
    state = MatchState.new("ittf", MatchFormat(best_of=best_of))
    for action in match_stream(script):
        state, _ = reduce(state, action)
    assert list(state.points) == scores
    assert state.winner is (Side.HOME if row["winner_side"] == "A" else Side.AWAY)
    assert state.match.discrepancies == 0
    assert "-".join(map(str, state.games)) == row["match_score"]
