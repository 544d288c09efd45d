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
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar, overload

import attrs

from engine import playback
from engine.core.config import DEFAULT_MARKETS, MarketConfig
from engine.core.events import FINAL_STATUSES
from engine.core.match.rules import UNKNOWN_FORMAT, MatchFormat
from engine.core.reduce import CaughtUp, EndOfStream, Input, Lagging, Unfollowed
from engine.core.state import MatchState
from engine.core.update import Update, coalesce, step
from engine.feed.catalogue import DEFAULT_CATALOGUE, ActionCatalogue
from engine.io.client import ClientSettings, ConnectLimiter, FrameObserver, Recorder, run_feed
from engine.io.protocol import Secret
from engine.io.recording import RecordingError, RecordingMeta, extra_types, read_recording

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


class Overflow(enum.Enum):
    """What a live feed does when its consumer falls `buffer` updates behind (a replay waits)."""

    #: Suspend every market of the fixture (`consumer_lagging`) and coalesce the updates that follow
    #: into one net update, delivered (with the markets reopened, at their current prices) once the
    #: consumer has taken half the queue; `Update.coalesced` and `Match.coalesced` count them.
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
            self._timed(match, fn, item, began)
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
            self._timed(match, fn, item, began)
        for fn, item in calls[1:]:
            began = time.perf_counter()
            try:
                result = fn(match, item)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                self._failed(match, fn, item)
                continue
            self._timed(match, fn, item, began)

    def _failed(self, match: Match, fn: Callback, item: object) -> None:
        self.failures += 1
        log.exception(
            "fixture %s: callback %s raised on %s; the feed goes on", match.fixture_id, _name(fn), _kind(item)
        )

    def _timed(self, match: Match, fn: Callback, item: object, began: float) -> None:
        spent = time.perf_counter() - began
        if spent > self.slow_after:
            log.warning(
                "fixture %s: callback %s took %.3f s on %s (slower than %.3f s)",
                match.fixture_id,
                _name(fn),
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


Source = Callable[["Match"], Coroutine[Any, Any, None]]
#: Sees every input and its update (even one that changed nothing), synchronously, before the
#: update is queued for the callbacks: tracing, a scoreboard. One that raises ends the feed.
StepObserver = Callable[["Match", Input, Update], object]


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
    ) -> None:
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
        self.coalesced = 0  # updates merged into others because the consumer lagged
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
        self._held: list[Update] | None = None  # while the consumer lags: the updates coalesced
        self._handed: MatchState = self.state  # the state of the last update queued before lagging
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
        call this. `received_at`: the frame's arrival (`time.perf_counter()`); `received`: its
        receive time in POSIX seconds. Raises `ConsumerTooSlow` under `Overflow.FAIL`."""
        if received_at is not None:
            self.received_at = received_at
        if received is not None:
            self.recv = received
        update = self._step(message)
        if update.changed:
            self._queue(update)
        return update

    def _step(self, message: Input) -> Update:
        """Fold an input of the feed; the observer's failure ends the feed (it is raised)."""
        update, failed = self._step_observed(message)
        if failed is not None:
            raise failed
        return update

    def _queue(self, update: Update) -> None:
        if self._held is not None:
            self._held.append(update)  # lagging: coalesced when the consumer catches up
            return
        if not self._pending and not self._delivering and self._delivery is not None:
            self._deliver_now(update)
            return
        self._put(update)
        if len(self._pending) > self._buffer and not self._backpressure:
            self._overflowed()

    def _put(self, update: Update) -> None:
        self._pending.append(_Job(update, self.received_at))
        self._handed = update.state
        self._more.set()

    def _deliver_now(self, update: Update) -> None:
        """Nothing is waiting: call the plain callbacks now, right after the reducer, and hand the
        update to every `async for` that has room; the delivery task takes over whatever must wait
        (an `async def` handler, a consumer that has not taken the last update)."""
        self.update = update
        self._handed = update.state
        rest = self.callbacks.begin(self, update)
        if rest is None and all(channel.has_room() for channel in self._channels):
            self.delivered += 1
            for channel in self._channels:
                channel.put_now(update)
            return
        self._pending.append(_Job(update, self.received_at, True, rest))
        self._more.set()

    def _overflowed(self) -> None:
        behind = len(self._pending)
        if self.overflow is Overflow.FAIL:
            raise ConsumerTooSlow(f"fixture {self.fixture_id}: the consumer is {behind} updates behind")
        log.warning(
            "fixture %s: the consumer is %d updates behind: every market suspended (consumer_lagging); the"
            " updates that follow are coalesced into one when it has caught up",
            self.fixture_id,
            behind,
        )
        lagging, _ = self._step_observed(Lagging())
        if lagging.changed:
            self._put(lagging)
        self._held = []

    def _catch_up(self, closing: Update | None = None) -> None:
        """The consumer caught up (or the feed ends with `closing`): one update for everything held."""
        held, self._held = self._held or [], None
        if closing is None:
            closing, failed = self._step_observed(CaughtUp())
            if failed is not None:  # the update still goes out; the fault must not pass unseen
                log.error("fixture %s: the input observer raised on CaughtUp: %s", self.fixture_id, failed)
        merged = coalesce(self._handed, [*held, closing])
        self.coalesced += merged.coalesced
        log.warning("fixture %s: the consumer caught up; %d updates coalesced into one", self.fixture_id, len(held) + 1)
        self._put(merged)

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
        """The closing bet stop: fold `Unfollowed()` (every undecided market suspended) and queue it
        past any bound, with anything held for a lagging consumer; then the end. A book with nothing
        undecided (the match over) has nothing to suspend: no closing input then."""
        closing: Update | None = None
        failed: Exception | None = None
        if self.state.book.index.undecided:
            closing, failed = self._step_observed(Unfollowed())
        if self._held is not None:
            self._catch_up(closing)
        elif closing is not None and closing.changed:
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
            job = pending.popleft()
            self._room.set()
            self._delivering = True
            update = job.update
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
            if self._held is not None and self._end is None and len(pending) <= self._buffer // 2:
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
) -> Match:
    """A live match on the provider's feed (use with `async with`). `token` is kept as a `Secret`;
    `base` overrides the provider host (`settings.base`); `record` appends every raw frame to a
    JSONL recording, or `frames` sees each raw frame as it arrives; frames are decoded with
    `catalogue` (`DEFAULT_CATALOGUE.with_types({...})` for type ids it lacks; a recording's meta
    keeps them). `buffer` and `overflow`: what happens when the consumer falls behind (`Overflow`).
    Reconnects on its own; raises `AuthRefused`/`RequestRefused` from `async for` or `wait()` when
    the provider refuses for good."""
    secret = token if isinstance(token, Secret) else Secret(token)
    settings = settings or ClientSettings()
    if base is not None:
        settings = attrs.evolve(settings, base=base)

    async def live(match: Match) -> None:
        recorder = None
        if record is not None:
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

    return Match(fixture_id, live, fmt, markets, callbacks, buffer, on_input, overflow)


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
