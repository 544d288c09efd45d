"""Every Python block of README.md runs as written (issue 28.8).

Each block runs alone, in a namespace holding only what would be the reader's own: `fixture_id`
and `frames` (a recording of a best-of-7), `token` and `base` (our provider on loopback serving that
recording, `FEED_TOKEN` set to the token), `updates_file` (the update stream a desk wrote following
it, alive lines included) and `trading` (a trading system: `await trading.apply(…)` keeps what it
was given); for a block that uses the bus, `bus_url` (a RabbitMQ of the test's own) and
`until_done()` (returns once a desk publishing the recording there has ended and the block's
mirror holds every decision). Anything of ours a block uses it must import itself. A block with a
top-level `await` runs in an event loop; a `test_…` function a block defines is called. Then what
each block was for is checked against the replay of the same recording.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import time
from pathlib import Path
from typing import Any

import pytest

from engine import playback
from engine.bus.address import BusAddress
from engine.bus.publisher import BusPublisher
from engine.desk import Desk, UpdateLog
from engine.io.protocol import Secret
from engine.io.recording import Frame, read_recording
from engine.io.server import ProviderServer, load_fixtures
from engine.testing.broker import LocalBroker

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RECORDING = ROOT / "fixtures_data" / "aicup2026_m05_female_bo7.jsonl"
TOKEN = "readme-token-8c2e"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def _blocks() -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, found.start()) + 1, found.group(1)) for found in BLOCK.finditer(text)]


class Trading:
    """The reader's trading system: keeps every call's arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def apply(self, *args: Any) -> None:
        self.calls.append(args)


def test_the_readme_has_python_blocks() -> None:
    assert len(_blocks()) >= 6


def _params() -> list[Any]:
    """Each block; one that uses the bus runs in the `broker` group, on the worker's broker."""
    return [
        pytest.param(
            line,
            source,
            id=f"line{line}",
            marks=[pytest.mark.xdist_group("broker")] if "bus_url" in source else [],
        )
        for line, source in _blocks()
    ]


@pytest.mark.parametrize(("line", "source"), _params())
def test_a_readme_block_runs_as_written(
    line: int, source: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    recording = read_recording(RECORDING)
    assert recording.fixture_id is not None
    frames = [frame.text for frame in recording.frames if isinstance(frame, Frame)]
    replayed = playback.fold(recording)
    trading = Trading()
    monkeypatch.setenv("FEED_TOKEN", TOKEN)
    code = compile(source, f"README.md:{line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)

    updates_file = tmp_path / "updates.jsonl"
    broker: LocalBroker | None = request.getfixturevalue("broker") if "bus_url" in source else None
    namespace: dict[str, Any] = {}

    async def until_done() -> None:
        """A desk publishes the recording on the bus; returns once the block's mirror holds it all."""
        assert broker is not None
        assert recording.fixture_id is not None
        mirror = namespace["mirror"]
        await mirror.subscribed()
        decided = sum(1 for market in replayed.book.values() if market.status.value in ("settled", "void"))
        publisher = BusPublisher(BusAddress("127.0.0.1", broker.port))
        async with ProviderServer(load_fixtures(RECORDING), Secret(TOKEN), speed=None) as server:
            async with Desk(TOKEN, base=server.base) as desk:
                desk.observe(await publisher.open(desk))
                desk.follow(recording.fixture_id, fmt=recording.meta.format())
                await desk.wait()
            await publisher.close()
        copy = mirror.fixtures[recording.fixture_id]
        while sum(1 for market in copy.markets.values() if market.decided) < decided:
            await asyncio.sleep(0.05)

    async def run() -> dict[str, Any]:
        served = load_fixtures(RECORDING)
        async with ProviderServer(served, Secret(TOKEN), speed=None) as server:
            if "updates_file" in source:
                with updates_file.open("wb") as out:
                    log = UpdateLog(out)
                    async with Desk(TOKEN, base=server.base) as desk:
                        desk.observe(log)
                        log.alive(time.time(), desk.stream.run)
                        desk.follow(recording.fixture_id, fmt=recording.meta.format())
                        await desk.wait()
                    log.alive(time.time(), desk.stream.run)
            namespace.update(
                {
                    "__name__": "readme",
                    "fixture_id": recording.fixture_id,
                    "frames": frames,
                    "token": TOKEN,
                    "base": server.base,
                    "trading": trading,
                    "updates_file": str(updates_file),
                    "bus_url": None if broker is None else f"amqp://127.0.0.1:{broker.port}/",
                    "until_done": until_done,
                }
            )
            pending = eval(code, namespace)  # the README's own code: the point of the test
            if inspect.iscoroutine(pending):
                await pending
            for name, value in list(namespace.items()):
                if name.startswith("test_") and callable(value):
                    value()
            return namespace

    namespace = asyncio.run(asyncio.wait_for(run(), 120))
    if "live" in namespace:  # the reducer, then step
        assert namespace["state"].winner == namespace["live"].winner == replayed.winner is not None
        assert namespace["state"].points == replayed.points
    if "config" in namespace:  # a market config, taken by the state
        assert namespace["state"].markets is namespace["config"]
    if "match" in namespace and "on_bet_stop" in namespace:  # connect, async for
        assert trading.calls
        last = trading.calls[-1][0]
        assert last.state.winner == replayed.winner
        assert last.state.points == replayed.points
    if "reader" in namespace:  # the stream reader: each decision once, nothing left open
        decided = [m for m in replayed.book.values() if m.status.value in ("settled", "void")]
        assert len(namespace["paid"]) == len(decided) > 0
        assert namespace["open_markets"] == {recording.fixture_id: []}
    if "books" in namespace:  # the bus: every decision once, the book as the replay's
        decided = {k: m for k, m in replayed.book.items() if m.status.value in ("settled", "void")}
        assert len(namespace["paid"]) == len(decided) > 0
        assert len({decision.id for decision in namespace["paid"]}) == len(decided)
        book = namespace["books"][recording.fixture_id]
        assert {k: book[k].status for k in decided} == {k: m.status.value for k, m in decided.items()}
    if "desk" in namespace:  # the desk: followed, then unfollowed
        assert namespace["fixture"].fixture_id == recording.fixture_id
        assert not namespace["desk"].fixtures
