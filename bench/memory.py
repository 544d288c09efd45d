"""Memory: engine state per live fixture, and resident memory of 1,000 live fixtures.

    python bench/memory.py [--fixtures 1000]

1. tracemalloc: the bytes still allocated after folding one full best-of-7 match (decode + sequence
   + reduce + market book, the frames' texts excluded) — what one finished fixture's state holds.
2. Resident set size (from /proc/self/status) of this process before and after holding `--fixtures`
   states, each folded through the same match (distinct objects per fixture), divided per fixture.
"""

from __future__ import annotations

import argparse
import gc
import platform
import tracemalloc
from pathlib import Path

from engine import playback
from engine.core.inputs import EndOfStream
from engine.core.reduce import reduce
from engine.core.state import MatchState
from engine.feed.wire import decode
from engine.io.recording import Frame, Recording, read_recording

SOURCE = Path(__file__).resolve().parent.parent / "fixtures_data" / "aicup2026_m05_female_bo7.jsonl"


def fold(recording: Recording, texts: list[str]) -> MatchState:
    state = playback.start_state(recording, None, False)
    for text in texts:
        state, _ = reduce(state, decode(text))
    return reduce(state, EndOfStream())[0]


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixtures", type=int, default=1000)
    args = parser.parse_args()
    recording = read_recording(SOURCE)
    texts = [frame.text for frame in recording.frames if isinstance(frame, Frame)]
    fold(recording, texts)  # warm up: imports, caches

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    state = fold(recording, texts)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del state

    gc.collect()
    start = rss_kib()
    states = [fold(recording, texts) for _ in range(args.fixtures)]
    gc.collect()
    grown = rss_kib() - start
    print(f"{platform.machine()}, CPython {platform.python_version()}; one best-of-7 match, {len(texts)} frames")
    print(f"state per fixture (tracemalloc, after the whole match): {held / 1024:8.1f} KiB")
    each = grown / len(states)
    print(f"RSS growth for {len(states)} live fixtures: {grown / 1024:8.1f} MiB ({each:.1f} KiB each)")


if __name__ == "__main__":
    main()
