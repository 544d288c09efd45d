"""Continuity (issue 28): a late start, a reconnection after a gap and a restart fold their backlog
under suspension and send one net snapshot; nothing reopens at a past score, no settlement is sent
twice outside a snapshot, the stream says who sent it (run, streamSeq) and that the engine lives
(alive), and a receiver rebuilds every book from the lines alone and marks a dead engine's
fixtures producer_down. Against our server in live mode (`serve --live`: each match runs on its
own clock; a client that connects late gets what is due at once, then the rest as it falls due)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import playback
from engine.analysis.report import summarize
from engine.analysis.trace import describe_update
from engine.core.markets.signals import OPENING_SIGNALS, Reason
from engine.core.match.rules import MatchFormat
from engine.core.update import Update
from engine.desk import Desk, Health
from engine.desk.reader import PRODUCER_DOWN, StreamError, StreamReader
from engine.desk.service import DeskFixture, DeskObserver, FixtureRetry
from engine.io.client import ClientSettings, ConnectLimiter
from engine.io.protocol import Secret
from engine.io.recording import posix_seconds, read_recording
from engine.io.server import Faults, ProviderServer, load_fixtures
from engine.runtime.callbacks import Callbacks
from engine.runtime.delivery import Stream
from engine.runtime.following import Match
from engine.runtime.sources import connect

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures_data"
#: A real best of 5: 104 frames, one every 4 s of match time (412 s).
RECORDING = FIXTURES / "aicup2026_m01_female_bo5.jsonl"
FIXTURE_ID = read_recording(RECORDING).fixture_id or ""
FORMAT = MatchFormat(best_of=5)
TOKEN = "continuity-token-3c9a"
LIMITER = ConnectLimiter(rate=100)
#: At 20x a frame falls due every 0.2 s: the burst's end is told by a shorter silence, and a
#: fresh action is one stamped within 0.3 s (6 s of match time).
#: catch_up_quiet 0.5 s: in four busy workers our server (in the test's process) stalled mid-backlog
#: for longer than 0.08 s, which ended a catch-up early (a real provider's burst does not stall so).
SETTINGS = ClientSettings(backoff_initial=0.5, backoff_max=1.0, stale_after=5.0, catch_up_quiet=0.5, catch_up_lag=0.3)
ENV = {**os.environ, "CONTINUITY_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
PATIENCE = 120.0
PROVIDER = Path(__file__).resolve().parents[1] / "live_provider.py"


class Sent:
    """What a receiver got: every update sent, and whether its fixture was folding a backlog then."""

    def __init__(self) -> None:
        self.updates: list[tuple[Update, bool]] = []

    def __call__(self, match: Match, update: Update) -> None:
        self.updates.append((update, match.catching_up))

    def reopenings_while_catching_up(self) -> int:
        return sum(
            1
            for update, catching_up in self.updates
            if catching_up
            for signal in update.signals
            if isinstance(signal, OPENING_SIGNALS)
        )


class _Lines(DeskObserver):
    """Every update the desk sends, as its `--updates` line."""

    def __init__(self, into: list[dict[str, Any]]) -> None:
        self.into = into

    def sent(self, fixture: DeskFixture, update: Update) -> None:
        self.into.append(describe_update(update))


def _final_markets() -> dict[str, Any]:
    return summarize(playback.fold(read_recording(RECORDING)))["markets"]


def _statuses(markets: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {market_id: (entry["status"], entry["result"]) for market_id, entry in markets.items()}


async def _follow(faults: Faults, started_ago: float) -> tuple[Sent, Match, ProviderServer]:
    fixtures = load_fixtures(RECORDING)
    sent = Sent()
    async with ProviderServer(
        fixtures, Secret(TOKEN), live=True, speed=20.0, started_ago=started_ago, heartbeat=0.5, faults=faults
    ) as server:
        settings = ClientSettings(
            base=server.base,
            backoff_initial=SETTINGS.backoff_initial,
            backoff_max=SETTINGS.backoff_max,
            stale_after=SETTINGS.stale_after,
            catch_up_quiet=SETTINGS.catch_up_quiet,
            catch_up_lag=SETTINGS.catch_up_lag,
        )
        match = connect(FIXTURE_ID, TOKEN, fmt=FORMAT, settings=settings, limiter=LIMITER, on_send=sent)
        async with match:
            await asyncio.wait_for(match.wait(), PATIENCE)
    return sent, match, server


def _check_stream(sent: Sent) -> None:
    """The laws of the stream every run must keep: a snapshot first, streamSeq consecutive in one
    run, nothing reopened while a backlog was folded, no decision sent twice outside a snapshot."""
    updates = [update for update, _ in sent.updates]
    assert updates[0].snapshot
    assert len({update.run for update in updates}) == 1
    assert [update.stream_seq for update in updates] == list(range(1, len(updates) + 1))
    assert sent.reopenings_while_catching_up() == 0
    for update in updates:  # no market reopens at a past score: an action's lag to our receive time
        sent_at = posix_seconds(update.timestamp)
        opens = any(isinstance(signal, OPENING_SIGNALS) for signal in update.signals)
        if opens and sent_at is not None and update.received is not None and not update.snapshot:
            assert update.received - sent_at < 1.0, update
    seen: set[str] = set()
    for update in updates:
        for decision in update.decision_ids():
            if decision is not None and not update.snapshot:
                assert decision not in seen, decision
                seen.add(decision)


def test_a_late_start_folds_the_backlog_under_suspension_and_sends_one_snapshot() -> None:
    """Following a match that began 300 s (of match time) ago: its first 75 frames arrive at once."""
    sent, match, _ = asyncio.run(_follow(Faults(), started_ago=300.0))
    _check_stream(sent)
    updates = [update for update, _ in sent.updates]
    stop, net = updates[0], updates[1]
    assert stop.input == "CatchingUp"
    assert not stop.state.book.with_status(stop.state.book["match_winner"].status.OPEN)
    assert net.snapshot
    assert net.input == "CaughtUpWithFeed"
    assert net.coalesced >= 60  # the backlog, as one update
    assert sum(len(update.events) for update in updates[:2]) >= 60  # every past event still told, in order
    assert not any(update.snapshot for update in updates[2:])  # then live, one update per input
    assert _statuses(summarize(match.state)["markets"]) == _statuses(_final_markets())


def test_a_reconnection_after_a_gap_catches_up_under_suspension() -> None:
    """The first connection is cut after 70 frames (its backlog was 62); while the client waits to reconnect, the match
    goes on: the new connection's first frames are a backlog."""
    sent, match, server = asyncio.run(_follow(Faults(drop_after=(70,)), started_ago=250.0))
    assert server.connections[FIXTURE_ID] == 2
    _check_stream(sent)
    inputs = [update.input for update, _ in sent.updates]
    assert inputs.count("CaughtUpWithFeed") == 2  # the start, and the reconnection
    assert _statuses(summarize(match.state)["markets"]) == _statuses(_final_markets())


