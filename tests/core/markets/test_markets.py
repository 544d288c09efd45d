"""The market book and its signals (issue 3): properties (a)-(e) over generated matches, the
catalogue and policy, each suspension reason, settlement rules, and a real match's trace."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from contextlib import redirect_stdout
from pathlib import Path

import attrs
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario import AWAY, HOME, PRIORED, Feed, game_won, script_format, signals_of, with_prior

from engine.cli import main
from engine.core.config import MarketConfig
from engine.core.events import Event
from engine.core.inputs import Connected, Disconnected, EndOfStream, Input, Stale
from engine.core.markets.book import EMPTY_BOOK, Book, apply_signals
from engine.core.markets.catalogue import MarketCatalogue, MarketPolicy, MarketType, parse_market
from engine.core.markets.outcomes import outcome
from engine.core.markets.signals import (
    BetStart,
    BetStop,
    BetStopChanged,
    MarketResumed,
    MarketSettled,
    MarketSignal,
    MarketStatus,
    MarketSuspended,
    MarketVoided,
    Reason,
    Scope,
    SettlementRolledBack,
    Signal,
    SuspensionReasonsChanged,
    VoidReason,
    VoidRolledBack,
    expand,
)
from engine.core.match.rules import MatchFormat, Side
from engine.core.reduce import next_book, reduce
from engine.core.state import MatchState
from engine.feed.catalogue import ActionKind, SendType
from engine.feed.wire import Action, Heartbeat, Summary
from engine.testing import GeneratedMatch, matches, with_connection_trouble
from engine.testing.feedgen import (
    END_MATCH,
    PLAY_RESUMED,
    POINT_SCORED,
    POINT_STARTED,
    STATUS_UPDATE,
    TIMEOUT,
    VIDEO_CHECK,
    MatchScript,
    StreamWriter,
    match_stream,
)
from engine.testing.strategies import match_scripts

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIXTURES = Path(__file__).resolve().parents[3] / "fixtures_data"
BO3 = MatchFormat(best_of=3)


def _open(book: Book) -> list[str]:
    return book.with_status(MarketStatus.OPEN)


def _by_market(signals: Iterable[Signal]) -> dict[str, list[MarketSignal]]:
    """Each market's signals, scoped ones expanded to the markets they name."""
    grouped: dict[str, list[MarketSignal]] = {}
    for signal in signals:
        for single in expand(signal):
            grouped.setdefault(single.market, []).append(single)
    return grouped


def _expanded(events: list[Event]) -> list[MarketSignal]:
    return [single for signal in signals_of(events) for single in expand(signal)]


def _unsure(state: MatchState) -> list[str]:
    """What the state says makes the engine unsure, read from its fields, not from the book."""
    held = {
        "rally in play": state.match.rally_in_progress,
        "pending action": bool(state.pending),
        "stoppage": bool(state.stoppages),
        "gap": state.match.sequencer.waiting or state.match.gap_unverified,
        "stale": state.match.stale,
        "disconnected": state.match.disconnected,
        "discrepancy": state.match.discrepancy,
    }
    return [name for name, holds in held.items() if holds]


# --- generated matches with every kind of disturbance (engine.testing) ----------------------------

#: Every disturbance around the points, the adapter's connection inputs, every ending.
TROUBLED = matches(max_points=120).flatmap(with_connection_trouble)


def _fold(match: GeneratedMatch) -> list[tuple[Input, MatchState, list[Event]]]:
    """Every step of folding a match's messages then EndOfStream: (input, state after, events)."""
    return _fold_inputs(list(match.messages), match.format, match.fixture_id)


def _fold_inputs(
    inputs: list[Input], fmt: MatchFormat = BO3, fixture_id: str = "fx"
) -> list[tuple[Input, MatchState, list[Event]]]:
    state = MatchState.new(fixture_id, fmt, markets=PRIORED)
    steps = []
    for message in [*inputs, EndOfStream()]:
        state, events = reduce(state, message)
        steps.append((message, state, events))
    return steps


