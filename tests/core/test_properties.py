"""Properties over generated matches (engine.testing.strategies): the issue's (a)-(e)."""

from __future__ import annotations

import attrs
import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario import run, script_format

from engine.analysis.report import summarize
from engine.core.match.rules import Side
from engine.core.reduce import reduce
from engine.core.state import MatchState
from engine.feed.catalogue import SendType
from engine.feed.wire import Action, Summary
from engine.testing.feedgen import POINT_SCORED, POINT_STARTED, MatchScript, match_stream
from engine.testing.strategies import match_scripts

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(match_scripts())
def test_a_folding_a_generated_match_gives_the_intended_score(script: MatchScript) -> None:
    state, _, _ = run(match_stream(script), script_format(script), script.fixture_id)
    home, away = script.games_won()
    assert list(state.points) == script.game_scores()
    assert state.games == (home, away)
    assert state.winner is (Side.HOME if home > away else Side.AWAY)
    assert state.match.discrepancies == 0
    assert state.match.malformed == 0


@SETTINGS
@given(match_scripts())
def test_b_the_server_always_obeys_the_rules(script: MatchScript) -> None:
    state = MatchState.new(script.fixture_id, script_format(script))
    rallies = iter(point for game in script.games for point in game)
    anchored = False  # once the feed has named one server, every later one is predicted
    for action in match_stream(script):
        if action.type_id == POINT_STARTED:
            point = next(rallies)
            if anchored:
                assert state.server is point.true_server
            elif state.server is not None:
                raise AssertionError("a server was predicted before any was named")
            anchored = anchored or point.server is not None
        state, events = reduce(state, action)
        assert "UnexpectedServer" not in [type(e).__name__ for e in events]


@st.composite
def noisy(draw: st.DrawFn) -> tuple[MatchScript, list[Action]]:
    script = draw(match_scripts(best_of=3))
    actions = list(match_stream(script))
    for _ in range(draw(st.integers(0, 12))):  # local reordering: adjacent swaps
        i = draw(st.integers(0, len(actions) - 2))
        actions[i], actions[i + 1] = actions[i + 1], actions[i]
    for _ in range(draw(st.integers(0, 12))):  # duplicates, delivered a little later
        i = draw(st.integers(0, len(actions) - 1))
        actions.insert(min(len(actions), i + draw(st.integers(0, 4))), actions[i])
    return script, actions


@SETTINGS
@given(noisy())
def test_c_duplicates_and_local_reordering_leave_the_final_state_unchanged(
    case: tuple[MatchScript, list[Action]],
) -> None:
    script, actions = case
    clean, _, _ = run(match_stream(script), script_format(script), script.fixture_id)
    messy, _, _ = run(actions, script_format(script), script.fixture_id)
    expected, got = summarize(clean), summarize(messy)
    del expected["duplicates"], got["duplicates"]
    assert got == expected
    assert got["gaps"] == 0


def _minus_point(summary: Summary, game: int, side: Side) -> Summary:
    periods = list(summary.periods)
    period = periods[game - 1]
    if side is Side.HOME:
        periods[game - 1] = msgspec.structs.replace(period, home_points=period.home_points - 1)
    else:
        periods[game - 1] = msgspec.structs.replace(period, away_points=period.away_points - 1)
    return msgspec.structs.replace(summary, periods=tuple(periods))


@SETTINGS
@given(match_scripts(best_of=3), st.data())
def test_d_deleting_then_restoring_a_point_returns_to_the_earlier_state(
    script: MatchScript, data: st.DataObject
) -> None:
    actions = match_stream(script)
    # A point whose removal leaves a valid match: one the loser won in a game without deuce
    # (in a deuce game, 12-10 minus a loser's point is 12-9, a score no game ends at).
    scores = script.game_scores()
    points = [
        a
        for a in actions
        if a.type_id == POINT_SCORED
        and a.period is not None
        and min(scores[a.period - 1]) <= 9
        and (a.side is Side.HOME) != (scores[a.period - 1][0] > scores[a.period - 1][1])
    ]
    if not points:
        return
    point = data.draw(st.sampled_from(points))
    at = data.draw(st.integers(actions.index(point) + 1, len(actions)))
    prefix = actions[:at]
    last_summary = prefix[-1].summary
    assert last_summary is not None
    assert point.period is not None
    assert point.side is not None
    deleted = attrs.evolve(
        point,
        seq=at + 1,
        send_type=SendType.DELETED,
        summary=_minus_point(last_summary, point.period, point.side),
    )
    restored = attrs.evolve(point, seq=at + 2, send_type=SendType.RESTORED, summary=last_summary)
    before, _, _ = run(prefix, script_format(script), script.fixture_id)
    middle, _, _ = run([*prefix, deleted], script_format(script), script.fixture_id)
    after, _, _ = run([*prefix, deleted, restored], script_format(script), script.fixture_id)
    assert middle.points != before.points
    expected, got = summarize(before), summarize(after)
    assert got.pop("lastSeq") == at + 2
    expected.pop("lastSeq")
    assert got == expected
    assert after.match.play == before.match.play


@SETTINGS
@given(match_scripts(best_of=3))
def test_e_the_same_input_twice_gives_identical_events(script: MatchScript) -> None:
    stream = match_stream(script)
    first = run(stream, script_format(script), script.fixture_id)
    second = run(stream, script_format(script), script.fixture_id)
    assert first[2] == second[2]
    assert summarize(first[0]) == summarize(second[0])
