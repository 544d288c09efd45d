"""A live provider for the continuity tests that is not ours: written from FEED.md section 1 alone,
on the `websockets` package, sharing no code with `engine` (so the engine's server and client
cannot agree on a mistake). It plays one recorded match on a wall clock as if it were happening
now, the way the provider serves a match under way:

    python tests/live_provider.py RECORDING TOKEN --speed 20 --started-ago 100

- `/v2/tabletennis/fixtures/{fixtureId}/actions` only; HTTP 400 without the `Accept` header;
- the first message must be `{"authToken": TOKEN}`, else a close 1008;
- `startPosition=N` skips the actions numbered N and below;
- every action already due is sent at once (a late client's backlog), then each as it falls due,
  its `timestamp` the wall time it fell due; a heartbeat `{"heartbeat": true}` every 0.5 s;
- a normal close (1000) after the last action;
- `--cut-after K`: the first connection is cut (no close frame) after K actions, and every new one
  refused (HTTP 503) for `--cut-for` seconds: a network cut.

It prints `listening on ws://127.0.0.1:PORT` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response


def _load(path: Path) -> tuple[str, list[tuple[float, int, dict[str, Any]]]]:
    """The fixture id and each action message with its offset (match seconds) and number."""
    frames: list[tuple[float, int, dict[str, Any]]] = []
    first: float | None = None
    fixture_id = ""
    for line in path.read_text().splitlines():
        item = json.loads(line)
        if "meta" in item:
            continue
        message = json.loads(item["text"])
        action = message.get("fixtureAction")
        if not isinstance(action, dict):
            continue
        moment = datetime.fromisoformat(item["recv"].replace("Z", "+00:00")).timestamp()
        first = moment if first is None else first
        fixture_id = action["fixtureId"]
        frames.append((moment - first, int(action["fixtureSeqNum"]), message))
    return fixture_id, frames


class Provider:
    def __init__(
        self, path: Path, token: str, speed: float, started_ago: float, cut_after: int | None, cut_for: float
    ) -> None:
        self.fixture_id, self.frames = _load(path)
        self.cut_after = cut_after
        self.cut_for = cut_for
        self.cut_until = 0.0
        self.connections = 0
        self.token = token
        self.speed = speed
        self.started_ago = started_ago
        self.began = time.time()

    def match_time(self, wall: float) -> float:
        return self.started_ago + (wall - self.began) * self.speed

    def due_at(self, offset: float) -> float:
        return self.began + (offset - self.started_ago) / self.speed

    def check(self, connection: ServerConnection, request: Request) -> Response | None:
        if time.time() < self.cut_until:  # the network is still down
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "cut")
        if urlsplit(request.path).path != f"/v2/tabletennis/fixtures/{self.fixture_id}/actions":
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found")
        if "Accept" not in request.headers:
            return connection.respond(HTTPStatus.BAD_REQUEST, "Request is missing required HTTP header 'Accept'")
        return None

    async def handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        skip = int(parse_qs(urlsplit(ws.request.path).query).get("startPosition", ["0"])[0])
        try:
            auth = json.loads(await asyncio.wait_for(ws.recv(), 10))
        except (TimeoutError, ConnectionClosed, ValueError):
            return
        if not isinstance(auth, dict) or auth.get("authToken") != self.token:
            await ws.close(1008, "The supplied authentication is invalid")
            return
        self.connections += 1
        cut_after = self.cut_after if self.connections == 1 else None
        beats = asyncio.create_task(self.heartbeats(ws))
        try:
            for sent, (offset, _number, message) in enumerate(item for item in self.frames if item[1] > skip):
                if cut_after is not None and sent >= cut_after:
                    self.cut_until = time.time() + self.cut_for
                    ws.transport.abort()
                    return
                due = self.due_at(offset)
                if due > time.time():
                    await asyncio.sleep(due - time.time())
                action = dict(message["fixtureAction"])
                action["timestamp"] = datetime.fromtimestamp(due, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
                await ws.send(json.dumps({**message, "fixtureAction": action}))
            await ws.close(1000, "match over")
        except ConnectionClosed:
            pass
        finally:
            beats.cancel()

    async def heartbeats(self, ws: ServerConnection) -> None:
        while True:
            await asyncio.sleep(0.5)
            await ws.send(json.dumps({"heartbeat": True}))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("recording", type=Path)
    parser.add_argument("token")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--started-ago", type=float, default=0.0)
    parser.add_argument("--cut-after", type=int, default=None)
    parser.add_argument("--cut-for", type=float, default=2.0)
    args = parser.parse_args()
    provider = Provider(args.recording, args.token, args.speed, args.started_ago, args.cut_after, args.cut_for)
    async with serve(provider.handle, "127.0.0.1", 0, process_request=provider.check, ping_interval=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"listening on ws://127.0.0.1:{port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
