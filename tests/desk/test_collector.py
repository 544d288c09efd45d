"""The desk's collector policy (`engine.desk.collector`): it freezes what lives, times every
collection, sweeps what the freeze kept, and leaves the process's collector as it found it."""

from __future__ import annotations

import asyncio
import gc

from engine.desk.collector import CollectorPolicy
from engine.desk.metrics import DeskMetrics
from engine.desk.service import Desk
from engine.io.protocol import Secret


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_the_policy_freezes_times_collections_sweeps_and_restores_the_collector() -> None:
    pauses: list[tuple[int, float]] = []

    async def main() -> None:
        policy = CollectorPolicy(freeze_every=0.01, sweep_every=3600, on_pause=lambda g, s: pauses.append((g, s)))
        policy.start()
        try:
            assert gc.get_freeze_count() > 0  # what start-up built is frozen
            gc.collect()
            assert pauses
            assert pauses[-1][0] == 2
            _Cycle()  # garbage in a cycle, frozen by the next freeze: only a sweep finds it
            await asyncio.sleep(0.05)
            assert gc.collect() == 0
            assert policy.sweep() >= 1
            assert (policy.sweeps, policy.swept >= 1) == (1, True)
            assert policy.last_sweep_seconds is not None
            assert gc.get_freeze_count() > 0
        finally:
            await policy.close()

    asyncio.run(main())
    assert gc.get_freeze_count() == 0
    before = len(pauses)
    gc.collect()
    assert len(pauses) == before  # no longer timed


def test_the_schedule_sweeps_when_due() -> None:
    async def main() -> CollectorPolicy:
        policy = CollectorPolicy(freeze_every=0.01, sweep_every=0.02)
        policy.start()
        for _ in range(1000):  # 10 s at most, however busy the machine
            if policy.sweeps >= 2:
                break
            await asyncio.sleep(0.01)
        await policy.close()
        return policy

    assert asyncio.run(main()).sweeps >= 2


def test_the_metrics_report_pauses_frozen_objects_and_sweeps() -> None:
    metrics = DeskMetrics(Desk(Secret("t")))
    metrics.collector = policy = CollectorPolicy(on_pause=metrics.observe_pause)
    policy.sweep()
    metrics.observe_pause(0, 0.0002)
    text = metrics.text().decode()
    assert 'ttengine_gc_pause_seconds_count{generation="0"} 1.0' in text
    assert "ttengine_gc_sweeps_total 1.0" in text
    assert "ttengine_gc_frozen_objects " in text
    gc.unfreeze()
