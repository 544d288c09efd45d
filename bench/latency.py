"""Frame → callback latency over loopback websockets, our provider-compatible server in another process.

    python bench/latency.py [--fixtures 1 1000] [--seconds 20] [--rate 2]

For each fixture count: a child process serves that many copies of a real best-of-7 recording
(fixture ids rewritten), paced at `--rate` messages per second per fixture, heartbeats every 10 s,
each frame stamped with the server's CLOCK_MONOTONIC at send time. This process follows every
fixture with `engine.connect` (one event loop, one shared `Callbacks`) and, in a callback on every
event, measures for the first event of each frame:
- arrival → callback: from the moment the adapter got the frame off the websocket to the callback;
- send → callback: from the server's send (same clock, another process) to the callback, which
  adds loopback transport and any time the frame waited for a busy event loop.
Reports p50, p99 and max of each (ms), over frames received after every fixture is connected, and
the share of a core each process used meanwhile (Linux);
with `--gc-freeze`, also with `gc.freeze()` called once every fixture is connected; with `--gc-off`,
also with the collector disabled over the window (a diagnostic: what garbage collection costs).
Connection attempts use a private limiter of 200/s (the process-wide 5/s protects the provider's
rate limit; this loopback server has none).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs
import orjson

from engine.core.config import DEFAULT_MARKETS, MarketConfig
from engine.core.match.rules import MatchFormat
from engine.core.update import Update
from engine.io.client import ClientSettings, ConnectLimiter
from engine.io.protocol import HEARTBEAT_TEXT, Secret
from engine.io.recording import Frame, read_recording
from engine.runtime.callbacks import Callbacks
from engine.runtime.following import Match
from engine.runtime.sources import connect

SOURCE = Path(__file__).resolve().parent.parent / "fixtures_data" / "aicup2026_m05_female_bo7.jsonl"
TOKEN = "bench-token"


def write_recordings(folder: Path, count: int, rate: float, stagger: bool = False) -> list[str]:
    """`count` copies of the source recording with their own fixture ids, `1/rate` s apart (with
    `stagger`, copy i starts i/count of that later: the fixtures' frames spread over the second)."""
    recording = read_recording(SOURCE)
    original = recording.meta.fixture_id or ""
    texts = [frame.text for frame in recording.frames if isinstance(frame, Frame)]
    ids = []
    for index in range(count):
        fixture_id = f"00000000-0000-4000-8000-{index:012d}"
        ids.append(fixture_id)
        with open(folder / f"f{index:05d}.jsonl", "wb") as out:
            out.write(orjson.dumps({"meta": {"fixtureId": fixture_id, "bestOf": 7}}) + b"\n")
            if stagger:  # a server paces each fixture from its first frame: a heartbeat at 0 holds the offset
                out.write(orjson.dumps({"recv": "2026-01-01T10:00:00.000Z", "text": HEARTBEAT_TEXT}) + b"\n")
            for number, text in enumerate(texts):
                seconds = (number + (index / count if stagger else 0.0)) / rate
                recv = f"2026-01-01T10:{int(seconds // 60):02d}:{seconds % 60:06.3f}Z"
                out.write(orjson.dumps({"recv": recv, "text": text.replace(original, fixture_id)}) + b"\n")
    return ids


def served_base(port_file: Path) -> str:
    """The server child's URL, once it has written its port to `port_file`."""
    while not port_file.exists():
        time.sleep(0.05)
    time.sleep(0.05)  # the write finished
    return f"ws://127.0.0.1:{port_file.read_text().strip()}"


def serve_child(folder: str, port_file: str) -> None:
    """The server process: serve the folder, stamping each frame's send time, until killed."""
    from engine.io.server import ProviderServer, load_fixtures

    def stamp(text: str) -> str:
        return f'{text[:-1]},"benchSentAt":{time.monotonic():.6f}}}'

    async def run() -> None:
        server = ProviderServer(load_fixtures(folder), Secret(TOKEN), speed=1.0, stamp=stamp)
        await server.start()
        Path(port_file).write_text(str(server.port))
        await server.serve_forever()

    asyncio.run(run())


class SentStamps:
    """Keeps the server's send stamp of the last frame each fixture received."""

    def __init__(self) -> None:
        self.last: float = 0.0

    def write(self, text: str) -> None:
        at = text.rfind('"benchSentAt":')
        self.last = float(text[at + 14 : -1]) if at >= 0 else 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclasses.dataclass
class Measured:
    """What one measurement window saw."""

    arrival: list[float]
    sent: list[float]
    client_cpu: float  # share of one core the client used over the window
    server_cpu: float  # the same for the server process


async def measure(
    ids: list[str],
    base: str,
    seconds: float,
    server_pid: int,
    freeze: bool = False,
    gc_off: bool = False,
    markets: MarketConfig = DEFAULT_MARKETS,
) -> Measured:
    callbacks = Callbacks()
    arrival: list[float] = []
    sent: list[float] = []
    seen: dict[int, float] = {}
    stamps: dict[int, SentStamps] = {}
    measuring = False

    def on_update(match: Match, update: Update) -> None:
        now = time.perf_counter()
        mono = time.monotonic()
        key = id(match)
        if not measuring or seen.get(key) == match.arrived:
            return  # not yet, or a later update of a frame already measured
        seen[key] = match.arrived
        arrival.append(now - match.arrived)
        if stamps[key].last:
            sent.append(mono - stamps[key].last)

    callbacks.on(Update, on_update)
    settings = ClientSettings(base=base, stale_after=15.0, reconnect_after=60.0)
    limiter = ConnectLimiter(rate=200)
    matches = []
    for fixture_id in ids:
        frames = SentStamps()
        match = connect(
            fixture_id,
            TOKEN,
            fmt=MatchFormat(best_of=7),
            markets=markets,
            settings=settings,
            limiter=limiter,
            callbacks=callbacks,
            frames=frames,
        )
        stamps[id(match)] = frames
        matches.append(match)
        match.start()
        await limiter.acquire()  # ramp connections no faster than the limiter lets them open
    while sum(1 for m in matches if m.state.match.last_seq) < len(matches):
        await asyncio.sleep(0.1)
    if freeze:
        gc.freeze()  # what is alive now (connections, states so far) is no longer scanned by collections
    if gc_off:
        gc.disable()
    measuring = True
    client_before, server_before, began = cpu_seconds(os.getpid()), cpu_seconds(server_pid), time.monotonic()
    await asyncio.sleep(seconds)
    measuring = False
    wall = time.monotonic() - began
    client_cpu = (cpu_seconds(os.getpid()) - client_before) / wall
    server_cpu = (cpu_seconds(server_pid) - server_before) / wall
    gc.enable()
    for match in matches:
        await match.stop()
    return Measured(arrival, sent, client_cpu, server_cpu)


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1e3:7.3f}  p99 {p99 * 1e3:7.3f}  max {ordered[-1] * 1e3:8.3f}"


