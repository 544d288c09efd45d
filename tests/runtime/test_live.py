"""The live path over real websockets on loopback (FEED.md section 1): our adapter against our
provider-compatible server, with faults injected by the server. No socket is mocked."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
from faultruns import settlements
from scenario import PRIORED
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from engine import playback
from engine.analysis.report import is_signal, summarize
from engine.cli import main
from engine.core.config import DEFAULT_MARKETS, MarketConfig
from engine.core.events import Event, PointWon
from engine.core.inputs import Input, Stale
from engine.core.markets.catalogue import FORMAT_DEPENDENT_MARKET_TYPES
from engine.core.markets.signals import (
    BetStop,
    BetStopChanged,
    MarketResumed,
    MarketSettled,
    MarketSuspended,
    MarketVoided,
    PricesChanged,
    Reason,
    Scope,
    SettlementRolledBack,
    StatusSignal,
    SuspensionReasonsChanged,
    VoidRolledBack,
    expand,
)
from engine.core.match.rules import UNKNOWN_FORMAT, MatchFormat
from engine.core.state import MatchState
from engine.core.update import Update
from engine.feed.catalogue import DEFAULT_CATALOGUE, ActionCatalogue, ActionKind
from engine.feed.wire import Action
from engine.io.client import ClientSettings, ConnectLimiter, backoff_delays
from engine.io.protocol import ACCEPT_HEADER, MISSING_ACCEPT_TEXT, AuthRefused, Secret, actions_url
from engine.io.recording import read_recording
from engine.io.server import NO_FAULTS, Faults, ProviderServer, load_fixtures
from engine.runtime.callbacks import Callbacks
from engine.runtime.following import Match
from engine.runtime.sources import connect, replay

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures_data"
RECORDING = FIXTURES / "aicup2026_m05_female_bo7.jsonl"
TOKEN = "tok-3f9a7c1e-very-secret"
FAST = ClientSettings(base="ws://127.0.0.1:1", backoff_initial=0.01, backoff_max=0.05, stale_after=5.0)
LIMITER = ConnectLimiter(rate=50)  # tests connect often; the process-wide limit is tested on its own
T = TypeVar("T")
#: A bound for tests that start a subprocess: generous, since a loaded 2-core machine is slow to
#: start an interpreter; it only stops a test that really hangs.
LOADED_MACHINE_TIMEOUT = 300.0


def _run(coro: Awaitable[T], timeout: float = 30.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def _direct_summary(path: Path = RECORDING, markets: MarketConfig = DEFAULT_MARKETS) -> dict[str, Any]:
    return summarize(playback.fold(read_recording(path), markets=markets))


@attrs.define
class Followed:
    """What following one fixture over loopback gave."""

    match: Match
    server: ProviderServer
    steps: list[tuple[float, Input, list[Event]]]

    @property
    def events(self) -> list[Event]:
        return [event for _, _, events in self.steps for event in events]


async def _follow(
    faults: Faults = NO_FAULTS,
    token: str = TOKEN,
    settings: ClientSettings = FAST,
    heartbeat: float = 10.0,
    fmt: MatchFormat | None = None,
    **connect_kwargs: Any,
) -> Followed:
    fixtures = load_fixtures(RECORDING)
    (fixture_id,) = fixtures
    steps: list[tuple[float, Input, list[Event]]] = []

    def observe(match: Match, message: Input, update: Update) -> None:
        steps.append((time.perf_counter(), message, list(update.items())))

    async with ProviderServer(fixtures, Secret(TOKEN), heartbeat=heartbeat, faults=faults) as server:
        meta = read_recording(RECORDING).meta
        match = connect(
            fixture_id,
            token,
            fmt=meta.format() if fmt is None else fmt,
            settings=attrs.evolve(settings, base=server.base),
            limiter=LIMITER,
            on_input=observe,
            **connect_kwargs,
        )
        async with match:
            await match.wait()
    return Followed(match, server, steps)


def test_live_summary_and_events_equal_a_direct_replay() -> None:
    followed = _run(_follow())
    assert summarize(followed.match.state) == _direct_summary()

    async def replayed() -> list[Event]:
        events: list[Event] = []
        async with replay(RECORDING) as match:
            async for update in match:
                events.extend(update.items())
        return events

    # The same match events as live, in the same order, and the same settlements; the market
    # signals differ only where live folded its backlog under suspension (issue 28).
    live, replayed_events = followed.events, _run(replayed())
    assert [e for e in live if not is_signal(e)] == [e for e in replayed_events if not is_signal(e)]
    assert settlements(live) == settlements(replayed_events)


def test_a_follow_without_a_format_never_settles_a_match_market_on_a_guess(tmp_path: Path) -> None:
    """Issue 12.1: a best-of-7 followed with no format given. Match-level markets stay suspended
    (format_unknown) and settle only on the provider's End Match, never rolled back; the recording
    invents no bestOf."""
    record = tmp_path / "followed.jsonl"
    followed = _run(_follow(fmt=UNKNOWN_FORMAT, record=str(record)))
    match_level = {market_type.value for market_type in FORMAT_DEPENDENT_MARKET_TYPES}
    ended = False
    settled: dict[str, str] = {}
    for _, message, events in followed.steps:
        ended = ended or (isinstance(message, Action) and message.kind is ActionKind.END_MATCH)
        for e in events:  # no price either for a market that depends on the format unknown
            if isinstance(e, PricesChanged):
                assert not {market.split(":")[0] for market in e.prices} & match_level, e.prices
        for event in [single for e in events if isinstance(e, StatusSignal) for single in expand(e)]:
            assert not isinstance(event, PricesChanged)
            if event.market.split(":")[0] not in match_level:
                continue
            assert not isinstance(event, SettlementRolledBack | VoidRolledBack), event
            assert not isinstance(event, MarketResumed), event  # never opened on a guess
            if isinstance(event, MarketSuspended):
                assert Reason.FORMAT_UNKNOWN in event.reasons, event
            if isinstance(event, MarketSettled | MarketVoided):
                assert ended, f"{event} before the provider ended the match"
                settled[event.market] = event.result if isinstance(event, MarketSettled) else "void"
    assert ended
    known = _direct_summary()["markets"]  # the same match replayed with its format (best of 7)
    assert settled["match_winner"] == known["match_winner"]["result"] == "away"
    assert settled["correct_score"] == known["correct_score"]["result"]
    for market_id, entry in known.items():
        if market_id.startswith("total_games:"):
            assert settled[market_id] == entry["result"]
    assert summarize(followed.match.state)["bestOf"] is None
    assert "bestOf" not in read_recording(record).meta.to_json()


def test_an_oserror_of_the_users_code_ends_the_feed_and_is_not_a_lost_connection(tmp_path: Path) -> None:
    """Issue 12.3: an OSError raised by the observer (say a closed stdout) or by the recorder (a
    full disk) was taken for a lost connection and the client reconnected."""

    class FullDisk:
        def write(self, text: str) -> None:
            raise OSError(28, "No space left on device")

    def closed_stdout(match: Match, message: Input, update: Update) -> None:
        if any(isinstance(event, PointWon) for event in update.events):
            raise BrokenPipeError(32, "Broken pipe")

    for kwargs, error in (({"on_input": closed_stdout}, BrokenPipeError), ({"frames": FullDisk()}, OSError)):

        async def follow(kwargs: dict[str, Any] = kwargs) -> tuple[ProviderServer, BaseException | None]:
            async with ProviderServer(load_fixtures(RECORDING), Secret(TOKEN)) as server:
                (fixture_id,) = server.fixtures
                match = connect(fixture_id, TOKEN, settings=attrs.evolve(FAST, base=server.base), **kwargs)
                try:
                    await match.wait()
                except OSError as exc:
                    return server, exc
                return server, None

        began = time.monotonic()
        server, raised = _run(follow())
        assert isinstance(raised, error)
        assert server.attempts == 1  # no reconnect
        assert time.monotonic() - began < 5.0  # not held by the close handshake (was 10 s each)


def test_the_demo_shows_a_real_match_and_ends_with_the_replay_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 12.6: names from the lineups, one line per point, one BET STOP and one BET START line
    per rally (not one per market), the settlements, a short final table; --summary adds the JSON."""
    assert main(["demo", "--speed", "100", "--summary"]) == 0  # a frame every 40 ms: live, not a backlog
    out = capsys.readouterr().out
    lines = out.splitlines()
    start = lines.index("{")
    summary = json.loads("\n".join(lines[start:]))
    assert summary == _direct_summary()
    board = lines[:start]
    points = sum(sum(game) for game in summary["points"])
    assert sum(1 for line in board if " game " in line and " games " in line) == points
    assert "AICUP player 8 (home) v AICUP player 9 (away)" in board
    stops = [line for line in board if line.strip().startswith("BET STOP")]
    starts = [line for line in board if line.strip().startswith("BET START")]
    assert points <= len(stops) <= points + 2  # one per rally, and before the first
    assert points <= len(starts) <= points + 2
    assert any(line.strip().startswith("SETTLED   game_winner:1 = ") for line in board)
    assert any(line.strip() == "SETTLED   match_winner = away" for line in board)
    assert "winner: AICUP player 9 (away), result normal" in board
    (held,) = [line for line in board if line.startswith("suspensions (count, time): ")]
    assert "ball_in_play 93x" in held
    assert "no_prior 1x" in held  # the demo's players are not rated: no match-level market offered
    assert len(board) < 500


