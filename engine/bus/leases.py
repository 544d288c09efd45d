"""An engine's share of the fixtures (`ttengine follow --bus URL --take N`): it takes up to N
assignments off the queue `ttengine.fixtures` (`engine.bus.assignments`) and follows each.

The lease is RabbitMQ's own: an assignment taken is an unacknowledged delivery on the publisher's
connection, so
- while the engine lives, no other engine gets the fixture (the queue gives it to one consumer);
- when the engine dies (`kill -9`, a lost machine, a network cut the broker notices by the
  connection's heartbeat), the broker closes its connection and puts the assignment back on the
  queue at once, and another engine with room takes it: it follows the fixture from the provider
  (catching up under suspension) and publishes its snapshot first;
- the engine publishes on that same connection, so once the broker has given the fixture to
  another engine, no line of the first can reach a consumer after it: the lease and the right to
  publish end together. When the engine loses its connection it stops following its fixtures at
  once (their closing lines are not sent: the fixtures belong to the broker again).

An assignment is acknowledged (taken off the queue for good) when its match is over, when the
provider refuses the fixture, or when `ttengine unassign` asks for it; a fixture whose feed failed
for good is given back to the queue for another engine; one the engine stops following because it
is shutting down goes back with its connection.

The broker's `consumer_timeout` (30 min by default) closes a channel whose delivery stays
unacknowledged longer, and a best-of-7 can last longer: set it above the longest match in
`rabbitmq.conf` (`consumer_timeout = 14400000`, 4 h). If it fires, the engine logs it by name and
gives its fixtures back, to be taken again, as on a reconnection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from engine.bus.assignments import AssignmentError, declare_work_queue, read_assignment
from engine.desk.config import FixtureEntry
from engine.desk.service import Desk, DeskFixture
from engine.io.protocol import FeedError

if TYPE_CHECKING:
    import aio_pika.abc

log = logging.getLogger("engine.bus")

#: [ours] The heartbeat (seconds) an engine that takes fixtures asks of the broker: a machine lost
#: without closing its socket is noticed after about two of them, and its fixtures go to another.
LEASE_HEARTBEAT = 5

Follow = Callable[[FixtureEntry], DeskFixture]


class LeaseLost(ConnectionError):
    """The broker closed the channel the assignments were taken on (its consumer_timeout, most often)."""


class Leases:
    """The assignments one engine holds (see the module docstring): at most `take` at a time."""

    def __init__(self, take: int) -> None:
        if take < 1:
            raise ValueError(f"take must be 1 or more fixtures, not {take!r}")
        self.take = take
        self.held: dict[str, aio_pika.abc.AbstractIncomingMessage] = {}
        self.lost: LeaseLost | None = None
        self.on_lost: Callable[[], object] = lambda: None
        self.taken = 0  # assignments taken
        self.finished = 0  # acknowledged: the match over, or the fixture refused by the provider
        self.given_back = 0  # given back to the queue: the feed failed, the connection lost
        self.released = 0  # given up on `ttengine unassign`
        self.refused = 0  # messages on the queue that were no assignment (acknowledged away, logged)
        self._holding: dict[str, asyncio.Task[None]] = {}
        self._desk: Desk | None = None
        self._follow: Follow | None = None

    def __repr__(self) -> str:
        return f"Leases({len(self.held)} of {self.take} held)"

    async def open(self, connection: aio_pika.abc.AbstractConnection, desk: Desk, follow: Follow) -> None:
        """Take assignments on a channel of `connection` (the publisher's) and follow each with `follow`."""
        self._desk, self._follow, self.lost = desk, follow, None
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.take)
        queue = await declare_work_queue(channel)
        channel.close_callbacks.add(self._channel_closed)
        await queue.consume(self._deliver)

    def _channel_closed(self, _: object, exc: BaseException | None) -> None:
        if exc is None or self.lost is not None:
            return
        text = str(exc)
        hint = " (the broker's consumer_timeout: set it above the longest match)" if "timed out" in text else ""
        self.lost = LeaseLost(f"the broker closed the fixtures' channel: {text}{hint}")
        self.on_lost()

    async def _deliver(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        desk, follow = self._desk, self._follow
        assert desk is not None
        assert follow is not None
        try:
            entry = read_assignment(message.body)
        except AssignmentError as exc:
            self.refused += 1
            log.error("bus: a message on the fixtures' queue is no assignment: %s; taken off the queue", exc)
            await message.ack()
            return
        fixture_id = entry.fixture_id
        if desk.closing:  # shutting down: it goes to another engine
            await _settle(message.nack(requeue=True), fixture_id)
            return
        if fixture_id in self.held or fixture_id in desk.fixtures:
            log.error(
                "bus: fixture %s assigned twice: this engine follows it already; the repeat taken off", fixture_id
            )
            await message.ack()
            return
        try:
            follow(entry)
        except ValueError as exc:
            self.refused += 1
            log.error("bus: fixture %s cannot be followed: %s; taken off the queue", fixture_id, exc)
            await message.ack()
            return
        self.held[fixture_id] = message
        self.taken += 1
        log.info("bus: took fixture %s (%d of %d held)", fixture_id, len(self.held), self.take)
        self._holding[fixture_id] = asyncio.get_running_loop().create_task(
            self._hold(fixture_id, message), name=f"bus lease {fixture_id}"
        )

    async def _hold(self, fixture_id: str, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        """Until the fixture's feed ends: then acknowledge it (over, refused) or give it back (failed)."""
        desk = self._desk
        assert desk is not None
        try:
            fixture = await desk.ended(fixture_id)
        except KeyError:
            return  # no longer followed: the desk is closing, or the lease went
        if desk.closing or self.held.get(fixture_id) is not message:
            return
        del self.held[fixture_id]
        self._holding.pop(fixture_id, None)
        error = fixture.match.error
        if error is None or isinstance(error, FeedError):
            await _settle(message.ack(), fixture_id)
            self.finished += 1
            if error is not None:
                log.error("bus: fixture %s refused by the provider: taken off the queue", fixture_id)
            elif not fixture.match.is_over:
                log.warning("bus: fixture %s: its feed ended before the match did: taken off the queue", fixture_id)
        else:
            await _settle(message.nack(requeue=True), fixture_id)
            self.given_back += 1
            log.error("bus: fixture %s: its feed failed (%s): given back to the queue", fixture_id, error)
        await desk.unfollow(fixture_id)

    async def release(self, fixture_ids: list[str] | None) -> list[str]:
        """Give up the fixtures named (None: none) that this engine holds: each assignment taken
        off the queue, each fixture unfollowed (its closing bet stop goes out); the ids given up."""
        desk = self._desk
        given_up = [fixture_id for fixture_id in fixture_ids or () if fixture_id in self.held]
        for fixture_id in given_up:
            message = self.held.pop(fixture_id)
            self._stop_holding(fixture_id)
            await _settle(message.ack(), fixture_id)
            self.released += 1
            if desk is not None and fixture_id in desk.fixtures:
                await desk.unfollow(fixture_id)
            log.warning("bus: fixture %s unassigned: no longer followed", fixture_id)
        return given_up

    async def drop_all(self) -> list[str]:
        """The connection is gone, and every assignment with it (back on the queue): stop following
        each fixture at once; the ids dropped."""
        desk = self._desk
        dropped = list(self.held)
        self.held.clear()
        for fixture_id in dropped:
            self._stop_holding(fixture_id)
            self.given_back += 1
            if desk is not None and not desk.closing and fixture_id in desk.fixtures:
                await desk.unfollow(fixture_id)
        if dropped and not (desk is not None and desk.closing):
            log.error("bus: connection lost: %d fixture(s) no longer followed, back on the queue", len(dropped))
        return dropped

    def _stop_holding(self, fixture_id: str) -> None:
        task = self._holding.pop(fixture_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()


async def _settle(done: Awaitable[None], fixture_id: str) -> None:
    """An acknowledgement (or its refusal) sent; one that cannot go (the channel closed meanwhile)
    is logged: the broker then puts the assignment back, which is safe."""
    with contextlib.suppress(Exception):
        await done
        return
    log.warning("bus: fixture %s: its assignment could not be settled (the channel closed)", fixture_id)
