"""The feed session without I/O (issue 14): every timer, close code and refusal, with a fake clock
(FEED.md section 1: authentication, heartbeats and silence, reconnection with startPosition)."""

from __future__ import annotations

import random
from urllib.parse import parse_qs, urlsplit

import pytest

from engine.core.inputs import CatchingUp, CaughtUpWithFeed, Connected, Disconnected, Stale
from engine.core.match.inputs import Heartbeat, Malformed
from engine.feed.encode import encode_frame, heartbeat_frame
from engine.io.protocol import (
    AUTH_REFUSED_CLOSE_CODES,
    CATCH_UP_QUIET,
    CATCH_UP_QUIET_FRESH,
    FATAL_HTTP_STATUSES,
    AuthRefused,
    RequestRefused,
    RetriesExhausted,
)
from engine.io.recording import posix_seconds
from engine.io.session import (
    MESSAGE_TOO_BIG,
    NORMAL_CLOSURE,
    ClientSettings,
    Continue,
    FeedSession,
    Finished,
    GiveUp,
    Reconnect,
)
from engine.testing.feedgen import MatchScript, match_stream, points_from_scores

SETTINGS = ClientSettings(base="wss://feed.example", stale_after=10.0, reconnect_after=30.0, max_retries=None)
ACTIONS = match_stream(
    MatchScript("6c531aec-15bf-5f43-a888-1d831e5f9a05", points_from_scores([(11, 3), (11, 5), (11, 7)]))
)


class Match:
    """What the runtime tells the session: actions applied so far, and whether the match is over."""

    def __init__(self) -> None:
        self.applied = 0
        self.over = False


def _session(settings: ClientSettings = SETTINGS) -> tuple[FeedSession, Match]:
    match = Match()
    session = FeedSession("fx", settings, lambda: match.applied, lambda: match.over, random.Random(1))
    return session, match


def _start_position(url: str) -> int:
    return int(parse_qs(urlsplit(url).query).get("startPosition", ["0"])[0])


def test_the_first_frame_of_a_connection_proves_it_good() -> None:
    session, _ = _session()
    session.opened(0.0)
    first = session.on_frame(heartbeat_frame(), 1.0)
    assert first == [CatchingUp(), Connected(), Heartbeat()]  # what comes first may be a backlog
    assert session.on_frame(heartbeat_frame(), 2.0) == [Heartbeat()]
    session.opened(3.0)  # a new connection proves itself again
    assert session.on_frame(heartbeat_frame(), 4.0)[:2] == [CatchingUp(), Connected()]


def test_a_backlog_ends_when_its_burst_does() -> None:
    """FEED.md 1 [ours]: a connection's first frames may be everything it missed, sent at once; the
    backlog is folded once no frame came for `catch_up_quiet` after the last one."""
    session, _ = _session()
    session.opened(0.0)
    session.on_frame(heartbeat_frame(), 1.0)
    for moment in (1.1, 1.2, 1.3):  # the burst: each frame pushes the end back
        assert session.deadline() == pytest.approx(moment - 0.1 + CATCH_UP_QUIET)
        assert session.on_frame(heartbeat_frame(), moment) == [Heartbeat()]
    assert session.on_timeout(1.3 + CATCH_UP_QUIET - 0.01) == ([], Continue())
    assert session.on_timeout(1.3 + CATCH_UP_QUIET) == ([CaughtUpWithFeed()], Continue())
    assert session.deadline() == 11.3  # then the stale timer, as before
    inputs, _ = session.on_close(None, "", None)  # a drop: the next connection catches up again
    assert inputs == [Disconnected()]
    session.opened(20.0)
    assert session.on_frame(heartbeat_frame(), 20.5)[0] == CatchingUp()


def test_a_fresh_action_shortens_the_wait_for_the_burst_s_end() -> None:
    """A feed whose frames come faster than the quiet: the backlog ends at its tail, told by an
    action stamped within `catch_up_lag` of our receive time, once the burst pauses at all."""
    session, _ = _session()
    session.opened(0.0)
    sent = posix_seconds(ACTIONS[0].timestamp)
    assert sent is not None
    session.on_frame(encode_frame(ACTIONS[0]), 1.0, wall=sent + 60.0)  # a minute old: the backlog
    assert session.deadline() == pytest.approx(1.0 + CATCH_UP_QUIET)
    session.on_frame(encode_frame(ACTIONS[1]), 1.001, wall=sent + 1.0)  # fresh: the tail
    assert session.deadline() == pytest.approx(1.001 + CATCH_UP_QUIET_FRESH)
    assert session.on_timeout(1.001 + CATCH_UP_QUIET_FRESH) == ([CaughtUpWithFeed()], Continue())


def test_silence_is_stale_after_stale_after_and_lost_after_reconnect_after() -> None:
    session, _ = _session()
    session.opened(100.0)
    assert session.deadline() == 110.0
    assert session.on_timeout(109.9) == ([], Continue())  # early wake-up: nothing
    assert session.on_timeout(110.0) == ([Stale()], Continue())
    assert session.deadline() == 130.0  # reconnect_after counts from the last frame
    inputs, decision = session.on_timeout(130.0)
    assert inputs == [Disconnected()]
    assert isinstance(decision, Reconnect)
    assert "nothing received for 30.0 s" in decision.why


