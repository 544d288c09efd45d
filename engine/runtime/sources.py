"""The two sources of a `Match`: the provider's live feed (`connect`, resumed from the fixture's
own recording after a restart) and a recording (`replay`)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from pathlib import Path

import attrs

from engine import playback
from engine.core.config import MarketConfig
from engine.core.inputs import (
    CatchingUp,
)
from engine.core.match.rules import UNKNOWN_FORMAT, MatchFormat
from engine.feed.catalogue import DEFAULT_CATALOGUE, ActionCatalogue
from engine.io.client import ClientSettings, ConnectLimiter, FrameObserver, Recorder, run_feed
from engine.io.protocol import Secret
from engine.io.recording import (
    Frame,
    RecordingError,
    RecordingMeta,
    extra_types,
    read_recording,
    recorded_inputs,
    repair_recording,
)
from engine.runtime.callbacks import Callbacks
from engine.runtime.delivery import LAG_LIMIT, UPDATE_BUFFER, Overflow, Stream
from engine.runtime.following import DeliveryObserver, Match, SendObserver, StepObserver

log = logging.getLogger("engine.runtime")


def connect(
    fixture_id: str,
    token: str | Secret,
    *,
    base: str | None = None,
    fmt: MatchFormat = UNKNOWN_FORMAT,
    markets: MarketConfig | None = None,
    callbacks: Callbacks | None = None,
    record: str | Path | None = None,
    frames: FrameObserver | None = None,
    settings: ClientSettings | None = None,
    limiter: ConnectLimiter | None = None,
    buffer: int = UPDATE_BUFFER,
    overflow: Overflow = Overflow.SUSPEND,
    rng: random.Random | None = None,
    on_input: StepObserver | None = None,
    catalogue: ActionCatalogue = DEFAULT_CATALOGUE,
    stream: Stream | None = None,
    on_send: SendObserver | None = None,
    resume: bool = False,
    lag_limit: float = LAG_LIMIT,
    on_delivered: DeliveryObserver | None = None,
) -> Match:
    """A live match on the provider's feed (use with `async with`). `token` is kept as a `Secret`;
    `base` overrides the provider host (`settings.base`); `record` appends every raw frame to a
    JSONL recording — with `resume`, a recording already there is folded first (a restart: its
    state rebuilt by a pure replay, under suspension) and the provider is asked only for what
    follows it (`startPosition`); `frames` sees each raw frame as it arrives; frames are decoded with
    `catalogue` (`DEFAULT_CATALOGUE.with_types({...})` for type ids it lacks; a recording's meta
    keeps them). `buffer`, `lag_limit` and `overflow`: what happens when the consumer falls behind
    (`Overflow`); `stream` the run's stream the updates are stamped in (`on_send` sees each as sent,
    `on_delivered` once its callbacks have run).
    Reconnects on its own; raises `AuthRefused`/`RequestRefused` from `async for` or `wait()` when
    the provider refuses for good."""
    secret = token if isinstance(token, Secret) else Secret(token)
    settings = settings or ClientSettings()
    if base is not None:
        settings = attrs.evolve(settings, base=base)

    async def live(match: Match) -> None:
        recorder = None
        if record is not None:
            if resume:
                await _recover(match, Path(record))
            recorder = Recorder(record, RecordingMeta(fixture_id, fmt.best_of, fmt.doubles, extra_types(catalogue)))
        try:
            await run_feed(
                fixture_id,
                secret,
                lambda message, arrived: match.feed(message, arrived, time.time()),
                start_position=lambda: match.state.match.sequencer.next_seq - 1,
                is_over=lambda: match.is_over,
                settings=settings,
                limiter=limiter,
                recorder=recorder if recorder is not None else frames,
                rng=rng,
                catalogue=catalogue,
            )
        finally:
            if recorder is not None:
                recorder.close()

    return Match(
        fixture_id,
        live,
        fmt,
        markets,
        callbacks,
        buffer,
        on_input,
        overflow,
        stream=stream,
        on_send=on_send,
        lag_limit=lag_limit,
        on_delivered=on_delivered,
    )


#: Inputs of a recording folded between two yields to the event loop on a restart.
RECOVERY_SLICE = 200


async def _recover(match: Match, path: Path) -> None:
    """A restart: fold the fixture's own recording (every frame received before, pure replay) under
    suspension (`CatchingUp()`, sent at once; the feed's catch-up ends it), yielding to the loop
    so many fixtures restarted together all say so first. A recording cut mid-line by a kill is
    repaired first; one of another fixture is refused (`RecordingError`)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    cut = repair_recording(path)
    if cut:
        log.warning(
            "fixture %s: %s ended mid-line (%d bytes): cut back to its last whole line", match.fixture_id, path, cut
        )
    recording = read_recording(path)
    if recording.fixture_id is not None and recording.fixture_id != match.fixture_id:
        raise RecordingError(f"{path}: a recording of fixture {recording.fixture_id}, not {match.fixture_id}")
    frames = sum(1 for frame in recording.frames if isinstance(frame, Frame))
    match.feed(CatchingUp())
    for number, (moment, message) in enumerate(recorded_inputs(recording, stale_after=None)):
        if number % RECOVERY_SLICE == 0:
            await asyncio.sleep(0)
        match.feed(message, time.perf_counter(), moment)
    log.info(
        "fixture %s: rebuilt from %s (%d frames); resuming the feed at startPosition %d",
        match.fixture_id,
        path,
        frames,
        match.state.match.sequencer.next_seq - 1,
    )


def replay(
    path: str | Path,
    speed: float | None = None,
    *,
    fmt: MatchFormat | None = None,
    markets: MarketConfig | None = None,
    callbacks: Callbacks | None = None,
    buffer: int = UPDATE_BUFFER,
    on_input: StepObserver | None = None,
) -> Match:
    """A recorded match replayed through the same runtime as live (use with `async with`).
    `speed=None` replays as fast as possible (yielding to the loop between frames), `1.0` at the
    recorded pace (receive times), `10.0` ten times faster. A slow consumer is waited for: with
    `buffer` updates queued, the replay pauses until it takes one."""
    if speed is not None and speed <= 0:
        raise ValueError("speed must be positive, or None for as fast as possible")
    recording = read_recording(path)
    unreadable = recording.without_actions()
    if unreadable is not None:
        raise RecordingError(f"{path}: {unreadable}")
    chosen = fmt or recording.meta.format(UNKNOWN_FORMAT)

    async def recorded(match: Match) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        first: float | None = None
        for moment, message in playback.inputs(recording, end=False):  # the runtime ends the stream
            if speed is not None and moment is not None:
                first = moment if first is None else first
                await asyncio.sleep(max(0.0, began + (moment - first) / speed - loop.time()))
            else:
                await asyncio.sleep(0)
            await match.room()
            match.feed(message, time.perf_counter(), moment)

    return Match(recording.fixture_id, recorded, chosen, markets, callbacks, buffer, on_input, backpressure=True)