def test_the_stream_reader_rebuilds_the_book_drops_repeats_and_reports_each_decision_once() -> None:
    sent, match, _ = asyncio.run(_follow(Faults(), started_ago=330.0))
    lines = [describe_update(update) for update, _ in sent.updates]
    reader = StreamReader()
    decisions = []
    for line in [*lines, *lines[5:9]]:  # a stretch delivered twice
        decisions.extend(reader.feed(line, now=0.0))
    assert reader.dropped == 4
    assert len({decision.id for decision in decisions}) == len(decisions)
    copy = reader.fixtures[FIXTURE_ID]
    expected = summarize(match.state)["markets"]
    assert {market_id: (market.status, market.result) for market_id, market in copy.book.items()} == _statuses(expected)
    # The same lines under another run (another engine took over): repeats by decision id only.
    again = StreamReader()
    for line in lines:
        again.feed(line, now=0.0)
    renamed = [{**line, "run": "other", "streamSeq": number} for number, line in enumerate(lines, start=1)]
    assert all(not again.feed(line, now=0.0) for line in renamed)
    assert again.repeated_decisions == len(decisions)


def test_a_snapshot_reports_the_decisions_the_reader_missed_and_the_rollbacks_of_those_it_holds() -> None:
    """A receiver that missed the lines in which markets were settled (it joined late, its engine
    was down) is told each one by the next snapshot, by id, once; a snapshot that no longer holds a
    decision the receiver took reports its rollback."""
    sent, _, _ = asyncio.run(_follow(Faults(), started_ago=330.0))
    updates = [update for update, _ in sent.updates]
    half = len(updates) // 2
    whole = StreamReader()
    every = [decision for update in updates for decision in whole.feed(describe_update(update), now=0.0)]
    settled = {d.id for d in every if d.signal in ("MarketSettled", "MarketVoided")}
    reader = StreamReader()
    early = [d for update in updates[:half] for d in reader.feed(describe_update(update), now=0.0)]
    final = describe_update(Stream("later").stamp(updates[-1], snapshot=True))
    told = reader.feed(final, now=0.0)
    assert told
    assert {d.id for d in early} | {d.id for d in told} >= settled  # nothing missed
    assert not {d.id for d in early} & {d.id for d in told}  # nothing twice
    assert not reader.feed({**final, "streamSeq": 2}, now=0.0)  # the same book again: nothing new
    # A snapshot that lists a decision the receiver took as rolled back (made while it was away).
    taken_back = next(d for d in every if d.signal == "MarketSettled")
    book = {**final["book"]}
    book[taken_back.market] = {"status": "suspended", "reasons": ["corrected"], "rolledBack": [taken_back.id]}
    rolled = whole.feed({**final, "run": "later", "streamSeq": 9, "book": book}, now=0.0)
    assert [(d.signal, d.id) for d in rolled] == [("SettlementRolledBack", taken_back.id)]
    assert not whole.feed({**final, "run": "later", "streamSeq": 10, "book": book}, now=0.0)
    never = StreamReader()  # a receiver that never took it: nothing to take back
    assert not [d for d in never.feed({**final, "book": book}, now=0.0) if d.signal == "SettlementRolledBack"]


