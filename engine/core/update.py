"""One update per input: everything one input changed, as one immutable value a desk acts on.

    state, update = step(state, decode(frame), received=receive_time)  # POSIX seconds, the caller's
    if update.changed:
        send(update)          # the score it belongs to, the match events, the market changes

`step` is `reduce` stamped: the fixture, the input's `fixtureSeqNum` and the provider's timestamp,
our receive time (an input like any other: the core reads no clock), the score after the input,
the match events, and the market changes — status signals and new prices — in the order a
receiver must apply them: stops and settlements first, then the prices, then the reopenings, so a
market never opens again before its price for the new score. `coalesce` merges the updates a
lagging consumer did not take into one net change (`engine.runtime` uses it).
"""

from __future__ import annotations

import attrs

from engine.core.events import Event, MatchEvent, Status
from engine.core.inputs import Input, Unfollowed
from engine.core.markets.book import signals_between
from engine.core.markets.signals import (
    MarketSettled,
    MarketVoided,
    PricesChanged,
    SettlementRolledBack,
    Signal,
    VoidRolledBack,
    prices_before_openings,
)
from engine.core.match.inputs import Action
from engine.core.match.rules import Side
from engine.core.match.state import Score
from engine.core.pricing.prices import price_change
from engine.core.reduce import advance
from engine.core.state import MatchState, decision_id


@attrs.frozen(slots=True)
class Scoreline:
    """The score an update belongs to: games, each game's points (the current game last), who
    serves (the rally under way, or the next), and the match status."""

    games: Score
    points: tuple[Score, ...]
    server: Side | None
    status: Status

    @classmethod
    def of(cls, state: MatchState) -> Scoreline:
        """The score of `state`."""
        return cls(state.games, state.points, state.server, state.status)


@attrs.frozen(slots=True)
class Update:
    """What one input changed (`changed` is False when nothing did: a heartbeat, say).

    `input_type` is the input's class (`Action`, `Heartbeat`, ...; `input` its name), `seq` the
    input's `fixtureSeqNum` (None for inputs that are not actions), `timestamp` the
    provider's time of the action, `received` our receive time in POSIX seconds (None when unknown);
    `score` is the score after the input; `events` the match events and `signals` the market changes
    (status signals and at most one `PricesChanged`, which comes before every `BetStart` and
    `MarketResumed`). `coalesced` counts the inputs merged into this one beyond its own (a consumer
    that lagged; see `engine.runtime.delivery.Overflow`). `state` is the engine state after the input."""

    fixture_id: str | None
    seq: int | None
    input_type: type[Input]
    timestamp: str | None
    received: float | None
    score: Scoreline
    events: tuple[Event, ...]
    signals: tuple[Signal, ...]
    state: MatchState = attrs.field(eq=False, repr=False)
    coalesced: int = 0
    #: The engine run that sent it and its place in that run's stream (the runtime stamps them:
    #: `engine.runtime.delivery.Stream`); None from the pure `step`.
    run: str | None = None
    stream_seq: int | None = None
    #: True when a receiver should replace what it holds of the fixture by `state`'s whole book and
    #: prices (the first update of a run, and one that stands for a backlog or a lagging consumer's
    #: missed updates); the signals are still the change from what it was sent before.
    snapshot: bool = False
    #: What the input says beyond its kind: why the engine stopped following (`Unfollowed.why`).
    detail: str | None = None

    @property
    def input(self) -> str:
        """The input's kind by name (`"Action"`, `"Heartbeat"`, `"Unfollowed"`, ...): the trace's `input`."""
        return self.input_type.__name__

    @property
    def changed(self) -> bool:
        """True when the input changed anything a receiver sees (an event or a market change)."""
        return bool(self.events or self.signals)

    @property
    def prices(self) -> PricesChanged | None:
        """The update's price signal, if the prices moved."""
        return next((signal for signal in self.signals if isinstance(signal, PricesChanged)), None)

    def decision_ids(self) -> tuple[str | None, ...]:
        """Aligned with `signals`: the stable id of each settlement, voiding and rollback (the
        same decision has the same id in every run: `engine.core.state.decision_id`), None for
        the other signals. A rollback carries the id of the decision it takes back."""
        rollbacks = self.state.rollbacks
        fixture_id = self.fixture_id
        ids: list[str | None] = []
        for signal in self.signals:
            if isinstance(signal, MarketSettled | MarketVoided):
                ids.append(decision_id(fixture_id, signal.market, rollbacks.get(signal.market, 0) + 1))
            elif isinstance(signal, SettlementRolledBack | VoidRolledBack):
                ids.append(decision_id(fixture_id, signal.market, rollbacks.get(signal.market, 0)))
            else:
                ids.append(None)
        return tuple(ids)

    def items(self) -> tuple[Event, ...]:
        """The match events, then the market signals, in order (what per-kind callbacks see)."""
        return (*self.events, *self.signals)


def step(state: MatchState, message: Input, received: float | None = None) -> tuple[MatchState, Update]:
    """Fold one input (`advance`) and stamp what it changed as an `Update`; `received` is our receive
    time of the input (POSIX seconds), passed in because the core reads no clock."""
    after, events, signals = advance(state, message)
    return after, _update(after, message, tuple(events), tuple(signals), received)


def _update(
    state: MatchState,
    message: Input,
    events: tuple[MatchEvent, ...],
    signals: tuple[Signal, ...],
    received: float | None,
) -> Update:
    is_action = isinstance(message, Action)
    return Update(
        state.fixture_id,
        getattr(message, "seq", None),  # an action's, or a quarantined frame's
        type(message),
        message.timestamp if is_action else None,  # type: ignore[union-attr]
        received,
        Scoreline.of(state),
        events,
        signals,
        state,
        detail=message.why.value if isinstance(message, Unfollowed) else None,
    )


def coalesce(delivered: MatchState, updates: list[Update]) -> Update:
    """One update standing for `updates` (in order, at least one), for a receiver that holds the book
    and prices of `delivered`: the last update's stamp and score, every match event in order, and the
    net market change — each market's status where it differs, and the prices that differ — so a
    settlement later rolled back, or a market suspended and reopened, is not sent at all."""
    last = updates[-1]
    state = last.state
    signals = signals_between(delivered.book, state.book, state.book)
    return attrs.evolve(
        last,
        events=tuple(event for update in updates for event in update.events),
        signals=tuple(prices_before_openings(signals, price_change(delivered.prices.prices, state.prices.prices))),
        coalesced=sum(update.coalesced + 1 for update in updates) - 1,
    )
