"""The mirror's read-only HTTP side (`ttengine mirror --http HOST:PORT`), on `websockets`' server
as the desk's is (`engine.desk.web`):

    GET /fixtures  every fixture's copy as JSON: its markets (status, result, reasons, odds), the
                   run that writes it, whether it is synced and whether its engine is down
    GET /engines   every engine run heard, with the seconds since its last alive line

Binds loopback unless told otherwise, and warns when it is not (there is no token here: put it
behind the network's own access rules). Nothing here changes the mirror: every route reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from engine.bus.mirror import Mirror
from engine.desk.web import LOOPBACK, get_only, http_response

log = logging.getLogger("engine.bus.web")


def fixtures_view(mirror: Mirror) -> dict[str, Any]:
    """`{"fixtures": [...]}`: every fixture's copy as a trader may act on it (`FixtureCopy.book`)."""
    fixtures = []
    for fixture_id, copy in sorted(mirror.fixtures.items()):
        markets = {
            market_id: {
                "status": market.status,
                "result": market.result,
                "reasons": list(market.reasons),
                "odds": market.odds,
            }
            for market_id, market in copy.book.items()
        }
        fixtures.append(
            {
                "fixtureId": fixture_id,
                "run": copy.run,
                "streamSeq": copy.stream_seq,
                "synced": copy.synced,
                "producerDown": copy.producer_down,
                "open": len(copy.open_markets()),
                "markets": markets,
            }
        )
    return {"fixtures": fixtures}


def engines_view(mirror: Mirror, now: float) -> dict[str, Any]:
    """`{"connected": bool, "engines": {run: seconds since its last alive line}}`."""
    heard = mirror.reader.alive
    return {"connected": mirror.connected, "engines": {run: round(now - at, 3) for run, at in sorted(heard.items())}}


class MirrorWeb:
    """Serves a mirror's fixtures and engines at `host:port` (port 0: any free one; `port` then
    holds it). `async with MirrorWeb(mirror, port=9200) as web: …`."""

    def __init__(self, mirror: Mirror, host: str = "127.0.0.1", port: int = 0) -> None:
        self.mirror = mirror
        self.host = host
        self.port = port
        self.clock: Callable[[], float] = mirror.clock
        self._server: Server | None = None

    def __repr__(self) -> str:
        return f"MirrorWeb({self.url})"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def start(self) -> None:
        if self.host not in LOOPBACK:
            log.warning(
                "the mirror's HTTP side listens on %s, not loopback: anyone who can reach it can read it", self.host
            )
        self._server = await serve(
            _no_websocket, self.host, self.port, process_request=self._route, server_header=None, logger=log
        )
        self.port = next(iter(self._server.sockets)).getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> MirrorWeb:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _route(self, connection: ServerConnection, request: Request) -> Response:
        if request.method != "GET":
            return get_only()
        path = urlsplit(request.path).path
        if path == "/fixtures":
            return http_response(HTTPStatus.OK, "application/json", orjson.dumps(fixtures_view(self.mirror)))
        if path == "/engines":
            body = orjson.dumps(engines_view(self.mirror, self.clock()))
            return http_response(HTTPStatus.OK, "application/json", body)
        return http_response(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"Not Found: try /fixtures /engines\n")


async def _no_websocket(connection: ServerConnection) -> None:
    """Every request is answered by `_route`: no websocket is ever opened."""
