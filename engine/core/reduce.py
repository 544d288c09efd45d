"""The reducer: `reduce(state, message) -> (state, events)`. Pure: no clock, no I/O, no randomness.

Call it once per decoded message, in arrival order, starting from `MatchState.new(...)`; at the end
of a finite stream, pass `EndOfStream()` so actions held behind a gap are not lost. The same input
always gives the same output.

One way, each layer once: the message into the match (`engine.core.match.fold`: sequencing, the
timeline, the score, the provider's summary), the match into the market book
(`engine.core.markets.book_update.advance_book`, whose difference from the old book is emitted as
market signals, after the match events), both into the prices (`engine.core.pricing.prices`).

The adapter's view of the connection enters as inputs too: `Stale()` when nothing arrived for too
long (any later message clears it), `Disconnected()` and `Connected()`; so does the runtime's:
`Lagging()` / `CaughtUp()` (its consumer fell behind, and caught up), `CatchingUp()` /
`CaughtUpWithFeed()` (it folds a backlog, and is done) and `Unfollowed()` (it stops following the
fixture: the closing bet stop). Each only sets a flag (`FLAG_SET_BY`) and so only moves markets.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import attrs

from engine.core.events import Event, MatchEvent, RatingsLookedUp
from engine.core.inputs import FLAG_SET_BY, EndOfStream, Input, Reconfigured
from engine.core.markets.book import Book, signals_between
from engine.core.markets.book_update import advance_book
from engine.core.markets.signals import (
    OPENING_SIGNALS,
    SettlementRolledBack,
    Signal,
    VoidRolledBack,
    prices_before_openings,
)
from engine.core.match.fold import Derived, apply_action, receive
from engine.core.match.inputs import Action, Heartbeat, Malformed
from engine.core.pricing.prices import advance_prices
from engine.core.state import MatchState, without_prior
from engine.ratings import prior_for


def reduce(state: MatchState, message: Input) -> tuple[MatchState, list[Event]]:
    """Fold one message into the state; returns the new state and what happened, in order:
    match events first, then the market signals they caused (`advance` gives them apart)."""
    after, events, signals = advance(state, message)
    return after, [*events, *signals]


def advance(state: MatchState, message: Input) -> tuple[MatchState, list[MatchEvent], list[Signal]]:
    """Fold one message into the state; returns the new state, the match events and the market
    signals they caused (stops and settlements, then the prices, then the reopenings)."""
    events: list[MatchEvent] = []
    signals: list[Signal] = []
    after = _advanced(state, message, events, signals)
    for signal in signals:
        if isinstance(signal, SettlementRolledBack | VoidRolledBack):
            return _counted(after, signals), events, signals
    return after, events, signals


def fold(state: MatchState, messages: list[Input]) -> tuple[MatchState, list[Event]]:
    """Reduce many messages; returns the final state and all events in order."""
    events: list[Event] = []
    for message in messages:
        state, new = reduce(state, message)
        events.extend(new)
    return state, events


def next_book(state: MatchState) -> Book:
    """The book for `state`'s match, built on `state.book` (the same object when nothing it depends on changed)."""
    return advance_book(state.match, state.markets.catalogue, state.markets.policy, state.book)[0]


def _advanced(state: MatchState, message: Input, events: list[MatchEvent], signals: list[Signal]) -> MatchState:
    match = state.match
    if isinstance(message, Action | EndOfStream):
        return _fold_action(state, message if isinstance(message, Action) else None, events, signals)
    if isinstance(message, Malformed):
        events.append(message)
        return state.with_match(attrs.evolve(match, malformed=match.malformed + 1))
    if isinstance(message, Heartbeat):
        if not match.stale and state.book.cache is not None:
            return state
        match = attrs.evolve(match, stale=False)
    elif isinstance(message, Reconfigured):  # the new config's ratings are asked afresh
        fresh = attrs.evolve(match, ratings_asked=False, no_prior=without_prior(message.markets))
        state = _rated(attrs.evolve(state, markets=message.markets).with_match(fresh), events)
        return _with_book(state, signals)
    else:
        field, value = FLAG_SET_BY[type(message)]
        flag: dict[str, Any] = {field: value}
        match = attrs.evolve(match, **flag)
    return _with_book(state.with_match(match), signals)


