"""Engines that share the fixtures (issue 31, item 2), on a real RabbitMQ: `ttengine assign` puts
fixtures on the queue, two `ttengine follow --bus --take N` processes take them, one is killed
with SIGKILL mid-match, the other takes its fixtures over; a mirror is right all through."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import playback
from engine.analysis.report import summarize_book
from engine.bus.address import BusAddress
from engine.bus.assignments import assign, declare_work_queue, read_assignment, unassign, with_pre_match
from engine.bus.connection import Backoff, connect_once
from engine.bus.mirror import Mirror
from engine.bus.publisher import BusPublisher
from engine.desk import Desk
from engine.desk.config import FixtureEntry, parse_fixture_argument
from engine.desk.reader import Decision, FixtureCopy
from engine.io.client import ClientSettings
from engine.io.protocol import Secret
from engine.io.recording import read_recording
from engine.io.server import ProviderServer, load_fixtures
from engine.testing.broker import LocalBroker

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures_data"
SIX = [
    FIXTURES / f"aicup2026_m0{n}_{kind}_bo5.jsonl"
    for n, kind in ((1, "female"), (2, "male"), (3, "female"), (4, "male"), (6, "female"), (8, "male"))
]
TOKEN = "sharing-token-51e0"
QUICK = Backoff(initial=0.2, maximum=1.0)

pytestmark = pytest.mark.xdist_group("broker")


#: The fixtures' prior (pre-match odds): without one their markets never open (`no_prior`).
PRE_MATCH = (1.8, 2.0)


def _entry(path: Path) -> FixtureEntry:
    return with_pre_match(parse_fixture_argument(f"{read_recording(path).fixture_id}:5"), PRE_MATCH)


def _final_books() -> dict[str, dict[str, tuple[str, Any]]]:
    """Each recording's final book, replayed with its prior: what every mirror must end with."""
    books = {}
    for path in SIX:
        recording = read_recording(path)
        assert recording.fixture_id is not None
        state = playback.fold(recording, markets=_entry(path).markets())
        books[recording.fixture_id] = {
            market_id: (market["status"], market.get("result"))
            for market_id, market in summarize_book(state.book, state.prices).items()
        }
    return books


def _copied(copy: FixtureCopy) -> dict[str, tuple[str, Any]]:
    return {market_id: (market.status, market.result) for market_id, market in copy.book.items()}


@pytest.fixture
def broker(broker: LocalBroker) -> LocalBroker:
    """The session's broker, its fixtures' queue emptied: what an earlier test left is not ours."""

    async def purge() -> None:
        connection = await connect_once(BusAddress("127.0.0.1", broker.port))
        async with connection:
            await (await declare_work_queue(await connection.channel())).purge()

    asyncio.run(purge())
    return broker


class _Engines:
    """`ttengine follow --bus URL --take N` processes, their stderr kept in files."""

    def __init__(self, tmp_path: Path, bus: str, base: str, take: int) -> None:
        self.tmp_path, self.bus, self.base, self.take = tmp_path, bus, base, take
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        number = len(self.processes)
        command = [sys.executable, "-m", "engine", "-v", "follow", "--bus", self.bus, "--take", str(self.take)]
        command += ["--base", self.base, "--token-env", "SHARING_TOKEN", "--stale-after", "30"]
        environment = {**os.environ, "SHARING_TOKEN": TOKEN}
        with open(self.tmp_path / f"engine{number}.log", "wb") as log:
            process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=log)
        self.processes.append(process)
        return process

    def log(self, number: int) -> str:
        return (self.tmp_path / f"engine{number}.log").read_text()

    def run_of(self, number: int) -> str:
        """The run engine `number` publishes as (it says so on stderr)."""
        for line in self.log(number).splitlines():
            if "publishing as run " in line:
                return line.rsplit(" ", 1)[1]
        raise AssertionError(f"engine {number} did not say its run:\n{self.log(number)}")

    def stop(self) -> Iterator[int | None]:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                yield process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                yield None


