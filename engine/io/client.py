"""The websocket adapter: connects to the provider, feeds every frame to a sink, and reports the
connection's health as reducer inputs. Thin: every decision about the match stays in the pure core.

One call of `run_feed` keeps one fixture's feed alive until the match is over, a final error, or
cancellation:
- opens `{base}/v2/tabletennis/fixtures/{id}/actions` with the `Accept` header, sends
  `{"authToken": …}` first, and reports `Connected()` once the first frame proves the token good;
- passes every frame, decoded, to the sink with its arrival time (and to the recorder as received);
- reports `Stale()` after `stale_after` seconds without any frame, and reconnects after
  `reconnect_after`;
- on a dropped connection reports `Disconnected()` and reconnects with exponential backoff and full
  jitter, resuming with `startPosition` = the number of actions already applied in order (the
  sequencer drops anything sent twice and holds anything early);
- gives up at once on a final error (HTTP 400/401/403/404, a close 1008 or 4001-4003 after the
  auth message), raising `AuthRefused` or `RequestRefused`;
- never opens more than `MAX_CONNECTS_PER_SECOND` connections per second in the whole process.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Protocol

import attrs
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from engine.core.reduce import Connected, Disconnected, Input, Stale
from engine.feed.catalogue import DEFAULT_CATALOGUE, ActionCatalogue
from engine.feed.wire import MAX_FRAME_BYTES, Action, Malformed, decode
from engine.io.protocol import (
    ACCEPT_HEADER,
    AUTH_REFUSED_CLOSE_CODES,
    DEFAULT_BASE,
    FATAL_HTTP_STATUSES,
    MAX_CONNECTS_PER_SECOND,
    RECONNECT_AFTER,
    STALE_AFTER,
    AuthRefused,
    RedactingLogger,
    RequestRefused,
    RetriesExhausted,
    Secret,
    actions_url,
    auth_message,
    check_base,
)
from engine.io.recording import RecordingMeta

log = logging.getLogger("engine.io.client")

#: RFC 6455 close code our side sends when a frame exceeds `max_size`.
MESSAGE_TOO_BIG = 1009

#: Receives each reducer input and the `time.perf_counter()` at which its frame arrived.
Sink = Callable[[Input, float], object]


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
    #: Plain ws:// to a host that is not this machine only when True.
    allow_insecure: bool = False
    #: Reconnections in a row without a frame received before giving up (`RetriesExhausted`);
    #: None: never give up.
    max_retries: int | None = None

    def __attrs_post_init__(self) -> None:
        check_base(self.base, self.allow_insecure)
        if not 0 < self.stale_after <= self.reconnect_after:
            raise ValueError("need 0 < stale_after <= reconnect_after")
        if self.max_retries is not None and self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more (or None), not {self.max_retries}")


class ConnectLimiter:
    """At most `rate` connection attempts in any `per` seconds, shared by every fixture that uses it.
    Safe across event loops (no asyncio primitive is bound): the check and the booking happen with
    no await between them."""

    def __init__(self, rate: int = MAX_CONNECTS_PER_SECOND, per: float = 1.0) -> None:
        if rate < 1 or per <= 0:
            raise ValueError("a connect limit needs rate >= 1 and per > 0")
        self.rate = rate
        self.per = per
        self._recent: collections.deque[float] = collections.deque()

    async def acquire(self) -> None:
        """Wait until one more attempt fits in the window, then book it."""
        while True:
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= self.per:
                self._recent.popleft()
            if len(self._recent) < self.rate:
                self._recent.append(now)
                return
            await asyncio.sleep(self._recent[0] + self.per - now)


#: The process-wide limiter every fixture uses unless told otherwise (FEED.md 1: ~5 requests/s).
PROCESS_LIMITER = ConnectLimiter()


class FrameObserver(Protocol):
    """Sees every raw frame as it arrives, before it is decoded (a `Recorder` is one)."""

    def write(self, text: str) -> None:
        """Take one received frame."""


class Recorder:
    """Appends every received frame to a JSONL recording (FEED.md recording format), flushed per
    line so a crash loses nothing already received. Only received frames are written: never the
    auth message, so never the token."""

    def __init__(self, path: str | Path, meta: RecordingMeta) -> None:
        self._out: IO[bytes] = open(path, "ab")  # noqa: SIM115 - closed by close()
        if self._out.tell() == 0:
            self._out.write(orjson.dumps({"meta": meta.to_json()}) + b"\n")
            self._out.flush()

    def write(self, text: str) -> None:
        """Record one frame with its receive time."""
        recv = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self._out.write(orjson.dumps({"recv": recv, "text": text}) + b"\n")
        self._out.flush()

    def close(self) -> None:
        """Close the file."""
        self._out.close()


def backoff_delays(settings: ClientSettings, rng: random.Random) -> Callable[[int], float]:
    """Full jitter: attempt n waits uniform(0, min(max, initial * factor**n))."""

    def delay(attempt: int) -> float:
        growth = settings.backoff_factor ** min(attempt, 64)  # bounded: no overflow after many attempts
        ceiling = min(settings.backoff_max, settings.backoff_initial * growth)
        return rng.uniform(0.0, ceiling)

    return delay


@attrs.define
class _Progress:
    """Frames received on the current connection; the highest action number seen; the position
    past a frame too large to read (resumed after, so it is not sent again forever)."""

    frames: int = 0
    highest_seq: int = 0
    skip_to: int = 0


class _Retry(Exception):
    """The connection ended in a way a new connection may fix."""


class _UserCodeFailed(Exception):
    """The sink or the recorder raised: the caller's code, not the network. The feed ends with
    that error (an OSError there, say a closed stdout or a full disk, is no reason to reconnect)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


