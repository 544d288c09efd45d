"""The bad-input harness shared by the bounded fuzz test and its long run (`pytest --long`).

A recording's inputs are replayed with bad frames from `engine.testing.garbage` slipped in between
them. A bad frame that decodes to `Malformed` is reduced in place (it must change nothing but the
malformed count); one that still decodes to a message (a renumbered or impossibly scored action, a
JSON object that FEED.md section 1 reads as a heartbeat) is reduced on a fork of the state — the
reducer is pure, so that is exactly what the stream would have done with it — and must not raise.
At the end the stream must equal its clean replay: the same summary and the same events, bad frames
aside.
"""

from __future__ import annotations

import collections
import random
import time
from pathlib import Path
from typing import Any

import attrs
import orjson

from engine import playback
from engine.analysis.report import summarize
from engine.core.events import Discrepancy, Event
from engine.core.inputs import EndOfStream, Input, Stale
from engine.core.reduce import reduce
from engine.feed.wire import Action, Heartbeat, Malformed, decode
from engine.io.recording import Frame, Recording, read_recording, recorded_inputs
from engine.testing.garbage import bad_frame

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures_data"


@attrs.define
class Tally:
    """What a fuzz run fed and what became of it."""

    streams: int = 0
    valid: int = 0
    bad: int = 0
    quarantined: int = 0  # decoded or reduced to a Malformed record, with its reason
    heartbeats: int = 0  # JSON objects without an action: liveness only (FEED.md section 1)
    actions: int = 0  # still a well-formed action (renumbered, impossibly scored, …): reduced on a fork
    discrepancies: int = 0  # of those, disagreements with our score the reducer reported
    slowest_us: float = 0.0
    slowest_kind: str = ""
    took_us: list[float] = attrs.field(factory=list)  # decode + reduce of each bad frame
    kinds: collections.Counter[str] = attrs.field(factory=collections.Counter)

    def line(self) -> str:
        """One line for the test log and the README."""
        took = sorted(self.took_us) or [0.0]
        p50, p99 = took[len(took) // 2], took[len(took) * 99 // 100]
        return (
            f"{self.bad} bad frames in {self.streams} streams ({self.valid} valid messages): "
            f"{self.quarantined} quarantined, {self.heartbeats} heartbeat-shaped, {self.actions} well-formed "
            f"actions reduced on a fork ({self.discrepancies} reported as a discrepancy); "
            f"decode+reduce per bad frame p50 {p50:.0f} µs, "
            f"p99 {p99:.0f} µs, max {self.slowest_us:.0f} µs ({self.slowest_kind}, GC pauses included); "
            f"kinds {dict(self.kinds)}"
        )


@attrs.frozen
class CleanRun:
    """A recording, its inputs with their frames, and what its clean replay gives."""

    recording: Recording
    inputs: list[tuple[str | None, Input]]
    messages: list[dict[str, Any]]
    summary: dict[str, Any]
    events: list[Event]


def clean_run(path: Path) -> CleanRun:
    """Replay a recording without interference; keep what the fuzzed replays are compared with."""
    recording = read_recording(path)
    frames = iter(frame.text if isinstance(frame, Frame) else None for frame in recording.frames)
    inputs: list[tuple[str | None, Input]] = []
    for _, message in recorded_inputs(recording):
        inputs.append((None if isinstance(message, Stale) else next(frames), message))
    messages = [
        orjson.loads(text) for text, message in inputs if text is not None and not isinstance(message, Malformed)
    ]
    state = playback.start_state(recording, None, False)
    events: list[Event] = []
    for _, message in [*inputs, (None, EndOfStream())]:
        state, new = reduce(state, message)
        events.extend(new)
    return CleanRun(recording, inputs, messages, summarize(state), _without_bad(events))


def _without_bad(events: list[Event]) -> list[Event]:
    return [event for event in events if not isinstance(event, Malformed)]


def fuzz_stream(clean: CleanRun, rng: random.Random, tally: Tally, per_message: float = 1.0) -> None:
    """Replay `clean` with about `per_message` bad frames between consecutive inputs; assert that
    nothing raises, every bad frame is accounted for, and the outcome equals the clean replay."""
    catalogue = clean.recording.meta.catalogue()
    state = playback.start_state(clean.recording, None, False)
    events: list[Event] = []
    interleaved = 0
    for text, message in clean.inputs:
        # Mostly the message about to arrive, damaged (so its number is the next one and the reducer
        # goes past the sequencer); sometimes any message of the match (mostly repeats, then).
        upcoming = [orjson.loads(text)] if text is not None and isinstance(message, Action) else clean.messages
        while rng.random() < per_message / (1 + per_message):
            bad = bad_frame(rng, upcoming if rng.random() < 0.8 else clean.messages, clean.messages)
            began = time.perf_counter()
            decoded = decode(bad.frame, catalogue)
            tally.bad += 1
            tally.kinds[bad.kind] += 1
            if isinstance(decoded, Malformed):
                assert decoded.reason, bad
                state, new = reduce(state, decoded)
                assert new == [decoded], bad
                interleaved += 1
                tally.quarantined += 1
            else:
                forked, new = reduce(state, decoded)
                refused = [event for event in new if isinstance(event, Malformed)]
                assert forked.match.malformed == state.match.malformed + len(refused), bad
                assert all(event.reason for event in refused), bad
                tally.quarantined += len(refused)
                if isinstance(decoded, Heartbeat):
                    tally.heartbeats += 1
                elif not refused:
                    tally.actions += 1
                    tally.discrepancies += any(isinstance(event, Discrepancy) for event in new)
            took = (time.perf_counter() - began) * 1e6
            tally.took_us.append(took)
            if took > tally.slowest_us:
                tally.slowest_us, tally.slowest_kind = took, bad.kind
        state, new = reduce(state, message)
        events.extend(new)
        tally.valid += 1
    state, new = reduce(state, EndOfStream())
    events.extend(new)
    tally.streams += 1
    summary = summarize(state)
    assert summary.pop("malformed") == clean.summary["malformed"] + interleaved
    expected = dict(clean.summary)
    expected.pop("malformed")
    assert summary == expected
    assert _without_bad(events) == clean.events


def fuzz_corpus(bad_frames: int, seed: int = 0) -> Tally:
    """Fuzz the whole corpus, recording after recording, until `bad_frames` were fed."""
    tally = Tally()
    runs = [clean_run(path) for path in sorted(FIXTURES.glob("*.jsonl"))]
    rng = random.Random(seed)
    while tally.bad < bad_frames:
        fuzz_stream(rng.choice(runs), rng, tally)
    return tally