def test_the_reader_marks_a_silent_engine_producer_down_until_a_snapshot() -> None:
    sent, _, _ = asyncio.run(_follow(Faults(), started_ago=380.0))
    reader = StreamReader(alive_limit=2.0)
    for update, _ in sent.updates[:3]:
        reader.feed(describe_update(update), now=10.0)
    run = sent.updates[0][0].run
    reader.feed({"alive": 1.0, "run": run}, now=10.0)
    assert reader.check(11.9) == []
    assert reader.check(12.1) == [FIXTURE_ID]
    copy = reader.fixtures[FIXTURE_ID]
    assert copy.producer_down
    assert copy.open_markets() == []
    assert all(PRODUCER_DOWN in market.reasons for market in copy.book.values() if not market.decided)
    snapshot = describe_update(sent.updates[0][0])
    reader.feed({**snapshot, "run": "restarted", "streamSeq": 1}, now=20.0)
    assert not copy.producer_down


def test_the_reader_refuses_what_is_not_a_line_of_the_stream() -> None:
    reader = StreamReader()
    for bad in (b"not json", b"[1]", b'{"alive": 1}', b'{"seq": 1}', b'{"fixtureId": "x", "snapshot": true}'):
        with pytest.raises(StreamError):
            reader.feed(bad, now=0.0)


# --- the real processes: `serve --live` and `follow`, killed with -9 and restarted ------------------


def _start(args: list[str], **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "engine", *args], env=ENV, text=True, **kwargs)