def test_a_dropped_connection_resumes_without_losing_or_repeating_anything() -> None:
    clean = _run(_follow(markets=PRIORED))  # with a prior: every market opens between rallies
    dropped = _run(_follow(Faults(drop_after=(40, 95, 7)), markets=PRIORED))
    assert dropped.server.connections[clean.match.fixture_id or ""] == 4
    assert summarize(dropped.match.state) == summarize(clean.match.state)
    assert dropped.match.state.match.duplicates == 0  # startPosition: nothing was sent twice
    assert settlements(dropped.events) == settlements(clean.events)
    suspended_while_down = [
        events for _, message, events in dropped.steps if type(message).__name__ == "Disconnected" and events
    ]
    assert len(suspended_while_down) == 3
    for events in suspended_while_down:
        # one scoped stop, and the new reason on markets suspended for one of their own (`decided`)
        assert all(isinstance(e, BetStop | BetStopChanged | SuspensionReasonsChanged) for e in events)
        assert sum(isinstance(e, BetStop | BetStopChanged) for e in events) == 1


def test_duplicates_and_reordering_change_no_settlement() -> None:
    clean = _run(_follow())
    noisy = _run(_follow(Faults(duplicate=0.2, reorder_window=3, seed=7)))
    expected, got = summarize(clean.match.state), summarize(noisy.match.state)
    assert got.pop("duplicates") > 0
    expected.pop("duplicates")
    assert got == expected
    assert settlements(noisy.events) == settlements(clean.events)


