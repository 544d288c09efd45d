"""The websocket adapter: connects to the provider, feeds every frame to a sink, and reports the
connection's health as reducer inputs. Thin: every decision about the match stays in the pure core,
and every decision about the connection in the sans-I/O `engine.io.session.FeedSession`; this
module only opens sockets, waits and shuttles frames and timeouts between them.

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

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from engine.core.inputs import Input, Stale
from engine.feed.catalogue import DEFAULT_CATALOGUE, ActionCatalogue
from engine.io.protocol import (
    ACCEPT_HEADER,
    MAX_CONNECTS_PER_SECOND,
    RedactingLogger,
    RequestRefused,
    Secret,
    auth_message,
)
from engine.io.recording import RecordingMeta
from engine.io.session import (  # the session's settings and backoff, re-exported where users found them
    ClientSettings,
    Continue,
    Decision,
    FeedSession,
    Finished,
    GiveUp,
    Reconnect,
    backoff_delays,
)

__all__ = [
    "PROCESS_LIMITER",
    "ClientSettings",
    "ConnectLimiter",
    "FrameObserver",
    "Recorder",
    "Sink",
    "backoff_delays",
    "run_feed",
]

log = logging.getLogger("engine.io.client")

#: Receives each reducer input and the `time.perf_counter()` at which its frame arrived.
Sink = Callable[[Input, float], object]


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


#: [ours] Seconds to wait for the server's close frame when we close (an error of the user's code, a
#: cancellation): the server closes a finished feed itself, so waiting longer only delays the error.
CLOSE_TIMEOUT = 1.0


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
    reconnect; frames are decoded with `catalogue`. Every decision is the `FeedSession`'s: this loop
    only opens connections, shuttles frames and timeouts to it, and carries out what it says."""
    settings = settings or ClientSettings()
    limiter = limiter or PROCESS_LIMITER
    session = FeedSession(fixture_id, settings, start_position, is_over, rng, catalogue)
    ws_logger = RedactingLogger(logging.getLogger("engine.io.websockets"), token)
    while True:
        await limiter.acquire()
        url = session.url()
        try:
            async with connect(
                url,
                additional_headers={"Accept": ACCEPT_HEADER},
                open_timeout=settings.open_timeout,
                max_size=settings.max_size,
                ping_interval=None,  # liveness is the feed's own business: heartbeats and the session's timers
                close_timeout=CLOSE_TIMEOUT,
                logger=ws_logger,
                user_agent_header=None,
            ) as ws:
                log.info("fixture %s: connected to %s", fixture_id, url)
                await ws.send(auth_message(token))
                session.opened(time.monotonic())
                inputs, decision = await _receive(ws, session, sink, recorder, token)
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = token.redact(exc.response.body.decode("utf-8", "replace")[:200]) if exc.response.body else ""
            inputs, decision = session.on_connect_failed(status, body)
        except InvalidURI as exc:
            raise RequestRefused(f"fixture {fixture_id}: invalid URL: {exc}") from None
        except _UserCodeFailed as failed:
            raise failed.error from None
        except (InvalidHandshake, OSError, TimeoutError) as exc:
            inputs, decision = session.on_connect_failed(None, _describe(exc, token))
        _deliver(sink, inputs, time.perf_counter())
        if isinstance(decision, Finished):
            log.info("fixture %s: the match is over and the server closed the feed", fixture_id)
            return
        if isinstance(decision, GiveUp):
            raise decision.error
        assert isinstance(decision, Reconnect)
        limit = settings.max_retries
        of = "" if limit is None else f" of {limit}"
        log.warning(
            "fixture %s: connection lost (%s); reconnecting in %.1f s (retry %d%s)",
            fixture_id,
            decision.why,
            decision.delay,
            decision.attempt,
            of,
        )
        await asyncio.sleep(decision.delay)


async def _receive(
    ws: ClientConnection, session: FeedSession, sink: Sink, recorder: FrameObserver | None, token: Secret
) -> tuple[list[Input], Decision]:
    """Shuttle frames and timeouts to the session until it decides the connection is done."""
    while True:
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation, and
            # then leaving `async with connect(...)` would not stop a reconnecting feed.
            async with asyncio.timeout(max(0.0, session.deadline() - time.monotonic())):
                frame = await ws.recv()
        except TimeoutError:
            inputs, decision = session.on_timeout(time.monotonic())
            if isinstance(decision, Continue):
                if any(isinstance(message, Stale) for message in inputs):
                    log.warning(
                        "fixture %s: nothing received for %.1f s: stale",
                        session.fixture_id,
                        session.settings.stale_after,
                    )
                _deliver(sink, inputs, time.perf_counter())
                continue
            return inputs, decision
        except ConnectionClosed as exc:
            received = exc.rcvd.code if exc.rcvd is not None else None
            reason = token.redact(exc.rcvd.reason) if exc.rcvd is not None else ""  # the server's words
            return session.on_close(received, reason, exc.sent.code if exc.sent is not None else None)
        arrived = time.perf_counter()
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        if recorder is not None:
            try:
                recorder.write(text)
            except Exception as exc:
                raise _UserCodeFailed(exc) from exc
        _deliver(sink, session.on_frame(text, time.monotonic(), time.time()), arrived)


def _deliver(sink: Sink, inputs: list[Input], arrived: float) -> None:
    """Each input to the sink; its errors marked as the caller's (`_UserCodeFailed`)."""
    try:
        for message in inputs:
            sink(message, arrived)
    except Exception as exc:
        raise _UserCodeFailed(exc) from exc


def _describe(exc: BaseException, token: Secret) -> str:
    return token.redact(f"{type(exc).__name__}: {exc}")
