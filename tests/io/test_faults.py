"""Faults on the live path (issue 7): randomized runs through our provider-compatible server's fault
injection, each ending as a clean replay does, with every market suspended in every fault window.
CI runs a bounded number; `pytest --long` runs 200. See `faultruns` for what a run draws and checks."""

from __future__ import annotations

import asyncio
import collections
import time
from pathlib import Path
from typing import Any

import orjson
from faultruns import (
    FIXTURES,
    Outcome,
    Plan,
    clean_outcome,
    follow,
    open_in_fault_windows,
    settlements,
    without_fault_counters,
)

from engine import playback
from engine.analysis.report import summarize
from engine.core.events import Event
from engine.core.inputs import EndOfStream
from engine.core.reduce import reduce
from engine.feed.wire import decode
from engine.io.recording import Frame, read_recording
from engine.testing.feedgen import END_MATCH, POINT_SCORED

CI_RUNS = 16
LONG_RUNS = 200


def _run(plan: Plan) -> Outcome:
    return asyncio.run(asyncio.wait_for(follow(plan), 60.0))


def test_randomized_fault_runs_end_as_a_clean_replay_and_suspend_every_fault_window(long_run: bool) -> None:
    runs = LONG_RUNS if long_run else CI_RUNS
    clean: dict[Path, tuple[dict[str, Any], dict[str, list[Event]]]] = {}
    seen: collections.Counter[str] = collections.Counter()
    began = time.perf_counter()
    for seed in range(runs):
        plan = Plan.draw(seed)
        if plan.recording not in clean:
            clean[plan.recording] = clean_outcome(plan.recording)
        expected_summary, expected_settlements = clean[plan.recording]
        outcome = _run(plan)
        where = f"seed {seed}: {plan}"
        assert without_fault_counters(outcome.summary) == without_fault_counters(expected_summary), where
        assert settlements(outcome.events) == expected_settlements, where
        in_windows, open_markets = open_in_fault_windows(outcome)
        assert open_markets == [], where
        seen["steps in fault windows"] += in_windows
        assert outcome.callback_failures == outcome.callback_calls // plan.raising_every, where
        faults = plan.faults
        seen["drops"] += len(faults.drop_after)
        seen["restarts"] += plan.restart_after is not None
        seen["silences"] += faults.silence_after is not None
        seen["duplicating"] += faults.duplicate > 0
        seen["reordering"] += faults.reorder_window > 1
        seen["delayed"] += faults.delay > 0
        seen["connections"] += outcome.connections
        seen["callback failures"] += outcome.callback_failures
        seen["duplicates dropped"] += outcome.summary["duplicates"]
    print(f"\n{runs} fault runs in {time.perf_counter() - began:.0f} s, all as clean replays: {dict(seen)}")
    for fault in ("drops", "restarts", "silences", "reordering", "duplicating", "steps in fault windows"):
        assert seen[fault] > 0, fault


def test_reordered_retirement_offered_a_different_set_of_markets() -> None:
    """Found by the fault runs (seed 25): when a hold released the last point and the retirement
    together, the book was computed only after both, so the next point's market, offered and then
    voided when they came one by one, never existed. The book now advances after each released
    action and the signals are the net change: the same settlements either way."""
    recording = read_recording(FIXTURES / "ittf_ws_bo7_retired.jsonl")
    frames = [frame.text for frame in recording.frames if isinstance(frame, Frame)]
    kinds = [orjson.loads(text).get("fixtureAction", {}).get("fixtureActionTypeId") for text in frames]
    end = max(index for index, kind in enumerate(kinds) if kind == END_MATCH)
    last_point = max(index for index, kind in enumerate(kinds[:end]) if kind == POINT_SCORED)
    reordered = [*frames[:last_point], *frames[last_point + 1 : end + 1], frames[last_point], *frames[end + 1 :]]

    def folded(texts: list[str]) -> tuple[dict[str, Any], list[Event]]:
        state = playback.start_state(recording, None, False)
        events: list[Event] = []
        for message in [*(decode(text) for text in texts), EndOfStream()]:
            state, new = reduce(state, message)
            events.extend(new)
        return summarize(state), events

    (clean, clean_events), (held, held_events) = folded(frames), folded(reordered)
    assert without_fault_counters(held) == without_fault_counters(clean)
    assert settlements(held_events) == settlements(clean_events)
    assert any(market.startswith("point_winner:") for market in clean["markets"])
