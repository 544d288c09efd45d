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
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, overload

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
from engine.io.protocol import FeedError
from engine.runtime.callbacks import C, Callbacks, EventTypes
from engine.runtime.delivery import LAG_LIMIT, UPDATE_BUFFER, Channel, ConsumerTooSlow, End, Job, Overflow, Stream

log = logging.getLogger("engine.runtime")

Source = Callable[["Match"], Coroutine[Any, Any, None]]
#: Sees every input and its update (even one that changed nothing), synchronously, before the
#: update is queued for the callbacks: tracing, a scoreboard. One that raises ends the feed.
StepObserver = Callable[["Match", Input, Update], object]
#: Sees every update as it is sent (stamped with its run and `streamSeq`; while a backlog is folded
#: or the consumer lags, only the net update): the `--updates` file. One that raises ends the feed.
SendObserver = Callable[["Match", Update], object]
#: Sees every update once its callbacks have run (or, with none, once it is handed over), with the
#: arrival (`time.perf_counter()`) of the frame behind it: the desk's latency. Must not raise.
DeliveryObserver = Callable[["Match", Update, float], object]


class Match:
    """One fixture at run time: its state, its feed, its updates and callbacks.

    Enter it (`async with`) to start the feed; `async for update in match` yields every update from
    the moment it starts iterating (start right after entering to see them all) and ends when the
    feed ends (match over, recording done, stopped) or raises the feed's final error;
    `await match.wait()` waits for the same without consuming updates. Leaving the block stops the
    feed. `match.state` is always the latest state (each update carries its own: `update.state`);
    `match.update` is the update being delivered; `match.arrived` the arrival time
    (`time.perf_counter()`) of the frame behind the update being processed or delivered, and
    `match.received` the receive time (POSIX seconds) of the latest input, when known.

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
        on_delivered: DeliveryObserver | None = None,
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
        self.arrived = 0.0
        self.received: float | None = None
        self.delivered = 0  # updates handed to the callbacks
        self.coalesced = 0  # updates merged into others (a backlog folded, a consumer that lagged)
        self.lags = 0  # times the consumer fell behind
        self.overflow = overflow
        self._source = source
        self._buffer = buffer
        self._backpressure = backpressure
        self._pending: collections.deque[Job] = collections.deque()
        self._delivering = False  # the delivery task is busy with a job
        self._more = asyncio.Event()
        self._room = asyncio.Event()
        self._channels: list[Channel] = []
        self._task: asyncio.Task[None] | None = None
        self._delivery: asyncio.Task[None] | None = None
        self._end: End | None = None
        self._finished = False  # every update delivered, the channels ended
        self.stream = stream if stream is not None else Stream()
        self.on_send = on_send
        self.on_delivered = on_delivered
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

    def feed(self, message: Input, arrived: float | None = None, received: float | None = None) -> Update:
        """Fold one input into the state and queue its update (if it changed anything); the sources
        call this. Returns the update (as sent: stamped with its run and `streamSeq`, unless held
        while a backlog is folded or the consumer lags). `arrived`: the frame's arrival
        (`time.perf_counter()`); `received`: its receive time in POSIX seconds. Raises
        `ConsumerTooSlow` under `Overflow.FAIL`."""
        if arrived is not None:
            self.arrived = arrived
        if received is not None:
            self.received = received
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
        self._pending.append(Job(update, self.arrived))
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
        if rest is None and self.on_delivered is not None:
            self.on_delivered(self, update, self.arrived)
        if rest is None and all(channel.has_room() for channel in self._channels):
            self.delivered += 1
            for channel in self._channels:
                channel.put_now(update)
            return update
        self._pending.append(Job(update, self.arrived, True, rest))
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
        self._end = End(error or failed)
        self._more.set()

    def _step_observed(self, message: Input) -> tuple[Update, Exception | None]:
        """Fold one input and show it to the observer; the observer's failure is returned, not
        raised (for the runtime's own inputs the update must still go out)."""
        self.state, update = step(self.state, message, self.received)
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
            self.update, self.arrived = update, job.arrived
            try:
                if job.rest is not None or not job.started:
                    await (job.rest if job.rest is not None else self.callbacks.deliver(self, update))
                    if self.on_delivered is not None:
                        self.on_delivered(self, update, job.arrived)
                self.delivered += 1
                for channel in list(self._channels):
                    await channel.put(update)
            finally:
                self._delivering = False
            if self._lagging and self._end is None and len(pending) <= self._buffer // 2:
                self._catch_up()

    def _finish(self) -> None:
        self._finished = True
        end = self._end or End(None)
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
        channel = Channel()
        if self._finished:
            channel.end(self._end or End(None))
        else:
            self._channels.append(channel)
        return self._updates(channel)

    async def _updates(self, channel: Channel) -> AsyncIterator[Update]:
        self._awaited = True
        if self._task is None:
            self.start()
        try:
            while True:
                item = await channel.get()
                if isinstance(item, End):
                    if item.error is not None:
                        raise item.error
                    return
                yield item
        finally:
            if channel in self._channels:
                self._channels.remove(channel)
            channel.end(End(None))  # a loop left early no longer holds the delivery back
