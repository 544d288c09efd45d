"""The engine's side of the bus: every line of the desk's update stream — updates, snapshots, the
closing bet stops and an alive line every second — published to RabbitMQ's topic exchange
`ttengine` (`engine.bus.keys`), as UOF delivers odds to a bookmaker.

    publisher = BusPublisher(address)
    desk.observe(await publisher.open(desk))  # connects (and keeps reconnecting) in the background
    ...
    await publisher.close()                   # what is queued is published first (bounded wait)

(`ttengine follow --bus URL` does this: the publisher is one of the desk's outlets.)

- Updates and snapshots are persistent messages, each confirmed by the broker (publisher confirms):
  a line is `confirmed` once the broker has taken responsibility for it. Up to `PUBLISH_WINDOW`
  lines are in flight at once (one channel keeps their order), so a burst of many fixtures' lines
  waits for one round trip, not one per line.
- When the broker goes away, the lines in flight are counted `unconfirmed`, and nothing is queued
  while it is away (`skipped`: a consumer sees no alive line and suspends the engine's fixtures).
  The connection is retried with backoff; once it is back, every fixture's snapshot (its whole
  book, stamped in the run's stream) is published before anything else, so a consumer is whole again.
- A consumer asks for snapshots with a message on `control.snapshot` (`{"fixtures": [...]}`, empty:
  all; outside `tabletennis.#`, so no consumer of the stream takes it for a line): the engine
  publishes the snapshot of every fixture it follows that is asked for.

The credentials are a `Secret`, and every message of the client that is logged is redacted.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import attrs
import orjson

from engine.analysis.trace import describe_update
from engine.bus.address import BusAddress
from engine.bus.connection import Backoff, connect, raise_if_cancelled, require_aio_pika, said
from engine.bus.keys import EXCHANGE, HOLDINGS_REQUEST, SNAPSHOT_REQUEST, UNASSIGN_REQUEST, routing_key
from engine.bus.leases import LEASE_HEARTBEAT, Follow, Leases
from engine.core.inputs import Unfollowed
from engine.core.match.inputs import Malformed
from engine.core.update import Update
from engine.desk.service import Desk, DeskFixture, DeskObserver

if TYPE_CHECKING:
    import aio_pika.abc

log = logging.getLogger("engine.bus")

#: [ours] Seconds between two alive lines (UOF: every few seconds; our consumers allow 2 s).
ALIVE_EVERY = 1.0
#: [ours] Lines published and not yet confirmed, at most (measured: bench/bus.py).
PUBLISH_WINDOW = 256


class BusPublisher(DeskObserver):
    """Publishes the desk's update stream on the bus (see the module docstring)."""

    def __init__(
        self,
        address: BusAddress,
        *,
        alive_every: float = ALIVE_EVERY,
        backoff: Backoff | None = None,
        connect_timeout: float = 5.0,
        take: int = 0,
    ) -> None:
        if not alive_every > 0:
            raise ValueError(f"alive_every must be positive seconds, not {alive_every!r}")
        self.address = address
        self.desk: Desk | None = None
        self.alive_every = alive_every
        self.backoff = backoff or Backoff()
        self.connect_timeout = connect_timeout
        self.connected = False
        self.connections = 0  # times the broker was reached
        self.published = 0  # lines sent to the broker
        self.confirmed = 0  # lines the broker confirmed
        self.unconfirmed = 0  # lines in flight when the broker went away (a snapshot follows)
        self.skipped = 0  # lines not queued while the broker was away (a snapshot follows)
        self.snapshots = 0  # snapshot lines published on a reconnection or a consumer's request
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._in_flight: collections.deque[tuple[dict[str, Any], asyncio.Future[Any]]] = collections.deque()
        self._more = asyncio.Event()
        self._latest: dict[str, Update] = {}  # each fixture's latest update sent: its snapshot's source
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        #: The fixtures taken off the shared queue (`take` > 0: `ttengine follow --take N`).
        self.leases = Leases(take) if take else None
        self._follow: Follow | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"BusPublisher({self.address}, {state}, {self.confirmed} confirmed)"

    # --- the desk's side ------------------------------------------------------------------------

    def sent(self, fixture: DeskFixture, update: Update) -> None:
        closing = issubclass(update.input_type, Unfollowed)
        if not self.connected:
            self._latest[fixture.fixture_id] = update  # a closing one too: its snapshot goes on the return
            self.skipped += 1
            return
        if closing:
            self._latest.pop(fixture.fixture_id, None)  # its last line goes now: nothing more to snapshot
        else:
            self._latest[fixture.fixture_id] = update
        refused = next((event.reason for event in update.events if isinstance(event, Malformed)), None)
        self._put(describe_update(update, refused))

    def _put(self, line: dict[str, Any]) -> None:
        self._queue.append(line)
        self._more.set()

    def snapshot_lines(self, fixture_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """A snapshot of every fixture (or of those named) that has sent an update, each stamped with
        the next `streamSeq` of the desk's run: the fixtures followed, and those whose closing line
        (every market suspended, `not_followed`) could not go out while the broker was away, once."""
        desk = self.desk
        if desk is None:
            return []
        lines = []
        for fixture_id, update in list(self._latest.items()):
            if fixture_ids and fixture_id not in fixture_ids:
                continue
            closed = issubclass(update.input_type, Unfollowed)
            if closed:
                del self._latest[fixture_id]  # its closing book goes out once
            elif fixture_id not in desk.fixtures:
                continue
            quiet = attrs.evolve(update, events=(), signals=(), coalesced=0)
            lines.append(describe_update(desk.stream.stamp(quiet, snapshot=True)))
        return lines

    # --- running --------------------------------------------------------------------------------

    async def open(self, desk: Desk, follow: Follow | None = None) -> BusPublisher:
        """Publish `desk`'s stream: connect in the background (and reconnect whenever the broker
        goes away); the observer to add to the desk (this publisher). A publisher that takes
        fixtures follows each with `follow` (default: `desk.follow` with the fixture's format)."""
        require_aio_pika()
        if self._task is not None:
            raise RuntimeError("a publisher publishes one desk's stream")
        self.desk = desk
        self._follow = follow or (lambda entry: desk.follow(entry.fixture_id, entry.fmt))
        self._task = asyncio.get_running_loop().create_task(self._run(), name="bus publisher")
        return self

    async def close(self, patience: float = 5.0) -> None:
        """Publish what is queued (for at most `patience` seconds), then disconnect."""
        self._closing = True
        task = self._task
        if task is None:
            return
        self._more.set()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(task), patience)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._queue:
            log.error("bus %s: %d lines not published at close", self.address, len(self._queue))

    async def _run(self) -> None:
        while True:
            heartbeat = None if self.leases is None else LEASE_HEARTBEAT
            connection = await connect(
                self.address, self.backoff, self.connect_timeout, "bus", lambda: self._closing, heartbeat
            )
            if connection is None:
                return
            try:
                async with connection:
                    await self._publish(connection)
                    return  # closing: everything queued went out
            except Exception as exc:
                raise_if_cancelled()
                lost = len(self._in_flight)
                self.unconfirmed += lost
                log.error(
                    "bus %s lost: %s; %d line(s) unconfirmed; every fixture's snapshot goes first on its return",
                    self.address,
                    said(self.address, exc),
                    lost,
                )
            finally:
                self.connected = False
                self._channel = None
                self.skipped += len(self._queue)
                self._queue.clear()
                for _, publishing in self._in_flight:
                    publishing.cancel()
                self._in_flight.clear()
                if self.leases is not None:  # its assignments are back on the queue: not ours to publish
                    for fixture_id in await self.leases.drop_all():
                        self._latest.pop(fixture_id, None)

    async def _publish(self, connection: aio_pika.abc.AbstractConnection) -> None:
        import aio_pika

        channel = self._channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        requests = await channel.declare_queue(exclusive=True, auto_delete=True)
        for request in (SNAPSHOT_REQUEST, HOLDINGS_REQUEST, UNASSIGN_REQUEST):
            await requests.bind(exchange, request)
        await requests.consume(self._requested, no_ack=True)
        self.connections += 1
        self.connected = True
        snapshots = self.snapshot_lines()  # before anything sent from now on
        self._queue.extendleft(reversed(snapshots))
        self.snapshots += len(snapshots)
        log.info("bus %s: connected; %d snapshot(s) first", self.address, len(snapshots))
        beating = asyncio.get_running_loop().create_task(self._alive(), name="bus alive")
        if self.leases is not None:
            assert self.desk is not None
            assert self._follow is not None
            self.leases.on_lost = self._more.set
            await self.leases.open(connection, self.desk, self._follow)
        loop = asyncio.get_running_loop()
        in_flight = self._in_flight
        try:
            while True:
                self._take_confirmations()
                if self.leases is not None and self.leases.lost is not None:
                    raise self.leases.lost
                if not self._queue or len(in_flight) >= PUBLISH_WINDOW:
                    if self._closing and not self._queue and not in_flight:
                        return
                    self._more.clear()
                    await self._more.wait()  # a line queued, or a confirmation
                    continue
                line = self._queue.popleft()
                alive = "alive" in line
                message = aio_pika.Message(
                    orjson.dumps(line),
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT if alive else aio_pika.DeliveryMode.PERSISTENT,
                )
                self.published += 1
                # The tasks reach the channel's lock (FIFO) in the order they are made, without
                # suspending before it: the lines go out in the stream's order (a consumer drops a
                # streamSeq not above the last it took: a line overtaken would be lost to it).
                publishing = loop.create_task(exchange.publish(message, routing_key=routing_key(line)))
                publishing.add_done_callback(lambda _: self._more.set())
                in_flight.append((line, publishing))
        finally:
            beating.cancel()

    def _take_confirmations(self) -> None:
        """Count the lines confirmed, in the order they were sent; the error of one the broker did
        not confirm (the connection lost, a nack) is raised."""
        in_flight = self._in_flight
        while in_flight and in_flight[0][1].done():
            line, publishing = in_flight[0]
            publishing.result()  # raises: the line stays counted in flight, hence unconfirmed
            in_flight.popleft()
            self.confirmed += 1
            self.confirmed_line(line)

    def confirmed_line(self, line: dict[str, Any]) -> None:
        """Called with each line once the broker confirmed it (a hook for a subclass: tests, audits)."""

    async def _alive(self) -> None:
        desk = self.desk
        assert desk is not None
        while True:
            self._put({"alive": round(desk.clock(), 3), "run": desk.stream.run})
            await asyncio.sleep(self.alive_every)

    async def _requested(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        """A request of a consumer or a command, `{"fixtures": [ids]}` (empty or absent: all):
        snapshots (`control.snapshot`); the fixtures this engine follows (`control.holdings`); to
        give up those it took (`control.unassign`). The last two are answered on `reply_to`."""
        kind = message.routing_key
        try:
            asked = orjson.loads(message.body).get("fixtures") or None
        except (orjson.JSONDecodeError, AttributeError):
            log.warning("bus %s: a %s request that is not a JSON object: ignored", self.address, kind)
            return
        if asked is not None and not (isinstance(asked, list) and all(isinstance(each, str) for each in asked)):
            log.warning("bus %s: a %s request whose fixtures are not ids: ignored", self.address, kind)
            return
        if kind == SNAPSHOT_REQUEST:
            lines = self.snapshot_lines(asked)
            for line in lines:
                self._put(line)
            self.snapshots += len(lines)
            return
        if kind == HOLDINGS_REQUEST:
            answer = sorted(self.desk.fixtures) if self.desk is not None else []
        else:
            answer = [] if self.leases is None else await self.leases.release(asked)
        await self._reply(message, answer)

    async def _reply(self, message: aio_pika.abc.AbstractIncomingMessage, fixtures: list[str]) -> None:
        import aio_pika

        channel, desk = self._channel, self.desk
        if channel is None or desk is None or not message.reply_to:
            return
        body = orjson.dumps({"run": desk.stream.run, "fixtures": fixtures})
        with contextlib.suppress(Exception):  # the asker gone, the channel closing: it hears no answer
            await channel.default_exchange.publish(aio_pika.Message(body), routing_key=message.reply_to)