def test_two_engines_share_six_fixtures_and_one_takes_over_what_a_killed_one_held(
    broker: LocalBroker, tmp_path: Path
) -> None:
    """Six fixtures assigned to two engines; SIGKILL of one mid-match: each of its fixtures is
    published again by the other within 15 s, a snapshot first; the mirror shows every market of a
    fixture whose engine died suspended within 2 s, never one open while no engine lives for it;
    every fixture ends in the mirror with its replay's final book, no decision delivered twice."""
    address = BusAddress("127.0.0.1", broker.port)
    finals = _final_books()
    entries = [_entry(path) for path in SIX]

    async def run() -> dict[str, Any]:
        mirror = Mirror(address, backoff=QUICK)
        decisions: list[Decision] = []
        mirror.on(Decision, lambda _, decision: decisions.append(decision))
        await mirror.start()
        await mirror.subscribed()
        served = tmp_path / "served"
        served.mkdir()
        for path in SIX:
            (served / path.name).write_bytes(path.read_bytes())
        server = ProviderServer(load_fixtures(served), Secret(TOKEN), live=True, speed=40.0)
        async with server:
            engines = _Engines(tmp_path, f"amqp://127.0.0.1:{broker.port}/", server.base, take=6)
            victim = engines.start()
            engines.start()
            try:
                while len(mirror.reader.alive) < 2:  # both engines publish their alive lines
                    await asyncio.sleep(0.05)
                report = await assign(address, entries)
                assert report.assigned == tuple(entry.fixture_id for entry in entries)
                assert set(report.holdings.engines) == set(mirror.reader.alive)  # both answered: none held
                again = await assign(address, entries[:1])  # a fixture is assigned once
                assert again.assigned == ()
                assert entries[0].fixture_id in again.refused
                while not (len(mirror.fixtures) == 6 and all(copy.synced for copy in mirror.fixtures.values())):
                    await asyncio.sleep(0.05)
                await asyncio.sleep(3.0)  # mid-match
                owners = {fixture_id: copy.run for fixture_id, copy in mirror.fixtures.items()}
                assert len(set(owners.values())) == 2, f"the queue gave every fixture to one engine: {owners}"
                dead = engines.run_of(0)
                orphans = {fixture_id for fixture_id, run in owners.items() if run == dead}
                open_at_kill: list[str] = []
                while not open_at_kill:  # kill it while a market of its fixtures is open
                    await asyncio.sleep(0.02)
                    open_at_kill = [fixture_id for fixture_id in orphans if mirror.fixtures[fixture_id].open_markets()]
                victim.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
                open_without_engine: list[tuple[float, str]] = []
                taken_over: dict[str, float] = {}  # fixture -> seconds until another run wrote it
                while not orphans <= taken_over.keys() or not all(
                    _copied(mirror.fixtures[fixture_id]) == finals[fixture_id] for fixture_id in finals
                ):
                    since = time.monotonic() - killed_at
                    assert since < 120, "the fixtures did not all finish in the mirror"
                    for fixture_id, copy in mirror.fixtures.items():
                        if copy.run != owners[fixture_id]:
                            taken_over.setdefault(fixture_id, since)
                        elif fixture_id in orphans and since > 2.0 + 0.2 and copy.open_markets():
                            open_without_engine.append((since, fixture_id))
                    await asyncio.sleep(0.05)
                codes = list(engines.stop())
                return {
                    "orphans": orphans,
                    "open_at_kill": open_at_kill,
                    "taken_over": taken_over,
                    "open_without_engine": open_without_engine,
                    "decisions": decisions,
                    "codes": codes,
                    "mirror": mirror,
                    "logs": [engines.log(0), engines.log(1)],
                }
            finally:
                for process in engines.processes:
                    if process.poll() is None:
                        process.kill()
                await mirror.close()

    result = asyncio.run(asyncio.wait_for(run(), 300))
    print("taken over after (s):", sorted(round(seconds, 2) for seconds in result["taken_over"].values()))
    assert result["orphans"]
    assert result["open_at_kill"], "no market of the killed engine's fixtures was open: the check below proves nothing"
    assert set(result["taken_over"]) == result["orphans"]  # the living engine's fixtures stay with it
    assert not result["open_without_engine"], result["open_without_engine"][:5]
    assert max(result["taken_over"].values()) <= 15.0, result["taken_over"]
    ids = [decision.id for decision in result["decisions"]]
    assert ids
    assert len(ids) == len(set(ids))  # no settlement twice, across the two engines
    assert result["codes"][1] == 0, result["logs"][1]  # the survivor stops cleanly on SIGTERM
    assert "took fixture" in result["logs"][1]
    assert TOKEN not in "".join(result["logs"])


