"""The runtime: one `Match` per fixture holds the current state, runs its feed (live or replayed),
calls the user's callbacks and yields its events. Live and replay share everything but the source.

    async with engine.connect(fixture_id, token="…") as match:
        match.on(MarketSuspended, lambda match, signal: ...)
        async for event in match:      # match events and market signals, in order
            ...

    async with engine.replay("fixtures_data/x.jsonl", speed=10.0) as match:
        await match.wait()             # callbacks only; raises if the feed failed

Callbacks are plain functions `fn(match, event)` called in order on the event loop, right after the
reducer produced the event. One that raises is logged and isolated (the feed goes on); one slower
than `slow_after` seconds is warned about. Many matches can share one `Callbacks` (one callback
surface for every fixture in the process).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, TypeVar, overload

import attrs

from engine import playback
from engine.core.events import FINAL_STATUSES, Event
from engine.core.market_catalogue import DEFAULT_MARKETS, MarketConfig
from engine.core.reduce import EndOfStream, Input, reduce
from engine.core.rules import UNKNOWN_FORMAT, MatchFormat
from engine.core.state import MatchState
from engine.feed.catalogue import DEFAULT_CATALOGUE, ActionCatalogue
from engine.io.client import ClientSettings, ConnectLimiter, FrameObserver, Recorder, run_feed
from engine.io.protocol import Secret
from engine.io.recording import RecordingError, RecordingMeta, extra_types, read_recording

log = logging.getLogger("engine.match")

Callback = Callable[["Match", Any], object]
C = TypeVar("C", bound=Callback)
EventTypes = type | tuple[type, ...]
#: [ours] A callback slower than this (seconds) is warned about.
SLOW_CALLBACK = 1.0
#: [ours] Events kept for `async for` when nobody consumes them; the oldest go first beyond this.
EVENT_BUFFER = 65_536


class Callbacks:
    """Event type -> functions, shared by any number of matches. `on` also works as a decorator."""

    def __init__(self, slow_after: float = SLOW_CALLBACK) -> None:
        self.slow_after = slow_after
        self._handlers: list[tuple[EventTypes, Callback]] = []
        self.failures = 0  # callbacks that raised

    @overload
    def on(self, event_type: EventTypes, fn: None = None) -> Callable[[C], C]: ...
    @overload
    def on(self, event_type: EventTypes, fn: C) -> C: ...
    def on(self, event_type: EventTypes, fn: C | None = None) -> C | Callable[[C], C]:
        """Call `fn(match, event)` for every event that is an instance of `event_type`
        (`object` for all). Returns `fn`; without `fn`, a decorator."""
        if fn is None:
            return lambda handler: self.on(event_type, handler)
        self._handlers.append((event_type, fn))
        return fn

    def off(self, fn: Callback) -> None:
        """Stop calling `fn`."""
        self._handlers = [(kind, handler) for kind, handler in self._handlers if handler is not fn]

    def dispatch(self, match: Match, events: Iterable[Event]) -> None:
        """Call every matching handler for each event, in order; isolate failures, time each call."""
        handlers = self._handlers
        if not handlers:
            return
        for event in events:
            for kind, fn in handlers:
                if not isinstance(event, kind):
                    continue
                began = time.perf_counter()
                try:
                    fn(match, event)
                except Exception:
                    self.failures += 1
                    log.exception(
                        "fixture %s: callback %s raised on %s; the feed goes on",
                        match.fixture_id,
                        _name(fn),
                        type(event).__name__,
                    )
                spent = time.perf_counter() - began
                if spent > self.slow_after:
                    log.warning(
                        "fixture %s: callback %s took %.3f s on %s (slower than %.3f s)",
                        match.fixture_id,
                        _name(fn),
                        spent,
                        type(event).__name__,
                        self.slow_after,
                    )


def _name(fn: Callable[..., object]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


class _End:
    """Queued after the last event; carries the error that ended the feed, if any."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


Source = Callable[["Match"], Coroutine[Any, Any, None]]
#: Sees every input and the events it gave, before the callbacks (tracing, recording of signals).
StepObserver = Callable[["Match", Input, list[Event]], object]


