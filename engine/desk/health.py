"""Health of one followed fixture: what the desk's operators watch (is the feed late, what is
suspended, why, and since when).

A `Watch` sees every input the runtime folds for its fixture (the runtime's `on_input` hook, so it
runs synchronously, right after the reducer) and keeps the few numbers the core does not: frames
and updates counted, when the last frame arrived, the provider-to-receive lag of the last action,
reconnections, and since when each suspension reason holds. `FixtureHealth` is one reading of it.
Times are wall-clock POSIX seconds from the desk's clock (an input like any other).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping

import attrs

from engine.core.inputs import Connected, Input
from engine.core.markets.book import Book
from engine.core.markets.signals import MarketStatus, PricesChanged, Reason
from engine.core.match.inputs import Action, Heartbeat, Malformed
from engine.core.state import MatchState
from engine.core.update import Update
from engine.io.recording import posix_seconds


class Health(enum.Enum):
    """Where a fixture's feed stands."""

    CONNECTING = "connecting"  # no frame received yet
    CONNECTED = "connected"  # frames arrive
    STALE = "stale"  # connected, but nothing arrived for longer than the stale timeout
    RECONNECTING = "reconnecting"  # the connection dropped; the adapter is reconnecting
    CATCHING_UP = "catching_up"  # folding a backlog (a late start, a reconnection, a restart): all suspended
    LAGGING = "lagging"  # the consumer of the updates fell behind: all suspended until it catches up
    FINISHED = "finished"  # the feed ended: the match is over
    STOPPED = "stopped"  # the desk stopped following it before the match was over (closing bet stop)
    FAILED = "failed"  # the feed ended with an error (the token refused, retries exhausted, …)


#: The inputs that are frames of the feed (the rest are the adapter's and the runtime's own).
FRAME_INPUTS = (Action, Heartbeat, Malformed)


@attrs.frozen(slots=True)
class SuspendedGroup:
    """Markets suspended for the same reasons: which, and since when (the earliest start of a
    reason that still holds, POSIX seconds); `engine.desk.views` names their types."""

    reasons: tuple[Reason, ...]
    markets: tuple[str, ...]
    since: float


@attrs.frozen(slots=True)
class FixtureHealth:
    """One reading of a fixture's health at `now` (POSIX seconds).

    `feed_age` is the seconds since the last frame (None before the first); `lag` the provider's
    action timestamp to our receive time of the last action; `reconnects` the reconnections that
    received a frame; `suspended` the groups of suspended markets; `reasons` since when each
    suspension reason holds on any market."""

    health: Health
    now: float
    frames: int
    updates: int
    feed_age: float | None
    lag: float | None
    reconnects: int
    suspended: tuple[SuspendedGroup, ...]
    reasons: Mapping[Reason, float]
    error: str | None = None
    retry_in: float | None = None  # a failed fixture waiting to be followed again: in how many seconds


def status_counts(book: Book) -> dict[MarketStatus, int]:
    """How many markets of `book` have each status (every status listed)."""
    counts = dict.fromkeys(MarketStatus, 0)
    for entry in book.values():
        counts[entry.status] += 1
    return counts


class Watch:
    """Counts and times one fixture's inputs (see the module docstring). `clock` gives POSIX seconds."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.frames = 0
        self.updates = 0
        self.connections = 0  # connections that received a frame
        self.last_frame: float | None = None
        self.lag: float | None = None
        self.updated_at: float | None = None  # when the last update that changed anything was folded
        #: Each reason that holds on some market, and since when.
        self.reason_since: dict[Reason, float] = {}
        #: Seconds each reason held and no longer holds (the ones still holding are added on reading).
        self.reason_seconds: dict[Reason, float] = {}

    def observe(self, message: Input, update: Update) -> None:
        """Take one folded input and its update."""
        if isinstance(message, FRAME_INPUTS):
            now = self._clock()
            self.frames += 1
            self.last_frame = now
            if isinstance(message, Action):
                sent = posix_seconds(message.timestamp)
                if sent is not None and update.received is not None:
                    self.lag = update.received - sent
        elif isinstance(message, Connected):
            self.connections += 1
        if not update.changed:
            return
        self.updates += 1
        self.updated_at = self._clock()
        if any(not isinstance(signal, PricesChanged) for signal in update.signals):
            self._reasons_now(update.state)

    def _reasons_now(self, state: MatchState) -> None:
        """The market statuses moved: start and end the reasons' clocks."""
        holding: set[Reason] = set()
        for entry in state.book.values():
            if entry.status is MarketStatus.SUSPENDED:
                holding.update(entry.reasons)
        now = self._clock()
        for reason in [reason for reason in self.reason_since if reason not in holding]:
            began = self.reason_since.pop(reason)
            self.reason_seconds[reason] = self.reason_seconds.get(reason, 0.0) + (now - began)
        for reason in holding:
            self.reason_since.setdefault(reason, now)

    def suspended_seconds(self, now: float) -> dict[Reason, float]:
        """Seconds each reason has held, up to `now` (the ones still holding included)."""
        total = dict(self.reason_seconds)
        for reason, began in self.reason_since.items():
            total[reason] = total.get(reason, 0.0) + max(0.0, now - began)
        return total

    def groups(self, state: MatchState) -> tuple[SuspendedGroup, ...]:
        """The suspended markets of `state` grouped by their reasons, the longest-suspended first."""
        by_reasons: dict[tuple[Reason, ...], list[str]] = {}
        for market_id, entry in state.book.items():
            if entry.status is MarketStatus.SUSPENDED:
                by_reasons.setdefault(entry.reasons, []).append(market_id)
        now = self._clock()
        groups = [
            SuspendedGroup(reasons, tuple(markets), min(self.reason_since.get(reason, now) for reason in reasons))
            for reasons, markets in by_reasons.items()
        ]
        return tuple(sorted(groups, key=lambda group: (group.since, [r.value for r in group.reasons])))

    @property
    def reconnects(self) -> int:
        """Reconnections that received a frame."""
        return max(0, self.connections - 1)

    def feed_age(self, now: float) -> float | None:
        """Seconds since the last frame at `now` (None before the first)."""
        return None if self.last_frame is None else max(0.0, now - self.last_frame)

    def reading(self, state: MatchState, health: Health, error: str | None = None) -> FixtureHealth:
        """The fixture's health now."""
        now = self._clock()
        return FixtureHealth(
            health,
            now,
            self.frames,
            self.updates,
            self.feed_age(now),
            self.lag,
            self.reconnects,
            self.groups(state),
            dict(self.reason_since),
            error,
        )