def _fold_action(
    state: MatchState, action: Action | None, events: list[MatchEvent], signals: list[Signal]
) -> MatchState:
    """Sequence the action (None: the end of the stream) and apply what it releases, then signal
    the book's net change. When a hold releases several actions at once, the book is advanced after
    each of them, so the markets offered and decided do not depend on how the network batched the
    messages; the signals are the net change, so no market flashes open on a superseded state."""
    match = state.match
    before = Derived.of(match)
    book_before = state.book
    if match.stale:
        match = attrs.evolve(match, stale=False)
    received = receive(match, action, events)
    match, released, sequencer = received.match, received.released, received.sequencer
    changed: dict[str, None] = {}
    for one in released:
        match = apply_action(match, one, events, sequencer)
        sequencer = None
        if len(released) > 1:
            state = _booked(state.with_match(match), changed)
    before.diff(Derived.of(match), events)
    state = _rated(_booked(state.with_match(match), changed), events)
    if state.book is not book_before:
        signals.extend(signals_between(book_before, state.book, changed))
    return _priced(state, signals)


def _with_book(state: MatchState, signals: list[Signal]) -> MatchState:
    """The state with its market book and prices brought up to date; their changes appended as signals."""
    changed: dict[str, None] = {}
    after = _booked(state, changed)
    if after is not state:
        signals.extend(signals_between(state.book, after.book, changed))
    return _priced(after, signals)


def _booked(state: MatchState, changed: dict[str, None]) -> MatchState:
    """The state with its book brought up to date; the ids of the markets that changed added to `changed`."""
    markets = state.markets
    book, ids = advance_book(state.match, markets.catalogue, markets.policy, state.book)
    if book is state.book:
        return state
    changed.update(dict.fromkeys(ids))
    return state.with_book(book)


def _priced(state: MatchState, signals: list[Signal]) -> MatchState:
    """The state with its prices brought up to date: the price signal, when they moved, goes after
    the other signals but before every reopening (`BetStart`, `MarketResumed`), which go last, so a
    receiver never sees a market open again before its price for the new score."""
    prices, moved = advance_prices(state.match, state.book, state.markets.pricing, state.prices)
    if moved is not None or any(isinstance(signal, OPENING_SIGNALS) for signal in signals):
        signals[:] = prices_before_openings(signals, moved)
    return state if prices is state.prices else state.with_prices(prices)


def _rated(state: MatchState, events: list[MatchEvent]) -> MatchState:
    """Once the lineups name both sides and the format is known, a pricing without a prior asks the
    configured ratings (once): both found, the prior comes from them (`RatingsLookedUp` says so,
    or who was missing)."""
    markets = state.markets
    pricing = markets.pricing
    if markets.ratings is None or pricing is None or pricing.has_prior or state.match.ratings_asked:
        return state
    home, away = state.match.players
    fmt = state.match.play.format
    if home is None or away is None or fmt.best_of is None:
        return state
    found = prior_for(markets.ratings, home, away, fmt, pricing.prior, state.match.player_ids)
    missing = tuple(
        f"{lookup.name}: {lookup.why}" + (f" ({' | '.join(lookup.candidates)})" if lookup.candidates else "")
        for lookup in (found.home, found.away)
        if lookup.rating is None
    )
    state = state.with_match(attrs.evolve(state.match, ratings_asked=True))
    if missing:
        events.append(RatingsLookedUp(home, away, None, None, missing))
        return state
    events.append(RatingsLookedUp(home, away, found.home_wins, found.prior.strength))
    rated = attrs.evolve(markets, pricing=pricing.with_ratings(found.prior, found.home_edge))
    return attrs.evolve(state, markets=rated).with_match(attrs.evolve(state.match, no_prior=False))


def _counted(state: MatchState, signals: list[Signal]) -> MatchState:
    """`state` with every rollback among `signals` counted (`MatchState.rollbacks`)."""
    rollbacks = dict(state.rollbacks)
    for signal in signals:
        if isinstance(signal, SettlementRolledBack | VoidRolledBack):
            rollbacks[signal.market] = rollbacks.get(signal.market, 0) + 1
    return state.with_rollbacks(MappingProxyType(rollbacks))
