"""The runtime: one `Match` per fixture holds the current state, runs its feed (live or replayed),
and delivers one `Update` per input that changed anything to the user's callbacks and `async for`.
Live and replay share everything but the source.

    async with engine.connect(fixture_id, token="…") as match:
        match.on(engine.BetStop, on_bet_stop)          # plain or `async def`, called in order
        async for update in match:                     # one Update per input, in order
            ...

    async with engine.replay("fixtures_data/x.jsonl", speed=10.0) as match:
        await match.wait()             # callbacks only; raises if the feed failed

The feed folds each input as it arrives (`engine.core.update.step`) and queues its update; a
delivery task hands each update, in order, to the callbacks (awaiting `async def` ones; one that
raises is logged and isolated, one slower than `slow_after` is warned about) and then to every
`async for`. A consumer that falls behind is never silently dropped: a replay waits for it
(backpressure); a live feed cannot wait, so `Overflow` says what happens when `buffer` updates are
queued (by default every market of the fixture suspends with `consumer_lagging` and the updates are
coalesced into one net update when the consumer has caught up). Whenever the runtime stops following
a fixture — `stop()`, cancellation, leaving `async with`, a final feed error, the end of a recording
that stops mid-match — it folds `Unfollowed()` and delivers that closing update (every undecided
market suspended, `not_followed`) before it returns.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import inspect
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar, overload

import attrs

from engine import playback
from engine.core.config import DEFAULT_MARKETS, MarketConfig
from engine.core.events import FINAL_STATUSES
from engine.core.inputs import (
    CatchingUp,
    CaughtUp,
    CaughtUpWithFeed,
    EndOfStream,
    Input,
    Lagging,
    Reconfigured,
    Unfollowed,
    UnfollowReason,
)
from engine.core.match.rules import UNKNOWN_FORMAT, MatchFormat
from engine.core.state import MatchState
from engine.core.update import Update, coalesce, step
from engine.feed.catalogue import DEFAULT_CATALOGUE, ActionCatalogue
from engine.io.client import ClientSettings, ConnectLimiter, FrameObserver, Recorder, run_feed
from engine.io.protocol import FeedError, Secret
from engine.io.recording import (
    Frame,
    RecordingError,
    RecordingMeta,
    extra_types,
    read_recording,
    recorded_inputs,
    repair_recording,
)

log = logging.getLogger("engine.match")

#: A callback: `fn(match, item)` where item is an `Update`, or one event or signal of it; it may
#: be an `async def` (awaited before the next item is delivered).
Callback = Callable[["Match", Any], object]
C = TypeVar("C", bound=Callback)
EventTypes = type | tuple[type, ...]
#: [ours] A callback slower than this (seconds) is warned about.
SLOW_CALLBACK = 1.0
#: [ours] Updates queued for the callbacks and `async for` before a live feed's consumer counts as
#: lagging (`Overflow`); a replay waits instead.
UPDATE_BUFFER = 1_024
#: [ours] Seconds the oldest update waiting for a live feed's consumer may have waited (from its
#: frame's arrival) before the consumer counts as lagging (`Overflow`), however short the queue.
LAG_LIMIT = 1.0


class Overflow(enum.Enum):
    """What a live feed does when its consumer falls `lag_limit` seconds or `buffer` updates behind
    (a replay waits)."""

    #: Suspend every market of the fixture (`consumer_lagging`) at once: the updates not yet handed
    #: over are replaced by one net update (a snapshot, every market suspended) that goes ahead of
    #: nothing stale; the updates that follow are coalesced into one net update, delivered (the
    #: markets reopened at their current prices) once the consumer has taken the queue down to half
    #: of `buffer`; `Update.coalesced` and `Match.coalesced` count what was merged.
    SUSPEND = "suspend"
    #: Stop following the fixture: the closing bet stop, then `ConsumerTooSlow` from `wait()` and
    #: `async for`.
    FAIL = "fail"


class ConsumerTooSlow(Exception):
    """A live feed's consumer fell `buffer` updates behind under `Overflow.FAIL`."""