@SETTINGS
@given(TROUBLED)
def test_a_no_market_is_open_while_the_engine_is_unsure(match: GeneratedMatch) -> None:
    stale = disconnected = False  # tracked from the inputs alone, independently of the reducer
    for message, state, _ in _fold(match):
        if isinstance(message, Stale):
            stale = True
        elif isinstance(message, Action | Heartbeat):
            stale = False
        if isinstance(message, Disconnected | Connected):
            disconnected = isinstance(message, Disconnected)
        open_markets = _open(state.book)
        if stale or disconnected or _unsure(state):
            assert open_markets == [], (_unsure(state), stale, disconnected, open_markets[:3])
        for market_id in open_markets:
            assert state.book[market_id].reasons == ()


@settings(max_examples=10, deadline=None)
@given(matches(disturbances=(), ending="normal"))
def test_a_markets_do_open_when_all_is_certain(match: GeneratedMatch) -> None:
    """The other side of (a), so that it is not vacuous: after every cleanly scored point of a plain
    match that goes on, the match winner is open."""
    for message, state, _ in _fold(match):
        if isinstance(message, Action) and message.kind is ActionKind.POINT_SCORED and state.winner is None:
            assert state.book["match_winner"].status is MarketStatus.OPEN


def _check_book_agrees_with_state(state: MatchState) -> None:
    book = state.book
    for market_id, entry in book.items():
        found = outcome(book.market(market_id), state.match, state.markets.policy)
        if entry.status is MarketStatus.SETTLED:
            assert (found.result, found.void_reason) == (entry.result, None), market_id
        elif entry.status is MarketStatus.VOID:
            assert (found.result, found.void_reason) == (None, entry.void_reason), market_id
    from_scratch = next_book(attrs.evolve(state, book=EMPTY_BOOK))
    for market_id, entry in from_scratch.items():
        assert book[market_id] == entry, market_id


@SETTINGS
@given(TROUBLED)
def test_b_every_settled_result_is_the_outcome_recomputed_from_the_final_state(match: GeneratedMatch) -> None:
    final = _fold(match)[-1][1]
    _check_book_agrees_with_state(final)
    assert final.book.with_status(MarketStatus.OPEN) == []
    assert final.book.with_status(MarketStatus.SUSPENDED) == []


@SETTINGS
@given(TROUBLED)
def test_c_folding_the_signals_alone_reproduces_the_book(match: GeneratedMatch) -> None:
    receiver = EMPTY_BOOK
    everything: list[Signal] = []
    for _, state, events in _fold(match):
        signals = signals_of(events)
        _assert_edge_triggered(receiver, signals)
        receiver = apply_signals(receiver, signals)
        assert receiver == state.book
        everything.extend(signals)
    assert apply_signals(EMPTY_BOOK, everything) == state.book


def _assert_edge_triggered(before: Book, signals: list[Signal]) -> None:
    """No signal repeats a market's status; a market gets one signal per step, or a rollback and one."""
    for market_id, own in _by_market(signals).items():
        if isinstance(own[0], SettlementRolledBack | VoidRolledBack):
            assert len(own) == 2, own
            own = own[1:]
        assert len(own) == 1, own
        old = before.get(market_id)
        signal = own[0]
        if isinstance(signal, SuspensionReasonsChanged):
            assert old is not None
            assert old.status is MarketStatus.SUSPENDED
            assert signal.reasons != old.reasons
        elif isinstance(signal, MarketSuspended):
            assert old is None or old.status is not MarketStatus.SUSPENDED
        elif isinstance(signal, MarketResumed):
            assert old is None or old.status is not MarketStatus.OPEN


def _amended(summary: Summary, game: int, gains: Side) -> Summary:
    """The summary with one point of `game` moved to `gains`."""
    periods = list(summary.periods)
    period = periods[game - 1]
    step = 1 if gains is HOME else -1
    periods[game - 1] = msgspec.structs.replace(
        period, home_points=period.home_points + step, away_points=period.away_points - step
    )
    won = [game_won(p.home_points, p.away_points) for p in periods]
    return msgspec.structs.replace(
        summary, periods=tuple(periods), home_games=won.count(HOME), away_games=won.count(AWAY)
    )