def test_unassign_takes_a_fixture_off_the_queue_or_from_its_engine(broker: LocalBroker) -> None:
    """Without an engine, an assignment waits on the queue: `unassign` takes it off; one never
    assigned is reported unknown; a message that is no assignment is refused by name."""
    address = BusAddress("127.0.0.1", broker.port)
    entry = parse_fixture_argument("3f0e4b1a-7c2d-4e8f-9a1b-2c3d4e5f6a7b:7")

    async def run() -> tuple[Any, Any, Any]:
        first = await assign(address, [entry])
        second = await unassign(address, [entry.fixture_id, "0b1c9d7e-0000-4000-8000-000000000000"])
        third = await unassign(address, [entry.fixture_id])
        return first, second, third

    first, second, third = asyncio.run(asyncio.wait_for(run(), 60))
    assert first.assigned == (entry.fixture_id,)
    assert second.removed == (entry.fixture_id,)
    assert second.unknown == ("0b1c9d7e-0000-4000-8000-000000000000",)
    assert third.unknown == (entry.fixture_id,)
    assert read_assignment(b'{"fixtureId": "3f0e4b1a-7c2d-4e8f-9a1b-2c3d4e5f6a7b", "bestOf": 7}') == entry
    for bad, why in (
        (b"[]", "JSON object"),
        (b'{"fixtureId": "x"}', "UUID"),
        (b'{"fixtureId": "%s", "bestOf": 4}' % entry.fixture_id.encode(), "odd"),
    ):
        with pytest.raises(ValueError, match=why):
            read_assignment(bad)


def test_an_engine_gives_up_an_unassigned_fixture_and_takes_back_what_a_lost_lease_returned(
    broker: LocalBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One engine (in process) takes two fixtures. `unassign` of one: the engine stops following it
    and its closing bet stop reaches the mirror (nothing open). Then the broker closes the channel
    the assignments were taken on (as its consumer_timeout does): the engine names the setting,
    drops the other fixture, reconnects, takes it again, and it ends with its replay's final book."""
    caplog.set_level(logging.INFO, logger="engine.bus")
    address = BusAddress("127.0.0.1", broker.port)
    two = [SIX[4], SIX[5]]
    finals = _final_books()
    entries = [_entry(path) for path in two]
    kept, dropped = entries[0].fixture_id, entries[1].fixture_id

    async def run() -> tuple[Any, BusPublisher, Mirror, str]:
        mirror = Mirror(address, backoff=QUICK)
        await mirror.start()
        await mirror.subscribed()
        served = tmp_path / "served"
        served.mkdir()
        for path in two:
            (served / path.name).write_bytes(path.read_bytes())
        publisher = BusPublisher(address, backoff=QUICK, take=2)
        async with ProviderServer(load_fixtures(served), Secret(TOKEN), live=True, speed=40.0) as server:
            desk = Desk(TOKEN, settings=ClientSettings(base=server.base, stale_after=30.0))
            desk.observe(await publisher.open(desk))
            async with desk:
                while not publisher.connected:
                    await asyncio.sleep(0.05)
                await assign(address, entries)
                while not all(entry.fixture_id in mirror.fixtures for entry in entries):
                    await asyncio.sleep(0.05)
                report = await unassign(address, [dropped])
                assert dropped not in desk.fixtures
                assert publisher.leases is not None
                publisher.leases._channel_closed(None, RuntimeError("delivery acknowledgement on channel 2 timed out"))
                while publisher.connections < 2 or kept not in desk.fixtures:
                    await asyncio.sleep(0.05)
                while _copied(mirror.fixtures[kept]) != finals[kept]:
                    await asyncio.sleep(0.05)
            await publisher.close()
        await mirror.close()
        return report, publisher, mirror, desk.stream.run

    report, publisher, mirror, run_id = asyncio.run(asyncio.wait_for(run(), 180))
    assert report.released == {dropped: run_id}
    assert report.removed == ()
    assert not mirror.fixtures[dropped].open_markets()
    assert any("not_followed" in market.reasons for market in mirror.fixtures[dropped].book.values())
    assert publisher.leases is not None
    assert (publisher.leases.released, publisher.leases.taken) == (1, 3)  # both, then the one given back
    assert "consumer_timeout" in caplog.text
    assert mirror.fixtures[kept].snapshots >= 2  # its first, and the one after it was taken again
