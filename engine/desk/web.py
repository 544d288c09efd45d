"""The desk's read-only HTTP side, on `websockets` (already our transport: its server answers plain
HTTP requests through `process_request`, and the live page's push is one of its websockets):

    GET /          the live page (static HTML and JS shipped in the package, no build step)
    GET /fixtures  every fixture as JSON (`engine.desk.views`)
    GET /metrics   Prometheus text (`engine.desk.metrics`)
    GET /updates   a websocket: every fixture at once, then each fixture that changed, pushed every
                   `push_every` seconds (0.25 s) at most

Binds loopback unless told otherwise. Nothing here changes the desk: every route reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from http import HTTPStatus
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import orjson
from prometheus_client import CONTENT_TYPE_LATEST
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from engine.desk.metrics import DeskMetrics
from engine.desk.service import Desk
from engine.desk.views import fixture_view

log = logging.getLogger("engine.desk.web")

#: The live page, shipped in the package.
PAGE = resources.files("engine.desk") / "page.html"
#: [ours] At most this often (seconds) the page is sent the fixtures that changed.
PUSH_EVERY = 0.25
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class DeskWeb:
    """Serves a desk's page, fixtures and metrics at `host:port` (port 0: any free one; `port`
    then holds it). `async with DeskWeb(desk, metrics, port=9100) as web: …`."""

    def __init__(
        self, desk: Desk, metrics: DeskMetrics, host: str = "127.0.0.1", port: int = 0, push_every: float = PUSH_EVERY
    ) -> None:
        self.desk = desk
        self.metrics = metrics
        self.host = host
        self.port = port
        self.push_every = push_every
        self._page = PAGE.read_bytes()
        self._server: Server | None = None
        self._pusher: asyncio.Task[None] | None = None
        self._pages: set[ServerConnection] = set()
        self._sent: dict[str, tuple[int, str]] = {}  # per fixture: the updates count and health last pushed

    def __repr__(self) -> str:
        return f"DeskWeb({self.url})"

    @property
    def url(self) -> str:
        """The page's address."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def start(self) -> None:
        """Listen and start pushing."""
        if self.host not in LOOPBACK:
            log.warning(
                "the desk's HTTP side listens on %s, not loopback: anyone who can reach it can read it", self.host
            )
        self._server = await serve(
            self._page_socket,
            self.host,
            self.port,
            process_request=self._route,
            server_header=None,
            logger=log,
        )
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        self._pusher = asyncio.get_running_loop().create_task(self._push(), name="desk page push")

    async def close(self) -> None:
        """Stop pushing, close every page's socket and stop listening."""
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
            self._pusher = None
            self._push_once()  # what changed since the last push (the closing bet stops) goes out
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> DeskWeb:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- routes -------------------------------------------------------------------------------

    def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.method != "GET":
            response = _response(HTTPStatus.METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", b"read-only: GET only\n")
            response.headers["Allow"] = "GET"
            return response
        path = urlsplit(request.path).path
        if path == "/updates":
            return None  # the websocket handshake goes on
        if path == "/":
            return _response(HTTPStatus.OK, "text/html; charset=utf-8", self._page)
        if path == "/fixtures":
            return _response(HTTPStatus.OK, "application/json", orjson.dumps(self.snapshot()))
        if path == "/metrics":
            return _response(HTTPStatus.OK, CONTENT_TYPE_LATEST, self.metrics.text())
        return _response(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"Not Found: try / /fixtures /metrics\n")

    def snapshot(self, only: list[str] | None = None) -> dict[str, Any]:
        """`{"now": t, "fixtures": [view, …]}`: every fixture, or those of `only`."""
        fixtures = self.desk.fixtures
        chosen = list(fixtures.values()) if only is None else [fixtures[key] for key in only if key in fixtures]
        return {"now": self.desk.clock(), "fixtures": [fixture_view(fixture) for fixture in chosen]}

    async def _page_socket(self, connection: ServerConnection) -> None:
        """One page: everything at once, then what changes (pushed by `_push`), until it leaves."""
        await connection.send(orjson.dumps({"type": "snapshot", **self.snapshot()}).decode())
        self._pages.add(connection)
        try:
            await connection.wait_closed()
        finally:
            self._pages.discard(connection)

    async def _push(self) -> None:
        """Every `push_every` seconds, the fixtures that changed (or left) to every page."""
        while True:
            await asyncio.sleep(self.push_every)
            self._push_once()

    def _push_once(self) -> None:
        changed, removed = self._changes()
        if not self._pages or not (changed or removed):
            return
        message = {"type": "changes", **self.snapshot(changed), "removed": removed}
        broadcast(self._pages, orjson.dumps(message).decode())  # skips pages that closed or lag

    def _changes(self) -> tuple[list[str], list[str]]:
        """The fixtures whose updates or health moved since the last push, and those that left."""
        changed: list[str] = []
        seen: dict[str, tuple[int, str]] = {}
        for fixture_id, fixture in self.desk.fixtures.items():
            key = (fixture.watch.updates, fixture.health_state().value)
            seen[fixture_id] = key
            if self._sent.get(fixture_id) != key:
                changed.append(fixture_id)
        removed = [fixture_id for fixture_id in self._sent if fixture_id not in seen]
        self._sent = seen
        return changed, removed


def _response(status: HTTPStatus, content_type: str, body: bytes) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, body)