@st.composite
def flipped_points(draw: st.DrawFn) -> tuple[MatchScript, list[Action], Action]:
    """A match's messages up to a point that is not its game's last, then an update of that point
    to the other side (sendType 2, with the provider's amended summary)."""
    script = draw(match_scripts(best_of=3))
    actions = match_stream(script)
    candidates = [
        index
        for index, action in enumerate(actions[:-1])
        if action.type_id == POINT_SCORED and actions[index + 1].type_id == POINT_STARTED
    ]
    index = draw(st.sampled_from(candidates))
    point = actions[index]
    assert point.side is not None
    assert point.period is not None
    assert point.summary is not None
    update = attrs.evolve(
        point,
        seq=point.seq + 1,
        send_type=SendType.UPDATED,
        team=actions[0].team if point.side is AWAY else actions[1].team,
        summary=_amended(point.summary, point.period, point.side.other),
    )
    assert update.side is point.side.other
    return script, actions[: index + 1], update


@SETTINGS
@given(flipped_points())
def test_d_a_correction_rolls_back_and_resettles_each_affected_market_exactly_once(
    case: tuple[MatchScript, list[Action], Action],
) -> None:
    script, prefix, update = case
    state = _fold_without_end(prefix, script_format(script))
    after, events = reduce(state, update)
    signals = _by_market(signals_of(events))
    assert update.period is not None
    assert update.side is not None
    point_id = f"point_winner:{update.period}:{_points_in(state, update.period)}"
    assert signals[point_id] == [
        SettlementRolledBack(point_id, update.side.other.value),
        MarketSettled(point_id, update.side.value),
    ]
    for market_id, old in state.book.items():
        new = after.book[market_id]
        own = signals.get(market_id, [])
        rollbacks = [s for s in own if isinstance(s, SettlementRolledBack)]
        if old.status is MarketStatus.SETTLED and new != old:
            assert rollbacks == [SettlementRolledBack(market_id, old.result or "")]
            if new.status is MarketStatus.SETTLED:
                assert own == [rollbacks[0], MarketSettled(market_id, new.result or "")]
        else:
            assert rollbacks == [], market_id
    _check_book_agrees_with_state(after)
    assert after.match.discrepancy is False


def _fold_without_end(actions: list[Action], fmt: MatchFormat) -> MatchState:
    state = MatchState.new(actions[0].fixture_id, fmt, markets=PRIORED)
    for action in actions:
        state, _ = reduce(state, action)
    return state


def _points_in(state: MatchState, game: int) -> int:
    return sum(state.points[game - 1])


@st.composite
def retirements(draw: st.DrawFn) -> tuple[MatchScript, list[Action], Action]:
    """A match's messages up to a point in mid-game, then End Match for a retirement."""
    script = draw(match_scripts(best_of=3))
    writer = StreamWriter(script)
    actions = writer.play()
    candidates = [
        index
        for index, action in enumerate(actions[:-1])
        if action.type_id == POINT_SCORED and actions[index + 1].type_id == POINT_STARTED
    ]
    index = draw(st.sampled_from(candidates))
    prefix = actions[: index + 1]
    last = prefix[-1]
    assert last.summary is not None
    retired_by = draw(st.sampled_from([HOME, AWAY]))
    end = attrs.evolve(
        actions[-1],
        seq=last.seq + 1,
        action_id="retirement",
        team=actions[0 if retired_by is AWAY else 1].team,
        subtype_name="Retired",
        end_reason="Retired",
        summary=msgspec.structs.replace(last.summary, status="Completed", finished=True),
    )
    return script, prefix, end


