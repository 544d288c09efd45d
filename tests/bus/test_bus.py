"""The bus (issue 31) on a real RabbitMQ: a desk publishes its stream (`BusPublisher`), a service
keeps every fixture from it (`Mirror`); the routing keys and the broker's address without a broker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import orjson
import pytest

from engine import playback
from engine.analysis.report import summarize_book
from engine.bus.address import BusAddress, credentials_from, parse_bus_address
from engine.bus.connection import Backoff
from engine.bus.keys import routing_key
from engine.bus.mirror import Mirror, ProducerDown
from engine.bus.publisher import BusPublisher
from engine.core.inputs import Unfollowed, UnfollowReason
from engine.core.state import MatchState
from engine.core.update import step
from engine.desk import Desk
from engine.desk.reader import Decision, FixtureCopy
from engine.io.client import ClientSettings, ConnectLimiter
from engine.io.protocol import Secret
from engine.io.recording import read_recording
from engine.io.server import ProviderServer, load_fixtures
from engine.testing.broker import LocalBroker

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures_data"
RECORDINGS = sorted(FIXTURES.glob("aicup2026_m0[1-2]_*.jsonl"))
BO7 = FIXTURES / "aicup2026_m05_female_bo7.jsonl"
SHORT = FIXTURES / "aicup2026_m06_female_bo5.jsonl"
TOKEN = "bus-token-3c9d"
LIMITER = ConnectLimiter(rate=100)
QUICK = Backoff(initial=0.2, maximum=1.0)
T = TypeVar("T")

group = pytest.mark.xdist_group("broker")


def _run(coro: Awaitable[T], timeout: float = 180.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def _folder(tmp_path: Path, recordings: list[Path]) -> Path:
    folder = tmp_path / "served"
    folder.mkdir()
    for recording in recordings:
        (folder / recording.name).write_bytes(recording.read_bytes())
    return folder


def _statuses(state: MatchState) -> dict[str, tuple[str, Any]]:
    return {
        market_id: (market["status"], market.get("result"))
        for market_id, market in summarize_book(state.book, state.prices).items()
    }


def _copied(copy: FixtureCopy) -> dict[str, tuple[str, Any]]:
    return {market_id: (market.status, market.result) for market_id, market in copy.markets.items()}


class _Audited(BusPublisher):
    """Remembers every line the broker confirmed, by (run, streamSeq)."""

    def __init__(self, address: BusAddress) -> None:
        super().__init__(address, backoff=QUICK)
        self.confirmed_seqs: set[tuple[str, int]] = set()

    def confirmed_line(self, line: dict[str, Any]) -> None:
        if "streamSeq" in line:
            self.confirmed_seqs.add((line["run"], line["streamSeq"]))


class _Watcher:
    """What a mirror's callbacks saw: each decision, each (run, streamSeq) taken, each producer down."""

    def __init__(self, mirror: Mirror) -> None:
        self.decisions: list[Decision] = []
        self.taken: set[tuple[str, int]] = set()
        self.down: list[tuple[float, tuple[str, ...]]] = []
        mirror.on(Decision, lambda _, decision: self.decisions.append(decision))
        mirror.on(FixtureCopy, self._copy)
        mirror.on(ProducerDown, lambda _, item: self.down.append((time.monotonic(), item.fixture_ids)))

    def _copy(self, _: Mirror, copy: FixtureCopy) -> None:
        if copy.run is not None and copy.stream_seq is not None:
            self.taken.add((copy.run, copy.stream_seq))


# --- without a broker ----------------------------------------------------------------------------


def test_routing_keys_name_the_sport_the_fixture_and_the_kind() -> None:
    fixture = "6c531aec-15bf-5f43-a888-1d831e5f9a05"
    assert routing_key({"fixtureId": fixture, "input": "Action"}) == f"tabletennis.{fixture}.update"
    assert routing_key({"fixtureId": fixture, "snapshot": True}) == f"tabletennis.{fixture}.snapshot"
    assert routing_key({"fixtureId": fixture, "input": "Unfollowed"}) == f"tabletennis.{fixture}.closed"
    assert routing_key({"alive": 1.5, "run": "abc"}) == "tabletennis.engine.abc.alive"
    for bad in ({}, {"fixtureId": "a.b"}, {"alive": 1.0}, {"alive": 1.0, "run": "x.y"}):
        with pytest.raises(ValueError, match="names its"):
            routing_key(bad)


