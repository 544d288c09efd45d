"""The pipeline of several commits, side by side in one run: what each step bought.

    python bench/commits.py 6285025 d3e82f3 d1a384c 5b0644b 5ad9979 13ec4da [--rounds 3]

Each commit is checked out into a temporary git worktree; every round runs each commit in a fresh
process of this interpreter (the packages of the current environment, the commit's own `engine`
and recordings), timing bare `orjson.loads` and decode + sequence + reduce (+ book and signals)
over the same frames, median of 5 passes. Rounds interleave the commits so the machine's drift
falls on all of them; the table shows each commit's median over the rounds (µs/frame, × orjson).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

#: Run inside each worktree: only names every commit of this project has (the start state from
#: engine.playback, or engine.cli before it existed; engine.core.reduce, engine.feed.wire.decode,
#: engine.io.recording).
CHILD = """
import json, statistics, sys, time
from pathlib import Path
import orjson
try:
    from engine.playback import start_state as initial_state
except ImportError:
    from engine.cli import initial_state
from engine.core.inputs import EndOfStream
from engine.core.reduce import reduce
from engine.feed.wire import decode
from engine.io.recording import Frame, read_recording

matches = []
for path in sorted(Path("fixtures_data").glob("*.jsonl")):
    recording = read_recording(path)
    texts = []
    for frame in recording.frames:
        if isinstance(frame, Frame):
            try:
                json.loads(frame.text)
            except ValueError:
                continue
            texts.append(frame.text)
    matches.append((initial_state(recording, None, False), texts))
frames = sum(len(texts) for _, texts in matches)

def pipeline():
    for start, texts in matches:
        state = start
        for text in texts:
            state, _ = reduce(state, decode(text))
        reduce(state, EndOfStream())

def bare():
    for _, texts in matches:
        for text in texts:
            orjson.loads(text)

def median(fn):
    times = []
    for _ in range(5):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times) / frames * 1e6

print(json.dumps({"orjson": median(bare), "pipeline": median(pipeline)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("commits", nargs="+")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    repo = Path(__file__).resolve().parent.parent
    results: dict[str, list[dict[str, float]]] = {commit: [] for commit in args.commits}
    with tempfile.TemporaryDirectory() as scratch:
        trees = {}
        for commit in args.commits:
            tree = Path(scratch) / commit
            subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), commit], check=True)
            trees[commit] = tree
        try:
            for _ in range(args.rounds):
                for commit, tree in trees.items():
                    env = {**os.environ, "PYTHONPATH": str(tree)}
                    out = subprocess.run(
                        [sys.executable, "-c", CHILD], cwd=tree, env=env, capture_output=True, text=True, check=True
                    )
                    results[commit].append(json.loads(out.stdout.strip().splitlines()[-1]))
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], check=False)
    print(f"{'commit':10} {'pipeline us/frame':>18} {'orjson us/frame':>16} {'x orjson':>9}")
    for commit, runs in results.items():
        pipeline = statistics.median(run["pipeline"] for run in runs)
        orjson_us = statistics.median(run["orjson"] for run in runs)
        print(f"{commit:10} {pipeline:18.1f} {orjson_us:16.2f} {pipeline / orjson_us:9.1f}")


if __name__ == "__main__":
    main()