@SETTINGS
@given(retirements())
def test_e_a_retirement_mid_game_settles_what_was_decided_and_voids_the_rest(
    case: tuple[MatchScript, list[Action], Action],
) -> None:
    script, prefix, end = case
    assert end.type_id == END_MATCH
    state = _fold_without_end(prefix, script_format(script))
    after, events = reduce(state, end)
    signals = _by_market(signals_of(events))
    game = state.current_game
    assert not state.match.play.game_decided()
    for market_id, entry in after.book.items():
        old = state.book.get(market_id)
        if old is not None and old.status is MarketStatus.SETTLED:
            assert entry == old, market_id  # decided markets stand
            assert market_id not in signals, market_id
            continue
        assert entry.status in (MarketStatus.SETTLED, MarketStatus.VOID), market_id
        if entry.status is MarketStatus.VOID:
            assert entry.void_reason is VoidReason.RETIRED, market_id
            assert signals[market_id] == [MarketVoided(market_id, VoidReason.RETIRED)]
    for market_id in (
        "match_winner",
        "correct_score",
        f"game_winner:{game}",
        f"point_winner:{game}:{_points_in(state, game) + 1}",
    ):
        assert after.book[market_id].void_reason is VoidReason.RETIRED
    for later in range(game + 1, 4):
        assert after.book[f"game_winner:{later}"].void_reason is VoidReason.RETIRED
    for earlier in range(1, game):
        assert after.book[f"game_winner:{earlier}"].status is MarketStatus.SETTLED
    _check_book_agrees_with_state(after)


# --- the catalogue and the policy ---------------------------------------------------------------


def test_market_ids_are_stable_strings_that_parse_back() -> None:
    catalogue = MarketCatalogue()
    markets = [*catalogue.match_markets(MatchFormat(best_of=7)), *catalogue.game_markets(3)]
    point = catalogue.point_market(3, 14)
    assert point is not None
    markets.append(point)
    ids = [market.id for market in markets]
    assert ids == [
        "match_winner",
        "correct_score",
        "total_games:4.5",
        "total_games:5.5",
        "total_games:6.5",
        "game_winner:3",
        "game_total_points:3:18.5",
        "race_to:3:5",
        "race_to:3:7",
        "race_to:3:9",
        "point_winner:3:14",
    ]
    for market in markets:
        assert parse_market(market.id) == market


@pytest.mark.parametrize(
    "text",
    ["", "winner", "game_winner", "game_winner:0", "game_winner:x", "total_games:4", "point_winner:3", "race_to:3:7:1"],
)
def test_a_string_that_is_not_a_market_id_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a market id"):
        parse_market(text)


def test_the_catalogue_refuses_lines_and_targets_that_cannot_settle() -> None:
    with pytest.raises(ValueError, match="half"):
        MarketCatalogue(game_total_points_lines=(18,))
    with pytest.raises(ValueError, match="half"):
        MarketCatalogue(total_games_lines=(-0.5,))
    for target in (0, True):
        with pytest.raises(ValueError, match="race target"):
            MarketCatalogue(race_to=(target,))


def test_the_catalogue_chooses_what_is_offered() -> None:
    catalogue = MarketCatalogue(correct_score=False, total_games_lines=(2.5,), race_to=(3,), point_winner=False)
    feed = Feed()
    feed.begin()
    state = MatchState.new("fx", BO3, markets=with_prior(MarketConfig(catalogue=catalogue)))
    for action in feed.actions:
        state, _ = reduce(state, action)
    assert list(state.book) == [
        "match_winner",
        "total_games:2.5",
        "game_winner:1",
        "game_total_points:1:18.5",
        "race_to:1:3",
        "game_winner:2",
        "game_total_points:2:18.5",
        "race_to:2:3",
        "game_winner:3",
        "game_total_points:3:18.5",
        "race_to:3:3",
    ]


def _state_after(feed: Feed, config: MarketConfig | None = None, fmt: MatchFormat = BO3) -> MatchState:
    state = MatchState.new("fx", fmt, markets=with_prior(config or MarketConfig()))
    for action in feed.actions:
        state, _ = reduce(state, action)
    return state