def test_the_bus_address_keeps_its_credentials_out_of_every_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUS_CREDENTIALS", "trader:s3cret-pw")
    address = parse_bus_address("amqp://rabbit.example:5673/desk", credentials_from("BUS_CREDENTIALS"))
    assert (address.host, address.port, address.vhost, address.login) == ("rabbit.example", 5673, "desk", "trader")
    assert address.password.reveal() == "s3cret-pw"
    for text in (str(address), repr(address), f"{address}", address.redact("login failed for s3cret-pw")):
        assert "s3cret-pw" not in text
    assert parse_bus_address("amqp://localhost").vhost == "/"
    with pytest.raises(ValueError, match="carries no credentials") as refused:
        parse_bus_address("amqp://trader:s3cret-pw@rabbit.example/")
    assert "s3cret-pw" not in str(refused.value)
    for bad, why in (("http://x/", "amqp://"), ("amqp://x:port/", "port"), ("amqp://x/", "USER:PASSWORD")):
        with pytest.raises(ValueError, match=why):
            parse_bus_address(bad, "no-colon" if why == "USER:PASSWORD" else None)
    with pytest.raises(ValueError, match="NOT_SET_ANYWHERE"):
        credentials_from("NOT_SET_ANYWHERE")


def test_a_fixture_closed_while_the_broker_is_away_gets_its_closing_snapshot_once_on_the_return() -> None:
    """Unfollowed while the broker is away, a fixture's closing line cannot go out: its closing book
    (every undecided market suspended, not_followed) is the snapshot published on the return, once;
    closed while connected, its closing line goes at once and nothing is kept for it."""
    recording = read_recording(BO7)
    publisher = BusPublisher(BusAddress("127.0.0.1", 9))
    publisher.desk = Desk(TOKEN)  # not started: it follows nothing now
    fixture: Any = SimpleNamespace(fixture_id=recording.fixture_id)
    state = playback.start_state(recording)
    for _, message in list(playback.inputs(recording))[:120]:
        state, update = step(state, message)
        publisher.sent(fixture, update)
    state, closing = step(state, Unfollowed(UnfollowReason.OPERATOR))
    publisher.sent(fixture, closing)
    assert publisher.skipped == 121
    (line,) = publisher.snapshot_lines()
    assert line["snapshot"] is True
    assert routing_key(line) == f"tabletennis.{recording.fixture_id}.closed"
    undecided = [entry for entry in line["book"].values() if entry["status"] not in ("settled", "void")]
    assert undecided
    assert all(entry["status"] == "suspended" and "not_followed" in entry["reasons"] for entry in undecided)
    assert publisher.snapshot_lines() == []  # once
    publisher.connected = True  # connected: the closing line itself goes out, nothing is kept
    publisher.sent(fixture, update)
    publisher.sent(fixture, closing)
    assert [queued.get("input") for queued in publisher._queue] == ["Action", "Unfollowed"]
    assert publisher.snapshot_lines() == []


def test_a_message_that_is_not_a_line_is_refused_and_taken_off_the_queue() -> None:
    """Not JSON, JSON that is not an object, an object that is no line: counted, never raised (a
    raise would leave it on the queue, to come back for ever)."""
    mirror = Mirror(BusAddress("127.0.0.1", 9))
    for body in (b"not json", b"[1, 2]", b'"text"', b'{"no": "fixture"}'):
        asyncio.run(mirror._take(body))
    assert mirror.refused == 4
    assert mirror.lines == 0


# --- on a real broker ----------------------------------------------------------------------------


@group
def test_a_mirror_keeps_every_fixture_as_the_desk_and_marks_a_silent_engine_down(
    broker: LocalBroker, tmp_path: Path
) -> None:
    """Two fixtures published by a desk: the mirror ends with each one's final book, every decision
    reported once; once the engine is gone, its fixtures read producer_down within 2 s."""
    address = BusAddress("127.0.0.1", broker.port)

    async def run() -> tuple[dict[str, MatchState], Mirror, _Watcher, _Audited, float]:
        mirror = Mirror(address, backoff=QUICK)
        watcher = _Watcher(mirror)
        await mirror.start()
        await mirror.subscribed()
        publisher = _Audited(address)
        async with ProviderServer(load_fixtures(_folder(tmp_path, RECORDINGS)), Secret(TOKEN), speed=200.0) as server:
            desk = Desk(TOKEN, settings=ClientSettings(base=server.base), limiter=LIMITER)
            desk.observe(await publisher.open(desk))
            async with desk:
                for recording in RECORDINGS:
                    found = read_recording(recording)
                    assert found.fixture_id is not None
                    desk.follow(found.fixture_id, fmt=found.meta.format())
                states = await desk.wait()
            await publisher.close()
        gone = time.monotonic()
        while not all(copy.producer_down for copy in mirror.fixtures.values()):
            await asyncio.sleep(0.05)
        await mirror.close()
        return states, mirror, watcher, publisher, gone

    states, mirror, watcher, publisher, gone = _run(run())
    assert publisher.unconfirmed == 0
    assert publisher.confirmed_seqs <= watcher.taken  # every confirmed line reached the mirror
    for fixture_id, state in states.items():
        copy = mirror.fixtures[fixture_id]
        assert copy.snapshots >= 1
        assert {k: v for k, v in _copied(copy).items() if v[0] in ("settled", "void")} == {
            k: v for k, v in _statuses(state).items() if v[0] in ("settled", "void")
        }
        assert not copy.open_markets()  # producer down: nothing open
    ids = [decision.id for decision in watcher.decisions]
    assert ids
    assert len(ids) == len(set(ids))
    assert watcher.down
    assert watcher.down[-1][0] - gone <= 2.0 + 0.5  # the alive limit, and a check's period


