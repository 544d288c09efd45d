"""The fixtures the engines share: each waits on the durable quorum queue `ttengine.fixtures` as
one message (`{"fixtureId": …, "bestOf": …, "preMatch": [home, away]}`, the last two optional)
until an engine takes it (`ttengine follow --take N`, `engine.bus.leases`); `ttengine assign` /
`unassign` put it there and take it back.

    report = await assign(address, [parse_fixture_argument("6c53…:5")])
    report = await unassign(address, ["6c53…"])

Both first ask every live engine (those whose alive lines are heard) what it holds, and look at
the messages still waiting (taking each, giving back those that stay):
- `assign` refuses a fixture that is waiting or held already (two engines would publish it);
- `unassign` removes a waiting one from the queue, and asks the engine holding one to give it up
  (its closing bet stop goes out, its assignment is acknowledged away).
Two `assign`s of one fixture at the same instant can both pass the check: run one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import orjson

from engine.bus.address import BusAddress
from engine.bus.keys import EXCHANGE, HOLDINGS_REQUEST, SPORT, UNASSIGN_REQUEST, WORK_QUEUE
from engine.desk.config import FixtureEntry, parse_fixture_argument

if TYPE_CHECKING:
    import aio_pika.abc

#: [ours] Seconds a command listens for alive lines to learn which engines live (they come every second).
LISTEN_FOR = 1.5
#: [ours] Seconds a command waits at most for every live engine's answer.
ANSWER_WITHIN = 5.0
#: [ours] Times `assign` asks again until each fixture it put on the queue is seen held or waiting.
SETTLE_ROUNDS = 5


class AssignmentError(ValueError):
    """A message on the fixtures' queue that is not an assignment."""


def assignment_body(entry: FixtureEntry) -> bytes:
    """The message that assigns one fixture: its id and, when known, its best-of and pre-match odds."""
    body: dict[str, Any] = {"fixtureId": entry.fixture_id, "bestOf": entry.fmt.best_of}
    if entry.pre_match is not None:
        body["preMatch"] = list(entry.pre_match)
    return orjson.dumps(body)


def read_assignment(body: bytes) -> FixtureEntry:
    """The fixture a message of the queue assigns; AssignmentError for anything else."""
    try:
        item = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise AssignmentError(f"an assignment that is not JSON: {exc}") from None
    if not isinstance(item, dict) or not isinstance(item.get("fixtureId"), str):
        raise AssignmentError("an assignment is a JSON object with its fixtureId")
    best_of = item.get("bestOf")
    if best_of is not None and (not isinstance(best_of, int) or isinstance(best_of, bool)):
        raise AssignmentError(f"fixture {item['fixtureId']}: bestOf is a number of games, not {best_of!r}")
    try:
        entry = parse_fixture_argument(item["fixtureId"] if best_of is None else f"{item['fixtureId']}:{best_of}")
    except ValueError as exc:
        raise AssignmentError(str(exc)) from None
    pre_match = item.get("preMatch")
    if pre_match is None:
        return entry
    try:
        return with_pre_match(entry, pre_match)
    except ValueError as exc:
        raise AssignmentError(str(exc)) from None


def with_pre_match(entry: FixtureEntry, odds: object) -> FixtureEntry:
    """`entry` with pre-match decimal odds (home, away), its prior; ValueError in words when they
    are not two odds above 1, or the fixture's best-of is unknown."""
    if (
        not isinstance(odds, (list, tuple))
        or len(odds) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 1 < v < math.inf for v in odds)
    ):
        raise ValueError(f"fixture {entry.fixture_id}: pre-match odds are two decimal odds above 1, not {odds!r}")
    entry = attrs.evolve(entry, pre_match=(float(odds[0]), float(odds[1])))
    entry.markets()  # the best-of known, the odds usable
    return entry


async def declare_work_queue(channel: aio_pika.abc.AbstractChannel) -> aio_pika.abc.AbstractQueue:
    """The fixtures' queue: durable and replicated (quorum), so a broker restart keeps every
    assignment, and a delivery an engine held comes back to the queue when the engine goes."""
    return await channel.declare_queue(WORK_QUEUE, durable=True, arguments={"x-queue-type": "quorum"})


@attrs.frozen(slots=True)
class Holdings:
    """Who has which fixture: every live engine's (by run), those waiting on the queue, and the
    live engines that did not answer in time (their fixtures are unknown)."""

    engines: Mapping[str, tuple[str, ...]]
    waiting: tuple[str, ...]
    silent: tuple[str, ...] = ()

    def holder(self, fixture_id: str) -> str | None:
        """The run of the engine holding `fixture_id` (None: no live engine says it does)."""
        return next((run for run, held in self.engines.items() if fixture_id in held), None)


@attrs.frozen(slots=True)
class AssignReport:
    assigned: tuple[str, ...]
    refused: Mapping[str, str]  # fixture id -> why
    holdings: Holdings


@attrs.frozen(slots=True)
class UnassignReport:
    removed: tuple[str, ...]  # taken off the queue: no engine had them
    released: Mapping[str, str]  # fixture id -> the run of the engine that gave it up
    unknown: tuple[str, ...]  # neither waiting nor held by a live engine that answered
    holdings: Holdings