def _provider(*options: str) -> Iterator[str]:
    """`tests/live_provider.py` (a provider that is not ours) playing the match at 40x, begun 150 s
    of match time (37 actions) before it started; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, str(PROVIDER), str(RECORDING), TOKEN, "--speed", "40", "--started-ago", "150", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        found = re.search(r"ws://127\.0\.0\.1:(\d+)", process.stdout.readline())
        assert found
        yield f"ws://127.0.0.1:{found[1]}"
    finally:
        process.terminate()
        process.wait(PATIENCE)


@pytest.fixture
def live_server() -> Iterator[str]:
    yield from _provider()


@pytest.fixture
def cut_server() -> Iterator[str]:
    """The same, with the network cut for 1.5 s (60 s of match time) after the first connection's
    50th action (its backlog was the first 37)."""
    yield from _provider("--cut-after", "50", "--cut-for", "1.5")


def _lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text.splitlines()[: text.count("\n")]]


def _wait_for_points(path: Path, points: int) -> None:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        if sum(line.get("events", []).count("PointWon") for line in _lines(path)) >= points:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path}: fewer than {points} points")


def _wait_for_alive_lines(path: Path, count: int) -> None:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        if sum("alive" in line for line in _lines(path)) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path}: fewer than {count} alive lines")


def test_kill_9_and_a_restart_resume_from_the_recording_without_a_stale_market_or_a_repeated_settlement(
    live_server: str, tmp_path: Path
) -> None:
    follow = ["-v", "follow", f"{FIXTURE_ID}:5", "--token-env", "CONTINUITY_TOKEN", "--base", live_server]
    follow += ["--record-dir", str(tmp_path / "rec"), "--stale-after", "3"]
    first = tmp_path / "first.jsonl"
    process = _start([*follow, "--updates", str(first)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_points(first, 25)  # the backlog (18 points) and some live ones
        _wait_for_alive_lines(first, 2)  # a second alive line too (a busy machine gets there later)
    finally:
        process.kill()  # -9: no closing bet stop, maybe half a line in the recording
        process.wait(PATIENCE)
    killed_at = time.time()
    time.sleep(1.0)  # the match goes on meanwhile (40 s of it)
    second = tmp_path / "second.jsonl"
    restarted = _start([*follow, "--updates", str(second)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = restarted.communicate(timeout=PATIENCE)
    assert restarted.returncode == 0, err
    resumed = re.search(r"resuming the feed at startPosition (\d+)", err)
    assert resumed, err
    assert int(resumed[1]) > 0  # asked only for what the recording lacks
    before, after = _lines(first), _lines(second)
    updates_before = [line for line in before if "alive" not in line]
    updates_after = [line for line in after if "alive" not in line]
    # Each run: its own run id, a snapshot first, and alive lines at least once a second.
    assert {line["run"] for line in before} != {line["run"] for line in after}
    assert updates_before[0]["snapshot"]
    assert updates_after[0]["snapshot"]
    for lines in (before, after):
        beats = [line["alive"] for line in lines if "alive" in line]
        assert len(beats) >= 2, (lines is before, beats)
        assert max(b - a for a, b in itertools.pairwise(beats)) <= 1.2
    # Nothing reopened at a past score: the restart's backlog is one net snapshot (the second line).
    assert updates_after[1]["snapshot"]
    assert updates_after[1]["input"] == "CaughtUpWithFeed" or (
        updates_after[1]["input"] == "CaughtUp" and "caught up" in err  # the consumer lagged too (a loaded machine)
    ), err[-2000:]
    _assert_nothing_reopened_at_a_past_score(updates_before + updates_after)  # in either run
    # No settlement sent twice outside a snapshot, across both runs.
    sent_before = {s["id"] for line in updates_before for s in line["signals"] if "id" in s}
    again = [
        s["id"]
        for line in updates_after
        if not line.get("snapshot")
        for s in line["signals"]
        if s.get("id") in sent_before
    ]
    assert again == []
    # A receiver of both streams: the dead engine's fixture goes producer_down, the restart's
    # snapshot brings it back, every decision is acted on once, and the book ends as the replay's.
    reader = StreamReader(alive_limit=2.0)
    decisions = []
    for line in before:
        decisions.extend(reader.feed(line, now=line.get("alive", killed_at - 1.0)))
    assert reader.check(killed_at + 2.5) == [FIXTURE_ID]
    assert reader.fixtures[FIXTURE_ID].open_markets() == []
    for line in after:
        decisions.extend(reader.feed(line, now=line.get("alive", killed_at + 3.0)))
    assert not reader.fixtures[FIXTURE_ID].producer_down
    assert len({decision.id for decision in decisions}) == len(decisions)
    final = {market_id: (m.status, m.result) for market_id, m in reader.fixtures[FIXTURE_ID].book.items()}
    assert final == _statuses(_final_markets())
    assert (tmp_path / "rec" / f"{FIXTURE_ID}.jsonl").read_bytes().endswith(b"\n")


@pytest.mark.parametrize("fixture", ["../escaped:5", "../../etc/x", "abc", "caeeccef-6f2c-59ba-92d3-965421d7638c/..:5"])
def test_a_fixture_id_that_is_not_a_uuid_is_refused_and_nothing_is_written(fixture: str, tmp_path: Path) -> None:
    process = _start(
        ["follow", fixture, "--token-env", "CONTINUITY_TOKEN", "--record-dir", "rec", "--updates", "u.jsonl"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = process.communicate(timeout=PATIENCE)
    assert process.returncode == 2
    assert len(err.strip().splitlines()) == 1
    assert "UUID" in err
    assert list(tmp_path.iterdir()) == []
    assert out == ""


def test_sigterm_after_a_restart_still_closes_every_market(live_server: str, tmp_path: Path) -> None:
    """A restart that is stopped: its closing bet stop follows its snapshot (nothing left open)."""
    follow = ["follow", f"{FIXTURE_ID}:5", "--token-env", "CONTINUITY_TOKEN", "--base", live_server]
    follow += ["--record-dir", str(tmp_path / "rec")]
    updates = tmp_path / "u.jsonl"
    process = _start([*follow, "--updates", str(updates)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_points(updates, 30)
    process.send_signal(signal.SIGTERM)
    assert process.wait(PATIENCE) == 0
    reader = StreamReader()
    for line in _lines(updates):
        reader.feed(line, now=0.0)
    assert reader.fixtures[FIXTURE_ID].open_markets() == []


def test_a_slow_consumer_gets_the_lagging_bet_stop_ahead_of_its_queue_within_the_limit() -> None:
    """Issue 28.5: frames every 40 ms, a handler that takes 0.2 s: the consumer is told
    `consumer_lagging` at most `lag_limit` plus one handler's time after a frame arrived — never
    behind a queue of stale updates — and its copy of the book ends as the engine's."""
    delays: list[float] = []
    got: list[Update] = []

    async def run() -> Match:
        fixtures = load_fixtures(RECORDING)
        async with ProviderServer(fixtures, Secret(TOKEN), speed=100.0, heartbeat=0.5) as server:
            callbacks = Callbacks()

            @callbacks.on(Update)
            async def slow(match: Match, update: Update) -> None:
                delays.append(time.perf_counter() - match.arrived)
                got.append(update)
                await asyncio.sleep(0.2)

            settings = ClientSettings(base=server.base, catch_up_quiet=0.02, catch_up_quiet_fresh=0.01)
            match = connect(
                FIXTURE_ID, TOKEN, fmt=FORMAT, settings=settings, limiter=LIMITER, callbacks=callbacks, lag_limit=0.5
            )
            async with match:
                await asyncio.wait_for(match.wait(), PATIENCE)
            return match

    match = asyncio.run(run())
    assert match.lags >= 1
    lagging = [u for u in got if any(Reason.CONSUMER_LAGGING in getattr(s, "reasons", ()) for s in u.signals)]
    assert lagging, "the consumer never lagged: the test did not test"
    assert all(update.snapshot for update in lagging)
    assert max(delays) < 0.5 + 0.2 + 0.3  # without the limit by time: 20 s behind by the end
    reader = StreamReader()
    for update in got:
        reader.feed(describe_update(update), now=0.0)
    copy = {m: (c.status, c.result) for m, c in reader.fixtures[FIXTURE_ID].book.items()}
    assert copy == _statuses(summarize(match.state)["markets"])