def test_the_policy_is_one_table_a_user_overrides() -> None:
    feed = Feed()
    feed.begin()
    feed.rally(HOME)
    feed.emit(TIMEOUT, AWAY)
    default = _state_after(feed)
    assert _open(default.book) == []
    assert default.book["game_winner:1"].reasons == (Reason.TIMEOUT,)
    relaxed = MarketPolicy().with_scopes({Reason.TIMEOUT: set()})
    assert _open(_state_after(feed, MarketConfig(policy=relaxed)).book) == list(default.book.undecided())
    only_points = MarketPolicy().with_scopes({Reason.TIMEOUT: {MarketType.POINT_WINNER}})
    partial = _state_after(feed, MarketConfig(policy=only_points)).book
    assert partial.with_status(MarketStatus.SUSPENDED) == ["point_winner:1:2"]


# --- each reason, each rule ---------------------------------------------------------------------


def _reasons(state: MatchState, market_id: str = "game_winner:1") -> tuple[Reason, ...]:
    return state.book[market_id].reasons


def test_before_the_start_every_market_is_suspended_not_started() -> None:
    state = reduce(MatchState.new("fx", BO3, markets=PRIORED), Heartbeat())[0]
    assert set(state.book) >= {"match_winner", "game_winner:1", "point_winner:1:1"}
    assert all(entry.reasons == (Reason.NOT_STARTED,) for entry in state.book.values())


def test_stale_suspends_everything_until_the_next_message() -> None:
    feed = Feed()
    feed.begin()
    feed.rally(HOME)
    state = _state_after(feed)
    live = list(state.book.undecided())
    assert _open(state.book) == live
    stale, events = reduce(state, Stale())
    assert _open(stale.book) == []
    (stop,) = signals_of(events)  # one bet stop for the fixture, naming every market
    assert isinstance(stop, BetStop)
    assert (stop.scope, stop.reasons, sorted(stop.markets)) == (Scope.ALL, (Reason.STALE_FEED,), sorted(live))
    assert reduce(stale, Stale())[1] == []  # edge-triggered: nothing new to say
    alive, events = reduce(stale, Heartbeat())
    assert _open(alive.book) == live
    (start,) = signals_of(events)
    assert isinstance(start, BetStart)
    assert (start.scope, sorted(start.markets)) == (Scope.ALL, sorted(live))


def test_disconnected_suspends_until_connected_not_until_a_heartbeat() -> None:
    feed = Feed()
    feed.begin()
    state = _state_after(feed)
    down, _ = reduce(state, Disconnected())
    assert _open(down.book) == []
    assert _reasons(down) == (Reason.DISCONNECTED,)
    assert _open(reduce(down, Heartbeat())[0].book) == []
    up, _ = reduce(down, Connected())
    assert _open(up.book) == list(up.book.undecided())


def test_a_pending_game_point_suspends_and_delays_settlement_until_confirmed() -> None:
    feed = Feed()
    feed.begin()
    feed.game(10, 5)
    feed.emit(POINT_STARTED)
    pending = feed.scored(HOME, SendType.PENDING)
    state = _state_after(feed)
    assert _reasons(state) == (Reason.BALL_IN_PLAY, Reason.PENDING_ACTION)  # the point is not over yet
    assert state.book["game_winner:1"].status is MarketStatus.SUSPENDED
    feed.score(HOME)
    feed.scored(HOME, action_id=pending.action_id, timeline=pending.timeline)
    state, events = reduce(state, feed.actions[-1])
    assert state.book["game_winner:1"].result == "home"
    assert MarketSettled("game_winner:1", "home") in events
    assert _open(state.book) == list(state.book.undecided())