def test_a_frame_ends_a_stale_spell_and_restarts_the_timers() -> None:
    session, _ = _session()
    session.opened(0.0)
    assert session.on_timeout(10.0) == ([Stale()], Continue())
    session.on_frame(heartbeat_frame(), 25.0)
    assert session.on_timeout(25.0 + CATCH_UP_QUIET) == ([CaughtUpWithFeed()], Continue())
    assert session.deadline() == 35.0
    assert session.on_timeout(35.0) == ([Stale()], Continue())


def test_a_normal_close_ends_the_feed_only_when_the_match_is_over() -> None:
    session, match = _session()
    session.opened(0.0)
    inputs, decision = session.on_close(NORMAL_CLOSURE, "end of recording", NORMAL_CLOSURE)
    assert inputs == [Disconnected()]
    assert isinstance(decision, Reconnect)  # corrections may still come: keep following
    match.over = True
    assert session.on_close(NORMAL_CLOSURE, "", NORMAL_CLOSURE) == ([], Finished())


@pytest.mark.parametrize("code", sorted(AUTH_REFUSED_CLOSE_CODES))
def test_a_refusing_close_before_any_frame_is_final(code: int) -> None:
    session, _ = _session()
    session.opened(0.0)
    inputs, decision = session.on_close(code, "The supplied authentication is invalid", None)
    assert inputs == []
    assert isinstance(decision, GiveUp)
    assert isinstance(decision.error, AuthRefused)
    # The same code after frames came is a dropped connection, not a refused token.
    session.opened(1.0)
    session.on_frame(heartbeat_frame(), 2.0)
    inputs, decision = session.on_close(code, "", None)
    assert (inputs, type(decision)) == ([Disconnected()], Reconnect)


@pytest.mark.parametrize("code", [None, 1001, 1006, 1011])
def test_any_other_close_reconnects(code: int | None) -> None:
    session, _ = _session()
    session.opened(0.0)
    inputs, decision = session.on_close(code, "", None)
    assert (inputs, type(decision)) == ([Disconnected()], Reconnect)


def test_a_frame_too_large_is_reported_and_skipped_on_resume() -> None:
    session, match = _session()
    session.opened(0.0)
    for action in ACTIONS[:5]:
        session.on_frame(encode_frame(action), 1.0)
    match.applied = 3  # two held behind a gap, say
    inputs, decision = session.on_close(None, "", MESSAGE_TOO_BIG)
    assert isinstance(inputs[0], Malformed)
    assert "max_size" in inputs[0].reason
    assert inputs[1:] == [Disconnected()]
    assert isinstance(decision, Reconnect)
    assert _start_position(session.url()) == ACTIONS[4].seq + 1  # past the frame it could not read


@pytest.mark.parametrize(
    ("status", "error"), [(401, AuthRefused)] + [(s, RequestRefused) for s in sorted(FATAL_HTTP_STATUSES - {401})]
)
def test_http_refusals_are_final(status: int, error: type[Exception]) -> None:
    session, _ = _session()
    inputs, decision = session.on_connect_failed(status, "no")
    assert inputs == []
    assert isinstance(decision, GiveUp)
    assert isinstance(decision.error, error)


@pytest.mark.parametrize("status", [None, 500, 502, 503])
def test_other_connect_failures_retry(status: int | None) -> None:
    session, _ = _session()
    inputs, decision = session.on_connect_failed(status, "ConnectionRefusedError")
    assert (inputs, type(decision)) == ([Disconnected()], Reconnect)


def test_the_backoff_grows_and_starts_afresh_after_a_connection_that_worked() -> None:
    settings = ClientSettings(base="wss://feed.example", backoff_initial=1.0, backoff_factor=2.0, backoff_max=8.0)
    session, _ = _session(settings)
    attempts, ceilings = [], []
    for _ in range(6):
        _, decision = session.on_connect_failed(None, "refused")
        assert isinstance(decision, Reconnect)
        attempts.append(decision.attempt)
        ceilings.append(decision.delay)
    assert attempts == [1, 2, 3, 4, 5, 6]
    assert all(0 <= delay <= min(8.0, 2**n) for n, delay in enumerate(ceilings))
    session.opened(0.0)
    session.on_frame(heartbeat_frame(), 1.0)
    _, decision = session.on_close(1006, "", None)
    assert isinstance(decision, Reconnect)
    assert decision.attempt == 1  # the connection worked: afresh


def test_max_retries_gives_up_after_that_many_failures_in_a_row() -> None:
    session, _ = _session(ClientSettings(base="wss://feed.example", max_retries=2))
    decisions = [session.on_connect_failed(None, "refused")[1] for _ in range(3)]
    assert [type(decision) for decision in decisions] == [Reconnect, Reconnect, GiveUp]
    assert isinstance(decisions[-1], GiveUp)
    assert isinstance(decisions[-1].error, RetriesExhausted)


def test_each_connection_resumes_after_the_actions_applied() -> None:
    session, match = _session()
    assert _start_position(session.url()) == 0
    match.applied = 57
    assert _start_position(session.url()) == 57
