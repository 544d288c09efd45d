"""Randomized fault runs on the live path (issue 7): our adapter follows a real recording served by
our provider-compatible server while the server injects faults, and the run is checked against a
clean replay of the same recording.

A run draws, from its seed: a recording; connection drops at random frame counts; duplicates;
reordering within a window the sequencer can hold; a delay per frame; a silence longer than the
stale timeout (sometimes longer than the reconnect timeout too); a server restart part-way; a
callback that raises and one that is slow. It then checks:

- the final summary equals the clean replay's (the counters of what the faults did aside) and so
  does every market's sequence of settlements, voids and rollbacks;
- every market is suspended (or already settled/void) throughout every fault window, as a receiver
  of the signals alone would see it: from `Disconnected` to `Connected`, from `Stale` to the next
  frame, and from an action that arrived ahead of a missing one until the missing one arrived. The
  windows come from the inputs, the book from the signals — not from the engine's own flags.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import attrs

from engine import playback
from engine.analysis.report import summarize
from engine.core.events import Event, GameWon, PointWon
from engine.core.inputs import Connected, Disconnected, Input, Stale
from engine.core.markets.book import EMPTY_BOOK, Book, apply_signals
from engine.core.markets.signals import (
    SIGNAL_TYPES,
    MarketSettled,
    MarketStatus,
    MarketVoided,
    SettlementRolledBack,
    VoidRolledBack,
)
from engine.core.update import Update
from engine.feed.wire import Action
from engine.io.client import ClientSettings, ConnectLimiter
from engine.io.protocol import Secret
from engine.io.recording import read_recording
from engine.io.server import Faults, ProviderServer, load_fixtures
from engine.runtime.callbacks import Callbacks
from engine.runtime.following import Match
from engine.runtime.sources import connect, replay

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures_data"
TOKEN = "tok-fault-runs-5b1e0c"
#: The counters that say what the faults did; everything else in the summary must match.
FAULT_COUNTERS = ("duplicates", "gaps", "malformed")
SETTINGS = ClientSettings(
    base="ws://127.0.0.1:1",
    stale_after=0.15,
    reconnect_after=0.6,
    backoff_initial=0.01,
    backoff_max=0.05,
    open_timeout=2.0,
)
LIMITER = ConnectLimiter(rate=200)
#: Real recordings (the scenario ones carry their own faults and an [ours] type map).
RECORDINGS = sorted(p for p in FIXTURES.glob("*.jsonl") if p.name.startswith(("aicup", "ittf")))


def settlements(events: list[Event]) -> dict[str, list[Event]]:
    """Each market's settlements, voids and rollbacks in order (markets settled by one step may be
    listed in any order, so the order across markets is not compared)."""
    out: dict[str, list[Event]] = {}
    for e in events:
        if isinstance(e, MarketSettled | MarketVoided | SettlementRolledBack | VoidRolledBack):
            out.setdefault(e.market, []).append(e)
    return out


@attrs.frozen
class Plan:
    """One run's recording and faults, drawn from its seed."""

    seed: int
    recording: Path
    faults: Faults
    restart_after: int | None  # restart the server once this many inputs have been seen
    raising_every: int  # the raising callback raises on every n-th point
    slow_seconds: float  # the slow callback sleeps this long on every game won

    @classmethod
    def draw(cls, seed: int) -> Plan:
        rng = random.Random(seed)
        recording = rng.choice(RECORDINGS)
        frames = sum(1 for _ in recording.open())
        silent = rng.random() < 0.5
        faults = Faults(
            drop_after=tuple(rng.randrange(1, frames) for _ in range(rng.randint(0, 3))),
            duplicate=rng.choice([0.0, 0.05, 0.3]),
            reorder_window=rng.choice([0, 2, 5, 9]),  # 9: up to 8 held, the sequencer's bound
            delay=rng.choice([0.0, 0.0, 0.0005]),
            silence_after=rng.randrange(1, frames) if silent else None,
            silence_for=rng.choice([0.3, 0.8]) if silent else 0.0,  # beyond stale_after; 0.8 beyond reconnect_after
            seed=seed,
        )
        restart_after = rng.randrange(1, frames) if rng.random() < 0.4 else None
        return cls(seed, recording, faults, restart_after, rng.randint(1, 5), rng.choice([0.0, 0.02]))


