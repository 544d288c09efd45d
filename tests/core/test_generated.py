"""`engine.testing.matches()` used as a user would, from outside the package: every generated
match folds to the truth it encodes (scores, servers, result, every market's outcome)."""

from __future__ import annotations

from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import engine
import engine.testing
from engine.core.markets.signals import MarketStatus

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _fold(match: engine.testing.GeneratedMatch) -> tuple[engine.MatchState, list[engine.Event]]:
    state = engine.MatchState.new(match.fixture_id, match.format)
    every: list[engine.Event] = []
    for message in [*match.messages, engine.EndOfStream()]:
        state, events = engine.reduce(state, message)
        every.extend(events)
    return state, every


def _assert_reaches_the_truth(match: engine.testing.GeneratedMatch, state: engine.MatchState) -> None:
    truth = match.truth
    assert state.games == truth.games
    assert state.points == truth.points
    assert state.winner is truth.winner
    assert state.result is not None
    assert state.result.value == truth.result
    for market_id, expected in truth.markets.items():
        if market_id == truth.next_point and market_id not in state.book:
            continue  # the last point and the end arrived together: that market was never offered
        entry = state.book[market_id]
        if expected.startswith("settled:"):
            assert (entry.status, entry.result) == (MarketStatus.SETTLED, expected.removeprefix("settled:")), market_id
        else:
            assert entry.status is MarketStatus.VOID, (market_id, entry)
            assert entry.void_reason is not None
            assert entry.void_reason.value == expected.removeprefix("void:"), market_id
    undecided = state.book.with_status(MarketStatus.OPEN) + state.book.with_status(MarketStatus.SUSPENDED)
    assert undecided == [], undecided[:5]


@SETTINGS
@given(engine.testing.matches())
def test_every_generated_match_folds_to_its_truth(match: engine.testing.GeneratedMatch) -> None:
    state, events = _fold(match)
    _assert_reaches_the_truth(match, state)
    assert state.match.discrepancies == 0
    assert not any(isinstance(event, engine.UnexpectedServer) for event in events)


@SETTINGS
@given(engine.testing.matches(disturbances=("expedite", "timeout", "heartbeat")))
def test_the_engine_names_every_server_the_truth_names(match: engine.testing.GeneratedMatch) -> None:
    state = engine.MatchState.new(match.fixture_id, match.format)
    servers = iter(server for game in match.truth.servers for server in game)
    for message in match.messages:
        if isinstance(message, engine.Action) and message.kind is engine.ActionKind.POINT_STARTED:
            expected = next(servers)
            if state.match.play.first_server is not None:  # once anchored, the rules predict every server
                assert state.server is expected
        state, _ = engine.reduce(state, message)


@SETTINGS
@given(engine.testing.matches(best_of=3).flatmap(engine.testing.with_noise))
def test_duplicates_reordering_and_a_lost_message_change_no_outcome(match: engine.testing.GeneratedMatch) -> None:
    state, _ = _fold(match)
    _assert_reaches_the_truth(match, state)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_constraints_are_honoured(data: st.DataObject) -> None:
    match = data.draw(engine.testing.matches(best_of=7, doubles=True, ending="walkover"))
    assert (match.format.best_of, match.format.doubles, match.truth.result) == (7, True, "walkover")
    plain = data.draw(engine.testing.matches(disturbances=(), ending="normal"))
    assert plain.disturbances == ()
    assert plain.truth.result == "normal"


def test_a_failing_match_shrinks_to_a_short_one() -> None:
    smallest = find(
        engine.testing.matches(),
        lambda match: match.truth.games[1] >= 1 and "timeout" in match.disturbances,
        settings=settings(max_examples=2000, database=None, derandomize=True),
    )
    # short: best of 3 with whitewashed games (at most three of them) and that one timeout
    assert smallest.format.best_of == 3
    assert all(sorted(game) == [0, 11] for game in smallest.truth.points)
    assert len(smallest.truth.points) <= 3
    assert len(smallest.messages) < 100
    assert smallest.disturbances == ("timeout",)


def test_frames_are_what_a_websocket_carries() -> None:
    match = find(
        engine.testing.matches(),
        lambda m: "heartbeat" in m.disturbances,
        settings=settings(database=None, derandomize=True),
    )
    frames = match.frames()
    assert len(frames) == len(match.messages)
    decoded = [engine.decode(frame, match.catalogue) for frame in frames]
    assert decoded == list(match.messages)