# --- fixtures that fail (issue 28.7) ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_failed_fixture_is_followed_again_after_its_backoff_and_the_stream_says_why() -> None:
    """The provider is down: the fixture's feed fails (retries exhausted), the stream says
    `Unfollowed` with why `failed`, the desk follows it again after its backoff, and once the
    provider is back the fixture ends as its replay, its first update after the retry a snapshot."""
    lines: list[dict[str, Any]] = []
    port = _free_port()

    async def run() -> Desk:
        settings = ClientSettings(
            base=f"ws://127.0.0.1:{port}", backoff_initial=0.01, backoff_max=0.02, max_retries=1, stale_after=5.0
        )
        desk = Desk(TOKEN, settings=settings, limiter=LIMITER, retry=FixtureRetry(initial=0.3, maximum=0.3))
        desk.observe(_Lines(lines))
        async with desk:
            fixture = desk.follow(FIXTURE_ID, fmt=FORMAT)
            while fixture.health().retry_in is None:  # failed, waiting to be followed again
                await asyncio.sleep(0.01)
            assert fixture.health().health is Health.FAILED
            async with ProviderServer(load_fixtures(RECORDING), Secret(TOKEN), port=port):
                await asyncio.wait_for(desk.wait(), PATIENCE)
        return desk

    desk = asyncio.run(run())
    fixture = desk.fixtures[FIXTURE_ID]
    assert fixture.retries >= 1
    assert desk.failures >= 1
    assert fixture.health().health is Health.FINISHED
    failed = [line for line in lines if line["input"] == "Unfollowed"]
    assert failed
    assert {line["why"] for line in failed} == {"failed"}
    after = lines[lines.index(failed[-1]) + 1]
    assert after["snapshot"] is True  # the retry starts its stream with a snapshot
    assert _statuses(summarize(fixture.state)["markets"]) == _statuses(_final_markets())


