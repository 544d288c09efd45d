"""A local stand-in for the provider: serves recordings over the provider's websocket protocol.

    python -m engine serve PATH --port 8765 --token T

Speaks FEED.md section 1 as our client expects the provider to: the path
`/v2/tabletennis/fixtures/{fixtureId}/actions` (one fixture per recording, its id from the
recording's meta line or its first action); HTTP 400 with the documented text when `Accept` is
missing; the `{"authToken": …}` message first, a wrong token closed with 1008 and the documented
text; heartbeats every `heartbeat` seconds; `startPosition` (actions to skip) and `speed`
(`fast`, or `normal`: paced by the recorded receive times, divided by the server's `speed`, each
action stamped with the time it fell due, as a live feed's are). At the
end of a recording the server closes the connection normally.

`Faults` injects what real feeds do, deterministically from a seed: drop the connection after K
frames, send frames twice, reorder them within a window, delay them, go silent. Binds loopback
unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import attrs
import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from engine.io.protocol import (
    ACTIONS_PATH_PATTERN,
    HEARTBEAT_INTERVAL,
    HEARTBEAT_TEXT,
    INVALID_AUTH_TEXT,
    MISSING_ACCEPT_TEXT,
    RedactingLogger,
    Secret,
)
from engine.io.recording import Frame, Recording, RecordingError, posix_seconds, read_recording

log = logging.getLogger("engine.io.server")

#: How long the server waits for the auth message before closing.
AUTH_TIMEOUT = 10.0
#: [ours] Seconds a closing server waits for its connections to end before it aborts them.
CLOSE_WAIT = 2.0


@attrs.frozen(slots=True)
class Faults:
    """Faults to inject, per connection, reproducibly from `seed`.

    drop_after: for the n-th connection (0-based) of a fixture, abort it after that many frames
        (a value per connection; connections past the tuple's end are not dropped);
    duplicate: probability that a frame is sent twice;
    reorder_window: frames are shuffled within consecutive windows of this size (0/1: in order);
    delay: extra seconds before each frame;
    silence_after / silence_for: after that many frames on a connection, send nothing at all
        (not even heartbeats) for that many seconds, once per connection.
    """

    drop_after: tuple[int, ...] = ()
    duplicate: float = 0.0
    reorder_window: int = 0
    delay: float = 0.0
    silence_after: int | None = None
    silence_for: float = 0.0
    seed: int = 0


NO_FAULTS = Faults()


@attrs.frozen(slots=True)
class ServedFixture:
    """One recording as served: its frames' texts and their offsets in seconds from the first."""

    fixture_id: str
    texts: tuple[str, ...]
    offsets: tuple[float, ...]
    seqs: tuple[int | None, ...]


def served_fixture(recording: Recording, source: str = "recording") -> ServedFixture:
    """A recording ready to serve; RecordingError when it names no fixture."""
    frames = [frame for frame in recording.frames if isinstance(frame, Frame)]
    seqs = tuple(_seq(frame.text) for frame in frames)
    fixture_id = recording.fixture_id
    if fixture_id is None:
        raise RecordingError(f"{source}: no fixture id (no meta line and no action)")
    times = [posix_seconds(frame.recv) for frame in frames]
    first = next((t for t in times if t is not None), 0.0)
    offsets: list[float] = []
    last = 0.0
    for moment in times:
        last = max(last, moment - first) if moment is not None else last
        offsets.append(last)
    return ServedFixture(fixture_id, tuple(frame.text for frame in frames), tuple(offsets), seqs)


def load_fixtures(path: str | Path) -> dict[str, ServedFixture]:
    """Every recording at `path` (a file, or a folder of `*.jsonl`), by fixture id."""
    root = Path(path)
    files = sorted(root.glob("*.jsonl")) if root.is_dir() else [root]
    if not files:
        raise RecordingError(f"{path}: no *.jsonl recordings")
    fixtures: dict[str, ServedFixture] = {}
    for file in files:
        fixture = served_fixture(read_recording(file), str(file))
        if fixture.fixture_id in fixtures:
            raise RecordingError(f"{file}: fixture {fixture.fixture_id} is served by two recordings")
        fixtures[fixture.fixture_id] = fixture
    return fixtures


def _seq(text: str) -> int | None:
    try:
        seq = orjson.loads(text)["fixtureAction"]["fixtureSeqNum"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return seq if type(seq) is int else None


def resume_index(fixture: ServedFixture, start_position: int) -> int:
    """The index of the first frame to send when the client skips `start_position` actions: just
    after the last frame that carries an action numbered `start_position` or less."""
    if start_position <= 0:
        return 0
    index = 0
    for position, seq in enumerate(fixture.seqs):
        if seq is not None and seq <= start_position:
            index = position + 1
    return index


class ProviderServer:
    """Serves fixtures as the provider would. Use as `async with ProviderServer(...) as server:`;
    `server.base` is the URL to give a client."""

    def __init__(
        self,
        fixtures: Mapping[str, ServedFixture],
        token: Secret,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat: float = HEARTBEAT_INTERVAL,
        speed: float | None = None,
        faults: Faults = NO_FAULTS,
        require_accept: bool = True,
        stamp: Callable[[str], str] | None = None,
        live: bool = False,
        started_ago: float = 0.0,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive (None: as fast as possible)")
        if started_ago < 0:
            raise ValueError("started_ago must be 0 or more seconds")
        self.fixtures = dict(fixtures)
        self._token = token
        self.host = host
        self.port = port
        self.heartbeat = heartbeat
        self.speed = speed
        self.faults = faults
        #: False lets clients that cannot set headers in (the `python -m websockets` interactive client).
        self.require_accept = require_accept
        #: Rewrites each frame just before it is sent (benchmarks stamp the send time into it).
        self.stamp = stamp
        #: Live mode: every fixture's match runs on a clock that started `started_ago` seconds (of
        #: match time) before the server did, paced by `speed` (1 when None): a client gets every
        #: frame already due at once (the backlog of a late start or a reconnection), then the
        #: rest as they fall due, as the provider serves a match under way.
        self.live = live
        self.started_ago = started_ago
        self._clock_start: float | None = None
        self.attempts = 0  # websocket connections opened, authenticated or not
        self.connections: dict[str, int] = {}  # fixture id -> authenticated connections so far
        self._server: Server | None = None

    def __repr__(self) -> str:
        return f"ProviderServer({len(self.fixtures)} fixtures, {self.host}:{self.port})"

    @property
    def base(self) -> str:
        """The base URL clients connect to."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"

    async def start(self) -> None:
        """Listen (port 0 picks a free one; `self.port` then holds it)."""
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._check_request,
            ping_interval=None,
            server_header=None,
            logger=RedactingLogger(log, self._token),
        )
        sockets = list(self._server.sockets)
        self.port = sockets[0].getsockname()[1]
        self._clock_start = asyncio.get_running_loop().time()

    async def close(self) -> None:
        """Stop listening and close every connection; one whose handler has not ended within
        `CLOSE_WAIT` seconds (a client that stopped reading, say) is aborted, so Ctrl-C always ends."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        try:
            await asyncio.wait_for(asyncio.shield(server.wait_closed()), CLOSE_WAIT)
        except TimeoutError:
            for connection in list(server.all_connections):
                connection.transport.abort()
            await server.wait_closed()

    async def __aenter__(self) -> ProviderServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def serve_forever(self) -> None:
        """Serve until cancelled; then close (see `close`)."""
        if self._server is None:
            await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    def _fixture_of(self, path: str) -> ServedFixture | None:
        match = ACTIONS_PATH_PATTERN.fullmatch(urlsplit(path).path)
        return None if match is None else self.fixtures.get(match["fixture_id"])

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self._fixture_of(request.path) is None:
            return _text_response(connection, HTTPStatus.NOT_FOUND, "Not Found")
        if self.require_accept and "Accept" not in request.headers:
            return _text_response(connection, HTTPStatus.BAD_REQUEST, MISSING_ACCEPT_TEXT)
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        fixture = self._fixture_of(ws.request.path)
        assert fixture is not None  # _check_request refused any other path
        query = parse_qs(urlsplit(ws.request.path).query)
        try:
            start_position = int(query.get("startPosition", ["0"])[0])
        except ValueError:
            await ws.close(1008, "startPosition must be an integer")
            return
        paced = self.speed is not None and query.get("speed", ["normal"])[0] != "fast"
        self.attempts += 1
        if not await self._authenticated(ws):
            return
        number = self.connections.get(fixture.fixture_id, 0)
        self.connections[fixture.fixture_id] = number + 1
        sending = asyncio.Lock()
        quiet = asyncio.Event()  # set while silent: heartbeats pause too
        beats = asyncio.create_task(self._heartbeats(ws, sending, quiet))
        try:
            await self._stream(ws, fixture, start_position, number, paced, sending, quiet)
        except ConnectionClosed:
            return
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):  # a beat sent as it closed
                await beats

    async def _authenticated(self, ws: ServerConnection) -> bool:
        try:
            async with asyncio.timeout(AUTH_TIMEOUT):  # not wait_for: on 3.11 it can swallow a cancellation
                first = await ws.recv()
            token = orjson.loads(first).get("authToken")
        except (TimeoutError, ConnectionClosed):
            return False
        except (orjson.JSONDecodeError, AttributeError):
            token = None
        if token != self._token.reveal():
            log.info("refused a connection: wrong or missing auth token")
            await ws.close(1008, INVALID_AUTH_TEXT)
            return False
        return True

    async def _heartbeats(self, ws: ServerConnection, sending: asyncio.Lock, quiet: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            if not quiet.is_set():
                async with sending:
                    await ws.send(HEARTBEAT_TEXT)

    async def _stream(
        self,
        ws: ServerConnection,
        fixture: ServedFixture,
        start_position: int,
        number: int,
        paced: bool,
        sending: asyncio.Lock,
        quiet: asyncio.Event,
    ) -> None:
        faults = self.faults
        drop_after = faults.drop_after[number] if number < len(faults.drop_after) else None
        loop = asyncio.get_running_loop()
        began = loop.time()
        first = resume_index(fixture, start_position)
        base_offset = fixture.offsets[first] if first < len(fixture.offsets) else 0.0
        if self.live and self._clock_start is not None:  # the match's own clock, not this connection's
            began, base_offset = self._clock_start, self.started_ago
        speed = self.speed if self.speed is not None else 1.0
        frames = _faulty(fixture, first, faults, random.Random(f"{faults.seed}/{number}"))
        for sent, (text, offset) in enumerate(frames):
            due = began + (offset - base_offset) / speed
            if self.live or (paced and self.speed is not None):
                await asyncio.sleep(max(0.0, due - loop.time()))
            if faults.delay:
                await asyncio.sleep(faults.delay)
            if drop_after is not None and sent >= drop_after:
                log.info("fault: dropping connection %d of %s after %d frames", number, fixture.fixture_id, sent)
                ws.transport.abort()
                return
            if faults.silence_after is not None and sent == faults.silence_after and faults.silence_for > 0:
                quiet.set()
                await asyncio.sleep(faults.silence_for)
                quiet.clear()
            if self.live or paced:  # a live action carries the time it happened: when it fell due
                text = _timestamped(text, time.time() + due - loop.time())
            async with sending:
                await ws.send(text if self.stamp is None else self.stamp(text))
        await ws.close(1000, "end of recording")


def _faulty(fixture: ServedFixture, first: int, faults: Faults, rng: random.Random) -> Iterator[tuple[str, float]]:
    """The frames from `first`, with duplicates and local reordering applied."""
    items = list(zip(fixture.texts[first:], fixture.offsets[first:], strict=True))
    window = max(1, faults.reorder_window)
    for start in range(0, len(items), window):
        chunk = items[start : start + window]
        if window > 1:
            texts = [text for text, _ in chunk]
            rng.shuffle(texts)
            chunk = [(text, offset) for text, (_, offset) in zip(texts, chunk, strict=True)]
        for text, offset in chunk:
            yield text, offset
            if faults.duplicate and rng.random() < faults.duplicate:
                yield text, offset


def _timestamped(text: str, moment: float) -> str:
    """`text` with its action's `timestamp` set to `moment` (POSIX seconds); as it was when it
    carries no action."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    action = message.get("fixtureAction") if isinstance(message, dict) else None
    if not isinstance(action, dict):
        return text
    action["timestamp"] = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return orjson.dumps(message).decode()


def _text_response(connection: ServerConnection, status: HTTPStatus, text: str) -> Response:
    """A plain-text HTTP response, as the provider answers a refused handshake."""
    return connection.respond(status, text)
