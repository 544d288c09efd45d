"""The incremental book (issue 13): after every input it equals the book derived from scratch, its
signals alone rebuild it, and match-level suspension is one scoped signal — over every corpus
recording and over generated matches with corrections, noise, connection trouble and policies that
scope reasons to some market types only."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import playback
from engine.analysis.report import is_signal
from engine.core.config import MarketConfig
from engine.core.events import Event
from engine.core.inputs import EndOfStream, Input
from engine.core.markets.book import EMPTY_BOOK, Book, apply_signals
from engine.core.markets.book_update import derive_book, offered_markets
from engine.core.markets.catalogue import MarketPolicy, MarketType
from engine.core.markets.signals import (
    BetStart,
    BetStop,
    BetStopChanged,
    MarketResumed,
    MarketStatus,
    PricesChanged,
    Reason,
    Scope,
    Signal,
)
from engine.core.match.rules import UNKNOWN_FORMAT
from engine.core.pricing.odds import book_sum
from engine.core.pricing.prices import prices_of
from engine.core.reduce import reduce
from engine.core.state import MatchState
from engine.io.recording import read_recording
from engine.testing import GeneratedMatch, matches, with_connection_trouble, with_noise

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures_data"
RECORDINGS = sorted(FIXTURES.glob("*.jsonl"))


def _check_step(state: MatchState, receiver: Book, signals: list[Signal]) -> Book:
    """The laws after one input; returns the receiver's book with the step's signals applied."""
    markets = state.markets
    assert derive_book(state.match, markets.catalogue, markets.policy, state.book) == state.book  # = from scratch
    assert {market.id for market in offered_markets(state.match, markets.catalogue)} <= set(state.book)
    receiver = apply_signals(receiver, signals)
    assert receiver == state.book  # the signals alone rebuild the book
    for signal in signals:
        if isinstance(signal, BetStop | BetStopChanged | BetStart):
            _check_scope(state.book, signal)
    return receiver


def _check_scope(book: Book, signal: BetStop | BetStopChanged | BetStart) -> None:
    """A scoped signal names markets the scope describes: all undecided ones, all undecided ones of
    its types, or (a list) some; never a market twice."""
    named = set(signal.markets)
    assert len(named) == len(signal.markets)
    undecided = set(book.undecided())
    assert named <= undecided
    if signal.scope is Scope.ALL:
        assert named == undecided
    elif signal.scope is Scope.TYPES:
        assert named == {market_id for market_id in undecided if book.market(market_id).type in signal.types}
    else:
        assert not signal.types


def _fold_checked(state: MatchState, inputs: list[Input]) -> None:
    """Reduce every input, checking the laws after each."""
    receiver = EMPTY_BOOK
    priced: dict[str, dict[str, float]] = {}
    for message in [*inputs, EndOfStream()]:
        state, events = reduce(state, message)
        receiver = _check_step(state, receiver, _signals(events))
        _check_reopenings(state, priced, _signals(events))
        priced = _check_prices(state, priced, [event for event in events if isinstance(event, PricesChanged)])


def _check_reopenings(state: MatchState, receiver: dict[str, dict[str, float]], signals: list[Signal]) -> None:
    """Issue 20.1: a market never opens again before its price for the new score: at every opening
    signal, a receiver that applied the input's signals so far already holds the market's price as
    of the state after the input (with pricing on, every open market is priced)."""
    receiver = dict(receiver)
    for signal in signals:
        if isinstance(signal, PricesChanged):
            receiver = {k: v for k, v in receiver.items() if k not in signal.withdrawn} | dict(signal.prices)
        opened = (
            signal.markets
            if isinstance(signal, BetStart)
            else (signal.market,)
            if isinstance(signal, MarketResumed)
            else ()
        )
        for market_id in opened:
            if state.markets.pricing is not None:
                assert market_id in state.prices, market_id
                assert receiver.get(market_id) == dict(state.prices[market_id].fair), market_id


def _check_prices(state: MatchState, receiver: dict[str, dict[str, float]], moved: list[PricesChanged]) -> dict:
    """The price laws after one input: at most one price signal; the kept prices equal the prices
    computed from scratch, and the signals alone rebuild them; only undecided markets have a price,
    every market's outcomes sum to one, and every book offered carries at least the minimum margin."""
    assert len(moved) <= 1
    for signal in moved:
        assert (signal.prices and set(signal.prices) == set(signal.odds)) or signal.withdrawn
        receiver = {k: v for k, v in receiver.items() if k not in signal.withdrawn} | signal.prices
    kept = state.prices.fair()
    assert kept == prices_of(state.match, state.book, state.markets.pricing)
    assert receiver == kept
    undecided = set(state.book.undecided())
    assert set(kept) <= undecided
    if state.markets.pricing is not None:  # issue 28.6: never open without a current price
        for market_id in state.book.with_status(MarketStatus.OPEN):
            assert market_id in state.prices, f"{market_id} is open without a price"
    for market_id, found in state.prices.items():
        assert abs(sum(found.fair.values()) - 1.0) <= 1e-12, market_id  # issue 28.6: no float noise
        assert all(0.0 <= value <= 1.0 for value in found.fair.values()), market_id
        if max(found.fair.values()) == 1.0:  # certain: suspended (`decided`), never open
            assert state.book[market_id].status is not MarketStatus.OPEN, market_id
        assert all(odds <= 1.0 / found.fair[outcome] for outcome, odds in found.odds.items())
        if found.odds:  # issue 21.1: an offered book never gives a sure profit
            assert book_sum(found.odds) >= 1.0 + state.markets.pricing.odds.min_margin - 1e-12, market_id
    return receiver


def _signals(events: list[Event]) -> list[Signal]:
    return [event for event in events if is_signal(event)]


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_the_incremental_book_equals_the_book_derived_from_scratch_on_every_recording(path: Path) -> None:
    recording = read_recording(path)
    inputs = [message for _, message in playback.inputs(recording)][:-1]  # EndOfStream is added back
    _fold_checked(playback.start_state(recording, None, False), inputs)


POLICIES = st.sampled_from(
    [
        MarketPolicy(),
        MarketPolicy().with_scopes({Reason.TIMEOUT: {MarketType.POINT_WINNER}}),
        MarketPolicy().with_scopes(
            {Reason.BALL_IN_PLAY: {MarketType.POINT_WINNER, MarketType.GAME_WINNER}, Reason.VIDEO_CHECK: set()}
        ),
        MarketPolicy(settlement_waits_for=frozenset({Reason.PENDING_ACTION, Reason.BALL_IN_PLAY})),
    ]
)
GENERATED = matches(max_points=120).flatmap(with_noise).flatmap(with_connection_trouble)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(GENERATED, POLICIES)
def test_the_incremental_book_equals_the_book_derived_from_scratch_on_generated_matches(
    match: GeneratedMatch, policy: MarketPolicy
) -> None:
    """Generated matches carry corrections into the past (updates, deletions, restorations,
    insertions), Pending actions, duplicates, reordering, a lost message and connection trouble."""
    state = MatchState.new(match.fixture_id, match.format, markets=MarketConfig(policy=policy))
    _fold_checked(state, list(match.messages))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(GENERATED)
def test_the_laws_hold_with_the_format_unknown(match: GeneratedMatch) -> None:
    """With the format unknown the match-level types are suspended for a reason of their own
    (format_unknown) while the others are not: the scoped signals then name types, not all."""
    _fold_checked(MatchState.new(match.fixture_id, UNKNOWN_FORMAT), list(match.messages))