class Callbacks:
    """Handlers by kind, shared by any number of matches. `on` also works as a decorator.

    Each update is delivered in order: handlers of `Update` get the update, then handlers of an
    event or signal type (`object`: every one) get each matching item of `update.items()`. While a
    handler runs, `match.update` is the update it belongs to (its seq, times and score)."""

    def __init__(self, slow_after: float = SLOW_CALLBACK) -> None:
        self.slow_after = slow_after
        self._handlers: list[tuple[tuple[type, ...], bool, Callback]] = []
        self.failures = 0  # callbacks that raised
        self.slow = 0  # calls slower than `slow_after` (plain and async)
        self.blocking = 0  # of those, plain handlers: the event loop (every fixture) waited for them
        self.blocked_seconds = 0.0  # how long those blocking calls held the loop, summed
        self.slowest: str | None = None  # the handler of the latest slow call, by name

    @overload
    def on(self, event_type: EventTypes, fn: None = None) -> Callable[[C], C]: ...
    @overload
    def on(self, event_type: EventTypes, fn: C) -> C: ...
    def on(self, event_type: EventTypes, fn: C | None = None) -> C | Callable[[C], C]:
        """Call `fn(match, item)` for every `Update` (`event_type=Update`), or for every event or signal
        that is an instance of `event_type` (`object` for all); `fn` may be an `async def`. Returns
        `fn`; without `fn`, a decorator. TypeError for a kind that is not a class, or a `fn` that is
        not callable."""
        kinds = event_type if isinstance(event_type, tuple) else (event_type,)
        if not kinds or not all(isinstance(kind, type) for kind in kinds):
            raise TypeError(f"on(): the kind must be a class or a tuple of classes, not {event_type!r}")
        if fn is None:
            return lambda handler: self.on(event_type, handler)
        if not callable(fn):
            raise TypeError(f"on(): the callback must be callable (a function or an async def), not {fn!r}")
        wants_update = Update in kinds
        self._handlers.append((tuple(kind for kind in kinds if kind is not Update), wants_update, fn))
        return fn

    def off(self, fn: Callback) -> None:
        """Stop calling `fn`."""
        self._handlers = [handler for handler in self._handlers if handler[2] is not fn]

    async def deliver(self, match: Match, update: Update) -> None:
        """Hand one update to every matching handler, in order (awaiting `async def` ones); isolate
        failures, time each call."""
        rest = self.begin(match, update)
        if rest is not None:
            await rest

    def begin(self, match: Match, update: Update) -> Coroutine[Any, Any, None] | None:
        """Call the matching handlers of one update, in order, for as long as they are plain
        functions; at the first that returns an awaitable, return a coroutine that awaits it and
        goes on with the rest (None: every handler ran). Plain handlers so run right after the
        reducer, without a hop through the event loop."""
        calls = self._calls(update)
        for index, (fn, item) in enumerate(calls):
            began = time.perf_counter()
            try:
                result = fn(match, item)
            except Exception:
                self._failed(match, fn, item)
                continue
            if inspect.isawaitable(result):
                return self._go_on(match, result, began, calls[index:])
            self._timed(match, fn, item, began, blocking=True)
        return None

    def _calls(self, update: Update) -> list[tuple[Callback, object]]:
        """(handler, item) for every call one update makes, in order."""
        handlers = self._handlers
        if not handlers:
            return []
        calls: list[tuple[Callback, object]] = [(fn, update) for _, wants, fn in handlers if wants]
        for item in update.items():
            calls.extend((fn, item) for kinds, _, fn in handlers if kinds and isinstance(item, kinds))
        return calls

    async def _go_on(
        self, match: Match, pending: Awaitable[object], began: float, calls: list[tuple[Callback, object]]
    ) -> None:
        """Await the handler that returned `pending` (the first of `calls`), then call the rest."""
        fn, item = calls[0]
        try:
            await pending
        except Exception:
            self._failed(match, fn, item)
        else:
            self._timed(match, fn, item, began, blocking=False)
        for fn, item in calls[1:]:
            began = time.perf_counter()
            try:
                result = fn(match, item)
                plain = True
                if inspect.isawaitable(result):
                    plain = False
                    await result
            except Exception:
                self._failed(match, fn, item)
                continue
            self._timed(match, fn, item, began, blocking=plain)

    def _failed(self, match: Match, fn: Callback, item: object) -> None:
        self.failures += 1
        log.exception(
            "fixture %s: callback %s raised on %s; the feed goes on", match.fixture_id, _name(fn), _kind(item)
        )

    def _timed(self, match: Match, fn: Callback, item: object, began: float, *, blocking: bool) -> None:
        """Count and warn about a call slower than `slow_after`; a plain (`blocking`) one held the
        event loop, so every fixture of the process waited for it: said so, and its time summed."""
        spent = time.perf_counter() - began
        if spent <= self.slow_after:
            return
        self.slow += 1
        self.slowest = _name(fn)
        if blocking:
            self.blocking += 1
            self.blocked_seconds += spent
            log.warning(
                "fixture %s: plain callback %s blocked the event loop for %.3f s on %s (slower than %.3f s): "
                "every fixture waited; make it `async def` and await the slow part, or hand it to a thread",
                match.fixture_id,
                self.slowest,
                spent,
                _kind(item),
                self.slow_after,
            )
        else:
            log.warning(
                "fixture %s: callback %s took %.3f s on %s (slower than %.3f s)",
                match.fixture_id,
                self.slowest,
                spent,
                _kind(item),
                self.slow_after,
            )