async def run_feed(
    fixture_id: str,
    token: Secret,
    sink: Sink,
    start_position: Callable[[], int],
    is_over: Callable[[], bool],
    settings: ClientSettings | None = None,
    limiter: ConnectLimiter | None = None,
    recorder: FrameObserver | None = None,
    rng: random.Random | None = None,
    catalogue: ActionCatalogue = DEFAULT_CATALOGUE,
) -> None:
    """Keep one fixture's feed flowing into `sink` until `is_over()` after the server closes, a final
    error (raised), or cancellation. `start_position()` gives the number of actions to skip on a
    reconnect; frames are decoded with `catalogue`."""
    settings = settings or ClientSettings()
    limiter = limiter or PROCESS_LIMITER
    delay = backoff_delays(settings, rng or random.Random())
    ws_logger = RedactingLogger(logging.getLogger("engine.io.websockets"), token)
    attempt = 0
    progress = _Progress()
    while True:
        progress.frames = 0
        await limiter.acquire()
        url = actions_url(settings.base, fixture_id, max(start_position(), progress.skip_to))
        try:
            async with connect(
                url,
                additional_headers={"Accept": ACCEPT_HEADER},
                open_timeout=settings.open_timeout,
                max_size=settings.max_size,
                ping_interval=None,  # liveness is the feed's own business: heartbeats and the watchdog
                logger=ws_logger,
                user_agent_header=None,
            ) as ws:
                log.info("fixture %s: connected to %s", fixture_id, url)
                await ws.send(auth_message(token))
                await _receive(ws, fixture_id, token, sink, settings, recorder, progress, catalogue)
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = token.redact(exc.response.body.decode("utf-8", "replace")[:200]) if exc.response.body else ""
            if status == 401:
                raise AuthRefused(f"fixture {fixture_id}: HTTP 401 {body or 'authentication refused'}") from None
            if status in FATAL_HTTP_STATUSES:
                raise RequestRefused(f"fixture {fixture_id}: HTTP {status} {body}".rstrip()) from None
            log.warning("fixture %s: HTTP %s on connect", fixture_id, status)
        except InvalidURI as exc:
            raise RequestRefused(f"fixture {fixture_id}: invalid URL: {exc}") from None
        except _UserCodeFailed as failed:
            raise failed.error from None
        except (_Retry, ConnectionClosed, InvalidHandshake, OSError, TimeoutError) as exc:
            log.warning("fixture %s: connection lost (%s)", fixture_id, _describe(exc, token))
        else:
            if is_over():
                log.info("fixture %s: the match is over and the server closed the feed", fixture_id)
                return
            log.warning("fixture %s: server closed the feed before the match ended", fixture_id)
        sink(Disconnected(), time.perf_counter())
        if progress.frames:
            attempt = 0  # the connection worked: start the backoff afresh
        wait = delay(attempt)
        attempt += 1
        limit = settings.max_retries
        if limit is not None and attempt > limit:
            raise RetriesExhausted(f"fixture {fixture_id}: gave up after {attempt} failed connections in a row")
        of = "" if limit is None else f" of {limit}"
        log.warning("fixture %s: reconnecting in %.1f s (retry %d%s)", fixture_id, wait, attempt, of)
        await asyncio.sleep(wait)