def test_a_discrepancy_suspends_until_a_cleanly_scored_point() -> None:
    feed = Feed()
    feed.begin()
    feed.rally(HOME)
    feed.score(AWAY)  # the provider counts a point we never saw
    feed.emit(TIMEOUT, AWAY)
    state = _state_after(feed)
    assert state.match.discrepancy
    assert Reason.DISCREPANCY in _reasons(state)
    feed.emit(PLAY_RESUMED)
    feed.rally(AWAY)
    state = _state_after(feed)
    assert not state.match.discrepancy
    # The point we never saw has no known winner: its market waits (void at the end if still unknown).
    assert state.book["point_winner:1:2"].reasons == (Reason.OUTCOME_UNKNOWN,)
    assert _open(state.book) == [market_id for market_id in state.book.undecided() if market_id != "point_winner:1:2"]


def test_a_stoppage_during_a_rally_changes_the_reasons_without_a_second_suspension() -> None:
    feed = Feed()
    feed.begin()
    feed.emit(POINT_STARTED)
    feed.emit(VIDEO_CHECK)
    steps = _fold_inputs(list(feed.actions))
    started, check = steps[-3][2], steps[-2][2]
    assert MarketSuspended("game_winner:1", (Reason.BALL_IN_PLAY,)) in _expanded(started)
    assert SuspensionReasonsChanged("game_winner:1", (Reason.BALL_IN_PLAY, Reason.VIDEO_CHECK)) in _expanded(check)
    assert not any(isinstance(signal, MarketSuspended) for signal in _expanded(check))
    # One scoped signal each: every undecided market stops, then stays stopped for one more reason.
    (stop,) = [signal for signal in signals_of(started) if isinstance(signal, BetStop)]
    assert stop.scope is Scope.ALL
    assert set(stop.markets) == set(steps[-3][1].book.undecided())
    (changed,) = signals_of(check)
    assert isinstance(changed, BetStopChanged)
    assert changed.reasons == (Reason.BALL_IN_PLAY, Reason.VIDEO_CHECK)


def test_a_point_scored_while_data_is_not_live_is_void() -> None:
    feed = Feed()
    feed.begin()
    feed.emit(POINT_STARTED, delayed=True)
    feed.score(HOME)
    feed.emit(POINT_SCORED, HOME, delayed=True)
    state = _state_after(feed)
    assert state.book["point_winner:1:1"].void_reason is VoidReason.NOT_LIVE_DATA
    assert _reasons(state) == (Reason.NOT_LIVE_DATA,)
    feed.emit(STATUS_UPDATE, delayed=False)
    feed.rally(AWAY)
    state = _state_after(feed)
    assert state.book["point_winner:1:2"].result == "away"
    assert _open(state.book) == list(state.book.undecided())


def test_collection_trouble_suspends_and_holds_settlement() -> None:
    feed = Feed()
    feed.begin()
    feed.game(10, 3)
    feed.writer.collection_status = "CollectionSuspended"
    feed.emit(STATUS_UPDATE)
    feed.rally(HOME)
    state = _state_after(feed)
    assert state.book["game_winner:1"].status is MarketStatus.SUSPENDED
    assert Reason.COLLECTION in _reasons(state)
    feed.writer.collection_status = "CollectingLive"
    feed.emit(STATUS_UPDATE)
    state = _state_after(feed)
    assert state.book["game_winner:1"].result == "home"


def test_game_markets_settle_as_soon_as_certain() -> None:
    feed = Feed()
    feed.begin()
    feed.game(5, 0)  # home reaches 5 first
    state = _state_after(feed)
    assert state.book["race_to:1:5"].result == "home"
    assert state.book["race_to:1:7"].status is MarketStatus.OPEN
    feed.game(0, 11)  # 5-11: away wins the game; 16 points: the 18.5 line is under
    state = _state_after(feed)
    assert state.book["game_winner:1"].result == "away"
    assert state.book["game_total_points:1:18.5"].result == "under"
    assert state.book["race_to:1:7"].result == "away"
    assert state.book["race_to:1:9"].result == "away"
    assert state.book["point_winner:1:16"].result == "away"
    assert state.book["point_winner:2:1"].status is MarketStatus.OPEN


