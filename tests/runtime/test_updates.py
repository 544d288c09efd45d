"""Trading-grade updates (issue 20): one stamped update per input, `async def` callbacks awaited in
order, backpressure instead of loss, and the closing bet stop whenever the engine stops following."""

from __future__ import annotations

import asyncio
import logging
import os
import signal as signals
import subprocess
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import orjson
import pytest

import engine
from engine import playback
from engine.analysis.report import summarize
from engine.core.inputs import Unfollowed
from engine.core.markets.book import EMPTY_BOOK, Book, apply_signals
from engine.core.markets.signals import BetStop, BetStopChanged, MarketStatus, PricesChanged, Reason, Signal
from engine.core.match.inputs import Action
from engine.core.reduce import reduce
from engine.core.state import MatchState
from engine.core.update import Update, coalesce, step
from engine.io.client import ClientSettings, ConnectLimiter
from engine.io.protocol import Secret
from engine.io.recording import read_recording
from engine.io.server import ProviderServer, load_fixtures
from engine.runtime.callbacks import Callbacks
from engine.runtime.delivery import ConsumerTooSlow, Overflow
from engine.runtime.following import Match
from engine.runtime.sources import connect, replay

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures_data"
RECORDINGS = sorted(FIXTURES.glob("*.jsonl"))
BO7 = FIXTURES / "aicup2026_m05_female_bo7.jsonl"
TOKEN = "tok-updates-test"
FAST = ClientSettings(base="ws://127.0.0.1:1", backoff_initial=0.01, backoff_max=0.05, stale_after=5.0)
LIMITER = ConnectLimiter(rate=50)
T = TypeVar("T")


