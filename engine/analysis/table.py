"""A folder of recordings to one table (issue 16, `ttengine replay DIR --table out.csv|out.parquet`):
one row per recording (`engine.analysis.review.Review.row`), CSV with the standard library, Parquet with
pyarrow (the `table` extra). A recording that cannot be read is reported and skipped, never fatal.
"""

from __future__ import annotations

import csv
import importlib.util
import multiprocessing
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from engine.analysis.review import review_file
from engine.core.config import DEFAULT_MARKETS, MarketConfig
from engine.io.recording import RecordingError

#: What `replay DIR` reads by default: recordings, plain or compressed (the folder's other files are left alone).
RECORDING_PATTERNS = ("*.jsonl", "*.jsonl.gz", "*.jsonl.bz2", "*.jsonl.xz", "*.ndjson")
TABLE_FORMATS = (".csv", ".parquet")


def recordings_in(folder: Path, patterns: Iterable[str] = RECORDING_PATTERNS) -> list[Path]:
    """The files of `folder` (not its subfolders) matching any pattern, sorted by name."""
    found = {path for pattern in patterns for path in folder.glob(pattern) if path.is_file()}
    return sorted(found)


def check_destination(path: Path) -> None:
    """Refuse, before any work, a table format we cannot write."""
    if path.suffix not in TABLE_FORMATS:
        raise ValueError(f"--table: {path.name}: write .csv or .parquet")
    if path.suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        raise ValueError("--table: Parquet needs pyarrow: pip install 'ttengine[table]' (or write .csv)")


def rows(
    paths: Sequence[Path],
    failed: Callable[[Path, str], None],
    markets: MarketConfig = DEFAULT_MARKETS,
    best_of: int | None = None,
    doubles: bool = False,
    jobs: int = 1,
    done: Callable[[], object] = lambda: None,
) -> list[dict[str, Any]]:
    """One row per readable recording, in order; `failed(path, why)` for each other one, `done()` after
    each recording. `jobs` > 1 replays in that many worker processes (forked, so they inherit the
    config; where fork is missing, one at a time), the rows still in order."""
    if jobs > 1 and len(paths) > 1 and "fork" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("fork")
        chunk = max(1, min(64, len(paths) // (8 * jobs)))
        with ProcessPoolExecutor(jobs, context, initializer=_set_worker, initargs=(markets, best_of, doubles)) as pool:
            return _collect(paths, pool.map(_row_in_worker, paths, chunksize=chunk), failed, done)
    return _collect(paths, (_row(path, markets, best_of, doubles) for path in paths), failed, done)


#: A worker process's replay settings (set once when it starts: `_set_worker`).
_WORKER: dict[str, Any] = {}


def _set_worker(markets: MarketConfig, best_of: int | None, doubles: bool) -> None:
    _WORKER.update(markets=markets, best_of=best_of, doubles=doubles)


def _row_in_worker(path: Path) -> dict[str, Any] | str:
    return _row(path, _WORKER["markets"], _WORKER["best_of"], _WORKER["doubles"])


def _row(path: Path, markets: MarketConfig, best_of: int | None, doubles: bool) -> dict[str, Any] | str:
    """The recording's row, or why it cannot be read."""
    try:
        return review_file(path, markets, best_of, doubles).row()
    except (RecordingError, ValueError, OSError) as exc:
        return str(exc)


def _collect(
    paths: Sequence[Path],
    results: Iterable[dict[str, Any] | str],
    failed: Callable[[Path, str], None],
    done: Callable[[], object],
) -> list[dict[str, Any]]:
    out = []
    for path, found in zip(paths, results, strict=True):
        if isinstance(found, str):
            failed(path, found)
        else:
            out.append(found)
        done()
    return out


def write_table(table: list[dict[str, Any]], path: Path) -> None:
    """Write the rows as CSV or Parquet (by the suffix); every row has the same columns."""
    if path.suffix == ".parquet":
        import pyarrow  # type: ignore[import-untyped,unused-ignore]
        import pyarrow.parquet  # type: ignore[import-untyped,unused-ignore]

        pyarrow.parquet.write_table(pyarrow.Table.from_pylist(table), path)
        return
    columns = list(table[0]) if table else []
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(table)