def _name(fn: Callable[..., object]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def _kind(item: object) -> str:
    return type(item).__name__


@attrs.frozen(slots=True)
class _Job:
    """An update waiting for the delivery task: `arrived` is its frame's arrival; `rest` the handlers
    left to await when delivery began at once and met an `async def` (`started`: the callbacks have
    been called already)."""

    update: Update
    arrived: float
    started: bool = False
    rest: Coroutine[Any, Any, None] | None = None


class _End:
    """Delivered after the last update; carries the error that ended the feed, if any."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class _Channel:
    """One `async for`: the updates handed to it, at most one ahead of what it has taken."""

    def __init__(self) -> None:
        self.items: collections.deque[Update | _End] = collections.deque()
        self.ready = asyncio.Event()
        self.taken = asyncio.Event()
        self.waits = True  # the delivery waits for this consumer (until it stops following)

    async def put(self, update: Update) -> None:
        """Hand over an update; wait while the consumer has not taken the one before it."""
        self.items.append(update)
        self.ready.set()
        while len(self.items) > 1 and self.waits:
            self.taken.clear()
            await self.taken.wait()

    def has_room(self) -> bool:
        """True when an update handed over now need not wait (the consumer took the last one)."""
        return not self.items

    def put_now(self, update: Update) -> None:
        """Hand over an update without waiting (see `has_room`)."""
        self.items.append(update)
        self.ready.set()

    def unblock(self) -> None:
        """Stop waiting for this consumer: what is left is handed over at once (the match stops,
        perhaps from inside the consumer's own loop, which must not wait for itself)."""
        self.waits = False
        self.taken.set()

    def end(self, end: _End) -> None:
        """No more updates: the consumer's loop ends after those handed over (with the error, if any)."""
        self.items.append(end)
        self.ready.set()
        self.unblock()

    async def get(self) -> Update | _End:
        while not self.items:
            self.ready.clear()
            await self.ready.wait()
        item = self.items.popleft()
        self.taken.set()
        return item


class Stream:
    """One engine run's stream of updates: its `run` id (new for every run of the process, so a
    restart is visible) and each update's place in it (`streamSeq`, from 1, over every fixture that
    shares the stream: a desk's fixtures share one). The runtime stamps each update as it is sent."""

    def __init__(self, run: str | None = None) -> None:
        self.run = run if run is not None else uuid.uuid4().hex
        self.sent = 0  # updates stamped so far

    def __repr__(self) -> str:
        return f"Stream({self.run!r}, {self.sent} sent)"

    def stamp(self, update: Update, snapshot: bool) -> Update:
        """`update` with this run, the next `streamSeq`, and its snapshot flag."""
        self.sent += 1
        return attrs.evolve(update, run=self.run, stream_seq=self.sent, snapshot=snapshot or update.snapshot)


Source = Callable[["Match"], Coroutine[Any, Any, None]]
#: Sees every input and its update (even one that changed nothing), synchronously, before the
#: update is queued for the callbacks: tracing, a scoreboard. One that raises ends the feed.
StepObserver = Callable[["Match", Input, Update], object]
#: Sees every update as it is sent (stamped with its run and `streamSeq`; while a backlog is folded
#: or the consumer lags, only the net update): the `--updates` file. One that raises ends the feed.
SendObserver = Callable[["Match", Update], object]


class Match:
    """One fixture at run time: its state, its feed, its updates and callbacks.

    Enter it (`async with`) to start the feed; `async for update in match` yields every update from
    the moment it starts iterating (start right after entering to see them all) and ends when the
    feed ends (match over, recording done, stopped) or raises the feed's final error;
    `await match.wait()` waits for the same without consuming updates. Leaving the block stops the
    feed. `match.state` is always the latest state (each update carries its own: `update.state`);
    `match.update` is the update being delivered; `match.received_at` the arrival time
    (`time.perf_counter()`) of the frame behind the update being processed or delivered, and
    `match.recv` the receive time (POSIX seconds) of the latest input, when known.

    `buffer` bounds the updates queued for delivery: a replay waits for room; a live feed applies
    `overflow` (`Overflow.SUSPEND` by default). `on_input` sees every input as it is folded."""

    def __init__(
        self,
        fixture_id: str | None,
        source: Source,
        fmt: MatchFormat = UNKNOWN_FORMAT,
        markets: MarketConfig | None = None,
        callbacks: Callbacks | None = None,
        buffer: int = UPDATE_BUFFER,
        on_input: StepObserver | None = None,
        overflow: Overflow = Overflow.SUSPEND,
        backpressure: bool = False,
        stream: Stream | None = None,
        on_send: SendObserver | None = None,
        lag_limit: float = LAG_LIMIT,
    ) -> None:
        if not lag_limit > 0:
            raise ValueError(f"lag_limit must be positive seconds, not {lag_limit!r}")
        if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
            raise ValueError(f"buffer must be a positive number of updates, not {buffer!r}")
        self.fixture_id = fixture_id
        self.on_input = on_input
        self.state = MatchState.new(fixture_id, fmt, markets=markets or DEFAULT_MARKETS)
        self.callbacks = callbacks if callbacks is not None else Callbacks()
        self.update: Update | None = None
        self.received_at = 0.0
        self.recv: float | None = None
        self.delivered = 0  # updates handed to the callbacks
        self.coalesced = 0  # updates merged into others (a backlog folded, a consumer that lagged)
        self.lags = 0  # times the consumer fell behind
        self.overflow = overflow
        self._source = source
        self._buffer = buffer
        self._backpressure = backpressure
        self._pending: collections.deque[_Job] = collections.deque()
        self._delivering = False  # the delivery task is busy with a job
        self._more = asyncio.Event()
        self._room = asyncio.Event()
        self._channels: list[_Channel] = []
        self._task: asyncio.Task[None] | None = None
        self._delivery: asyncio.Task[None] | None = None
        self._end: _End | None = None
        self._finished = False  # every update delivered, the channels ended
        self.stream = stream if stream is not None else Stream()
        self.on_send = on_send
        self._held: list[Update] | None = None  # while catching up or lagging: the updates coalesced
        self._handed: MatchState = self.state  # the state of the last update sent before holding
        self._catching_up = False  # folding a backlog (`CatchingUp` until `CaughtUpWithFeed`)
        self._lagging = False  # the consumer fell behind (`Lagging` until `CaughtUp`)
        self._sent_any = False  # the first update sent is a snapshot
        self.lag_limit = lag_limit
        self._given: MatchState = self.state  # the state of the last update handed to the consumer
        self._awaited = False  # someone awaits wait() or iterates: the feed's error reaches them

    def __repr__(self) -> str:
        return f"Match({self.fixture_id!r}, {self.state.status.value}, games {self.state.games})"

    @overload
    def on(self, event_type: EventTypes, fn: None = None) -> Callable[[C], C]: ...
    @overload
    def on(self, event_type: EventTypes, fn: C) -> C: ...
    def on(self, event_type: EventTypes, fn: C | None = None) -> C | Callable[[C], C]:
        """Register a callback on this match's callback surface (see `Callbacks.on`)."""
        return self.callbacks.on(event_type, fn)

    # --- the feed side: fold, observe, queue ------------------------------------------------------

    def feed(self, message: Input, received_at: float | None = None, received: float | None = None) -> Update:
        """Fold one input into the state and queue its update (if it changed anything); the sources
        call this. Returns the update (as sent: stamped with its run and `streamSeq`, unless held
        while a backlog is folded or the consumer lags). `received_at`: the frame's arrival
        (`time.perf_counter()`); `received`: its receive time in POSIX seconds. Raises
        `ConsumerTooSlow` under `Overflow.FAIL`."""
        if received_at is not None:
            self.received_at = received_at
        if received is not None:
            self.recv = received
        update = self._step(message)
        if isinstance(message, CatchingUp):
            if update.changed or not self._sent_any:
                update = self._queue(update)  # the bet stop itself goes out (the first update: a snapshot)
            self._catching_up = True
            if self._held is None:
                self._held = []
        elif isinstance(message, CaughtUpWithFeed) and self._held is not None:
            self._catching_up = False
            self._held.append(update)
            if not self._lagging:
                self._release()
        elif update.changed or not self._sent_any:
            update = self._queue(update)
        return update

    def reconfigure(self, markets: MarketConfig) -> Update:
        """Apply a new market config while following (a margin, a pre-match price): the prices are
        recomputed under it and the update goes out as a snapshot (held, like any other, while a
        backlog is folded or the consumer lags)."""
        update = self._step(Reconfigured(markets))
        if self._held is not None:
            self._held.append(update)
            return update
        return self._put(update, snapshot=True)

    @property
    def catching_up(self) -> bool:
        """True while a backlog is folded (every market suspended, `catching_up`)."""
        return self._catching_up

    @property
    def lagging(self) -> bool:
        """True while the consumer lags (every market suspended, `consumer_lagging`)."""
        return self._lagging

    def _step(self, message: Input) -> Update:
        """Fold an input of the feed; the observer's failure ends the feed (it is raised)."""
        update, failed = self._step_observed(message)
        if failed is not None:
            raise failed
        return update

    def _queue(self, update: Update) -> Update:
        """Send an update (the same, stamped), or hold it while catching up or lagging."""
        if self._held is not None:
            self._held.append(update)  # catching up or lagging: coalesced into one net update later
            return update
        if not self._pending and not self._delivering and self._delivery is not None:
            return self._deliver_now(update)
        update = self._put(update)
        if not self._backpressure and (len(self._pending) > self._buffer or self.behind() > self.lag_limit):
            self._overflowed()
        return update

    def behind(self) -> float:
        """Seconds the oldest update waiting for the consumer has waited, from its frame's arrival
        (0 when none waits)."""
        pending = self._pending
        return time.perf_counter() - pending[0].arrived if pending else 0.0

    def _put(self, update: Update, snapshot: bool = False) -> Update:
        update = self._sent(update, snapshot)
        self._pending.append(_Job(update, self.received_at))
        self._more.set()
        return update

    def _sent(self, update: Update, snapshot: bool = False) -> Update:
        """Stamp an update as it enters the stream (run, `streamSeq`; the first a snapshot) and show
        it to the send observer."""
        update = self.stream.stamp(update, snapshot or not self._sent_any)
        self._sent_any = True
        self._handed = update.state
        if self.on_send is not None:
            self.on_send(self, update)
        return update

    def _deliver_now(self, update: Update) -> Update:
        """Nothing is waiting: call the plain callbacks now, right after the reducer, and hand the
        update to every `async for` that has room; the delivery task takes over whatever must wait
        (an `async def` handler, a consumer that has not taken the last update)."""
        update = self._sent(update)
        self.update = update
        self._given = update.state
        rest = self.callbacks.begin(self, update)
        if rest is None and all(channel.has_room() for channel in self._channels):
            self.delivered += 1
            for channel in self._channels:
                channel.put_now(update)
            return update
        self._pending.append(_Job(update, self.received_at, True, rest))
        self._more.set()
        return update

    def _overflowed(self) -> None:
        pending = self._pending
        behind, seconds = len(pending), self.behind()
        if self.overflow is Overflow.FAIL:
            raise ConsumerTooSlow(
                f"fixture {self.fixture_id}: the consumer is {behind} updates ({seconds:.2f} s) behind"
            )
        log.warning(
            "fixture %s: the consumer is %d updates (%.2f s) behind: every market suspended (consumer_lagging)"
            " ahead of them; what follows is coalesced into one update when it has caught up",
            self.fixture_id,
            behind,
            seconds,
        )
        self.lags += 1
        lagging, _ = self._step_observed(Lagging())
        self._lagging = True
        if self._held is not None:
            self._held.append(lagging)  # folding a backlog already: sent with the rest
            return
        self._skip_ahead(lagging)  # the bet stop goes ahead of everything stale
        self._held = []

    def _skip_ahead(self, last: Update | None = None) -> None:
        """Replace what the consumer has not begun by one net update from what it last got (a
        snapshot; with `last`, the lagging bet stop, every market suspended): nothing stale
        reaches it."""
        pending = self._pending
        begun = [job for job in pending if job.started]
        waiting = [job.update for job in pending if not job.started]
        if last is not None:
            waiting.append(last)
        if not waiting:
            return
        pending.clear()
        pending.extend(begun)
        merged = coalesce(begun[-1].update.state if begun else self._given, waiting)
        self.coalesced += merged.coalesced
        self._put(merged, snapshot=True)

    def _too_far_behind(self) -> bool:
        """True when a live feed's consumer is more than `lag_limit` seconds behind and not yet
        told (the delivery checks between updates too: a slow consumer draining a queue)."""
        return (
            self.overflow is Overflow.SUSPEND
            and not self._backpressure
            and not self._lagging
            and self._held is None
            and len(self._pending) > 1
            and self.behind() > self.lag_limit
        )

    def _catch_up(self) -> None:
        """The consumer caught up: fold `CaughtUp()`; unless a backlog is still folded, one update
        for everything held."""
        caught_up, failed = self._step_observed(CaughtUp())
        if failed is not None:  # the update still goes out; the fault must not pass unseen
            log.error("fixture %s: the input observer raised on CaughtUp: %s", self.fixture_id, failed)
        self._lagging = False
        assert self._held is not None
        self._held.append(caught_up)
        log.warning("fixture %s: the consumer caught up", self.fixture_id)
        if not self._catching_up:
            self._release()

    def _release(self) -> None:
        """Send everything held (a backlog folded, a lagging consumer's missed updates) as one net
        update, a snapshot: the receiver never sees a past score's market open."""
        held, self._held = self._held or [], None
        if not held:
            return
        merged = coalesce(self._handed, held)
        self.coalesced += merged.coalesced
        if merged.coalesced:
            log.info("fixture %s: %d updates sent as one snapshot", self.fixture_id, len(held))
        self._put(merged, snapshot=True)

    async def room(self) -> None:
        """Wait while `buffer` updates are queued (a replay's backpressure)."""
        while len(self._pending) >= self._buffer:
            self._room.clear()
            await self._room.wait()

    @property
    def ended(self) -> bool:
        """True once the feed has ended (match over, recording done, stopped, or failed) and every
        update has been delivered."""
        return self._finished

    @property
    def error(self) -> BaseException | None:
        """The error that ended the feed (None while it runs, or when it ended without one)."""
        return None if self._end is None else self._end.error

    @property
    def is_over(self) -> bool:
        """True once the match has a final status (finished, abandoned, cancelled)."""
        return self.state.status in FINAL_STATUSES

    # --- running ---------------------------------------------------------------------------------

    async def __aenter__(self) -> Match:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start(self) -> None:
        """Start the feed and the delivery (entering `async with` does this)."""
        if self._task is None:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run(), name=f"feed {self.fixture_id}")
            self._delivery = loop.create_task(self._deliver(), name=f"updates {self.fixture_id}")

    async def stop(self) -> None:
        """Stop following: stop the feed, deliver what is queued and the closing update (every
        undecided market suspended, `not_followed`), and return when all of it is delivered."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if task is not None and self._end is None:
            self._close(None)  # cancelled before it ran (stopped as soon as started): closed here
        for channel in self._channels:
            channel.unblock()
        await self._delivered()

    async def _delivered(self) -> None:
        """Wait until every queued update is delivered (unless called from a callback itself)."""
        delivery = self._delivery
        if delivery is None or delivery.done() or asyncio.current_task() is delivery:
            return
        await asyncio.shield(delivery)

    async def _run(self) -> None:
        error: BaseException | None = None
        try:
            await self._source(self)
            self.feed(EndOfStream())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = exc
            if not self._awaited:  # else the waiter gets the error: logging it too would say it twice
                log.error("fixture %s: feed ended: %s", self.fixture_id, exc)
        finally:
            self._close(error)

    def _close(self, error: BaseException | None) -> None:
        why = (
            UnfollowReason.REFUSED
            if isinstance(error, FeedError)
            else UnfollowReason.FAILED
            if error is not None
            else UnfollowReason.FINISHED
            if self.is_over
            else UnfollowReason.OPERATOR
        )
        self._closing(error, why)

    def _closing(self, error: BaseException | None, why: UnfollowReason) -> None:
        """The closing bet stop: fold `Unfollowed(why)` (every undecided market suspended) and queue
        it past any bound, with anything held; then the end. A book with nothing undecided (the
        match over) has nothing to suspend: no closing input then, unless the feed failed or was
        refused (the line says so, even for a fixture refused before its first frame)."""
        closing: Update | None = None
        failed: Exception | None = None
        told = why in (UnfollowReason.FAILED, UnfollowReason.REFUSED)  # said even with nothing to suspend
        if self.state.book.index.undecided or told:
            closing, failed = self._step_observed(Unfollowed(why))
        if self._held is not None:
            if closing is not None:
                self._held.append(closing)
            self._catching_up = self._lagging = False
            self._release()
        elif closing is not None and (closing.changed or told):
            self._put(closing)
        self._end = _End(error or failed)
        self._more.set()

    def _step_observed(self, message: Input) -> tuple[Update, Exception | None]:
        """Fold one input and show it to the observer; the observer's failure is returned, not
        raised (for the runtime's own inputs the update must still go out)."""
        self.state, update = step(self.state, message, self.recv)
        playback.warn_of_contradictions(self.fixture_id, update.events)
        if self.on_input is not None:
            try:
                self.on_input(self, message, update)
            except Exception as exc:
                return update, exc
        return update, None

    async def _deliver(self) -> None:
        """Hand each queued update, in order, to the callbacks and then to every `async for`."""
        pending = self._pending
        while True:
            while not pending:
                if self._end is not None:
                    self._finish()
                    return
                self._more.clear()
                await self._more.wait()
            if self._too_far_behind():
                if self._end is None:
                    self._overflowed()
                else:  # the feed is over: what is left goes as one update
                    self.lags += 1
                    self._skip_ahead()
            job = pending.popleft()
            self._room.set()
            self._delivering = True
            update = job.update
            self._given = update.state
            self.update, self.received_at = update, job.arrived
            try:
                if job.rest is not None:
                    await job.rest
                elif not job.started:
                    await self.callbacks.deliver(self, update)
                self.delivered += 1
                for channel in list(self._channels):
                    await channel.put(update)
            finally:
                self._delivering = False
            if self._lagging and self._end is None and len(pending) <= self._buffer // 2:
                self._catch_up()

    def _finish(self) -> None:
        self._finished = True
        end = self._end or _End(None)
        for channel in self._channels:
            channel.end(end)

    async def wait(self) -> MatchState:
        """Wait for the feed to end and every update to be delivered; return the final state, or
        raise the feed's final error."""
        self._awaited = True
        if self._task is None:
            self.start()
        task = self._task
        assert task is not None
        try:
            await asyncio.shield(task)  # the waiter being cancelled does not stop the feed
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # the waiter was cancelled, not the feed: let it go
        await self._delivered()
        if self._end is not None and self._end.error is not None:
            raise self._end.error
        return self.state

    def __aiter__(self) -> AsyncIterator[Update]:
        channel = _Channel()
        if self._finished:
            channel.end(self._end or _End(None))
        else:
            self._channels.append(channel)
        return self._updates(channel)

    async def _updates(self, channel: _Channel) -> AsyncIterator[Update]:
        self._awaited = True
        if self._task is None:
            self.start()
        try:
            while True:
                item = await channel.get()
                if isinstance(item, _End):
                    if item.error is not None:
                        raise item.error
                    return
                yield item
        finally:
            if channel in self._channels:
                self._channels.remove(channel)
            channel.end(_End(None))  # a loop left early no longer holds the delivery back


def connect(
    fixture_id: str,
    token: str | Secret,
    *,
    base: str | None = None,
    fmt: MatchFormat = UNKNOWN_FORMAT,
    markets: MarketConfig | None = None,
    callbacks: Callbacks | None = None,
    record: str | Path | None = None,
    frames: FrameObserver | None = None,
    settings: ClientSettings | None = None,
    limiter: ConnectLimiter | None = None,
    buffer: int = UPDATE_BUFFER,
    overflow: Overflow = Overflow.SUSPEND,
    rng: random.Random | None = None,
    on_input: StepObserver | None = None,
    catalogue: ActionCatalogue = DEFAULT_CATALOGUE,
    stream: Stream | None = None,
    on_send: SendObserver | None = None,
    resume: bool = False,
    lag_limit: float = LAG_LIMIT,
) -> Match:
    """A live match on the provider's feed (use with `async with`). `token` is kept as a `Secret`;
    `base` overrides the provider host (`settings.base`); `record` appends every raw frame to a
    JSONL recording — with `resume`, a recording already there is folded first (a restart: its
    state rebuilt by a pure replay, under suspension) and the provider is asked only for what
    follows it (`startPosition`); `frames` sees each raw frame as it arrives; frames are decoded with
    `catalogue` (`DEFAULT_CATALOGUE.with_types({...})` for type ids it lacks; a recording's meta
    keeps them). `buffer`, `lag_limit` and `overflow`: what happens when the consumer falls behind
    (`Overflow`); `stream` the run's stream the updates are stamped in (`on_send` sees each as sent).
    Reconnects on its own; raises `AuthRefused`/`RequestRefused` from `async for` or `wait()` when
    the provider refuses for good."""
    secret = token if isinstance(token, Secret) else Secret(token)
    settings = settings or ClientSettings()
    if base is not None:
        settings = attrs.evolve(settings, base=base)

    async def live(match: Match) -> None:
        recorder = None
        if record is not None:
            if resume:
                await _recover(match, Path(record))
            recorder = Recorder(record, RecordingMeta(fixture_id, fmt.best_of, fmt.doubles, extra_types(catalogue)))
        try:
            await run_feed(
                fixture_id,
                secret,
                lambda message, arrived: match.feed(message, arrived, time.time()),
                start_position=lambda: match.state.sequencer.next_seq - 1,
                is_over=lambda: match.is_over,
                settings=settings,
                limiter=limiter,
                recorder=recorder if recorder is not None else frames,
                rng=rng,
                catalogue=catalogue,
            )
        finally:
            if recorder is not None:
                recorder.close()

    return Match(
        fixture_id,
        live,
        fmt,
        markets,
        callbacks,
        buffer,
        on_input,
        overflow,
        stream=stream,
        on_send=on_send,
        lag_limit=lag_limit,
    )


#: Inputs of a recording folded between two yields to the event loop on a restart.
RECOVERY_SLICE = 200


async def _recover(match: Match, path: Path) -> None:
    """A restart: fold the fixture's own recording (every frame received before, pure replay) under
    suspension (`CatchingUp()`, sent at once; the feed's catch-up ends it), yielding to the loop
    so many fixtures restarted together all say so first. A recording cut mid-line by a kill is
    repaired first; one of another fixture is refused (`RecordingError`)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    cut = repair_recording(path)
    if cut:
        log.warning(
            "fixture %s: %s ended mid-line (%d bytes): cut back to its last whole line", match.fixture_id, path, cut
        )
    recording = read_recording(path)
    if recording.fixture_id is not None and recording.fixture_id != match.fixture_id:
        raise RecordingError(f"{path}: a recording of fixture {recording.fixture_id}, not {match.fixture_id}")
    frames = sum(1 for frame in recording.frames if isinstance(frame, Frame))
    match.feed(CatchingUp())
    for number, (moment, message) in enumerate(recorded_inputs(recording, stale_after=None)):
        if number % RECOVERY_SLICE == 0:
            await asyncio.sleep(0)
        match.feed(message, time.perf_counter(), moment)
    log.info(
        "fixture %s: rebuilt from %s (%d frames); resuming the feed at startPosition %d",
        match.fixture_id,
        path,
        frames,
        match.state.sequencer.next_seq - 1,
    )


def replay(
    path: str | Path,
    speed: float | None = None,
    *,
    fmt: MatchFormat | None = None,
    markets: MarketConfig | None = None,
    callbacks: Callbacks | None = None,
    buffer: int = UPDATE_BUFFER,
    on_input: StepObserver | None = None,
) -> Match:
    """A recorded match replayed through the same runtime as live (use with `async with`).
    `speed=None` replays as fast as possible (yielding to the loop between frames), `1.0` at the
    recorded pace (receive times), `10.0` ten times faster. A slow consumer is waited for: with
    `buffer` updates queued, the replay pauses until it takes one."""
    if speed is not None and speed <= 0:
        raise ValueError("speed must be positive, or None for as fast as possible")
    recording = read_recording(path)
    unreadable = recording.without_actions()
    if unreadable is not None:
        raise RecordingError(f"{path}: {unreadable}")
    chosen = fmt or recording.meta.format(UNKNOWN_FORMAT)

    async def recorded(match: Match) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        first: float | None = None
        for moment, message in playback.inputs(recording, end=False):  # the runtime ends the stream
            if speed is not None and moment is not None:
                first = moment if first is None else first
                await asyncio.sleep(max(0.0, began + (moment - first) / speed - loop.time()))
            else:
                await asyncio.sleep(0)
            await match.room()
            match.feed(message, time.perf_counter(), moment)

    return Match(recording.fixture_id, recorded, chosen, markets, callbacks, buffer, on_input, backpressure=True)