def _run(coro: Awaitable[T], timeout: float = 60.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def _direct_updates(path: Path) -> list[Update]:
    """The updates of a recording folded by the pure core, without the runtime."""
    recording = read_recording(path)
    state = playback.start_state(recording)
    updates = []
    for moment, message in playback.inputs(recording):
        state, update = step(state, message, moment)
        if update.changed:
            updates.append(update)
    return updates


class Receiver:
    """A desk that knows only the updates: the book and the fair prices rebuilt from their signals."""

    def __init__(self) -> None:
        self.book: Book = EMPTY_BOOK
        self.prices: dict[str, dict[str, float]] = {}

    def take(self, update: Update) -> None:
        for signal in update.signals:
            self.apply(signal)

    def apply(self, signal: Signal) -> None:
        if isinstance(signal, PricesChanged):
            self.prices = {k: v for k, v in self.prices.items() if k not in signal.withdrawn}
            self.prices.update({k: dict(v) for k, v in signal.prices.items()})
        else:
            self.book = apply_signals(self.book, [signal])

    def holds(self, state: MatchState) -> bool:
        return self.book == state.book and self.prices == state.prices.fair()


# --- the update itself (20.1) --------------------------------------------------------------------


def test_an_update_is_stamped_with_the_input_its_times_and_the_score_it_belongs_to() -> None:
    updates = _direct_updates(BO7)
    recording = read_recording(BO7)
    scored = next(update for update in updates if any(type(e).__name__ == "PointWon" for e in update.events))
    assert scored.fixture_id == recording.fixture_id
    assert scored.input_type is Action
    assert scored.input == "Action"
    assert isinstance(scored.seq, int)
    assert scored.timestamp is not None
    assert scored.timestamp.endswith("Z")
    assert scored.received is not None
    assert scored.score.points == scored.state.points == ((1, 0),) or scored.score.points == ((0, 1),)
    assert scored.score.games == (0, 0)
    assert scored.score.server == scored.state.server
    assert scored.prices is not None  # the point moved the prices, in the same update
    names = [type(signal).__name__ for signal in scored.signals]
    assert names.index("PricesChanged") < names.index("BetStart")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        scored.seq = 0  # type: ignore[misc]


def test_a_heartbeat_that_changes_nothing_is_no_update() -> None:
    state = MatchState.new("f")
    state, first = step(state, engine.Heartbeat())
    assert first.changed  # the first input offers the book
    state, again = step(state, engine.Heartbeat())
    assert not again.changed
    assert again.events == ()
    assert again.signals == ()


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_the_updates_alone_rebuild_the_book_and_prices_and_never_reopen_before_the_price(path: Path) -> None:
    """20.1 on every corpus recording: a receiver that applies each update's signals in order holds
    the engine's book and prices after every update, and at each reopening already holds the
    market's price for the new score."""
    receiver = Receiver()
    for update in _direct_updates(path):
        for signal in update.signals:
            receiver.apply(signal)
            opened = getattr(signal, "markets", ()) if type(signal).__name__ == "BetStart" else ()
            opened = (signal.market,) if type(signal).__name__ == "MarketResumed" else opened  # type: ignore[union-attr]
            for market_id in opened:
                assert receiver.prices[market_id] == dict(update.state.prices[market_id].fair)
        assert receiver.holds(update.state)


@pytest.mark.parametrize("path", [BO7, FIXTURES / "scenario_point_moved_to_the_other_side.jsonl"], ids=lambda p: p.stem)
def test_coalesced_updates_take_a_receiver_to_the_same_book_and_prices(path: Path) -> None:
    """20.3: the net update that stands for a run of updates (a lagging consumer's) takes a receiver
    from the state before the run to the state after it, for every run length."""
    updates = _direct_updates(path)
    for start in range(0, len(updates) - 1, 17):
        for length in (1, 2, 5, 40):
            run = updates[start + 1 : start + 1 + length]
            if not run:
                continue
            receiver = Receiver()
            for update in updates[: start + 1]:
                receiver.take(update)
            merged = coalesce(updates[start].state, run)
            receiver.take(merged)
            assert receiver.holds(run[-1].state)
            assert merged.coalesced == len(run) - 1
            assert merged.events == tuple(event for update in run for event in update.events)


# --- the closing bet stop (20.4) ---------------------------------------------------------------------


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_unfollowed_at_any_point_of_any_recording_leaves_no_market_open(path: Path) -> None:
    recording = read_recording(path)
    state = playback.start_state(recording)
    for _, message in playback.inputs(recording):
        state, _ = reduce(state, message)
        closed, events = reduce(state, Unfollowed())
        assert not closed.book.with_status(MarketStatus.OPEN)
        for market_id in state.book.with_status(MarketStatus.OPEN):
            assert Reason.NOT_FOLLOWED in closed.book[market_id].reasons
        if state.book.with_status(MarketStatus.OPEN):
            assert any(isinstance(event, BetStop) for event in events)


def _stop_after(path: Path, updates_before_stop: int, how: str) -> tuple[Match, list[Update]]:
    """Replay `path`, and stop following after that many updates: `stop()`, a cancelled task, or
    leaving `async with`."""
    seen: list[Update] = []

    async def run() -> Match:
        enough = asyncio.Event()
        callbacks = Callbacks()

        @callbacks.on(Update)
        async def take(match: Match, update: Update) -> None:
            seen.append(update)
            if len(seen) == updates_before_stop:
                enough.set()
            await asyncio.sleep(0)

        match = replay(path, callbacks=callbacks, buffer=2)
        if how == "stop":
            match.start()
            await enough.wait()
            await match.stop()
        elif how == "leave":
            async with match:
                await enough.wait()
        else:
            waiter = asyncio.ensure_future(match.wait())
            await enough.wait()
            assert match._task is not None
            match._task.cancel()  # the feed's task cancelled from outside
            assert (await waiter) is match.state  # wait() returns once the closing update is delivered
        return match

    return _run(run()), seen


@pytest.mark.parametrize("how", ["stop", "leave", "cancel"])
def test_stopping_mid_match_sends_a_closing_bet_stop_and_leaves_nothing_open(how: str) -> None:
    for updates_before_stop in (3, 40, 150):
        match, seen = _stop_after(BO7, updates_before_stop, how)
        assert not match.state.book.with_status(MarketStatus.OPEN)
        last = seen[-1]
        assert last.input == "Unfollowed"
        assert any(isinstance(s, BetStop | BetStopChanged) and Reason.NOT_FOLLOWED in s.reasons for s in last.signals)
        receiver = Receiver()
        for update in seen:
            receiver.take(update)
        assert receiver.book == match.state.book  # the callbacks saw everything, the closing stop last
        assert not receiver.book.with_status(MarketStatus.OPEN)


def test_a_finished_match_needs_no_closing_bet_stop() -> None:
    async def run() -> list[Update]:
        seen: list[Update] = []
        async with replay(BO7) as match:
            async for update in match:
                seen.append(update)
        return seen

    seen = _run(run())
    assert seen[-1].input != "Unfollowed"
    assert [u.signals for u in seen] == [u.signals for u in _direct_updates(BO7)]


# --- async callbacks (20.2) ---------------------------------------------------------------------------


def test_async_callbacks_are_awaited_in_order_and_see_every_update() -> None:
    """Done-when: an `async def` handler on `engine.replay` counts its bet stops (before: never run)."""
    path = FIXTURES / "scenario_stale_feed.jsonl"
    order: list[str] = []
    stops = 0

    async def run() -> None:
        nonlocal stops
        async with engine.replay(path) as match:

            @match.on(engine.BetStop)
            async def on_stop(match: Match, signal: BetStop) -> None:
                nonlocal stops
                await asyncio.sleep(0.001)  # a desk's await: the next item waits for it
                stops += 1
                order.append(f"stop {match.update.seq if match.update else None}")

            @match.on(Update)
            def on_update(match: Match, update: Update) -> None:
                order.append(f"update {update.seq}")

            await match.wait()

    _run(run())
    direct = _direct_updates(path)
    expected_stops = sum(isinstance(s, BetStop) for u in direct for s in u.signals)
    assert stops == expected_stops > 0
    expected_order = []
    for update in direct:
        expected_order.append(f"update {update.seq}")
        expected_order.extend(f"stop {update.seq}" for s in update.signals if isinstance(s, BetStop))
    assert order == expected_order


def test_a_failing_async_callback_is_isolated_and_a_slow_one_warned(caplog: pytest.LogCaptureFixture) -> None:
    callbacks = Callbacks(slow_after=0.02)
    calls = 0

    @callbacks.on(engine.PointWon)
    async def failing(match: Match, event: engine.PointWon) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("a desk's async bug")

    @callbacks.on(engine.GameWon)
    async def slow(match: Match, event: engine.GameWon) -> None:
        await asyncio.sleep(0.03)

    async def run() -> MatchState:
        async with replay(BO7, callbacks=callbacks) as match:
            return await match.wait()

    caplog.set_level(logging.WARNING)
    state = _run(run())
    assert calls == callbacks.failures == sum(sum(game) for game in state.points)
    assert summarize(state) == summarize(playback.fold(read_recording(BO7)))
    assert "a desk's async bug" in caplog.text
    assert "slow" in caplog.text
    assert "took" in caplog.text


@pytest.mark.parametrize("bad", [42, "handler", 1.5])
def test_a_callback_that_is_not_callable_is_refused_at_registration(bad: object) -> None:
    callbacks = Callbacks()
    with pytest.raises(TypeError, match="callable"):
        callbacks.on(engine.BetStop, bad)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="class"):
        callbacks.on("BetStop", lambda match, event: None)  # type: ignore[arg-type]


