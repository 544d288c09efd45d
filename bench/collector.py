"""The collector's work per live fixture: the objects it tracks in one fixture's state mid-match, and
how long a full collection takes with many live fixtures held.

    python bench/collector.py [--fixtures 1000] [--repeat 7] [--frames 1]

1. Objects the cyclic collector tracks (`gc.is_tracked`) reachable from one fixture's state after
   half of the recorded best-of-7 and not from another fixture's state folded the same way (what
   is shared — enums, the market catalogue, interned strings — is not the fixture's), by type,
   after one collection (which untracks the tuples and dicts that hold only atoms).
2. `--fixtures` states folded through the same half match, each its own objects, held together:
   the median of `--repeat` full collections (`gc.collect()`), against the same with none held.
3. The desk's policy (`engine.desk.collector`): everything frozen (`gc.freeze()`, as at start-up
   and every second), then every fixture advanced by `--frames` more frames (a second of a desk's
   frames is about one per fixture), then the median full collection — the longest an automatic
   collection can take between two freezes; and the hourly sweep (unfreeze, collect, freeze).
"""

from __future__ import annotations

import argparse
import collections
import gc
import platform
import statistics
import time
from pathlib import Path

from engine import playback
from engine.core.reduce import reduce
from engine.core.state import MatchState
from engine.desk.collector import CollectorPolicy
from engine.feed.wire import decode
from engine.io.recording import Frame, read_recording

SOURCE = Path(__file__).resolve().parent.parent / "fixtures_data" / "aicup2026_m05_female_bo7.jsonl"


def frames() -> list[str]:
    """The recorded best-of-7's frames."""
    return [frame.text for frame in read_recording(SOURCE).frames if isinstance(frame, Frame)]


def half_match() -> MatchState:
    """A fixture's state after the first half of the recorded best-of-7's frames (mid-match)."""
    texts = frames()
    state = playback.start_state(read_recording(SOURCE), None, False)
    for text in texts[: len(texts) // 2]:
        state, _ = reduce(state, decode(text))
    return state


def reachable(root: object) -> dict[int, object]:
    """Every object reachable from `root` by the collector's references, by id."""
    seen: dict[int, object] = {}
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen[id(obj)] = obj
        stack.extend(gc.get_referents(obj))
    return seen


def own_tracked(state: MatchState, other: MatchState) -> collections.Counter[str]:
    """Tracked objects of `state` that `other` does not share, counted by type name."""
    shared = reachable(other)
    return collections.Counter(
        type(obj).__name__
        for key, obj in reachable(state).items()
        if key not in shared and gc.is_tracked(obj) and not isinstance(obj, type)
    )


def collection_ms(repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        gc.collect()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixtures", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--frames", type=int, default=1, help="frames per fixture after the freeze")
    args = parser.parse_args()
    first, second = half_match(), half_match()
    gc.collect()  # the steady state: a collection untracks the tuples and dicts that hold only atoms
    counts = own_tracked(first, second)
    print(f"{platform.machine()}, CPython {platform.python_version()}; mid-match: half of a best-of-7's frames")
    print(f"tracked objects per live fixture: {sum(counts.values())}")
    print("  by type: " + ", ".join(f"{name} {count}" for name, count in counts.most_common(12)))
    del first, second
    gc.collect()
    empty = collection_ms(args.repeat)
    held = [half_match() for _ in range(args.fixtures)]
    gc.collect()
    full = collection_ms(args.repeat)
    print(f"full collection, nothing held:         {empty:7.2f} ms (median of {args.repeat})")
    print(f"full collection, {len(held)} live fixtures:  {full:7.2f} ms (median of {args.repeat})")
    texts = frames()
    following = texts[len(texts) // 2 : len(texts) // 2 + args.frames]
    gc.freeze()
    for index, state in enumerate(held):
        for text in following:
            state, _ = reduce(state, decode(text))
        held[index] = state
    frozen = collection_ms(args.repeat)
    print(
        f"desk policy: frozen, then {args.frames} frame{'s' if args.frames != 1 else ''} per fixture:"
        f" {frozen:7.2f} ms (median of {args.repeat}; {gc.get_freeze_count():,} objects frozen)"
    )
    policy = CollectorPolicy()
    found = policy.sweep()
    sweep = policy.last_sweep_seconds or 0.0
    print(f"desk policy: the sweep (unfreeze, collect, freeze): {sweep * 1e3:7.2f} ms, {found} unreachable found")
    gc.unfreeze()


if __name__ == "__main__":
    main()