def test_a_fixture_refused_at_start_writes_its_line_and_is_not_retried() -> None:
    lines: list[dict[str, Any]] = []
    missing = "00000000-0000-4000-8000-000000000000"

    async def run() -> Desk:
        async with ProviderServer(load_fixtures(RECORDING), Secret(TOKEN)) as server:
            desk = Desk(TOKEN, settings=ClientSettings(base=server.base), limiter=LIMITER)
            desk.observe(_Lines(lines))
            async with desk:
                desk.follow(missing, fmt=FORMAT)
                await asyncio.wait_for(desk.wait(), PATIENCE)
        return desk

    desk = asyncio.run(run())
    assert desk.fixtures[missing].retries == 0
    assert desk.fixtures[missing].health().health is Health.FAILED
    (line,) = lines[-1:]
    assert (line["input"], line["why"], line["fixtureId"]) == ("Unfollowed", "refused", missing)


def test_sighup_applies_a_new_margin_as_a_snapshot_and_refuses_to_empty_the_desk(
    live_server: str, tmp_path: Path
) -> None:
    config = tmp_path / "desk.toml"
    fixture = f'[[fixtures]]\nid = "{FIXTURE_ID}"\nbest_of = 5\nmargin = {{margin}}\n'
    config.write_text(fixture.format(margin=0.05))
    updates = tmp_path / "u.jsonl"
    follow = ["follow", "--config", str(config), "--token-env", "CONTINUITY_TOKEN", "--base", live_server]
    process = _start(
        [*follow, "--updates", str(updates), "--exit-when-done"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _wait_for_points(updates, 30)
    config.write_text(fixture.format(margin=0.15))
    process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + PATIENCE
    while not any(line.get("input") == "Reconfigured" for line in _lines(updates)):
        assert time.monotonic() < deadline, "no snapshot after the reload"
        time.sleep(0.05)
    config.write_text("[service]\n")  # no fixture: a reload would unfollow everything
    process.send_signal(signal.SIGHUP)
    _, err = process.communicate(timeout=PATIENCE)
    assert process.returncode == 0, err
    assert "lists no fixture" in err
    assert "refused" in err
    lines = [line for line in _lines(updates) if "alive" not in line]
    (changed,) = [line for line in lines if line["input"] == "Reconfigured"]
    assert changed["snapshot"] is True
    offered = [market["odds"] for market in changed["book"].values() if market.get("odds")]
    assert offered
    assert all(sum(1 / odds for odds in book.values()) > 1.12 for book in offered)  # 15 %, was 5 %
    assert not any(line["input"] == "Unfollowed" for line in lines)  # the empty reload unfollowed nothing
    assert lines[-1]["state"]["status"] == "finished"


def test_a_network_cut_mid_match_catches_up_under_suspension_on_reconnection(cut_server: str, tmp_path: Path) -> None:
    """Against a provider that is not ours: the network is cut for 1.5 s (60 s of match time); the
    reconnection's backlog is folded under suspension and sent as one snapshot; nothing reopens at
    a past score; the book ends as the replay's."""
    updates = tmp_path / "u.jsonl"
    process = _start(
        [
            "follow",
            f"{FIXTURE_ID}:5",
            "--token-env",
            "CONTINUITY_TOKEN",
            "--base",
            cut_server,
            "--updates",
            str(updates),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, err = process.communicate(timeout=PATIENCE)
    assert process.returncode == 0, err
    lines = [line for line in _lines(updates) if "alive" not in line]
    inputs = [line["input"] for line in lines]
    assert "connection lost" in err
    # The cut's Disconnected has its own line unless it fell while updates were held: within the
    # first backlog's catch-up (a slow start on a busy machine) or a lagging consumer's catch-up.
    down = inputs.index("Disconnected") if "Disconnected" in inputs else 1  # after the first line
    back = next(i for i in range(down, len(lines)) if lines[i].get("snapshot"))
    # On a busy machine the reconnection can back off until the match is over: the backlog then runs
    # to the match's end, and what was held goes out as the stream's last line, one snapshot.
    ended = back == len(lines) - 1 and lines[back]["state"]["status"] == "finished"
    assert ended or inputs[back] in ("CaughtUpWithFeed", "CaughtUp"), (inputs[down : back + 1], err[-2000:])
    assert ended or inputs[back] == "CaughtUpWithFeed" or "caught up" in err, err[-2000:]
    assert lines[back]["coalesced"] >= 5  # the actions that fell due while the network was down
    _assert_nothing_reopened_at_a_past_score(lines)
    reader = StreamReader()
    for line in lines:
        reader.feed(line, now=0.0)
    final = {market_id: (m.status, m.result) for market_id, m in reader.fixtures[FIXTURE_ID].book.items()}
    assert final == _statuses(_final_markets())


def _assert_nothing_reopened_at_a_past_score(lines: list[dict[str, Any]]) -> None:
    """Every reopening outside a snapshot comes with an action stamped less than 1 s before we
    received it (the provider stamps each action when it happens)."""
    for line in lines:
        opens = any(signal["signal"] in ("BetStart", "MarketResumed") for signal in line["signals"])
        sent, received = posix_seconds(line.get("timestamp")), posix_seconds(line.get("recv"))
        if opens and sent is not None and received is not None and not line.get("snapshot"):
            assert received - sent < 1.0, line["seq"]