async def _receive(
    ws: ClientConnection,
    fixture_id: str,
    token: Secret,
    sink: Sink,
    settings: ClientSettings,
    recorder: FrameObserver | None,
    progress: _Progress,
    catalogue: ActionCatalogue,
) -> None:
    """Pass frames to the sink until the server closes normally; raises _Retry or ConnectionClosed
    when the connection is lost, AuthRefused when the token is refused."""
    silent_since = time.monotonic()
    stale = False
    while True:
        timeout = settings.stale_after if not stale else settings.reconnect_after - settings.stale_after
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation, and
            # then leaving `async with connect(...)` would not stop a reconnecting feed.
            async with asyncio.timeout(max(0.0, timeout - (time.monotonic() - silent_since))):
                frame = await ws.recv()
        except TimeoutError:
            if not stale:
                stale = True
                log.warning("fixture %s: nothing received for %.1f s: stale", fixture_id, settings.stale_after)
                _deliver(sink, Stale(), time.perf_counter())
                continue
            raise _Retry(f"nothing received for {settings.reconnect_after:.1f} s") from None
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == MESSAGE_TOO_BIG:
                # We closed: a frame over max_size. Report it and resume after it; if it was an
                # action, the sequencer sees the gap and markets stay suspended until verified.
                progress.skip_to = max(progress.skip_to, progress.highest_seq) + 1
                reason = f"frame larger than max_size ({settings.max_size} bytes): skipped"
                _deliver(sink, Malformed(reason, None, ""), time.perf_counter())
                raise
            code = exc.rcvd.code if exc.rcvd is not None else None
            if code in AUTH_REFUSED_CLOSE_CODES and progress.frames == 0:
                reason = token.redact(exc.rcvd.reason) if exc.rcvd is not None else ""
                raise AuthRefused(
                    f"fixture {fixture_id}: the provider refused the token (close {code} {reason})"
                ) from None
            if code == 1000:
                return
            raise
        arrived = time.perf_counter()
        silent_since = time.monotonic()
        stale = False
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        message = decode(text, catalogue)
        try:
            if recorder is not None:
                recorder.write(text)
            if progress.frames == 0:
                sink(Connected(), arrived)
            progress.frames += 1
            if isinstance(message, Action):
                progress.highest_seq = max(progress.highest_seq, message.seq)
            sink(message, arrived)
        except Exception as exc:
            raise _UserCodeFailed(exc) from exc


def _deliver(sink: Sink, message: Input, arrived: float) -> None:
    """`sink(message, arrived)`, its errors marked as the caller's (`_UserCodeFailed`)."""
    try:
        sink(message, arrived)
    except Exception as exc:
        raise _UserCodeFailed(exc) from exc


def _describe(exc: BaseException, token: Secret) -> str:
    return token.redact(f"{type(exc).__name__}: {exc}")
