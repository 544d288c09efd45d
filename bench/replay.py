"""Time to replay one full best-of-7 match from its recording.

    python bench/replay.py [--repeat 21]

Median (and min) over `--repeat` runs, each reading the recording file and folding every frame
through decode, sequencing, reduce and the market book to the final state; the same in the async
runtime (`engine.replay(path)`, speed=None).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time
from pathlib import Path

from engine import playback
from engine.io.recording import read_recording
from engine.runtime.sources import replay

SOURCE = Path(__file__).resolve().parent.parent / "fixtures_data" / "aicup2026_m05_female_bo7.jsonl"


def replay_direct() -> None:
    playback.fold(read_recording(SOURCE))


def replay_runtime() -> None:
    async def run() -> None:
        async with replay(SOURCE) as match:
            await match.wait()

    asyncio.run(run())


def timed(fn: object, repeat: int) -> list[float]:
    assert callable(fn)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()
    replay_direct()  # warm up
    print(f"{platform.machine()}, CPython {platform.python_version()}; {SOURCE.name}")
    for name, fn in (("direct (CLI path)", replay_direct), ("engine.replay runtime", replay_runtime)):
        times = timed(fn, args.repeat)
        print(f"{name:24} median {statistics.median(times) * 1e3:7.2f} ms   min {min(times) * 1e3:7.2f} ms")


if __name__ == "__main__":
    main()
