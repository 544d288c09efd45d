"""The desk: many fixtures followed as one service, on one event loop, through the process-wide
connect limiter, with one callback surface, and each fixture's health.

    async with Desk(token, base=…) as desk:
        desk.on(engine.Update, on_update)              # plain or async def; every fixture's updates
        desk.follow(fixture_id, fmt=MatchFormat(best_of=5))
        desk.fixtures[fixture_id].health()             # connected / stale / …, feed age, suspensions
        await desk.unfollow(fixture_id)                # the closing bet stop, then it is gone
    # leaving the block: every fixture still followed gets its closing bet stop

Each fixture is an `engine.Match` (`engine.connect`): it reconnects on its own, and one that fails
(the token refused, retries exhausted, a raising observer) is logged and shown `failed` while the
others go on. `observe` adds a desk-wide `DeskObserver`: it sees every input as it is folded,
every update as it is sent and as it is delivered, with its latency (the fixtures' health, the
`--updates` file, the ratings learned and the metrics are four).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, overload

import attrs
import orjson

from engine.analysis.trace import describe_update
from engine.core.config import DEFAULT_MARKETS, MarketConfig
from engine.core.inputs import Input
from engine.core.markets.book import Book
from engine.core.markets.signals import Reason
from engine.core.match.inputs import Malformed
from engine.core.match.rules import UNKNOWN_FORMAT, MatchFormat
from engine.core.state import MatchState
from engine.core.update import Update
from engine.desk.health import FixtureHealth, Health, Watch
from engine.feed.catalogue import DEFAULT_CATALOGUE, ActionCatalogue
from engine.io.client import ClientSettings, ConnectLimiter
from engine.io.protocol import FeedError, Secret, check_fixture_id
from engine.runtime.callbacks import C, Callback, Callbacks, EventTypes
from engine.runtime.delivery import LAG_LIMIT, UPDATE_BUFFER, Overflow, Stream
from engine.runtime.following import Match
from engine.runtime.sources import connect

log = logging.getLogger("engine.desk")


@attrs.frozen(slots=True)
class FixtureSettings:
    """How the desk follows one fixture: its format and its markets (catalogue, policy, pricing)."""

    fmt: MatchFormat = UNKNOWN_FORMAT
    markets: MarketConfig = DEFAULT_MARKETS


@attrs.frozen(slots=True)
class FixtureRetry:
    """How the desk follows again a fixture whose feed failed (retries exhausted, a fault of ours):
    after `initial` seconds, growing by `factor` up to `maximum`, at most `attempts` times (None:
    forever). A fixture the provider refused (the token, the request) is never retried."""

    initial: float = 5.0
    factor: float = 2.0
    maximum: float = 300.0
    attempts: int | None = None

    def __attrs_post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum or self.factor < 1:
            raise ValueError("a retry needs 0 < initial <= maximum and factor >= 1")


DEFAULT_RETRY = FixtureRetry()


class DeskFixture:
    """One fixture the desk follows: its runtime handle (`match`: a new one on each retry), latest
    state, book and health."""

    def __init__(self, fixture_id: str, match: Match | None, watch: Watch, settings: FixtureSettings) -> None:
        self.fixture_id = fixture_id
        self._match = match
        self.watch = watch
        self.settings = settings
        self.retries = 0  # times its feed was followed again after failing
        self.retry_at: float | None = None  # while waiting to retry: when (the desk's clock)
        self.wake = asyncio.Event()

    @property
    def match(self) -> Match:
        """The runtime following the fixture now."""
        assert self._match is not None
        return self._match

    @match.setter
    def match(self, match: Match) -> None:
        self._match = match

    def __repr__(self) -> str:
        return f"DeskFixture({self.fixture_id!r}, {self.health_state().value})"

    @property
    def state(self) -> MatchState:
        """The latest engine state (its book and prices)."""
        return self.match.state

    @property
    def book(self) -> Book:
        """The latest market book."""
        return self.match.state.book

    def health_state(self) -> Health:
        """Where the feed stands now."""
        match = self.match
        if match.error is not None:
            return Health.FAILED
        if match.ended:
            return Health.FINISHED if match.is_over else Health.STOPPED
        state = match.state
        if state.match.disconnected:
            return Health.RECONNECTING
        if state.match.stale:
            return Health.STALE
        if match.catching_up:
            return Health.CATCHING_UP
        if match.lagging:
            return Health.LAGGING
        return Health.CONNECTED if self.watch.connections else Health.CONNECTING

    def health(self) -> FixtureHealth:
        """One reading of the fixture's health (see `FixtureHealth`)."""
        error = self.match.error
        reading = self.watch.reading(self.match.state, self.health_state(), None if error is None else str(error))
        if self.retry_at is not None:
            reading = attrs.evolve(reading, retry_in=max(0.0, self.retry_at - reading.now))
        return reading


