"""A service's side of the bus: every fixture's book and prices kept from what the engines publish
(`engine.bus.publisher`), with UOF's rules across discontinuities (`engine.desk.reader`).

    mirror = Mirror(address)
    mirror.on(Decision, pay_or_cancel)         # each settlement, voiding, rollback once (plain or async def)
    mirror.on(FixtureCopy, show)               # a fixture's copy after each line taken
    mirror.on(ProducerDown, suspend_all)       # fixtures whose engine went silent
    async with mirror:
        ...
        mirror.fixtures[fixture_id].book       # market -> MarketCopy; open only while an engine lives

- On connecting (and on every reconnection) the mirror subscribes, then asks the engines for every
  fixture's snapshot: a fixture's copy is trusted only from a snapshot on (before it, every market
  of it reads suspended, `not_synced`).
- Repeats are dropped (the same run and a `streamSeq` not above the last taken), and a decision
  whose id was taken before is applied but not reported again, across engine runs and instances.
- An engine whose alive lines stop for longer than `alive_limit` (2 s) is down: every fixture it
  last wrote reads `producer_down`, all its undecided markets suspended, until a new snapshot (from
  it, or from the instance that took the fixture over) arrives.
- A slow callback slows only the mirror: the broker holds what it has not taken yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import attrs
import orjson

from engine.bus.address import BusAddress
from engine.bus.connection import Backoff, connect, raise_if_cancelled, require_aio_pika, said
from engine.bus.keys import EVERYTHING, EXCHANGE, SNAPSHOT_REQUEST
from engine.desk.reader import ALIVE_LIMIT, Decision, FixtureCopy, StreamError, StreamReader

if TYPE_CHECKING:
    import aio_pika.abc

log = logging.getLogger("engine.bus")

#: [ours] How often (seconds) the mirror checks for engines gone silent.
CHECK_EVERY = 0.1


@attrs.frozen(slots=True)
class ProducerDown:
    """The fixtures whose engine went silent: every undecided market of theirs reads suspended."""

    fixture_ids: tuple[str, ...]


MirrorCallback = Callable[["Mirror", Any], object]


class Mirror:
    """Keeps every fixture on the bus (see the module docstring). `bindings` choose what to take
    (`tabletennis.#`: all); `clock` is the receiver's wall time for the alive rule; `queue` names a
    durable queue of the service's own (None: a queue that lives as long as the mirror's connection)."""

    def __init__(
        self,
        address: BusAddress,
        *,
        bindings: Iterable[str] = (EVERYTHING,),
        alive_limit: float = ALIVE_LIMIT,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.time,
        connect_timeout: float = 5.0,
        queue: str | None = None,
    ) -> None:
        self.address = address
        self.queue = queue
        self.bindings = tuple(bindings)
        self.reader = StreamReader(alive_limit, require_snapshot=True)
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.connect_timeout = connect_timeout
        self.connected = False
        self.connections = 0
        self.lines = 0  # lines taken
        self.refused = 0  # messages that were not lines of the stream
        self._handlers: list[tuple[type, MirrorCallback]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._synced = asyncio.Event()

    def __repr__(self) -> str:
        return f"Mirror({self.address}, {len(self.reader.fixtures)} fixtures)"

    @property
    def fixtures(self) -> dict[str, FixtureCopy]:
        """Every fixture's copy, by id."""
        return self.reader.fixtures

    def on(self, kind: type, fn: MirrorCallback) -> MirrorCallback:
        """Call `fn(mirror, item)` for every `Decision`, `FixtureCopy` (after each line taken for it)
        or `ProducerDown`; plain or `async def` (awaited before the next message is taken)."""
        if kind not in (Decision, FixtureCopy, ProducerDown):
            raise TypeError(f"on(): the kinds are Decision, FixtureCopy and ProducerDown, not {kind!r}")
        if not callable(fn):
            raise TypeError(f"on(): the callback must be callable, not {fn!r}")
        self._handlers.append((kind, fn))
        return fn

    async def __aenter__(self) -> Mirror:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Subscribe in the background (and again whenever the broker comes back)."""
        require_aio_pika()
        loop = asyncio.get_running_loop()
        if not self._tasks:
            self._tasks = [
                loop.create_task(self._run(), name="bus mirror"),
                loop.create_task(self._watch(), name="bus mirror alive"),
            ]

    async def subscribed(self) -> None:
        """Wait until the mirror is subscribed (and has asked for snapshots)."""
        await self._synced.wait()

    async def close(self) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _run(self) -> None:
        while True:
            connection = await connect(
                self.address, self.backoff, self.connect_timeout, "mirror: bus", lambda: self._closing
            )
            if connection is None:
                return
            try:
                async with connection:
                    await self._consume(connection)
            except Exception as exc:
                raise_if_cancelled()
                log.error("mirror: bus %s lost: %s; subscribing again", self.address, said(self.address, exc))
            finally:
                self.connected = False
                self._synced.clear()

    async def _consume(self, connection: aio_pika.abc.AbstractConnection) -> None:
        import aio_pika

        channel = await connection.channel()
        await channel.set_qos(prefetch_count=256)
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        if self.queue is None:  # the mirror's own, gone with it
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        else:  # a service's durable quorum queue: what the broker confirmed waits there, restarts included
            queue = await channel.declare_queue(self.queue, durable=True, arguments={"x-queue-type": "quorum"})
        for binding in self.bindings:
            await queue.bind(exchange, binding)
        self.connections += 1
        self.connected = True
        await exchange.publish(aio_pika.Message(b'{"fixtures": []}'), routing_key=SNAPSHOT_REQUEST)
        self._synced.set()
        async with queue.iterator() as messages:
            async for message in messages:
                await self._take(message.body)
                await message.ack()

    async def _take(self, body: bytes) -> None:
        try:
            line = orjson.loads(body)
            if not isinstance(line, dict):
                raise StreamError("a line of the stream is a JSON object")
            decisions = self.reader.feed(line, self.clock())
        except (orjson.JSONDecodeError, StreamError) as exc:  # taken off the queue all the same
            self.refused += 1
            log.warning("mirror: a message that is not a line of the stream: %s", exc)
            return
        self.lines += 1
        for decision in decisions:
            await self._call(decision)
        fixture_id = line.get("fixtureId")
        if isinstance(fixture_id, str) and fixture_id in self.reader.fixtures:
            await self._call(self.reader.fixtures[fixture_id])

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY)
            down = self.reader.check(self.clock())
            if down:
                log.warning("mirror: the engine of %d fixture(s) went silent: their markets suspended", len(down))
                await self._call(ProducerDown(tuple(down)))

    async def _call(self, item: object) -> None:
        for kind, fn in self._handlers:
            if not isinstance(item, kind):
                continue
            try:
                result = fn(self, item)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("mirror: callback %s raised on %s; the mirror goes on", fn, type(item).__name__)