@attrs.define
class Outcome:
    """What one fault run saw."""

    plan: Plan
    steps: list[tuple[Input, list[Event]]]
    summary: dict[str, Any]
    connections: int
    callback_failures: int
    callback_calls: int

    @property
    def events(self) -> list[Event]:
        return [event for _, events in self.steps for event in events]


async def follow(plan: Plan) -> Outcome:
    """Serve the plan's recording with its faults and follow it to the end."""
    fixtures = load_fixtures(plan.recording)
    (fixture_id,) = fixtures
    meta = read_recording(plan.recording).meta
    steps: list[tuple[Input, list[Event]]] = []
    seen = asyncio.Event()
    callbacks = Callbacks(slow_after=0.01)
    calls = 0

    @callbacks.on(PointWon)
    def raising(match: Match, event: PointWon) -> None:
        nonlocal calls
        calls += 1
        if calls % plan.raising_every == 0:
            raise RuntimeError("a desk's bug")

    @callbacks.on(GameWon)
    def slow(match: Match, event: GameWon) -> None:
        time.sleep(plan.slow_seconds)

    def observe(match: Match, message: Input, update: Update) -> None:
        steps.append((message, list(update.items())))
        if plan.restart_after is not None and len(steps) >= plan.restart_after:
            seen.set()

    server = ProviderServer(fixtures, Secret(TOKEN), heartbeat=0.05, faults=plan.faults)
    await server.start()
    connections = 0
    try:
        match = connect(
            fixture_id,
            TOKEN,
            fmt=meta.format(),
            settings=attrs.evolve(SETTINGS, base=server.base),
            limiter=LIMITER,
            callbacks=callbacks,
            on_input=observe,
            rng=random.Random(plan.seed),
        )
        async with match:
            if plan.restart_after is not None:
                done = asyncio.ensure_future(match.wait())
                restarted = asyncio.ensure_future(seen.wait())
                await asyncio.wait([done, restarted], return_when=asyncio.FIRST_COMPLETED)
                if not done.done():
                    connections += sum(server.connections.values())
                    await server.close()
                    await asyncio.sleep(0.05)
                    server = ProviderServer(
                        fixtures,
                        Secret(TOKEN),
                        port=server.port,
                        heartbeat=0.05,
                        faults=attrs.evolve(plan.faults, drop_after=()),
                    )
                    await server.start()
                restarted.cancel()
                await done
            else:
                await match.wait()
    finally:
        connections += sum(server.connections.values())
        await server.close()
    return Outcome(plan, steps, summarize(match.state), connections, callbacks.failures, calls)


def clean_outcome(recording: Path) -> tuple[dict[str, Any], dict[str, list[Event]]]:
    """The clean replay's summary and settlements."""
    events: list[Event] = []

    async def replayed() -> None:
        async with replay(recording) as match:
            async for update in match:
                events.extend(update.items())

    asyncio.run(replayed())
    return summarize(playback.fold(read_recording(recording))), settlements(events)


def without_fault_counters(summary: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in summary.items() if key not in FAULT_COUNTERS}


def open_in_fault_windows(outcome: Outcome) -> tuple[int, list[str]]:
    """How many steps fell inside a fault window, and every one after which a receiver of the
    signals alone held an open market (none when the run kept its promise)."""
    book: Book = EMPTY_BOOK
    down = stale = False
    received: set[int] = set()
    next_missing = 1
    highest = 0
    failures: list[str] = []
    in_windows = 0
    for index, (message, events) in enumerate(outcome.steps):
        if isinstance(message, Disconnected):
            down = True
        elif isinstance(message, Connected):
            down = False
        elif isinstance(message, Stale):
            stale = True
        else:
            stale = False
        if isinstance(message, Action):
            received.add(message.seq)
            highest = max(highest, message.seq)
            while next_missing in received:
                next_missing += 1
        ahead = highest > next_missing
        book = apply_signals(book, [e for e in events if isinstance(e, SIGNAL_TYPES)])  # type: ignore[misc]
        opened = book.with_status(MarketStatus.OPEN)
        in_windows += down or stale or ahead
        if opened and (down or stale or ahead):
            window = "disconnected" if down else "stale" if stale else f"waiting for seq {next_missing}"
            failures.append(f"step {index} ({type(message).__name__}, {window}): open {opened[:3]}")
    return in_windows, failures
