"""The bus at scale: N fixtures shared by two engine processes over a real RabbitMQ, one mirror.

    python bench/bus.py [--fixtures 200] [--rate 1] [--seconds 20] [--connect-rate 50]

- a RabbitMQ of its own (Debian's rabbitmq-server, `engine.testing.broker`, free ports);
- our provider-compatible server (another process, live mode): N copies of a real best-of-7
  recording with their own fixture ids, `--rate` frames per second per fixture, the fixtures'
  frames spread evenly over each second;
- two `ttengine follow --bus URL --take N` processes, `ttengine assign`ed the N fixtures;
- this process runs `engine.bus.Mirror` on every line (`tabletennis.#`).

Once every fixture is synced in the mirror, over `--seconds`:
- frame arrival (the engine's receive time, the line's `recv`, ms resolution) → the mirror's
  callback done, p50 / p99 / max;
- lines per second through the broker (taken by the mirror), and the share of a core each engine,
  the broker and the mirror used;
then `kill -9` of one engine, and:
- the time until the mirror reads each of its fixtures suspended (producer down, or the other
  engine's snapshot), and until the other engine has published each again (its snapshot first).
The provider allows about 5 connections per second per customer (FEED.md): an engine taking over
M fixtures needs M / rate seconds to reconnect them all. The bench's loopback server has no limit;
`--connect-rate` (default 50) says what each engine uses, and the figure scales with it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import orjson
from latency import TOKEN, cpu_seconds, served_base, write_recordings

from engine.bus.address import BusAddress
from engine.bus.assignments import assign, with_pre_match
from engine.bus.mirror import Mirror, ProducerDown
from engine.desk.config import parse_fixture_argument
from engine.testing.broker import LocalBroker

#: Every fixture's prior (pre-match odds), so its markets open (without one: `no_prior`, never).
PRE_MATCH = (1.8, 2.0)


def serve_child(folder: str, port_file: str) -> None:
    """The server process: serve the folder in live mode until killed."""
    from engine.io.protocol import Secret
    from engine.io.server import ProviderServer, load_fixtures

    async def run() -> None:
        server = ProviderServer(load_fixtures(folder), Secret(TOKEN), live=True, speed=1.0)
        await server.start()
        Path(port_file).write_text(str(server.port))
        await server.serve_forever()

    asyncio.run(run())


class TimedMirror(Mirror):
    """A mirror that notes, for every update line, the seconds from the frame's arrival at the
    engine (`recv`) to the end of its own handling of the line (callbacks included), and every
    producer-down report."""

    def __init__(self, address: BusAddress) -> None:
        super().__init__(address)
        self.latencies: list[float] = []
        self.measuring = False
        self.down_at: list[tuple[float, tuple[str, ...]]] = []
        self.on(ProducerDown, lambda _, item: self.down_at.append((time.monotonic(), item.fixture_ids)))

    async def _take(self, body: bytes) -> None:
        await super()._take(body)
        if self.measuring:
            line = orjson.loads(body)
            recv = line.get("recv") if isinstance(line, dict) else None
            if isinstance(recv, str) and not line.get("snapshot"):
                self.latencies.append(time.time() - datetime.fromisoformat(recv).timestamp())


def _ms(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1e3:7.1f}  p99 {p99 * 1e3:7.1f}  max {ordered[-1] * 1e3:7.1f} ms"


def _seconds(values: list[float]) -> str:
    ordered = sorted(values)
    return f"median {statistics.median(ordered):.2f} s, max {ordered[-1]:.2f} s ({len(ordered)} fixtures)"


def _run_of(log: Path) -> str:
    """The run an engine publishes as (`ttengine follow` says it on stderr)."""
    for line in log.read_text().splitlines():
        if "publishing as run " in line:
            return line.rsplit(" ", 1)[1]
    raise SystemExit(f"{log}: the engine did not say its run")


def _engine(bus: str, base: str, take: int, connect_rate: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "engine", "follow", "--bus", bus, "--take", str(take), "--base", base]
    command += ["--token-env", "BENCH_TOKEN", "--stale-after", "30", "--connect-rate", str(connect_rate)]
    with open(log, "wb") as err:
        return subprocess.Popen(
            command, env={**os.environ, "BENCH_TOKEN": TOKEN}, stdout=subprocess.DEVNULL, stderr=err
        )


async def measure(
    args: argparse.Namespace, broker: LocalBroker, base: str, ids: list[str], tmp: Path, server_pid: int
) -> None:
    address = BusAddress("127.0.0.1", broker.port)
    mirror = TimedMirror(address)
    await mirror.start()
    await mirror.subscribed()
    bus = f"amqp://127.0.0.1:{broker.port}/"
    engines = [_engine(bus, base, args.fixtures, args.connect_rate, tmp / f"engine{n}.log") for n in range(2)]
    try:
        while len(mirror.reader.alive) < 2:
            await asyncio.sleep(0.05)
        began = time.monotonic()
        entries = [with_pre_match(parse_fixture_argument(f"{fixture_id}:7"), PRE_MATCH) for fixture_id in ids]
        report = await assign(address, entries)
        assert len(report.assigned) == len(ids), report.refused
        while len(mirror.fixtures) < len(ids) or not all(copy.synced for copy in mirror.fixtures.values()):
            await asyncio.sleep(0.1)
        synced = time.monotonic() - began
        await asyncio.sleep(2.0)  # past the catching up
        pids = {
            "engine 1": engines[0].pid,
            "engine 2": engines[1].pid,
            "broker": broker.server_pid() or 0,
            "mirror": os.getpid(),
            "provider (our server)": server_pid,
        }
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        lines_before, window_began = mirror.lines, time.monotonic()
        mirror.measuring = True
        await asyncio.sleep(args.seconds)
        mirror.measuring = False
        wall = time.monotonic() - window_began
        lines = mirror.lines - lines_before
        cpu = {name: (cpu_seconds(pid) - cpu_before[name]) / wall for name, pid in pids.items()}
        owners = {fixture_id: copy.run for fixture_id, copy in mirror.fixtures.items()}
        dead = _run_of(tmp / "engine0.log")
        engines[0].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        last_open: dict[str, float] = {}
        taken_over: dict[str, float] = {}
        orphans = {fixture_id for fixture_id, run in owners.items() if run == dead}
        open_at_kill = sum(1 for fixture_id in orphans if mirror.fixtures[fixture_id].open_markets())
        while not orphans <= taken_over.keys():
            since = time.monotonic() - killed
            if since > 300:
                raise SystemExit(f"only {len(taken_over)} of {len(orphans)} fixtures taken over in 300 s")
            for fixture_id in orphans:
                copy = mirror.fixtures[fixture_id]
                if copy.run != dead:
                    taken_over.setdefault(fixture_id, since)
                elif copy.open_markets():
                    last_open[fixture_id] = since  # open in the mirror while its engine is dead
            await asyncio.sleep(0.02)
        print(f"{len(ids)} fixtures over two engines, {args.rate:g} frames/s each, window {args.seconds:g} s")
        print(f"  assigned -> every fixture synced in the mirror: {synced:.1f} s")
        print(f"  frame arrival -> mirror callback ({len(mirror.latencies)} update lines): {_ms(mirror.latencies)}")
        print(f"  lines through the broker to the mirror: {lines / wall:.0f} per second")
        print("  CPU, share of one core: " + ", ".join(f"{name} {share:.2f}" for name, share in cpu.items()))
        print(f"  kill -9 of engine 1 ({len(orphans)} fixtures, {open_at_kill} with a market open): the last")
        print("    market open in the mirror while no")
        print(f"    engine lived for it: {max(last_open.values(), default=0.0):.2f} s after the kill")
        down = [when for when, fixture_ids in mirror.down_at if set(fixture_ids) & (set(owners) - orphans)]
        print(f"  the living engine's own fixtures read producer_down {len(down)} time(s) meanwhile (its stream")
        print("    fell more than 2 s behind while it caught up on the orphans: the alive rule, as it should)")
        print(f"  published again by engine 2 (a snapshot first) after, connect rate {args.connect_rate}/s:")
        print(f"    {_seconds([taken_over[fixture_id] for fixture_id in orphans])}")
    finally:
        for engine in engines:
            if engine.poll() is None:
                engine.send_signal(signal.SIGTERM)
        for engine in engines:
            try:
                engine.wait(30)
            except subprocess.TimeoutExpired:
                engine.kill()
        await mirror.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", type=int, default=200)
    parser.add_argument("--rate", type=float, default=1.0, help="frames per second per fixture")
    parser.add_argument("--seconds", type=float, default=20.0, help="the measuring window")
    parser.add_argument("--connect-rate", type=int, default=50, help="each engine's connections per second")
    parser.add_argument("--serve-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_child:
        serve_child(*args.serve_child)
        return
    with tempfile.TemporaryDirectory() as folder, LocalBroker() as broker:
        tmp = Path(folder)
        served = tmp / "served"
        served.mkdir()
        ids = write_recordings(served, args.fixtures, args.rate, stagger=True)
        port_file = tmp / "port"
        child = subprocess.Popen([sys.executable, __file__, "--serve-child", str(served), str(port_file)])
        try:
            base = served_base(port_file)
            asyncio.run(measure(args, broker, base, ids, tmp, child.pid))
        finally:
            child.terminate()
            child.wait()


if __name__ == "__main__":
    main()