# --- backpressure, not loss (20.3) --------------------------------------------------------------------


def test_a_replay_waits_for_a_slow_consumer_and_loses_nothing() -> None:
    peak = 0

    async def run() -> list[Update]:
        nonlocal peak
        seen: list[Update] = []
        async with replay(BO7, buffer=3) as match:
            async for update in match:
                peak = max(peak, len(match._pending))
                seen.append(update)
                await asyncio.sleep(0.0005)  # slower than the replay
        return seen

    seen = _run(run())
    assert peak <= 3
    assert [(u.seq, u.signals) for u in seen] == [(u.seq, u.signals) for u in _direct_updates(BO7)]


def _follow_slowly(overflow: Overflow, buffer: int = 8) -> tuple[Match, list[Update], BaseException | None]:
    seen: list[Update] = []

    async def run() -> tuple[Match, BaseException | None]:
        fixtures = load_fixtures(BO7)
        (fixture_id,) = fixtures
        # Paced at 2 ms a frame, so the feed is live at once (issue 28: a burst would be folded
        # as one backlog) and a consumer at 3 ms an update falls behind.
        async with ProviderServer(fixtures, Secret(TOKEN), speed=2000.0) as server:
            callbacks = Callbacks()

            @callbacks.on(Update)
            async def slow_desk(match: Match, update: Update) -> None:
                seen.append(update)
                await asyncio.sleep(0.003)

            match = connect(
                fixture_id,
                TOKEN,
                fmt=engine.MatchFormat(best_of=7),
                settings=attrs.evolve(FAST, base=server.base, catch_up_quiet=0.001, catch_up_quiet_fresh=0.001),
                limiter=LIMITER,
                callbacks=callbacks,
                buffer=buffer,
                overflow=overflow,
            )
            try:
                async with match:
                    await match.wait()
            except ConsumerTooSlow as exc:
                return match, exc
            return match, None

    match, error = _run(run())
    return match, seen, error