def test_a_wrong_token_is_a_clear_final_error_without_retries() -> None:
    began = time.monotonic()
    with pytest.raises(AuthRefused, match="refused the token") as refused:
        _run(_follow(token="not-the-token"))
    assert time.monotonic() - began < 5
    assert TOKEN not in str(refused.value)
    assert "not-the-token" not in str(refused.value)

    async def attempts() -> int:
        async with ProviderServer(load_fixtures(RECORDING), Secret(TOKEN)) as server:
            (fixture_id,) = server.fixtures
            match = connect(fixture_id, "wrong", settings=attrs.evolve(FAST, base=server.base), limiter=LIMITER)
            async with match:
                with pytest.raises(AuthRefused):
                    await match.wait()
                await asyncio.sleep(0.3)  # a retry storm would show here
            return server.attempts

    assert _run(attempts()) == 1


def test_the_connect_command_reports_a_refused_token_in_one_line(capfd: pytest.CaptureFixture[str]) -> None:
    async def serve_and_connect() -> int:
        async with ProviderServer(load_fixtures(RECORDING), Secret(TOKEN)) as server:
            (fixture_id,) = server.fixtures
            os.environ["TT_TEST_TOKEN"] = "wrong-token-value"
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "engine",
                "connect",
                fixture_id,
                "--token-env",
                "TT_TEST_TOKEN",
                "--base",
                server.base,
            )
            return await process.wait()

    assert _run(serve_and_connect(), timeout=LOADED_MACHINE_TIMEOUT) == 3
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1, err  # issue 12.4: the feed's error was also logged, a second line
    assert err[0].startswith("ttengine connect: fixture ")
    assert "refused the token" in err[0]
    assert "wrong-token-value" not in "\n".join(err)


def test_a_missing_accept_header_gets_the_documented_400() -> None:
    async def handshake() -> tuple[int, str]:
        async with ProviderServer(load_fixtures(RECORDING), Secret(TOKEN)) as server:
            (fixture_id,) = server.fixtures
            with pytest.raises(InvalidStatus) as refused:
                async with ws_connect(actions_url(server.base, fixture_id)):
                    pass
            response = refused.value.response
            async with ws_connect(actions_url(server.base, fixture_id), additional_headers={"Accept": ACCEPT_HEADER}):
                pass
            return response.status_code, response.body.decode()

    status, body = _run(handshake())
    assert status == 400
    assert body.strip() == MISSING_ACCEPT_TEXT