@group
def test_a_broker_restart_mid_match_loses_nothing_confirmed(
    broker: LocalBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The broker stops mid-match and comes back: a mirror on a durable queue gets every line the
    broker had confirmed, reads the fixture producer_down while the broker is away, and ends with its
    final book from the snapshot published first on the publisher's return; no decision twice."""
    caplog.set_level(logging.INFO, logger="engine.bus")
    address = BusAddress("127.0.0.1", broker.port)

    async def run() -> tuple[MatchState, Mirror, _Watcher, _Audited]:
        mirror = Mirror(address, backoff=QUICK, queue=f"restart-{broker.port}")
        watcher = _Watcher(mirror)
        await mirror.start()
        await mirror.subscribed()
        publisher = _Audited(address)
        recording = read_recording(BO7)
        assert recording.fixture_id is not None
        async with ProviderServer(load_fixtures(BO7), Secret(TOKEN), speed=25.0) as server:
            desk = Desk(TOKEN, settings=ClientSettings(base=server.base, stale_after=30.0), limiter=LIMITER)
            desk.observe(await publisher.open(desk))
            async with desk:
                fixture = desk.follow(recording.fixture_id, fmt=recording.meta.format())
                while publisher.confirmed < 40:
                    await asyncio.sleep(0.05)
                await asyncio.to_thread(broker.stop)
                while not mirror.fixtures[recording.fixture_id].producer_down:
                    await asyncio.sleep(0.05)
                await asyncio.to_thread(broker.start)
                assert not fixture.match.ended, "the match ended before the broker came back: slow the server"
                state = (await desk.wait())[recording.fixture_id]
            await publisher.close()
        last = max(seq for run, seq in publisher.confirmed_seqs if run == desk.stream.run)
        while mirror.fixtures[recording.fixture_id].stream_seq != last:  # the mirror took the last line
            await asyncio.sleep(0.05)
        await mirror.close()
        return state, mirror, watcher, publisher

    state, mirror, watcher, publisher = _run(run())
    assert publisher.connections == 2
    assert publisher.confirmed_seqs <= watcher.taken
    copy = next(iter(mirror.fixtures.values()))
    assert copy.snapshots >= 2  # the first, and the one published first on the broker's return
    assert _copied(copy) == _statuses(state)
    ids = [decision.id for decision in watcher.decisions]
    assert len(ids) == len(set(ids))
    assert "snapshot(s) first" in caplog.text


@group
def test_a_slow_mirror_does_not_slow_the_engine(broker: LocalBroker, tmp_path: Path) -> None:
    """A mirror whose callback takes 50 ms a line: the desk publishes the whole match at its own
    pace (the broker holds what the mirror has not taken), and the mirror still gets every line."""
    address = BusAddress("127.0.0.1", broker.port)

    async def run() -> tuple[_Audited, _Watcher, int, float]:
        slow = Mirror(address, backoff=QUICK)
        watcher = _Watcher(slow)

        async def dawdle(_: Mirror, copy: FixtureCopy) -> None:
            await asyncio.sleep(0.05)

        slow.on(FixtureCopy, dawdle)
        await slow.start()
        await slow.subscribed()
        publisher = _Audited(address)
        recording = read_recording(SHORT)
        assert recording.fixture_id is not None
        async with ProviderServer(load_fixtures(SHORT), Secret(TOKEN), speed=200.0) as server:
            desk = Desk(TOKEN, settings=ClientSettings(base=server.base), limiter=LIMITER)
            desk.observe(await publisher.open(desk))
            began = time.monotonic()
            async with desk:
                desk.follow(recording.fixture_id, fmt=recording.meta.format())
                await desk.wait()
            await publisher.close()
            took = time.monotonic() - began
        taken_when_done = len(watcher.taken)
        while not publisher.confirmed_seqs <= watcher.taken:
            await asyncio.sleep(0.1)
        await slow.close()
        return publisher, watcher, taken_when_done, took

    publisher, _, taken_when_done, took = _run(run())
    lines = len(publisher.confirmed_seqs)
    assert lines > 80
    assert took < lines * 0.05  # faster than the mirror could take the lines
    assert taken_when_done < 0.7 * lines  # the engine finished while the mirror was far behind
    assert publisher.unconfirmed == 0


@group
def test_ttengine_mirror_ends_quietly_when_its_reader_goes(broker: LocalBroker) -> None:
    """`ttengine mirror --updates - | head -1`: once head has gone, the mirror exits 141 without a
    traceback (it logged a broken pipe for every line, for ever)."""
    import subprocess
    import sys

    import aio_pika

    mirror = subprocess.Popen(
        [sys.executable, "-m", "engine", "mirror", "--bus", f"amqp://127.0.0.1:{broker.port}/", "--updates", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    fixture = "6c531aec-15bf-5f43-a888-1d831e5f9a05"

    async def publish_until_gone() -> None:
        assert mirror.stdout is not None
        first_line = asyncio.ensure_future(asyncio.to_thread(mirror.stdout.readline))
        connection = await aio_pika.connect(host="127.0.0.1", port=broker.port)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange("ttengine", aio_pika.ExchangeType.TOPIC, durable=True)
            for seq in range(1, 2000):  # until the mirror is subscribed, gets a line, and then ends
                line = {"fixtureId": fixture, "run": "r1", "streamSeq": seq, "snapshot": True, "book": {}}
                await exchange.publish(
                    aio_pika.Message(orjson.dumps(line)), routing_key=f"tabletennis.{fixture}.snapshot"
                )
                if first_line.done() and not mirror.stdout.closed:
                    assert first_line.result().startswith(b"{")
                    mirror.stdout.close()  # the reader goes
                if mirror.poll() is not None:
                    break
                await asyncio.sleep(0.05)
        if mirror.poll() is None:
            mirror.kill()  # it never ended: the reading thread gets its end of file
        await first_line

    _run(publish_until_gone(), 300)
    assert mirror.wait(10) == 141
    assert mirror.stderr is not None
    assert "Traceback" not in mirror.stderr.read().decode()


@group
def test_the_mirror_s_http_side_shows_every_fixture_and_engine(broker: LocalBroker) -> None:
    """`ttengine mirror --http`: /fixtures is every fixture's copy as a trader may act on it,
    /engines each run heard; anything but a GET is refused, an unknown path is 404."""
    import urllib.error
    import urllib.request

    import aio_pika

    from engine.bus.web import MirrorWeb

    fixture = "6c531aec-15bf-5f43-a888-1d831e5f9a05"
    book = {
        "match_winner": {"status": "open", "odds": {"home": 1.8, "away": 2.0}},
        "point_winner:1:1": {"status": "settled", "result": "home", "id": "d1"},
    }

    def get(url: str, method: str = "GET") -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read()

    async def run() -> list[tuple[int, bytes]]:
        mirror = Mirror(BusAddress("127.0.0.1", broker.port), backoff=QUICK)
        async with mirror, MirrorWeb(mirror) as web:
            await mirror.subscribed()
            connection = await aio_pika.connect(host="127.0.0.1", port=broker.port)
            async with connection:
                channel = await connection.channel()
                exchange = await channel.declare_exchange("ttengine", aio_pika.ExchangeType.TOPIC, durable=True)
                alive = {"alive": 1.0, "run": "r1"}
                line = {"fixtureId": fixture, "run": "r1", "streamSeq": 1, "snapshot": True, "book": book}
                await exchange.publish(aio_pika.Message(orjson.dumps(alive)), routing_key="tabletennis.engine.r1.alive")
                await exchange.publish(
                    aio_pika.Message(orjson.dumps(line)), routing_key=f"tabletennis.{fixture}.snapshot"
                )
            while fixture not in mirror.fixtures:
                await asyncio.sleep(0.05)
            return [
                await asyncio.to_thread(get, web.url + path, method)
                for path, method in (("fixtures", "GET"), ("engines", "GET"), ("fixtures", "POST"), ("nothing", "GET"))
            ]

    (fixtures_status, fixtures_body), (engines_status, engines_body), (post, _), (missing, _) = _run(run())
    assert (fixtures_status, engines_status, post, missing) == (200, 200, 405, 404)
    (shown,) = orjson.loads(fixtures_body)["fixtures"]
    assert shown["fixtureId"] == fixture
    assert shown["run"] == "r1"
    assert shown["synced"] is True
    assert shown["open"] == 1
    assert shown["markets"]["match_winner"] == {
        "status": "open",
        "result": None,
        "reasons": [],
        "odds": {"home": 1.8, "away": 2.0},
    }
    assert shown["markets"]["point_winner:1:1"]["result"] == "home"
    assert "r1" in orjson.loads(engines_body)["engines"]