class DeskObserver:
    """Watches every fixture of a desk: one class whose hooks a subclass overrides as it needs (as
    flumine's middleware), added with `Desk.observe`. Each hook is called synchronously, in the
    order the observers were added; one that raises in `folded` or `sent` ends that fixture's feed
    (with its closing bet stop): keep them to bookkeeping. The fixture's health, the `--updates`
    file, the ratings learned and the metrics' latency are observers."""

    def folded(self, fixture: DeskFixture, message: Input, update: Update) -> None:
        """Every input as it is folded, with its update (even one that changed nothing)."""

    def sent(self, fixture: DeskFixture, update: Update) -> None:
        """Every update as it is sent: stamped with the desk's run and `streamSeq`, a snapshot first,
        one net snapshot after a backlog or for a lagging consumer."""

    def delivered(self, fixture: DeskFixture, update: Update, latency: float) -> None:
        """Every update once its callbacks have run (with none: once handed over): `latency` is the
        seconds since its frame arrived. Must not raise."""


class _Health(DeskObserver):
    """Each fixture's health reads what its inputs did (`Watch.observe`)."""

    def folded(self, fixture: DeskFixture, message: Input, update: Update) -> None:
        fixture.watch.observe(message, update)


class Desk:
    """Many fixtures as one service (see the module docstring). `token` is kept as a `Secret`;
    `base`/`settings` set the provider and the adapter (stale timeout, retries) for every fixture;
    `markets` is the default market config; `record_dir` records each fixture's raw frames to
    `DIR/{fixture_id}.jsonl` and, on a restart, rebuilds each fixture from its recording first (a
    pure replay) and asks the provider only for what follows; `clock` gives the wall time (POSIX
    seconds) the health is read with. Every update of the desk is one stream: `stream.run`."""

    def __init__(
        self,
        token: str | Secret,
        *,
        base: str | None = None,
        settings: ClientSettings | None = None,
        markets: MarketConfig = DEFAULT_MARKETS,
        record_dir: str | Path | None = None,
        limiter: ConnectLimiter | None = None,
        catalogue: ActionCatalogue = DEFAULT_CATALOGUE,
        buffer: int = UPDATE_BUFFER,
        overflow: Overflow = Overflow.SUSPEND,
        clock: Callable[[], float] = time.time,
        lag_limit: float = LAG_LIMIT,
        retry: FixtureRetry | None = DEFAULT_RETRY,
    ) -> None:
        self._token = token if isinstance(token, Secret) else Secret(token)
        self._settings = settings or ClientSettings()
        if base is not None:
            self._settings = attrs.evolve(self._settings, base=base)
        self.markets = markets
        self.record_dir = None if record_dir is None else Path(record_dir)
        self._limiter = limiter
        self._catalogue = catalogue
        self._buffer = buffer
        self._overflow = overflow
        self._lag_limit = lag_limit
        self.retry = retry
        self.clock = clock
        self.stream = Stream()
        self._fixtures: dict[str, DeskFixture] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._observers: list[DeskObserver] = [_Health()]
        self.callbacks = Callbacks()
        self._running = False
        #: True from the moment the desk starts closing (every fixture's closing bet stop follows).
        self.closing = False
        self._changed = asyncio.Event()  # a fixture ended or left
        self.failures = 0  # fixtures whose feed ended with an error
        #: Seconds each reason held on fixtures no longer followed (the metrics' counters never go back).
        self.retired_suspensions: dict[Reason, float] = {}

    def __repr__(self) -> str:
        return f"Desk({len(self._fixtures)} fixtures)"

    # --- what the user registers --------------------------------------------------------------

    @overload
    def on(self, event_type: EventTypes, fn: None = None) -> Callable[[C], C]: ...
    @overload
    def on(self, event_type: EventTypes, fn: C) -> C: ...
    def on(self, event_type: EventTypes, fn: C | None = None) -> C | Callable[[C], C]:
        """Call `fn(match, item)` for every update (`engine.Update`), event or signal of every
        fixture (`Callbacks.on`); `match.fixture_id` says which. Plain or `async def`."""
        return self.callbacks.on(event_type, fn)

    def off(self, fn: Callback) -> None:
        """Stop calling `fn`."""
        self.callbacks.off(fn)

    def observe(self, observer: DeskObserver) -> None:
        """Show every fixture's inputs and updates to `observer` (see `DeskObserver`), after the
        observers added before it."""
        self._observers.append(observer)

    # --- fixtures -----------------------------------------------------------------------------

    @property
    def fixtures(self) -> Mapping[str, DeskFixture]:
        """Every fixture followed (finished and failed ones too, until unfollowed), by id."""
        return self._fixtures

    def __contains__(self, fixture_id: object) -> bool:
        return fixture_id in self._fixtures

    def __iter__(self) -> Iterator[DeskFixture]:
        return iter(list(self._fixtures.values()))

    def follow(
        self, fixture_id: str, fmt: MatchFormat = UNKNOWN_FORMAT, markets: MarketConfig | None = None
    ) -> DeskFixture:
        """Start following a fixture (at once inside `async with`, else when the desk starts).
        ValueError if it is followed already, or the id is not a UUID."""
        check_fixture_id(fixture_id)
        if fixture_id in self._fixtures:
            raise ValueError(f"fixture {fixture_id} is followed already")
        settings = FixtureSettings(fmt, markets or self.markets)
        fixture = DeskFixture(fixture_id, None, Watch(self.clock), settings)
        fixture.match = self._connect(fixture)
        self._fixtures[fixture_id] = fixture
        if self._running:
            self._start(fixture)
        log.info("following fixture %s (%s)", fixture_id, _describe_format(settings.fmt))
        return fixture

    def _connect(self, fixture: DeskFixture) -> Match:
        """A new runtime for `fixture` (its first, or a retry): resumed from its recording, if any."""
        observers = self._observers
        # The hooks reach the fixture through a weak reference: the fixture holds the runtime, and a
        # hook holding the fixture would make a cycle that keeps a fixture no longer followed (its
        # state, events, sockets) until a full collection, which the desk runs hourly (`collector`).
        holder = weakref.ref(fixture)

        def folded(match: Match, message: Input, update: Update) -> None:
            followed = holder()
            if followed is not None:
                for observer in observers:
                    observer.folded(followed, message, update)

        def sent(match: Match, update: Update) -> None:
            followed = holder()
            if followed is not None:
                for observer in observers:
                    observer.sent(followed, update)

        def delivered(match: Match, update: Update, arrived: float) -> None:
            followed = holder()
            if followed is not None:
                latency = time.perf_counter() - arrived
                for observer in observers:
                    observer.delivered(followed, update, latency)

        record = None if self.record_dir is None else self.record_dir / f"{fixture.fixture_id}.jsonl"
        return connect(
            fixture.fixture_id,
            self._token,
            fmt=fixture.settings.fmt,
            markets=fixture.settings.markets,
            callbacks=self.callbacks,
            record=record,
            settings=self._settings,
            limiter=self._limiter,
            buffer=self._buffer,
            overflow=self._overflow,
            on_input=folded,
            catalogue=self._catalogue,
            stream=self.stream,
            on_send=sent,
            resume=record is not None,
            lag_limit=self._lag_limit,
            on_delivered=delivered,
        )

    def refollow(self, fixture_id: str) -> bool:
        """Follow again, now, a fixture whose feed failed (it waits for its retry otherwise); False
        when it is not waiting for a retry. KeyError if it is not followed."""
        fixture = self._fixtures[fixture_id]
        if fixture.retry_at is None:
            return False
        fixture.wake.set()
        return True

    def reconfigure(self, fixture_id: str, markets: MarketConfig) -> None:
        """Apply a new market config (a margin, a pre-match price) to a followed fixture: its prices
        are recomputed and sent as a snapshot. KeyError if it is not followed."""
        fixture = self._fixtures[fixture_id]
        fixture.settings = FixtureSettings(fixture.settings.fmt, markets)
        fixture.match.reconfigure(markets)
        log.info("fixture %s: market config changed; a new snapshot sent", fixture_id)

    async def unfollow(self, fixture_id: str) -> MatchState:
        """Stop following a fixture: its closing bet stop (every undecided market suspended,
        `not_followed`) is delivered, then it leaves `fixtures`. Returns its last state; KeyError
        if it is not followed."""
        fixture = self._fixtures[fixture_id]
        await fixture.match.stop()
        watcher = self._watchers.pop(fixture_id, None)
        if watcher is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        del self._fixtures[fixture_id]
        for reason, seconds in fixture.watch.suspended_seconds(self.clock()).items():
            self.retired_suspensions[reason] = self.retired_suspensions.get(reason, 0.0) + seconds
        log.info("stopped following fixture %s", fixture_id)
        self._signal_change()
        return fixture.state

    def _start(self, fixture: DeskFixture) -> None:
        fixture.match.start()
        self._watchers[fixture.fixture_id] = asyncio.get_running_loop().create_task(
            self._watch(fixture), name=f"desk watch {fixture.fixture_id}"
        )

    async def _watch(self, fixture: DeskFixture) -> None:
        """Wait for a fixture's feed to end; a failure is logged and counted, never raised, and
        retried after the desk's backoff (`retry`) unless the provider refused it for good."""
        try:
            while True:
                try:
                    await fixture.match.wait()
                except FeedError as exc:
                    self.failures += 1
                    log.error("fixture %s: refused: %s (final; the other fixtures go on)", fixture.fixture_id, exc)
                    return
                except Exception as exc:
                    self.failures += 1
                    delay = self._retry_delay(fixture)
                    if delay is None:
                        log.error("fixture %s: feed failed: %s (the other fixtures go on)", fixture.fixture_id, exc)
                        return
                    log.error(
                        "fixture %s: feed failed: %s; following it again in %.1f s (retry %d)",
                        fixture.fixture_id,
                        exc,
                        delay,
                        fixture.retries + 1,
                    )
                    await self._wait_to_retry(fixture, delay)
                    fixture.retries += 1
                    fixture.match = self._connect(fixture)
                    fixture.match.start()
                    self._signal_change()
                else:
                    log.info("fixture %s: feed ended (%s)", fixture.fixture_id, fixture.state.status.value)
                    return
        finally:
            self._signal_change()

    def _retry_delay(self, fixture: DeskFixture) -> float | None:
        """Seconds before a failed fixture is followed again (None: it is not)."""
        retry = self.retry
        if retry is None or (retry.attempts is not None and fixture.retries >= retry.attempts):
            return None
        return float(min(retry.maximum, retry.initial * retry.factor ** min(fixture.retries, 64)))

    async def _wait_to_retry(self, fixture: DeskFixture, delay: float) -> None:
        fixture.retry_at = self.clock() + delay
        fixture.wake.clear()
        self._signal_change()
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await fixture.wake.wait()  # SIGHUP (`refollow`) cuts the wait short
        finally:
            fixture.retry_at = None

    def _signal_change(self) -> None:
        self._changed.set()

    # --- running ------------------------------------------------------------------------------

    async def __aenter__(self) -> Desk:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def start(self) -> None:
        """Start every fixture followed so far; later ones start as they are followed."""
        self._running = True
        for fixture in list(self._fixtures.values()):
            if fixture.fixture_id not in self._watchers:
                self._start(fixture)

    async def close(self) -> None:
        """Stop following every fixture, each with its closing bet stop, and return once every
        update is delivered. The fixtures stay readable (`fixtures`)."""
        self.closing = True
        matches = [fixture.match for fixture in self._fixtures.values()]
        await asyncio.gather(*(match.stop() for match in matches))
        watchers = list(self._watchers.values())
        self._watchers.clear()
        for watcher in watchers:
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        self._running = False

    def all_ended(self) -> bool:
        """True when every fixture followed has ended (finished, or failed with no retry to come)."""
        return all(fixture.match.ended and not self._retrying(fixture) for fixture in self._fixtures.values())

    def _retrying(self, fixture: DeskFixture) -> bool:
        """True while the fixture waits to be followed again, or its watch is about to decide."""
        watcher = self._watchers.get(fixture.fixture_id)
        return fixture.retry_at is not None or (watcher is not None and not watcher.done() and fixture.match.ended)

    async def ended(self, fixture_id: str) -> DeskFixture:
        """Wait until one fixture has ended (finished, or failed with no retry to come); the fixture.
        KeyError if it is not followed (or stops being followed meanwhile)."""
        while True:
            fixture = self._fixtures[fixture_id]
            if fixture.match.ended and not self._retrying(fixture):
                return fixture
            self._changed.clear()
            await self._changed.wait()

    async def wait(self) -> dict[str, MatchState]:
        """Wait until every fixture followed has ended (finished or failed); their last states."""
        if not self._running:
            self.start()
        while not self.all_ended():
            self._changed.clear()
            await self._changed.wait()
        return {fixture_id: fixture.state for fixture_id, fixture in self._fixtures.items()}


