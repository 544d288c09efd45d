"""The reducer: `reduce(state, message) -> (state, events)`. Pure: no clock, no I/O, no randomness.

Call it once per decoded message, in arrival order, starting from `MatchState.new(...)`; at the end
of a finite stream, pass `EndOfStream()` so actions held behind a gap are not lost. The same input
always gives the same output.

One way, each layer once (`advance`): the message into the match (`engine.core.match.fold`:
sequencing, the timeline, the score, the provider's summary), the configured ratings once the
lineups name both sides (`engine.ratings`), the match into the market book
(`engine.core.markets.book_update.advance_book`, whose difference from the old book is emitted as
market signals, after the match events), both into the prices (`engine.core.pricing.prices`); the
new state is made once, at the end.

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

from engine.core.config import MarketConfig
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
from engine.core.match.state import MatchFacts
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
    signals they caused (stops and settlements, then the prices, then the reopenings).

    One way: the match, then the ratings (once the lineups name both sides), the book and its
    signals, the prices; the new state is made once, at the end."""
    events: list[MatchEvent] = []
    signals: list[Signal] = []
    match, markets, book = state.match, state.markets, state.book
    if isinstance(message, Malformed):  # counted; nothing else moves
        events.append(message)
        return state.with_match(attrs.evolve(match, malformed=match.malformed + 1)), events, signals
    if isinstance(message, Heartbeat) and not match.stale and book.cache is not None:
        return state, events, signals  # the feed is alive, as it was
    changed: dict[str, None] = {}  # the ids of the markets whose entries changed
    if isinstance(message, Action | EndOfStream):
        match, book = _fold_action(state, message if isinstance(message, Action) else None, events, changed)
    elif isinstance(message, Heartbeat):
        match = attrs.evolve(match, stale=False)
    elif isinstance(message, Reconfigured):  # the new config's ratings are asked afresh
        markets = message.markets
        match = attrs.evolve(match, ratings_asked=False, no_prior=without_prior(markets))
    else:
        field, value = FLAG_SET_BY[type(message)]
        flag: dict[str, Any] = {field: value}
        match = attrs.evolve(match, **flag)
    markets, match = _rated(markets, match, events)
    book, ids = advance_book(match, markets.catalogue, markets.policy, book)
    changed.update(dict.fromkeys(ids))
    if book is not state.book:
        signals.extend(signals_between(state.book, book, changed))
    # The price signal, when they moved, goes after the other signals but before every reopening
    # (`BetStart`, `MarketResumed`), which go last: a receiver never sees a market open again
    # before its price for the new score.
    prices, moved = advance_prices(match, book, markets.pricing, state.prices)
    if moved is not None or any(isinstance(signal, OPENING_SIGNALS) for signal in signals):
        signals[:] = prices_before_openings(signals, moved)
    rollbacks = state.rollbacks  # each market's decisions rolled back (`MatchState.rollbacks`)
    for signal in signals:
        if isinstance(signal, SettlementRolledBack | VoidRolledBack):
            rollbacks = MappingProxyType({**rollbacks, signal.market: rollbacks.get(signal.market, 0) + 1})
    return MatchState(match, markets, book, prices, rollbacks), events, signals


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


def _fold_action(
    state: MatchState, action: Action | None, events: list[MatchEvent], changed: dict[str, None]
) -> tuple[MatchFacts, Book]:
    """Sequence the action (None: the end of the stream) and apply what it releases: the match
    after them, and the book. When a hold releases several actions at once, the book is advanced
    after each of them but the last (`advance` advances it after that one), so the markets offered
    and decided do not depend on how the network batched the messages; the ids of the markets those
    steps changed go into `changed`, and the signals are the net change, so no market flashes open
    on a superseded state."""
    match = state.match
    before = Derived.of(match)
    book = state.book
    markets = state.markets
    if match.stale:
        match = attrs.evolve(match, stale=False)
    received = receive(match, action, events)
    match, released, sequencer = received.match, received.released, received.sequencer
    for number, one in enumerate(released, start=1):
        match = apply_action(match, one, events, sequencer)
        sequencer = None
        if number < len(released):
            book, ids = advance_book(match, markets.catalogue, markets.policy, book)
            changed.update(dict.fromkeys(ids))
    before.diff(Derived.of(match), events)
    return match, book


def _rated(markets: MarketConfig, match: MatchFacts, events: list[MatchEvent]) -> tuple[MarketConfig, MatchFacts]:
    """Once the lineups name both sides and the format is known, a pricing without a prior asks the
    configured ratings (once): both found, the prior comes from them (`RatingsLookedUp` says so,
    or who was missing)."""
    pricing = markets.pricing
    if markets.ratings is None or pricing is None or pricing.has_prior or match.ratings_asked:
        return markets, match
    home, away = match.players
    fmt = match.play.format
    if home is None or away is None or fmt.best_of is None:
        return markets, match
    found = prior_for(markets.ratings, home, away, fmt, pricing.prior, match.player_ids)
    missing = tuple(
        f"{lookup.name}: {lookup.why}" + (f" ({' | '.join(lookup.candidates)})" if lookup.candidates else "")
        for lookup in (found.home, found.away)
        if lookup.rating is None
    )
    if missing:
        events.append(RatingsLookedUp(home, away, None, None, missing))
        return markets, attrs.evolve(match, ratings_asked=True)
    events.append(RatingsLookedUp(home, away, found.home_wins, found.prior.strength))
    rated = attrs.evolve(markets, pricing=pricing.with_ratings(found.prior, found.home_edge))
    return rated, attrs.evolve(match, ratings_asked=True, no_prior=False)
