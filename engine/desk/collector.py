"""The desk's garbage-collector policy: short pauses with a thousand live fixtures.

A live fixture's state is immutable and acyclic: reference counting frees every state a frame
replaces, and the cyclic collector only ever scans them. With 1,000 fixtures held, one full
collection scans every state and takes 10-60 ms (`bench/collector.py`) — a pause on some frame,
at a random moment. The policy:

- `gc.freeze()` every `freeze_every` seconds (and once at start-up): what is alive then moves to
  the permanent generation, which collections do not scan. A frozen object that dies is still
  freed by reference counting; only a *cycle* among frozen objects waits for the next sweep.
  The collections that run meanwhile scan what was made since the last freeze.
- a sweep every `sweep_every` seconds: `gc.unfreeze()`, one full collection (the one long pause,
  at a known moment, and timed), `gc.freeze()`. `swept` counts what it found: in a steady desk,
  nearly nothing.

Every collection is timed (`gc.callbacks`) for the metrics (`ttengine_gc_pause_seconds`). The
policy changes the whole process's collector, so `ttengine follow` runs it; a program that embeds
a `Desk` chooses for itself.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

#: [ours] Seconds between two freezes: what a second of frames made is all a collection scans.
FREEZE_EVERY = 1.0
#: [ours] Seconds between two sweeps of the frozen objects (the one full collection).
SWEEP_EVERY = 3600.0


class CollectorPolicy:
    """Freezes what lives, sweeps now and then, and times every collection (`on_pause`)."""

    def __init__(
        self,
        freeze_every: float = FREEZE_EVERY,
        sweep_every: float = SWEEP_EVERY,
        on_pause: Callable[[int, float], object] | None = None,
    ) -> None:
        self.freeze_every = freeze_every
        self.sweep_every = sweep_every
        self.on_pause = on_pause
        self.sweeps = 0
        self.swept = 0  # objects the sweeps found unreachable
        self.last_sweep_seconds: float | None = None
        self._started: float | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Freeze now, time every collection, and freeze and sweep on schedule (in the running loop)."""
        if self._task is not None:
            return
        gc.callbacks.append(self._timed)
        gc.freeze()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stop the schedule and the timing; unfreeze, so the process's collector is as it was."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if self._timed in gc.callbacks:
            gc.callbacks.remove(self._timed)
        gc.unfreeze()

    def sweep(self) -> int:
        """One full collection of everything, frozen or not; returns what it found unreachable."""
        start = time.perf_counter()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        self.last_sweep_seconds = time.perf_counter() - start
        self.sweeps += 1
        self.swept += found
        return found

    async def _run(self) -> None:
        since_sweep = 0.0
        while True:
            await asyncio.sleep(self.freeze_every)
            since_sweep += self.freeze_every
            if since_sweep >= self.sweep_every:
                since_sweep = 0.0
                self.sweep()
            else:
                gc.freeze()

    def _timed(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None and self.on_pause is not None:
            self.on_pause(int(info["generation"]), time.perf_counter() - self._started)