async def assign(address: BusAddress, entries: Iterable[FixtureEntry]) -> AssignReport:
    """Put each fixture on the queue (persistent, confirmed), unless it is there or held already."""
    import aio_pika

    from engine.bus.connection import connect_once

    entries = list(entries)
    async with await connect_once(address) as connection:
        channel = await connection.channel(publisher_confirms=True)
        await declare_work_queue(channel)
        holdings = await _holdings(channel, HOLDINGS_REQUEST, {}, remove=())
        assigned: list[str] = []
        refused: dict[str, str] = {}
        for entry in entries:
            holder = holdings.holder(entry.fixture_id)
            if holder is not None:
                refused[entry.fixture_id] = f"followed already by engine run {holder}"
            elif entry.fixture_id in holdings.waiting or entry.fixture_id in assigned:
                refused[entry.fixture_id] = "waiting on the queue already"
            else:
                message = aio_pika.Message(
                    assignment_body(entry),
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                )
                await channel.default_exchange.publish(message, routing_key=WORK_QUEUE)  # returns once confirmed
                assigned.append(entry.fixture_id)
        # Until each is seen held by an engine or waiting on the queue (a delivery in flight is
        # neither), so that a check made after this one returns sees it.
        for _ in range(SETTLE_ROUNDS):
            if not assigned:
                break
            await asyncio.sleep(0.2)
            holdings = await _holdings(channel, HOLDINGS_REQUEST, {}, remove=(), known=set(holdings.engines))
            if all(holdings.holder(each) is not None or each in holdings.waiting for each in assigned):
                break
    return AssignReport(tuple(assigned), refused, holdings)


async def unassign(address: BusAddress, fixture_ids: Iterable[str]) -> UnassignReport:
    """Take each fixture back: off the queue if it waits there, from its engine if one holds it."""
    from engine.bus.connection import connect_once

    wanted = list(dict.fromkeys(fixture_ids))
    async with await connect_once(address) as connection:
        channel = await connection.channel()
        await declare_work_queue(channel)
        removed: list[str] = []
        holdings = await _holdings(channel, UNASSIGN_REQUEST, {"fixtures": wanted}, remove=wanted, removed=removed)
    released = {fixture_id: run for fixture_id in wanted if (run := holdings.holder(fixture_id)) is not None}
    unknown = tuple(fixture_id for fixture_id in wanted if fixture_id not in released and fixture_id not in removed)
    return UnassignReport(tuple(removed), released, unknown, holdings)


async def _holdings(
    channel: aio_pika.abc.AbstractChannel,
    request: str,
    body: Mapping[str, Any],
    remove: Iterable[str],
    removed: list[str] | None = None,
    known: set[str] | None = None,
) -> Holdings:
    """Ask every engine (`request`, answered on a reply queue), learn the live ones from their
    alive lines (or take `known` as they), and sweep the queue (removing `remove`, into `removed`)
    while they answer."""
    import aio_pika

    exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    replies = await channel.declare_queue(exclusive=True, auto_delete=True)
    alive = await channel.declare_queue(exclusive=True, auto_delete=True)
    await alive.bind(exchange, f"{SPORT}.engine.*.alive")
    answers: dict[str, tuple[str, ...]] = {}
    live: set[str] = set()

    async def answered(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        with contextlib.suppress(orjson.JSONDecodeError, AttributeError, TypeError):
            item = orjson.loads(message.body)
            if isinstance(item.get("run"), str) and isinstance(item.get("fixtures"), list):
                answers[item["run"]] = tuple(str(each) for each in item["fixtures"])

    async def heard(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
            run = orjson.loads(message.body).get("run")
            if isinstance(run, str):
                live.add(run)

    await replies.consume(answered, no_ack=True)
    await alive.consume(heard, no_ack=True)
    # The sweep first: a fixture an engine takes meanwhile is held by it when the request comes.
    waiting = await _sweep(channel, set(remove), removed if removed is not None else [])
    await exchange.publish(aio_pika.Message(orjson.dumps(body), reply_to=replies.name), routing_key=request)
    loop = asyncio.get_running_loop()
    began = loop.time()
    while loop.time() - began < ANSWER_WITHIN:
        if known is not None and known <= answers.keys():
            break
        if loop.time() - began >= LISTEN_FOR and live <= answers.keys():
            break
        await asyncio.sleep(0.05)
    return Holdings(dict(answers), tuple(waiting), tuple(sorted(live - answers.keys())))


async def _sweep(channel: aio_pika.abc.AbstractChannel, remove: set[str], removed: list[str]) -> list[str]:
    """Every fixture waiting on the queue: each message is taken, those in `remove` acknowledged
    away (into `removed`), the others given back."""
    queue = await declare_work_queue(channel)
    kept: list[aio_pika.abc.AbstractIncomingMessage] = []
    waiting: list[str] = []
    try:
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            try:
                fixture_id = read_assignment(message.body).fixture_id
            except AssignmentError:
                kept.append(message)  # an engine refuses it in its log; not ours to drop
                continue
            if fixture_id in remove:
                await message.ack()
                removed.append(fixture_id)
            else:
                kept.append(message)
                waiting.append(fixture_id)
    finally:
        for message in kept:
            await message.nack(requeue=True)
    return waiting
