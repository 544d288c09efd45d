"""The feed's protocol without I/O: what a frame, a silence or a close means, and what to do next.

A `FeedSession` holds every decision of following one fixture — the stale and reconnect timers,
`Connected` on the first frame, the backoff and its reset, where to resume (`startPosition`, past a
frame too large to read), which closes and HTTP refusals are final — and no socket, no clock and no
event loop: time enters as `now` (seconds, any monotonic origin). The asyncio loop in
`engine.io.client` shuttles frames and timeouts in and carries the decisions out:

    session = FeedSession(fixture_id, settings, start_position, is_over, rng)
    url = session.url()                    # open it, send the auth message, then:
    session.opened(now)
    inputs = session.on_frame(text, now)   # for every frame: reducer inputs
    session.deadline()                     # wait for a frame until then; at that time:
    inputs, decision = session.on_timeout(now)
    inputs, decision = session.on_close(received_code, reason, sent_code)
    inputs, decision = session.on_connect_failed(status, body)   # HTTP refusal (None: the network)

A decision is `Continue` (keep reading), `Reconnect(delay, attempt)` (wait, then open `url()`
again), `Finished` (the match is over and the server closed the feed) or `GiveUp(error)` (raise it:
`AuthRefused`, `RequestRefused`, `RetriesExhausted`).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs

from engine.core.inputs import CatchingUp, CaughtUpWithFeed, Connected, Disconnected, Input, Stale
from engine.core.match.inputs import Action, Malformed
from engine.feed.catalogue import DEFAULT_CATALOGUE, ActionCatalogue
from engine.feed.wire import MAX_FRAME_BYTES, decode
from engine.io.protocol import (
    AUTH_REFUSED_CLOSE_CODES,
    CATCH_UP_LAG,
    CATCH_UP_QUIET,
    CATCH_UP_QUIET_FRESH,
    DEFAULT_BASE,
    FATAL_HTTP_STATUSES,
    RECONNECT_AFTER,
    STALE_AFTER,
    AuthRefused,
    RequestRefused,
    RetriesExhausted,
    actions_url,
    check_base,
)
from engine.io.recording import posix_seconds

#: RFC 6455 close code our side sends when a frame exceeds `max_size`.
MESSAGE_TOO_BIG = 1009
#: RFC 6455 normal closure.
NORMAL_CLOSURE = 1000


@attrs.frozen(slots=True)
class ClientSettings:
    """How the adapter connects and how patient it is. Seconds throughout."""

    base: str = DEFAULT_BASE
    stale_after: float = STALE_AFTER
    reconnect_after: float = RECONNECT_AFTER
    backoff_initial: float = 0.5
    backoff_factor: float = 2.0
    backoff_max: float = 30.0
    open_timeout: float = 10.0
    max_size: int = MAX_FRAME_BYTES
    #: Silence after a connection's last frame that ends its backlog (`CATCH_UP_QUIET`; at most
    #: half of `stale_after`).
    catch_up_quiet: float = CATCH_UP_QUIET
    #: An action this close (seconds) to our receive time by its provider timestamp ends a backlog
    #: (`CATCH_UP_LAG`).
    catch_up_lag: float = CATCH_UP_LAG
    #: The silence that ends a backlog once a fresh action came (`CATCH_UP_QUIET_FRESH`).
    catch_up_quiet_fresh: float = CATCH_UP_QUIET_FRESH
    #: Plain ws:// to a host that is not this machine only when True.
    allow_insecure: bool = False
    #: Reconnections in a row without a frame received before giving up (`RetriesExhausted`);
    #: None: never give up.
    max_retries: int | None = None

    def __attrs_post_init__(self) -> None:
        check_base(self.base, self.allow_insecure)
        if not 0 < self.stale_after <= self.reconnect_after:
            raise ValueError("need 0 < stale_after <= reconnect_after")
        if not self.catch_up_quiet > 0:
            raise ValueError("need 0 < catch_up_quiet")
        if self.max_retries is not None and self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more (or None), not {self.max_retries}")


def backoff_delays(settings: ClientSettings, rng: random.Random) -> Callable[[int], float]:
    """Full jitter: attempt n waits uniform(0, min(max, initial * factor**n))."""

    def delay(attempt: int) -> float:
        growth = settings.backoff_factor ** min(attempt, 64)  # bounded: no overflow after many attempts
        ceiling = min(settings.backoff_max, settings.backoff_initial * growth)
        return rng.uniform(0.0, ceiling)

    return delay


@attrs.frozen(slots=True)
class Continue:
    """Keep reading this connection."""


@attrs.frozen(slots=True)
class Reconnect:
    """The connection is lost (`why`): open `url()` again after `delay` seconds (retry `attempt`)."""

    delay: float
    attempt: int
    why: str


@attrs.frozen(slots=True)
class Finished:
    """The match is over and the server closed the feed: nothing more to do."""


@attrs.frozen(slots=True)
class GiveUp:
    """A final error: raise it, do not retry."""

    error: Exception


Decision = Continue | Reconnect | Finished | GiveUp
CONTINUE = Continue()


class FeedSession:
    """One fixture's feed, sans I/O (see the module docstring for the order of calls)."""

    def __init__(
        self,
        fixture_id: str,
        settings: ClientSettings,
        start_position: Callable[[], int],
        is_over: Callable[[], bool],
        rng: random.Random | None = None,
        catalogue: ActionCatalogue = DEFAULT_CATALOGUE,
    ) -> None:
        self.fixture_id = fixture_id
        self.settings = settings
        self.catalogue = catalogue
        self._start_position = start_position
        self._is_over = is_over
        self._delay = backoff_delays(settings, rng or random.Random())
        self.attempt = 0  # failed connections in a row
        self.frames = 0  # frames received on the current connection
        self.highest_seq = 0
        self.skip_to = 0  # resume past a frame too large to read, so it is not sent again forever
        self.silent_since = 0.0
        self.stale = False
        self.catching_up = False  # a connection's backlog is being folded (since its first frame)
        self.fresh = False  # a fresh action came while catching up: the burst's tail

    def url(self) -> str:
        """The URL of the next connection, resuming after the actions already applied."""
        return actions_url(self.settings.base, self.fixture_id, max(self._start_position(), self.skip_to))

    def opened(self, now: float) -> None:
        """A connection is open and the auth message sent: the silence timers start."""
        self.frames = 0
        self.silent_since = now
        self.stale = False

    def deadline(self) -> float:
        """When `on_timeout` is due if no frame arrives: the end of a backlog's burst, the stale
        timeout, then the reconnect one."""
        settings = self.settings
        if self.catching_up:
            quiet = settings.catch_up_quiet_fresh if self.fresh else settings.catch_up_quiet
            return self.silent_since + min(quiet, settings.stale_after / 2)
        return self.silent_since + (settings.reconnect_after if self.stale else settings.stale_after)

    def on_frame(self, text: str, now: float, wall: float | None = None) -> list[Input]:
        """A frame arrived at `now` (`wall`: the same moment in POSIX seconds, when known): on a
        connection's first, `CatchingUp()` (what it sends first may be a backlog) and
        `Connected()`; then the frame decoded. A fresh action shortens the wait for the burst's end."""
        self.silent_since = now
        self.stale = False
        message = decode(text, self.catalogue)
        inputs: list[Input] = [message]
        if self.frames == 0:
            self.catching_up, self.fresh = True, False
            inputs = [CatchingUp(), Connected(), message]
        self.frames += 1
        if isinstance(message, Action):
            self.highest_seq = max(self.highest_seq, message.seq)
            if self.catching_up and wall is not None and self._fresh(message, wall):
                self.fresh = True
        return inputs

    def _fresh(self, action: Action, wall: float) -> bool:
        """True when the provider stamped `action` at most `catch_up_lag` seconds before `wall`."""
        sent = posix_seconds(action.timestamp)
        return sent is not None and wall - sent <= self.settings.catch_up_lag

    def on_timeout(self, now: float) -> tuple[list[Input], Decision]:
        """Nothing arrived until the deadline: a backlog's burst is over (`CaughtUpWithFeed()`), or
        the feed is `Stale()`, and then the connection is given up."""
        if now < self.deadline():
            return [], CONTINUE
        if self.catching_up:
            self.catching_up = False
            return [CaughtUpWithFeed()], CONTINUE
        if not self.stale:
            self.stale = True
            return [Stale()], CONTINUE
        return self._lost(f"nothing received for {self.settings.reconnect_after:.1f} s")

    def on_close(self, received: int | None, reason: str, sent: int | None) -> tuple[list[Input], Decision]:
        """The connection closed: `received` is the server's close code (None: none came), `sent`
        ours (1009 when we refused a frame over `max_size`)."""
        if sent == MESSAGE_TOO_BIG:
            self.skip_to = max(self.skip_to, self.highest_seq) + 1
            skipped = Malformed(f"frame larger than max_size ({self.settings.max_size} bytes): skipped", None, "")
            inputs, decision = self._lost("a frame larger than max_size")
            return [skipped, *inputs], decision
        if received in AUTH_REFUSED_CLOSE_CODES and self.frames == 0:
            return [], GiveUp(
                AuthRefused(f"fixture {self.fixture_id}: the provider refused the token (close {received} {reason})")
            )
        if received == NORMAL_CLOSURE:
            if self._is_over():
                return [], Finished()
            return self._lost("the server closed the feed before the match ended")
        return self._lost(
            "closed without a close frame" if received is None else f"closed ({received} {reason})".rstrip()
        )

    def on_connect_failed(self, status: int | None, detail: str) -> tuple[list[Input], Decision]:
        """Opening failed: an HTTP refusal (`status`) or the network (None, `detail` says what)."""
        if status == 401:
            return [], GiveUp(AuthRefused(f"fixture {self.fixture_id}: HTTP 401 {detail or 'authentication refused'}"))
        if status in FATAL_HTTP_STATUSES:
            return [], GiveUp(RequestRefused(f"fixture {self.fixture_id}: HTTP {status} {detail}".rstrip()))
        return self._lost(f"HTTP {status} on connect" if status is not None else detail)

    def _lost(self, why: str) -> tuple[list[Input], Decision]:
        """The connection is lost: `Disconnected()`, and a retry after the backoff (afresh when the
        lost connection had worked), unless `max_retries` failures in a row were reached."""
        if self.frames:
            self.attempt = 0
        self.frames = 0
        self.catching_up = False  # the next connection's first frame starts a catch-up again
        delay = self._delay(self.attempt)
        self.attempt += 1
        limit = self.settings.max_retries
        if limit is not None and self.attempt > limit:
            error = RetriesExhausted(
                f"fixture {self.fixture_id}: gave up after {self.attempt} failed connections in a row"
            )
            return [Disconnected()], GiveUp(error)
        return [Disconnected()], Reconnect(delay, self.attempt, why)