def test_a_race_nobody_reaches_settles_neither() -> None:
    feed = Feed()
    feed.begin()
    feed.game(11, 4)
    state = _state_after(feed, MarketConfig(catalogue=MarketCatalogue(race_to=(12,))))
    assert state.book["race_to:1:12"].result == "neither"


def test_a_point_corrected_into_the_past_games_stands_where_its_outcome_is_unchanged() -> None:
    feed = Feed()
    feed.begin()
    feed.game(11, 9, last=HOME)
    before = _state_after(feed)
    game_end = feed.actions[-1]
    assert before.book["game_winner:1"].result == "home"
    # The provider moves the two last points to AWAY: they arrive together (the later first).
    feed.score(HOME, -1)
    feed.score(AWAY)
    first = feed.scored(
        AWAY, SendType.UPDATED, action_id=feed.actions[-3].action_id, timeline=feed.actions[-3].timeline
    )
    feed.score(HOME, -1)
    feed.score(AWAY)
    second = feed.scored(AWAY, SendType.UPDATED, action_id=game_end.action_id, timeline=game_end.timeline)
    held, events = reduce(before, second)
    assert signals_of(events)
    assert all(isinstance(s, SuspensionReasonsChanged | MarketSuspended) for s in _expanded(events))
    after, events = reduce(held, first)
    own = _by_market(signals_of(events))
    assert own["game_winner:1"] == [
        SettlementRolledBack("game_winner:1", "home"),
        MarketSettled("game_winner:1", "away"),
    ]
    assert own["point_winner:1:20"] == [
        SettlementRolledBack("point_winner:1:20", "home"),
        MarketSettled("point_winner:1:20", "away"),
    ]
    assert "race_to:1:5" not in own  # decided in the first points: it stands
    assert after.points == ((9, 11),)


def test_a_correction_that_ends_a_game_early_voids_the_point_never_played() -> None:
    feed = Feed()
    feed.begin()
    feed.game(10, 5)  # away wins points 1-5, home 6-15
    state = _state_after(feed)
    assert state.book["race_to:1:5"].result == "away"
    assert state.book["point_winner:1:16"].status is MarketStatus.OPEN
    third = [action for action in feed.actions if action.type_id == POINT_SCORED][2]
    feed.score(AWAY, -1)
    feed.score(HOME)  # review: point 3 was home's, so home won the game 11-4 at point 15
    update = feed.scored(HOME, SendType.UPDATED, action_id=third.action_id, timeline=third.timeline)
    after, events = reduce(state, update)
    own = _by_market(signals_of(events))
    assert own["point_winner:1:16"] == [MarketVoided("point_winner:1:16", VoidReason.NOT_PLAYED)]
    assert own["point_winner:1:3"] == [
        SettlementRolledBack("point_winner:1:3", "away"),
        MarketSettled("point_winner:1:3", "home"),
    ]
    assert own["race_to:1:5"] == [SettlementRolledBack("race_to:1:5", "away"), MarketSettled("race_to:1:5", "home")]
    assert own["game_winner:1"] == [MarketSettled("game_winner:1", "home")]
    assert after.book["point_winner:2:1"].status is MarketStatus.OPEN


def test_abandonment_voids_the_undecided_and_keeps_the_decided() -> None:
    feed = Feed()
    feed.begin()
    feed.game(11, 2)
    feed.new_game()
    feed.rally(AWAY)
    before = _state_after(feed)
    feed.emit(STATUS_UPDATE, fixture_status="Abandoned")
    state = _state_after(feed)
    assert state.book["game_winner:1"] == before.book["game_winner:1"]
    assert state.book["point_winner:2:1"].result == "away"
    for market_id in ("match_winner", "correct_score", "game_winner:2", "game_winner:3", "point_winner:2:2"):
        assert state.book[market_id].void_reason is VoidReason.ABANDONED


def test_a_cancelled_fixture_voids_every_market() -> None:
    feed = Feed()
    feed.emit(STATUS_UPDATE, fixture_status="Cancelled")
    state = _state_after(feed)
    assert state.book.with_status(MarketStatus.VOID) == list(state.book)
    assert {entry.void_reason for entry in state.book.values()} == {VoidReason.CANCELLED}


