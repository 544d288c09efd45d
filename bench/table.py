"""`replay DIR --table` in parallel: the same folder of recordings with one process and with `--jobs`.

    python bench/table.py [--copies 50] [--jobs N]

The folder: every recording of fixtures_data/ copied `--copies` times (52 x 50 = 2,600 files) into a
temporary directory. Times `engine.analysis.table.rows` (what the command runs) with jobs=1 and jobs=N
(default: every core) in one run, checks the rows are the same, and prints the speed-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from engine.analysis import table

SOURCES = sorted((Path(__file__).resolve().parent.parent / "fixtures_data").glob("*.jsonl"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for copy in range(args.copies):
            for source in SOURCES:
                shutil.copyfile(source, Path(folder) / f"{copy:05d}_{source.name}")
        paths = table.recordings_in(Path(folder))
        timings: dict[int, float] = {}
        results = {}
        for jobs in (1, args.jobs):
            start = time.perf_counter()
            results[jobs] = table.rows(paths, lambda path, why: print(path, why), jobs=jobs)
            timings[jobs] = time.perf_counter() - start
        assert results[1] == results[args.jobs], "the rows differ with the number of processes"
    print(f"{len(paths)} recordings; CPython {platform.python_version()}, {os.cpu_count()} cores")
    for jobs, seconds in timings.items():
        print(f"--jobs {jobs}: {seconds:6.1f} s  ({len(paths) / seconds:6.0f} recordings/s)")
    print(f"speed-up: {timings[1] / timings[args.jobs]:.2f}x with {args.jobs} processes")


if __name__ == "__main__":
    main()
