"""`ttengine follow`: the desk as a service, until SIGTERM or SIGINT (or, asked to, until every
fixture has ended).

- follows every fixture of the command line and the config file, one event loop, one connect limiter;
- `--updates` writes every update of every fixture as JSON Lines (the `replay --trace` shape);
- `--http` serves the live page, `/fixtures` and `/metrics` (loopback unless told otherwise);
- SIGHUP rereads the config file: new fixtures are followed, removed ones get their closing bet stop;
- SIGTERM and SIGINT stop following every fixture, each with its closing bet stop, flush the
  recordings and the updates, and exit 0 (SIGTERM) or 130 (SIGINT).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import attrs
import orjson

from engine.core.config import MarketConfig
from engine.desk.collector import CollectorPolicy
from engine.desk.config import ConfigError, DeskConfig, FixtureEntry, load_config
from engine.desk.learning import RatingsLearner
from engine.desk.metrics import DeskMetrics
from engine.desk.service import Desk, DeskFixture, DeskObserver, UpdateLog
from engine.desk.web import DeskWeb
from engine.io.client import ClientSettings, ConnectLimiter
from engine.io.protocol import FeedError, Secret
from engine.runtime.delivery import LAG_LIMIT

log = logging.getLogger("engine.desk")

EXIT_OK, EXIT_FEED_FAILED, EXIT_REFUSED = 0, 1, 3
EXIT_INTERRUPTED = 128 + 2
#: [ours] UOF's alive: the updates stream says the engine lives at least this often (seconds), so a
#: consumer knows a dead engine within two of them.
ALIVE_EVERY = 1.0


class Outlet(Protocol):
    """Somewhere else the desk's stream goes (the bus's publisher): opened once the desk exists,
    before any fixture is followed, and closed after every fixture's closing bet stop. One that
    brings fixtures (the bus's shared queue) follows each with `follow`."""

    async def open(self, desk: Desk, follow: Callable[[FixtureEntry], DeskFixture]) -> DeskObserver: ...

    async def close(self) -> None: ...


@attrs.frozen(slots=True)
class ServiceOptions:
    """What `ttengine follow` runs with, the command line and the config file merged."""

    token: Secret
    settings: ClientSettings
    fixtures: tuple[FixtureEntry, ...]  # from the command line (kept on a reload)
    config_path: Path | None = None
    config: DeskConfig = attrs.field(factory=DeskConfig)
    margin: float | None = None
    updates: str | None = None
    record_dir: Path | None = None
    http: tuple[str, int] | None = None
    #: The token the HTTP side asks for (None: none asked).
    http_token: Secret | None = None
    exit_when_done: bool = True
    #: Seconds between two `{"alive": …}` lines of the updates stream.
    alive_every: float = ALIVE_EVERY
    #: Seconds a consumer may fall behind before its fixtures' markets suspend (`consumer_lagging`).
    lag_limit: float = LAG_LIMIT
    #: The players' ratings (their file, or None): the fixtures' prior, learning from each finished match.
    ratings: RatingsLearner | None = None
    #: Where else the stream goes (the bus).
    outlets: tuple[Outlet, ...] = ()
    #: Connection attempts per second to the provider, all fixtures together (None: the provider's
    #: documented limit, `MAX_CONNECTS_PER_SECOND`, which is per customer: split it among engines).
    connect_rate: int | None = None

    def markets(self, entry: FixtureEntry) -> MarketConfig:
        """A fixture's market config, with the desk's margin and its ratings as they stand now."""
        return entry.markets(self.margin, None if self.ratings is None else self.ratings.ratings)


def _fixtures(count: int) -> str:
    return f"{count} fixture{'' if count == 1 else 's'}"


def parse_http(text: str) -> tuple[str, int]:
    """`HOST:PORT` (or `:PORT`, or `[::1]:PORT`) as (host, port); ValueError in words."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--http must be HOST:PORT with a port from 0 to 65535, not {text!r}")
    return host, int(port)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per log record: time, level, logger, message (and the error, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def use_log_format(log_format: str) -> None:
    """Switch every handler of the root logger to `json` or plain `text` lines."""
    formatter = JsonLogFormatter() if log_format == "json" else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)


class _Signals:
    """SIGTERM and SIGINT set `stop` (remembering which came first); SIGHUP sets `reload`."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.reload = asyncio.Event()
        self.received: int | None = None
        self.broken_pipe = False
        self._loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            self._loop.add_signal_handler(number, self._stopped, number)
        self._loop.add_signal_handler(signal.SIGHUP, self.reload.set)

    def reader_gone(self) -> None:
        """The reader of our standard output went away: stop, quietly."""
        self.broken_pipe = True
        self.stop.set()

    def _stopped(self, number: int) -> None:
        if self.received is None:
            self.received = number
        self.stop.set()

    def remove(self) -> None:
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self._loop.remove_signal_handler(number)


async def run_service(options: ServiceOptions, out: IO[bytes], err: IO[str]) -> int:
    """Run the desk (see the module docstring); the process's exit code."""
    signals = _Signals()  # first: a signal from now on closes every fixture properly
    try:
        with _updates_file(options.updates, out, signals.reader_gone) as updates:
            code = await _serve(options, signals, updates, err)
    finally:
        signals.remove()
    if signals.broken_pipe and signals.received is None:
        raise BrokenPipeError("the reader of the updates went away")  # the command line exits 141, quietly
    return code


@contextlib.contextmanager
def _updates_file(path: str | None, out: IO[bytes], reader_gone: Callable[[], object]) -> Iterator[UpdateLog | None]:
    """The `--updates` writer (`-`: standard output, whose reader may go away), flushed at the end."""
    if path is None:
        yield None
        return
    to_stdout = path == "-"
    with contextlib.nullcontext(out) if to_stdout else open(path, "ab") as file:
        updates = UpdateLog(file, reader_gone if to_stdout else None)
        yield updates
        updates.flush()


async def _serve(options: ServiceOptions, signals: _Signals, updates: UpdateLog | None, err: IO[str]) -> int:
    limiter = None if options.connect_rate is None else ConnectLimiter(options.connect_rate)
    desk = Desk(
        options.token,
        settings=options.settings,
        record_dir=options.record_dir,
        lag_limit=options.lag_limit,
        limiter=limiter,
    )
    if options.ratings is not None:
        desk.observe(options.ratings)  # first: the updates written after it see nothing of it
    if updates is not None:
        desk.observe(updates)
    metrics = DeskMetrics(desk)
    web = None if options.http is None else DeskWeb(desk, metrics, *options.http, token=options.http_token)
    from_config: set[str] = set()
    if web is not None:
        await web.start()  # first: a port in use fails before anything is followed
        print(f"ttengine follow: the desk's page is at {web.url} (/fixtures, /metrics)", file=err, flush=True)
    beating = None if updates is None else asyncio.ensure_future(_alive(updates, desk, options.alive_every))
    collector = metrics.collector = CollectorPolicy(on_pause=metrics.observe_pause)
    try:

        def follow(entry: FixtureEntry) -> DeskFixture:
            return desk.follow(entry.fixture_id, entry.fmt, options.markets(entry))

        for outlet in options.outlets:
            desk.observe(await outlet.open(desk, follow))
        async with desk:  # leaving it: every fixture's closing bet stop, delivered
            for entry in options.fixtures:
                desk.follow(entry.fixture_id, entry.fmt, options.markets(entry))
            _apply_config(desk, options, options.config, from_config)
            print(f"ttengine follow: following {_fixtures(len(desk.fixtures))}", file=err, flush=True)
            if options.outlets:  # the run names this process in every line and alive line it publishes
                print(f"ttengine follow: publishing as run {desk.stream.run}", file=err, flush=True)
            collector.start()  # what start-up built is frozen: collections scan only what is new
            await _until_stopped(desk, options, signals, from_config)
            count = len(desk.fixtures)
    finally:
        await collector.close()
        if beating is not None:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
        if web is not None:
            await web.close()  # after a last push: the page shows the closing bet stops
        for outlet in options.outlets:
            await outlet.close()  # after the closing bet stops
    if signals.received is not None and not signals.broken_pipe:
        name = signal.Signals(signals.received).name
        print(
            f"ttengine follow: {name}: stopped following {_fixtures(count)}; every undecided market suspended",
            file=err,
            flush=True,
        )
        return EXIT_INTERRUPTED if signals.received == signal.SIGINT else EXIT_OK
    return _exit_code(desk)


async def _alive(updates: UpdateLog, desk: Desk, every: float) -> None:
    """An alive line every `every` seconds, the first at once, while the desk runs."""
    while True:
        updates.alive(desk.clock(), desk.stream.run)
        await asyncio.sleep(every)


async def _until_stopped(desk: Desk, options: ServiceOptions, signals: _Signals, from_config: set[str]) -> None:
    """Serve until SIGTERM/SIGINT (or the reader of the updates went away), or, when asked to, until
    every fixture has ended; SIGHUP reloads the config meanwhile."""
    config = options.config
    done: asyncio.Future[Any] | None = asyncio.ensure_future(desk.wait()) if options.exit_when_done else None
    try:
        while not signals.stop.is_set() and not (done is not None and done.done()):
            waiting: set[asyncio.Future[Any]] = {
                asyncio.ensure_future(signals.stop.wait()),
                asyncio.ensure_future(signals.reload.wait()),
            }
            _, pending = await asyncio.wait(
                waiting if done is None else {*waiting, done}, return_when=asyncio.FIRST_COMPLETED
            )
            for future in pending & waiting:
                future.cancel()
            if signals.reload.is_set() and not signals.stop.is_set():
                signals.reload.clear()
                config = await _reload(desk, options, config, from_config)
    finally:
        if done is not None:
            done.cancel()


def _exit_code(desk: Desk) -> int:
    errors = [fixture.match.error for fixture in desk]
    if any(isinstance(error, FeedError) for error in errors):
        return EXIT_REFUSED
    return EXIT_FEED_FAILED if any(error is not None for error in errors) else EXIT_OK


def _apply_config(desk: Desk, options: ServiceOptions, config: DeskConfig, from_config: set[str]) -> list[str]:
    """Follow the config's fixtures not followed yet, apply a changed margin or pre-match price to
    those followed (a new snapshot), follow again at once those whose feed failed; the ids it no
    longer lists (to unfollow)."""
    margin = options.margin if options.margin is not None else config.service.margin
    ratings = None if options.ratings is None else options.ratings.ratings
    listed = {entry.fixture_id for entry in config.fixtures}
    pinned = {entry.fixture_id for entry in options.fixtures}
    for entry in config.fixtures:
        if entry.fixture_id in pinned:
            continue  # the command line's wins
        fixture = desk.fixtures.get(entry.fixture_id)
        if fixture is None:
            desk.follow(entry.fixture_id, entry.fmt, entry.markets(margin, ratings))
            from_config.add(entry.fixture_id)
            continue
        if fixture.settings.fmt != entry.fmt:
            log.warning(
                "fixture %s: the changed format is refused: it applies only when the fixture is followed again"
                " (remove it, reload, add it back)",
                entry.fixture_id,
            )
        elif fixture.settings.markets != entry.markets(margin, ratings):
            desk.reconfigure(entry.fixture_id, entry.markets(margin, ratings))
            log.warning("fixture %s: its new margin or pre-match price applies now (a new snapshot)", entry.fixture_id)
        if desk.refollow(entry.fixture_id):
            log.warning("fixture %s: its feed had failed: following it again now", entry.fixture_id)
    return sorted(fixture_id for fixture_id in from_config if fixture_id not in listed)


async def _reload(desk: Desk, options: ServiceOptions, current: DeskConfig, from_config: set[str]) -> DeskConfig:
    """SIGHUP: reread the config file; on any error keep following as before."""
    if options.config_path is None:
        log.warning("SIGHUP: no --config to reload; nothing changed")
        return current
    try:
        config = load_config(options.config_path)
    except ConfigError as exc:
        log.error("SIGHUP: %s; still following as before", exc)
        return current
    if not config.fixtures and from_config and not config.service.allow_empty:
        log.error(
            "SIGHUP: %s lists no fixture: that would unfollow all %d it listed; refused (set allow_empty = true"
            " in [service] to mean it); still following as before",
            options.config_path,
            len(from_config),
        )
        return current
    if config.service != current.service:
        log.warning("SIGHUP: [service] changes apply at the next start; the fixtures are reloaded")
    before = len(desk.fixtures)
    removed = _apply_config(desk, options, config, from_config)
    for fixture_id in removed:
        from_config.discard(fixture_id)
        await desk.unfollow(fixture_id)
    added = len(desk.fixtures) - before + len(removed)
    log.warning("SIGHUP: reloaded %s: %d fixtures added, %d removed", options.config_path, added, len(removed))
    return config
