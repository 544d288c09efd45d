"""Catching up at scale (issue 28): a desk killed mid-match and restarted on N fixtures, and a slow
consumer's lag when its `consumer_lagging` stop reaches it.

    python bench/catchup.py [--fixtures 100] [--rate 2] [--before 20] [--handler 0.3]

Our server (another process, `serve --live`-style: every match on its own clock, a late client
gets what is due at once) serves N copies of a real best-of-7 recording at `--rate` frames per
second each. A first desk (`ttengine follow --record-dir`, another process) follows them for
`--before` seconds and is killed with -9. A second desk, in this process, starts on the same
record directory: it rebuilds every fixture from its recording, resumes each feed at its
`startPosition`, folds what happened meanwhile under suspension, and sends one snapshot per
fixture. Measured from the restart:
- seconds to every fixture's first update (its snapshot: every market suspended, `catching_up`)
  and to every fixture's catch-up snapshot (the markets open again at current prices);
- with an `async def` consumer that takes `--handler` seconds per update (every fixture behind it,
  `lag_limit` 1 s): each `consumer_lagging` stop's lag when it reaches the consumer (its frame's
  arrival to the handler), p50/p99/max, against the lag a queue would have reached without it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from latency import TOKEN, write_recordings

from engine.core.match.rules import MatchFormat
from engine.core.pricing.kernel import COMPILED
from engine.core.update import Update
from engine.desk import Desk
from engine.desk.service import DeskFixture, DeskObserver
from engine.io.client import ClientSettings, ConnectLimiter
from engine.runtime.delivery import LAG_LIMIT
from engine.runtime.following import Match


def serve_child(folder: str, port_file: str) -> None:
    """The server process: every fixture on one live clock, until killed."""
    from engine.io.protocol import Secret
    from engine.io.server import ProviderServer, load_fixtures

    async def run() -> None:
        server = ProviderServer(load_fixtures(folder), Secret(TOKEN), speed=1.0, live=True, heartbeat=1.0)
        await server.start()
        Path(port_file).write_text(str(server.port))
        await server.serve_forever()

    asyncio.run(run())


def _seconds(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):6.3f}  p99 {p99:6.3f}  max {ordered[-1]:6.3f} s"


async def restart(ids: list[str], base: str, record_dir: Path, handler: float, window: float, lag_limit: float) -> None:
    limiter = ConnectLimiter(rate=1000)  # our own server: the provider's 5/s would pace 100 fixtures over 20 s
    began = time.perf_counter()
    first: dict[str, float] = {}
    caught_up: dict[str, float] = {}
    lagging: list[float] = []
    delivered: list[float] = []
    desk = Desk(TOKEN, settings=ClientSettings(base=base), limiter=limiter, record_dir=record_dir, lag_limit=lag_limit)

    class Sent(DeskObserver):
        def sent(self, fixture: DeskFixture, update: Update) -> None:
            fixture_id = update.fixture_id or ""
            first.setdefault(fixture_id, time.perf_counter() - began)
            if update.input == "CaughtUpWithFeed":
                caught_up.setdefault(fixture_id, time.perf_counter() - began)

    desk.observe(Sent())

    @desk.on(Update)
    async def slow(match: Match, update: Update) -> None:
        lag = time.perf_counter() - match.arrived  # from the arrival of the frame behind it
        if update.input in ("Action", "Heartbeat"):
            delivered.append(lag)
        elif update.input == "Lagging":
            lagging.append(lag)
        await asyncio.sleep(handler)

    async with desk:
        for fixture_id in ids:
            desk.follow(fixture_id, fmt=MatchFormat(best_of=7))
        while len(caught_up) < len(ids) and time.perf_counter() - began < 120:
            await asyncio.sleep(0.05)
        every_first = max(first.values())
        every_caught_up = max(caught_up.values()) if len(caught_up) == len(ids) else float("nan")
        await asyncio.sleep(window)  # the slow consumer meanwhile
        lags = sum(fixture.match.lags for fixture in desk)
        resumed = sum(1 for fixture in desk if fixture.match.state.match.sequencer.next_seq > 1)
    print(f"restart: {len(ids)} fixtures rebuilt from their recordings, {resumed} resumed past startPosition 0")
    print(f"  every fixture's first update (snapshot, all suspended): {every_first:.3f} s after the restart")
    print(f"  every fixture's catch-up snapshot (markets open again):  {every_caught_up:.3f} s after the restart")
    print(f"  per fixture, catch-up snapshot: {_seconds(list(caught_up.values()))}")
    limit = f"lag_limit {lag_limit:g} s" if lag_limit < 1e6 else "no lag limit"
    print(f"slow consumer ({handler:g} s per update, {limit}), over {window:g} s: {lags} consumer_lagging stops")
    if lagging:
        print(f"  lag when its consumer_lagging stop reached it: {_seconds(lagging)}")
    print(f"  lag of every update of a frame it got:         {_seconds(delivered)}")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-child":
        serve_child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixtures", type=int, default=100)
    parser.add_argument("--rate", type=float, default=2.0, help="frames per second per fixture")
    parser.add_argument("--before", type=float, default=20.0, help="seconds the first desk runs before kill -9")
    parser.add_argument("--handler", type=float, default=0.6, help="seconds the slow consumer takes per update")
    parser.add_argument("--window", type=float, default=15.0, help="seconds the slow consumer is watched")
    args = parser.parse_args()
    logging.getLogger("engine").setLevel(logging.ERROR)  # a warning per lagging fixture otherwise
    build = "compiled" if COMPILED else "plain Python"
    print(f"{platform.machine()} {os.cpu_count()} cores, CPython {platform.python_version()}, {build} build")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "served"
        folder.mkdir()
        ids = write_recordings(folder, args.fixtures, args.rate)
        port_file = Path(tmp) / "port"
        server = subprocess.Popen([sys.executable, __file__, "--serve-child", str(folder), str(port_file)])
        record_dir = Path(tmp) / "recordings"
        try:
            while not port_file.exists():
                time.sleep(0.05)
            time.sleep(0.05)
            base = f"ws://127.0.0.1:{port_file.read_text().strip()}"
            env = {**os.environ, "BENCH_TOKEN": TOKEN}
            command = [sys.executable, "-m", "engine", "follow", *[f"{i}:7" for i in ids], "--token-env", "BENCH_TOKEN"]
            command += ["--base", base, "--record-dir", str(record_dir)]
            first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(args.before)
            first.kill()  # -9
            first.wait()
            frames = sum(len(path.read_bytes().splitlines()) - 1 for path in record_dir.glob("*.jsonl"))
            print(f"first desk: {args.fixtures} fixtures followed for {args.before:g} s, killed with -9")
            print(f"  {frames} frames recorded")
            cut = sum(1 for path in record_dir.glob("*.jsonl") if not path.read_bytes().endswith(b"\n"))
            print(f"  recordings cut mid-line by the kill: {cut}")
            asyncio.run(restart(ids, base, record_dir, args.handler, args.window, LAG_LIMIT))
            print("the same, restarted again without the limit by time (a queue of 1,024 updates per fixture):")
            asyncio.run(restart(ids, base, record_dir, args.handler, args.window, 1e9))
        finally:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