def test_a_walkover_voids_the_match_winner_by_default_and_pays_it_when_the_policy_says() -> None:
    feed = Feed()
    feed.begin()
    feed.end(HOME, subtype_name="Walkover", end_reason="Walkover")
    assert _state_after(feed).book["match_winner"].void_reason is VoidReason.WALKOVER
    paying = MarketConfig(policy=MarketPolicy(match_winner_stands_on_retirement=True))
    assert _state_after(feed, paying).book["match_winner"].result == "home"


# --- a real match --------------------------------------------------------------------------------


def test_a_real_match_trace_suspends_on_every_point_and_settles_every_game() -> None:
    path = FIXTURES / "aicup2026_m01_female_bo5.jsonl"
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["replay", str(path), "--trace", "--pre-match", "1.9", "1.9"]) == 0  # a prior: all can open
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    receiver: dict[str, str] = {}
    games_seen = 0
    points = 0
    for line in lines:
        signals = line["signals"]
        for signal in signals:  # the trace names every market a signal applies to: no catalogue needed
            if signal["signal"] == "PricesChanged":
                assert set(signal["prices"]) == set(signal["odds"]), signal
                continue
            assert "market" in signal or {"scope", "markets"} <= signal.keys(), signal
            for market in signal.get("markets", [signal.get("market")]):
                receiver[market] = signal["signal"]
        if "PointStarted" in line["events"]:
            points += 1
            (stop,) = [s for s in signals if s["signal"] == "BetStop"]  # one bet stop per rally
            # every undecided market, or all but those suspended for a reason of their own (`decided`)
            assert stop["scope"] in ("all", "markets")
            assert stop["reasons"] == ["ball_in_play"]
            assert "match_winner" in stop["markets"]
            assert all(status not in ("MarketResumed", "BetStart") for status in receiver.values())
        if "PointWon" in line["events"] and "MatchWon" not in line["events"]:
            resumed = {
                m
                for s in signals
                if s["signal"] in ("BetStart", "MarketResumed")
                for m in s.get("markets", [s.get("market")])
            }
            assert "match_winner" in resumed
            point = line["state"]["points"]
            game = len(point)
            assert f"point_winner:{game}:{sum(point[-1]) + 1}" in resumed or "GameWon" in line["events"]
        if "GameWon" in line["events"]:
            games_seen += 1
            settled = {s["market"]: s["result"] for s in signals if s["signal"] == "MarketSettled"}
            assert f"game_winner:{games_seen}" in settled
    final = lines[-1]["state"]
    assert games_seen == sum(final["games"])
    assert points == sum(sum(game) for game in final["points"])
    winner_settled = [
        line
        for line in lines
        for s in line["signals"]
        if s["signal"] == "MarketSettled" and (s["market"], s["result"]) == ("match_winner", final["winner"])
    ]
    assert len(winner_settled) == 1
    assert receiver["match_winner"] == "MarketSettled"


def test_the_fixtures_share_their_market_objects() -> None:
    """`market_for` is a pure memo: two fixtures folded apart hold the very same `Market` objects (and
    ids), so a thousand books do not each keep ~130 of their own; equal to a fresh `Market`."""
    from engine import playback
    from engine.core.markets.catalogue import Market, MarketType, market_for, parse_market
    from engine.io.recording import read_recording

    recording = read_recording(FIXTURES / "aicup2026_m05_female_bo7.jsonl")
    first, second = playback.fold(recording), playback.fold(recording)
    assert first.book.markets().keys() == second.book.markets().keys()
    for market_id, market in first.book.markets().items():
        assert second.book.markets()[market_id] is market
        assert market == Market(market.type, market.game, market.number, market.line)
        assert parse_market(market_id) is market
    assert market_for(MarketType.RACE_TO, 3, number=7).id == "race_to:3:7"