def run(
    count: int, seconds: float, rate: float, freeze: bool, gc_off: bool = False, markets: MarketConfig = DEFAULT_MARKETS
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ids = write_recordings(folder, count, rate)
        port_file = folder / "port"
        child = subprocess.Popen([sys.executable, __file__, "--serve-child", str(folder), str(port_file)])
        try:
            base = served_base(port_file)
            measured = asyncio.run(measure(ids, base, seconds, child.pid, freeze, gc_off, markets))
            gc.unfreeze()
        finally:
            child.kill()
            child.wait()
    label = ", gc.freeze() once connected" if freeze else ", garbage collector off" if gc_off else ""
    label += "" if markets.pricing is not None else ", pricing off"
    frames = len(measured.arrival)
    print(f"{count:5d} fixtures, {rate:g} msg/s each, {frames:6d} frames measured over {seconds:g} s{label}")
    print(f"      arrival -> callback (ms): {_ms(measured.arrival)}")
    print(f"      send    -> callback (ms): {_ms(measured.sent)}")
    print(f"      CPU, share of one core:   client {measured.client_cpu:.2f}, server {measured.server_cpu:.2f}")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-child":
        serve_child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixtures", type=int, nargs="+", default=[1, 1000])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=2.0)
    parser.add_argument("--gc-freeze", action="store_true", help="also measure with gc.freeze() once connected")
    parser.add_argument("--gc-off", action="store_true", help="also measure with the garbage collector disabled")
    parser.add_argument("--no-prices", action="store_true", help="pricing off (MarketConfig.pricing=None)")
    args = parser.parse_args()
    markets = attrs.evolve(DEFAULT_MARKETS, pricing=None) if args.no_prices else DEFAULT_MARKETS
    print(f"{platform.machine()} {os.cpu_count()} cores, CPython {platform.python_version()}")
    for count in args.fixtures:
        run(count, args.seconds, args.rate, freeze=False, markets=markets)
        if args.gc_freeze:
            run(count, args.seconds, args.rate, freeze=True, markets=markets)
        if args.gc_off:
            run(count, args.seconds, args.rate, freeze=False, gc_off=True, markets=markets)


if __name__ == "__main__":
    main()
