"""The desk's read-only HTTP side, on `websockets` (already our transport: its server answers plain
HTTP requests through `process_request`, and the live page's push is one of its websockets):

    GET /          the live page (static HTML and JS shipped in the package, no build step)
    GET /fixtures  every fixture as JSON (`engine.desk.views`)
    GET /metrics   Prometheus text (`engine.desk.metrics`)
    GET /updates   a websocket: every fixture at once, then each fixture that changed, pushed every
                   `push_every` seconds (0.25 s) at most, and `{"type": "alive"}` when nothing
                   changed for `ALIVE_EVERY` (1 s): a page that hears nothing for two knows the
                   desk is gone and greys every price

Binds loopback unless told otherwise. Nothing here changes the desk: every route reads.

The page's websocket accepts only the page's own origin (a browser's `Origin` naming this host and
port; a client that sends none, like a script, is not a browser page and is let in): another site
open in the trader's browser cannot read the desk. With a `token`, every route asks for it: as
`Authorization: Bearer TOKEN` (scrapers, scripts), or once in a browser as `/?token=TOKEN`, which
answers with an HttpOnly, SameSite=Strict cookie and a redirect to `/` (the token leaves the
address bar and the history; the page's websocket sends the cookie). A wrong or missing token gets
401 and one line; the token itself is never logged or shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from prometheus_client import CONTENT_TYPE_LATEST
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from engine.desk.metrics import DeskMetrics
from engine.desk.service import Desk
from engine.desk.views import desk_view, fixture_view
from engine.io.protocol import Secret

log = logging.getLogger("engine.desk.web")

#: The live page, shipped in the package.
PAGE = resources.files("engine.desk") / "page.html"
#: [ours] At most this often (seconds) the page is sent the fixtures that changed.
PUSH_EVERY = 0.25
#: [ours] A page hears from the desk at least this often (seconds), changes or not.
ALIVE_EVERY = 1.0
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
#: The cookie a browser keeps the HTTP token in, after `/?token=…`.
TOKEN_COOKIE = "ttengine_token"


class DeskWeb:
    """Serves a desk's page, fixtures and metrics at `host:port` (port 0: any free one; `port`
    then holds it); with `token`, every route asks for it (see the module docstring).
    `async with DeskWeb(desk, metrics, port=9100) as web: …`."""

    def __init__(
        self,
        desk: Desk,
        metrics: DeskMetrics,
        host: str = "127.0.0.1",
        port: int = 0,
        push_every: float = PUSH_EVERY,
        token: Secret | None = None,
    ) -> None:
        self.desk = desk
        self._token = token
        self._redact = None if token is None else _Redact(token)
        self.metrics = metrics
        self.host = host
        self.port = port
        self.push_every = push_every
        self._page = PAGE.read_bytes()
        self._server: Server | None = None
        self._pusher: asyncio.Task[None] | None = None
        self._pages: set[ServerConnection] = set()
        self._sent: dict[str, tuple[int, str]] = {}  # per fixture: the updates count and health last pushed
        self._last_push = 0.0  # the loop's time of the last message to the pages

    def __repr__(self) -> str:
        return f"DeskWeb({self.url})"

    @property
    def url(self) -> str:
        """The page's address."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def start(self) -> None:
        """Listen and start pushing."""
        if self._redact is not None:
            log.addFilter(self._redact)  # websockets logs request paths at debug level: `/?token=…`
        if self.host not in LOOPBACK and self._token is None:
            log.warning(
                "the desk's HTTP side listens on %s, not loopback, without a token: anyone who can reach it can "
                "read it (--http-token-env VAR)",
                self.host,
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
        if self._redact is not None:
            log.removeFilter(self._redact)

    async def __aenter__(self) -> DeskWeb:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- routes -------------------------------------------------------------------------------

    def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.method != "GET":
            return get_only()
        address = urlsplit(request.path)
        path = address.path
        if self._token is not None:
            refused = self._refused(request, path, address.query)
            if refused is not None:
                return refused
        if path == "/updates":
            if not _same_origin(request.headers):
                log.warning("the page's websocket refused a connection from another origin")
                return http_response(HTTPStatus.FORBIDDEN, "text/plain; charset=utf-8", b"Forbidden: another origin\n")
            return None  # the websocket handshake goes on
        if path == "/":
            return http_response(HTTPStatus.OK, "text/html; charset=utf-8", self._page)
        if path == "/fixtures":
            return http_response(HTTPStatus.OK, "application/json", orjson.dumps(self.snapshot()))
        if path == "/metrics":
            return http_response(HTTPStatus.OK, CONTENT_TYPE_LATEST, self.metrics.text())
        return http_response(
            HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"Not Found: try / /fixtures /metrics\n"
        )

    def _refused(self, request: Request, path: str, query: str) -> Response | None:
        """With a token: None when the request carries it (header or cookie); a redirect that sets
        the cookie for `/?token=…` with the right one; else 401."""
        assert self._token is not None
        given = parse_qs(query).get("token", [])
        if given and path == "/":
            if not _matches(given[0], self._token):
                return _unauthorized()
            response = http_response(HTTPStatus.SEE_OTHER, "text/plain; charset=utf-8", b"See /\n")
            cookie: SimpleCookie = SimpleCookie()
            cookie[TOKEN_COOKIE] = self._token.reveal()
            morsel = cookie[TOKEN_COOKIE]
            morsel["httponly"] = True
            morsel["samesite"] = "Strict"
            morsel["path"] = "/"
            response.headers["Set-Cookie"] = morsel.OutputString()
            response.headers["Location"] = "/"
            return response
        if _matches(_bearer(request.headers) or _cookie(request.headers) or "", self._token):
            return None
        return _unauthorized()

    def snapshot(self, only: list[str] | None = None) -> dict[str, Any]:
        """`{"now": t, "fixtures": [view, …]}`: every fixture, or those of `only`."""
        fixtures = self.desk.fixtures
        chosen = list(fixtures.values()) if only is None else [fixtures[key] for key in only if key in fixtures]
        return {"now": self.desk.clock(), "desk": desk_view(self.desk), "fixtures": [fixture_view(f) for f in chosen]}

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
        if not self._pages:
            return
        now = asyncio.get_running_loop().time()
        if changed or removed:
            message = {"type": "changes", **self.snapshot(changed), "removed": removed}
        elif now - self._last_push >= ALIVE_EVERY:
            message = {"type": "alive", "now": self.desk.clock(), "desk": desk_view(self.desk)}
        else:
            return
        self._last_push = now
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


class _Redact(logging.Filter):
    """Takes the HTTP token out of every record of this module's logger (and websockets')."""

    def __init__(self, token: Secret) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        redacted = self._token.redact(text)
        if redacted != text:
            record.msg, record.args = redacted, None
        return True


def _matches(given: str, token: Secret) -> bool:
    """`given` is the token (compared in constant time)."""
    return hmac.compare_digest(given.encode(), token.reveal().encode())


def _bearer(headers: Headers) -> str | None:
    scheme, _, value = headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _cookie(headers: Headers) -> str | None:
    cookies: SimpleCookie = SimpleCookie()
    try:
        for header in headers.get_all("Cookie"):
            cookies.load(header)
    except CookieError:
        return None
    morsel = cookies.get(TOKEN_COOKIE)
    return None if morsel is None else morsel.value


def _same_origin(headers: Headers) -> bool:
    """No `Origin` (not a browser page), or one naming the host the request was sent to."""
    origin = headers.get("Origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == headers.get("Host", "").lower() != ""


def _unauthorized() -> Response:
    response = http_response(
        HTTPStatus.UNAUTHORIZED,
        "text/plain; charset=utf-8",
        b"Unauthorized: send Authorization: Bearer TOKEN, or open /?token=TOKEN once in a browser\n",
    )
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def get_only() -> Response:
    """405 for a request that is not a GET: every route is read-only."""
    response = http_response(HTTPStatus.METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", b"read-only: GET only\n")
    response.headers["Allow"] = "GET"
    return response


def http_response(status: HTTPStatus, content_type: str, body: bytes) -> Response:
    """A complete HTTP answer, never cached, the connection closed after it."""
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, body)