class Match:
    """One fixture at run time: its state, its feed, its events and callbacks.

    Enter it (`async with`) to start the feed; `async for event in match` yields every event in
    order and ends when the feed ends (match over, recording done) or raises the feed's final
    error; `await match.wait()` does the same without consuming events. Leaving the block stops
    the feed. `match.state` is always the latest state, `match.received_at` the arrival time
    (`time.perf_counter()`) of the frame being processed and `match.recv` its receive time (POSIX
    seconds) when known (a replay knows it from the recording)."""

    def __init__(
        self,
        fixture_id: str | None,
        source: Source,
        fmt: MatchFormat = UNKNOWN_FORMAT,
        markets: MarketConfig | None = None,
        callbacks: Callbacks | None = None,
        buffer: int = EVENT_BUFFER,
        on_input: StepObserver | None = None,
    ) -> None:
        self.fixture_id = fixture_id
        self.on_input = on_input
        self.state = MatchState.new(fixture_id, fmt, markets=markets or DEFAULT_MARKETS)
        self.callbacks = callbacks if callbacks is not None else Callbacks()
        self.received_at = 0.0
        self.recv: float | None = None
        self._source = source
        self._buffer = buffer
        self._queue: collections.deque[Event | _End] = collections.deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._end: _End | None = None
        self._dropped = 0
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

    def feed(self, message: Input, received_at: float | None = None) -> list[Event]:
        """Fold one input into the state; dispatch and queue its events. The sources call this."""
        if received_at is not None:
            self.received_at = received_at
        self.state, events = reduce(self.state, message)
        if self.on_input is not None:
            self.on_input(self, message, events)
        if events:
            self.callbacks.dispatch(self, events)
            if self._buffer:
                self._enqueue(events)
        return events

    def _enqueue(self, events: list[Event]) -> None:
        queue = self._queue
        queue.extend(events)
        overflow = len(queue) - self._buffer
        if overflow > 0:
            for _ in range(overflow):
                queue.popleft()
            if not self._dropped:
                log.warning("fixture %s: nobody consumes events; dropping the oldest", self.fixture_id)
            self._dropped += overflow
        self._wakeup.set()

    @property
    def is_over(self) -> bool:
        """True once the match has a final status (finished, abandoned, cancelled)."""
        return self.state.status in FINAL_STATUSES

    async def __aenter__(self) -> Match:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start(self) -> None:
        """Start the feed (entering `async with` does this)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"feed {self.fixture_id}")

    async def stop(self) -> None:
        """Stop the feed and wait for it to finish."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

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
            self._end = _End(error)
            self._queue.append(self._end)
            self._wakeup.set()

    async def wait(self) -> MatchState:
        """Wait for the feed to end; return the final state, or raise the feed's final error."""
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
        if self._end is not None and self._end.error is not None:
            raise self._end.error
        return self.state

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        self._awaited = True
        if self._task is None:
            self.start()
        while True:
            while not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            item = self._queue.popleft()
            if isinstance(item, _End):
                self._queue.appendleft(item)  # later iterations end too
                if item.error is not None:
                    raise item.error
                return
            yield item


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
    buffer: int = EVENT_BUFFER,
    rng: random.Random | None = None,
    on_input: StepObserver | None = None,
    catalogue: ActionCatalogue = DEFAULT_CATALOGUE,
) -> Match:
    """A live match on the provider's feed (use with `async with`). `token` is kept as a `Secret`;
    `base` overrides the provider host (`settings.base`); `record` appends every raw frame to a
    JSONL recording, or `frames` sees each raw frame as it arrives; frames are decoded with
    `catalogue` (`DEFAULT_CATALOGUE.with_types({...})` for type ids it lacks; a recording's meta
    keeps them). Reconnects on its own; raises `AuthRefused`/`RequestRefused` from `async for` or
    `wait()` when the provider refuses for good."""
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
                match.feed,
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

    return Match(fixture_id, live, fmt, markets, callbacks, buffer, on_input)


def replay(
    path: str | Path,
    speed: float | None = None,
    *,
    fmt: MatchFormat | None = None,
    markets: MarketConfig | None = None,
    callbacks: Callbacks | None = None,
    buffer: int = EVENT_BUFFER,
    on_input: StepObserver | None = None,
) -> Match:
    """A recorded match replayed through the same runtime as live (use with `async with`).
    `speed=None` replays as fast as possible (yielding to the loop between frames), `1.0` at the
    recorded pace (receive times), `10.0` ten times faster."""
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
            match.recv = moment if moment is not None else match.recv
            match.feed(message, time.perf_counter())

    return Match(recording.fixture_id, recorded, chosen, markets, callbacks, buffer, on_input)