def test_silence_suspends_every_market_within_the_stale_timeout() -> None:
    stale_after = 0.3
    settings = attrs.evolve(FAST, stale_after=stale_after, reconnect_after=5.0)
    followed = _run(_follow(Faults(silence_after=60, silence_for=1.0), settings=settings, markets=PRIORED))
    stale_steps = [(at, index) for index, (at, message, _) in enumerate(followed.steps) if isinstance(message, Stale)]
    assert len(stale_steps) == 1
    at, index = stale_steps[0]
    last_frame = max(t for t, message, _ in followed.steps[:index] if not isinstance(message, Stale))
    assert at - last_frame <= stale_after + 0.1
    (suspended,) = followed.steps[index][2]  # one bet stop for every undecided market
    assert isinstance(suspended, BetStop)
    assert suspended.scope is Scope.ALL
    assert Reason.STALE_FEED in suspended.reasons
    assert summarize(followed.match.state) == _direct_summary(markets=PRIORED)  # and nothing was lost


def test_the_token_never_appears_in_logs_recordings_or_reprs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("websockets", "engine", "engine.io.websockets"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    record = tmp_path / "recorded.jsonl"
    followed = _run(_follow(Faults(drop_after=(30,)), record=record))
    with pytest.raises(AuthRefused) as refused:
        _run(_follow(token=TOKEN + "-bad"))
    settings = attrs.evolve(FAST, base="ws://127.0.0.1:9")
    exposed = [
        caplog.text,
        record.read_text(),
        repr(followed.match),
        repr(followed.server),
        repr(Secret(TOKEN)),
        str(Secret(TOKEN)),
        f"{Secret(TOKEN)}",
        repr(settings),
        str(refused.value),
    ]
    assert "authToken" in caplog.text  # the debug log did see the auth message …
    for text in exposed:
        assert TOKEN not in text  # … but never the token
    recorded = read_recording(record)
    assert recorded.meta.fixture_id == followed.match.fixture_id
    # every frame exactly once: the reconnect resumed after what had arrived
    assert [getattr(f, "text", None) for f in recorded.frames] == [
        getattr(f, "text", None) for f in read_recording(RECORDING).frames
    ]


def test_a_raising_callback_is_isolated_and_a_slow_one_is_warned(caplog: pytest.LogCaptureFixture) -> None:
    callbacks = Callbacks(slow_after=0.05)
    seen: list[int] = []

    @callbacks.on(PointWon)
    def boom(match: Match, event: PointWon) -> None:
        seen.append(event.game)
        raise RuntimeError("a desk's bug")

    @callbacks.on(MarketSettled)
    def slow(match: Match, event: MarketSettled) -> None:
        if event.market == "match_winner":
            time.sleep(0.06)

    caplog.set_level(logging.WARNING)
    followed = _run(_follow(callbacks=callbacks))
    points = sum(sum(game) for game in followed.match.state.points)
    assert len(seen) == points
    assert callbacks.failures == points
    assert summarize(followed.match.state) == _direct_summary()
    assert "a desk's bug" in caplog.text
    assert "blocked the event loop" in caplog.text  # a plain handler: every fixture waited
    assert callbacks.blocking == callbacks.slow == 1
    assert "slow" in caplog.text


def test_many_fixtures_share_one_loop_and_one_callback_surface(tmp_path: Path) -> None:
    paths = [FIXTURES / "aicup2026_m01_female_bo5.jsonl", FIXTURES / "aicup2026_m02_male_bo5.jsonl"]
    for path in paths:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    callbacks = Callbacks()
    settled: dict[str | None, str] = {}
    callbacks.on(
        MarketSettled,
        lambda match, e: settled.update({match.fixture_id: e.result}) if e.market == "match_winner" else None,
    )

    async def both() -> list[Match]:
        fixtures = load_fixtures(tmp_path)
        async with ProviderServer(fixtures, Secret(TOKEN)) as server:
            settings = attrs.evolve(FAST, base=server.base)
            fmt = MatchFormat(best_of=5)  # both recordings are best of 5, as their replay says
            matches = [
                connect(f, TOKEN, fmt=fmt, settings=settings, callbacks=callbacks, limiter=LIMITER) for f in fixtures
            ]
            for match in matches:
                match.start()
            await asyncio.gather(*(match.wait() for match in matches))
            return matches

    matches = _run(both())
    assert set(settled) == {match.fixture_id for match in matches}
    for match, path in zip(
        sorted(matches, key=lambda m: m.fixture_id or ""), sorted(paths, key=_fixture_of), strict=True
    ):
        assert summarize(match.state) == _direct_summary(path)


def _fixture_of(path: Path) -> str:
    return read_recording(path).meta.fixture_id or ""


def test_the_process_wide_limit_spaces_connection_attempts() -> None:
    limiter = ConnectLimiter(rate=5, per=0.2)

    async def twelve() -> list[float]:
        times = []
        for _ in range(12):
            await limiter.acquire()
            times.append(time.monotonic())
        return times

    times = _run(twelve())
    for first, sixth in zip(times, times[5:], strict=False):
        assert sixth - first >= 0.2 - 1e-3


def _three_frames(tmp_path: Path) -> Path:
    """The first three frames of the real match, recorded one second apart (the match goes on)."""
    source = RECORDING.read_text().splitlines()
    path = tmp_path / "three.jsonl"
    lines = [source[0]]
    for index, line in enumerate(source[1:4]):
        frame = json.loads(line)
        frame["recv"] = f"2026-01-01T10:00:0{index}.000Z"
        lines.append(json.dumps(frame))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_paced_replay_follows_the_recorded_receive_times(tmp_path: Path) -> None:
    path = _three_frames(tmp_path)

    async def timed(speed: float | None) -> float:
        began = time.perf_counter()
        async with replay(path, speed=speed) as match:
            await match.wait()
        return time.perf_counter() - began

    assert _run(timed(10.0)) >= 0.2  # 2 s of recording at 10x
    assert _run(timed(None)) < 0.2


def test_a_client_that_is_not_ours_gets_the_stream_after_its_auth_message() -> None:
    async def interactive() -> str:
        fixtures = load_fixtures(RECORDING)
        (fixture_id,) = fixtures
        async with ProviderServer(fixtures, Secret(TOKEN), require_accept=False) as server:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "websockets",
                actions_url(server.base, fixture_id),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            assert process.stdin is not None
            assert process.stdout is not None
            process.stdin.write(json.dumps({"authToken": TOKEN}).encode() + b"\n")
            await process.stdin.drain()
            seen = b""
            while b"fixtureAction" not in seen:
                line = await process.stdout.readline()
                assert line, "the client ended before any action arrived"
                seen += line
            process.kill()
            # Drain what the client wrote before it died, then wait: waiting alone could hang on a
            # loaded machine while the pipe still held output (issue 12.7).
            await process.communicate()
            return seen.decode()

    assert "fixtureSeqNum" in _run(interactive(), timeout=LOADED_MACHINE_TIMEOUT)


def test_heartbeats_keep_a_quiet_feed_from_going_stale(tmp_path: Path) -> None:
    path = _three_frames(tmp_path)

    async def follow(heartbeat: float) -> list[Input]:
        inputs: list[Input] = []
        third = asyncio.Event()

        def observe(match: Match, message: Input, update: Update) -> None:
            inputs.append(message)
            if sum(isinstance(i, Action) for i in inputs) == 3:
                third.set()  # the recording ends here, before the match does: stop following

        fixtures = load_fixtures(path)
        (fixture_id,) = fixtures
        async with ProviderServer(fixtures, Secret(TOKEN), heartbeat=heartbeat, speed=2.0) as server:
            settings = attrs.evolve(FAST, base=server.base, stale_after=0.3)
            async with connect(fixture_id, TOKEN, settings=settings, limiter=LIMITER, on_input=observe):
                await third.wait()
        return inputs

    assert not any(isinstance(i, Stale) for i in _run(follow(heartbeat=0.1)))
    assert sum(isinstance(i, Stale) for i in _run(follow(heartbeat=10.0))) == 2  # 0.5 s gaps, twice


def test_backoff_is_full_jitter_capped_and_never_overflows() -> None:
    settings = ClientSettings(backoff_initial=0.5, backoff_factor=2.0, backoff_max=30.0)
    delay = backoff_delays(settings, random.Random(1))
    assert all(0 <= delay(0) <= 0.5 for _ in range(100))
    assert max(delay(3) for _ in range(200)) <= 4.0
    assert max(delay(3) for _ in range(200)) > 2.0  # full jitter spreads over the whole range
    assert all(0 <= delay(10_000) <= 30.0 for _ in range(100))


def test_leaving_the_block_stops_a_reconnecting_feed_at_once(tmp_path: Path) -> None:
    """Regression: asyncio.wait_for on Python 3.11 can swallow a cancellation that lands as recv()
    completes; the feed then went on reconnecting to a server whose recording had ended, and
    leaving `async with` hung."""

    async def follow_then_leave() -> float:
        fixtures = load_fixtures(_three_frames(tmp_path))
        (fixture_id,) = fixtures
        actions = 0
        third = asyncio.Event()

        def observe(match: Match, message: Input, update: Update) -> None:
            nonlocal actions
            actions += isinstance(message, Action)
            if actions == 3:
                third.set()

        async with ProviderServer(fixtures, Secret(TOKEN), heartbeat=0.1, speed=2.0) as server:
            settings = attrs.evolve(FAST, base=server.base, stale_after=0.3)
            async with connect(fixture_id, TOKEN, settings=settings, limiter=LIMITER, on_input=observe):
                await third.wait()  # heartbeats every 0.1 s keep recv() busy: the race is likely here
                began = time.monotonic()
            return time.monotonic() - began

    for _ in range(3):
        assert _run(follow_then_leave(), timeout=10) < 1.0


def test_a_frame_over_the_size_limit_is_reported_and_skipped_not_fetched_forever(tmp_path: Path) -> None:
    lines = RECORDING.read_text().splitlines()
    frame = json.loads(lines[40])  # an action in the first game
    message = json.loads(frame["text"])
    message["padding"] = "x" * 5000
    frame["text"] = json.dumps(message)
    lines[40] = json.dumps(frame)
    path = tmp_path / "oversized.jsonl"
    path.write_text("\n".join(lines) + "\n")

    async def follow() -> tuple[Match, int]:
        fixtures = load_fixtures(path)
        (fixture_id,) = fixtures
        async with ProviderServer(fixtures, Secret(TOKEN)) as server:
            settings = attrs.evolve(FAST, base=server.base, max_size=4000)
            match = connect(
                fixture_id, TOKEN, fmt=read_recording(path).meta.format(), settings=settings, limiter=LIMITER
            )
            async with match:
                await match.wait()
            return match, server.connections[fixture_id]

    match, connections = _run(follow())
    assert connections == 2  # one reconnect past the frame, not a loop
    state = match.state
    assert (state.match.malformed, state.match.gaps) == (1, 1)
    assert summarize(state)["games"] == _direct_summary()["games"]
    assert state.status.value == "finished"


def test_cancelling_a_waiter_cancels_the_waiter_not_the_feed() -> None:
    async def scenario() -> tuple[bool, dict[str, Any]]:
        async with replay(RECORDING, speed=1e6) as match:
            waiter = asyncio.create_task(match.wait())
            await asyncio.sleep(0)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            state = await match.wait()
        return waiter.cancelled(), summarize(state)

    cancelled, summary = _run(scenario())
    assert cancelled
    assert summary == _direct_summary()


def test_a_live_follow_decodes_with_the_catalogue_it_is_given(tmp_path: Path) -> None:
    """Issue 14: engine.connect(catalogue=...) reaches the live decode (before, only replay used a
    recording's `types`); the recording it writes keeps them, so its replay decodes the same."""
    path = FIXTURES / "scenario_expedite.jsonl"
    recording = read_recording(path)
    assert recording.meta.types  # the expedite type id is not in the default catalogue

    async def follow(catalogue: ActionCatalogue, record: Path) -> MatchState:
        async with ProviderServer(load_fixtures(path), Secret(TOKEN)) as server:
            (fixture_id,) = server.fixtures
            match = connect(
                fixture_id,
                TOKEN,
                fmt=recording.meta.format(),
                settings=attrs.evolve(FAST, base=server.base),
                limiter=LIMITER,
                record=str(record),
                catalogue=catalogue,
            )
            return await match.wait()

    direct = summarize(playback.fold(recording))
    followed = _run(follow(recording.meta.catalogue(), tmp_path / "with.jsonl"))
    assert summarize(followed) == direct
    assert read_recording(tmp_path / "with.jsonl").meta.types == recording.meta.types
    blind = _run(follow(DEFAULT_CATALOGUE, tmp_path / "without.jsonl"))
    assert blind.match.unknown_actions > 0  # without it the expedite action is unknown: the catalogue mattered