def _describe_format(fmt: MatchFormat) -> str:
    if fmt.best_of is None:
        return "format unknown"
    return f"best of {fmt.best_of}{', doubles' if fmt.doubles else ''}"


class UpdateLog(DeskObserver):
    """Writes every update of every fixture as one JSON line, the `replay --trace` shape (it names
    its fixture: `fixtureId`), to a binary stream (UTF-8 JSON), as the desk sends it (`desk.observe(log)`)."""

    def __init__(self, out: IO[bytes], on_reader_gone: Callable[[], object] | None = None) -> None:
        self._out = out
        self._on_reader_gone = on_reader_gone
        self.reader_gone = False  # the pipe's reader went away (`… | head`): nothing more is written

    def sent(self, fixture: DeskFixture, update: Update) -> None:
        """One update as one line."""
        refused = next((event.reason for event in update.events if isinstance(event, Malformed)), None)
        self._line(describe_update(update, refused))

    def alive(self, now: float, run: str) -> None:
        """The engine lives: `{"alive": <POSIX seconds>, "run": …}` (UOF's alive)."""
        self._line({"alive": round(now, 3), "run": run})

    def _line(self, line: dict[str, Any]) -> None:
        if self.reader_gone:
            return
        try:
            self._out.write(orjson.dumps(line) + b"\n")
            self._out.flush()  # a line per update: a reader (`tail -f`, a pipe) sees it at once
        except BrokenPipeError:
            self.reader_gone = True
            if self._on_reader_gone is not None:
                self._on_reader_gone()

    def flush(self) -> None:
        """Push anything buffered to the file."""
        if not self.reader_gone:
            self._out.flush()