def test_a_lagging_live_consumer_gets_every_market_suspended_then_one_coalesced_update(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    match, seen, error = _follow_slowly(Overflow.SUSPEND)
    assert error is None
    lagging = [
        u
        for u in seen
        if any(Reason.CONSUMER_LAGGING in getattr(s, "reasons", ()) for s in u.signals)  # a stop, or per market
    ]
    assert all(u.snapshot for u in lagging)  # the stop goes ahead of the queue, as one snapshot
    assert lagging, "the consumer never lagged: the test did not test"
    assert match.coalesced > 0
    assert any(update.coalesced for update in seen)
    receiver = Receiver()
    for update in seen:
        receiver.take(update)
    assert receiver.holds(match.state)  # nothing lost: the signals alone reach the engine's book
    assert summarize(match.state) == summarize(playback.fold(read_recording(BO7)))
    assert "consumer_lagging" in caplog.text
    assert "coalesced" in caplog.text


def test_overflow_fail_stops_following_with_a_closing_bet_stop() -> None:
    match, seen, error = _follow_slowly(Overflow.FAIL)
    assert isinstance(error, ConsumerTooSlow)
    assert "updates (" in str(error)
    assert "behind" in str(error)
    assert seen[-1].input == "Unfollowed"
    assert not match.state.book.with_status(MarketStatus.OPEN)


# --- SIGTERM on the command line (20.4) ----------------------------------------------------------------


def _served(path: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """`ttengine serve` of one recording at 20x its recorded pace, on a free port; its base URL and fixture."""
    server = subprocess.Popen(
        [sys.executable, "-m", "engine", "serve", str(path), "--port", "0", "--token", TOKEN, "--speed", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert server.stdout is not None
    line = server.stdout.readline().decode()  # "serving ws://127.0.0.1:PORT/v2/tabletennis/…"
    base = line.split()[1].split("/v2/")[0] if line.startswith("serving ") else line
    (fixture_id,) = load_fixtures(path)
    return server, base, fixture_id


@pytest.mark.parametrize(("sent", "code"), [(signals.SIGTERM, 0), (signals.SIGINT, 130)])
def test_sigterm_on_connect_suspends_every_market_then_exits(sent: int, code: int) -> None:
    server, base, fixture_id = _served(BO7)
    try:
        assert base.startswith("ws://127.0.0.1:"), base
        client = subprocess.Popen(
            [sys.executable, "-m", "engine", "connect", fixture_id, "--token-env", "T", "--base", base, "--trace"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "T": TOKEN},
        )
        assert client.stdout is not None
        lines: list[dict[str, Any]] = []
        began = time.monotonic()
        while len(lines) < 12 and time.monotonic() - began < 120:
            lines.append(orjson.loads(client.stdout.readline()))
        client.send_signal(sent)
        out, err = client.communicate(timeout=60)
        lines.extend(orjson.loads(line) for line in out.splitlines())
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert client.returncode == code, err
    last = lines[-1]
    assert last["input"] == "Unfollowed"
    receiver: Book = EMPTY_BOOK
    for line in lines:
        receiver = apply_signals(receiver, [_signal(s) for s in line["signals"] if s["signal"] != "PricesChanged"])
    assert receiver
    assert not receiver.with_status(MarketStatus.OPEN)
    assert b"stopped following" in err


def _signal(described: dict[str, Any]) -> Signal:
    """A trace line's signal object back as a signal (the kinds a bet stop or start needs)."""
    kind = getattr(engine, described["signal"])
    fields = {field.name: described[field.name] for field in attrs.fields(kind)}
    if "reasons" in fields:
        fields["reasons"] = tuple(Reason(reason) for reason in fields["reasons"])
    if "scope" in fields:
        fields["scope"] = engine.Scope(fields["scope"])
        fields["types"] = tuple(engine.MarketType(t) for t in fields["types"])
        fields["markets"] = tuple(fields["markets"])
    if "reason" in fields:
        fields["reason"] = engine.VoidReason(fields["reason"])
    signal: Signal = kind(**fields)
    return signal


def test_state_prices_is_a_read_only_mapping_as_readme_says() -> None:
    """20.6: `state.prices["match_winner"]` and `"match_winner" in state.prices` raised TypeError."""
    state = next(u.state for u in _direct_updates(BO7) if u.score.points == ((2, 3),))
    assert "match_winner" in state.prices
    assert "no such market" not in state.prices
    found = state.prices["match_winner"]
    assert set(found.fair) == {"home", "away"}
    assert found.odds["home"] > 1.0
    assert list(state.prices) == [market_id for market_id in state.book if market_id in state.prices]
    assert len(state.prices) == len(dict(state.prices.items()))
    with pytest.raises(TypeError):
        state.prices["match_winner"] = found  # type: ignore[index]
    with pytest.raises(KeyError):
        state.prices["no such market"]


def test_a_recording_that_stops_mid_match_replays_to_a_closing_bet_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fast replay (CLI, `playback.fold`) ends a truncated recording as the runtime does."""
    from engine.cli import main

    half = tmp_path / "half.jsonl"
    half.write_text("".join(BO7.read_text().splitlines(keepends=True)[:60]))
    assert main(["replay", str(half), "--trace"]) == 0
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["input"] == "Unfollowed"
    assert main(["replay", str(half)]) == 0
    markets = orjson.loads(capsys.readouterr().out)["markets"]
    assert not [m for m, entry in markets.items() if entry["status"] == "open"]
    assert any("not_followed" in entry["reasons"] for entry in markets.values())


def test_stop_from_inside_the_async_for_loop_delivers_the_rest_and_returns() -> None:
    """The consumer's own loop calls `stop()` while many updates are queued: the delivery must not
    wait for that consumer to take them (it is busy stopping), and the loop still gets them all."""

    async def run() -> tuple[list[Update], Match]:
        seen: list[Update] = []
        async with replay(BO7, buffer=64) as match:
            async for update in match:
                seen.append(update)
                if len(seen) == 5:
                    await asyncio.sleep(0.05)  # the replay queues many meanwhile
                    assert len(match._pending) > 2
                    await match.stop()
        return seen, match

    seen, match = _run(run(), timeout=20)
    assert seen[-1].input == "Unfollowed"
    receiver = Receiver()
    for update in seen:
        receiver.take(update)
    assert receiver.book == match.state.book
    assert not match.state.book.with_status(MarketStatus.OPEN)


def test_plain_callbacks_run_right_after_the_reducer_without_a_hop_through_the_loop() -> None:
    """Latency: with nothing queued, a plain callback has run by the time `feed` returns."""
    recording = read_recording(BO7)
    messages = [message for _, message in playback.inputs(recording, end=False)][:40]

    async def run() -> int:
        calls: list[Update] = []
        checked = 0

        async def source(match: Match) -> None:
            nonlocal checked
            await asyncio.sleep(0)
            for message in messages:
                update = match.feed(message)
                if update.changed:
                    assert calls[-1] is update
                    checked += 1

        match = Match(recording.fixture_id, source, engine.MatchFormat(best_of=7))
        match.on(Update, lambda match, update: calls.append(update))
        await match.wait()
        return checked

    assert _run(run()) > 20


def test_a_callback_taken_off_is_called_no_more() -> None:
    """`Callbacks.off(fn)`: a desk stops listening mid-match; the others keep every update."""
    path = FIXTURES / "scenario_stale_feed.jsonl"
    kept: list[int] = []
    dropped: list[int] = []

    async def run() -> None:
        async with engine.replay(path) as match:

            @match.on(Update)
            def keep(match: Match, update: Update) -> None:
                kept.append(update.seq)
                if len(kept) == 10:
                    match.callbacks.off(drop)

            @match.on(Update)
            def drop(match: Match, update: Update) -> None:
                dropped.append(update.seq)

            await match.wait()

    _run(run())
    assert len(kept) == len(_direct_updates(path)) > 10
    assert dropped == kept[:10]
