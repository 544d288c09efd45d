"""How updates reach a consumer: what a live feed does when its consumer lags (`Overflow`), the
buffer and the lag limit, one `async for`'s channel, and a run's stream of stamped updates (`Stream`)."""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
import uuid
from collections.abc import Coroutine
from typing import Any

import attrs

from engine.core.update import Update

log = logging.getLogger("engine.runtime")

#: [ours] Updates queued for the callbacks and `async for` before a live feed's consumer counts as
#: lagging (`Overflow`); a replay waits instead.
UPDATE_BUFFER = 1_024
#: [ours] Seconds the oldest update waiting for a live feed's consumer may have waited (from its
#: frame's arrival) before the consumer counts as lagging (`Overflow`), however short the queue.
LAG_LIMIT = 1.0


class Overflow(enum.Enum):
    """What a live feed does when its consumer falls `lag_limit` seconds or `buffer` updates behind
    (a replay waits)."""

    #: Suspend every market of the fixture (`consumer_lagging`) at once: the updates not yet handed
    #: over are replaced by one net update (a snapshot, every market suspended) that goes ahead of
    #: nothing stale; the updates that follow are coalesced into one net update, delivered (the
    #: markets reopened at their current prices) once the consumer has taken the queue down to half
    #: of `buffer`; `Update.coalesced` and `Match.coalesced` count what was merged.
    SUSPEND = "suspend"
    #: Stop following the fixture: the closing bet stop, then `ConsumerTooSlow` from `wait()` and
    #: `async for`.
    FAIL = "fail"


class ConsumerTooSlow(Exception):
    """A live feed's consumer fell `buffer` updates behind under `Overflow.FAIL`."""


@attrs.frozen(slots=True)
class Job:
    """An update waiting for the delivery task: `arrived` is its frame's arrival; `rest` the handlers
    left to await when delivery began at once and met an `async def` (`started`: the callbacks have
    been called already)."""

    update: Update
    arrived: float
    started: bool = False
    rest: Coroutine[Any, Any, None] | None = None


class End:
    """Delivered after the last update; carries the error that ended the feed, if any."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class Channel:
    """One `async for`: the updates handed to it, at most one ahead of what it has taken."""

    def __init__(self) -> None:
        self.items: collections.deque[Update | End] = collections.deque()
        self.ready = asyncio.Event()
        self.taken = asyncio.Event()
        self.waits = True  # the delivery waits for this consumer (until it stops following)

    async def put(self, update: Update) -> None:
        """Hand over an update; wait while the consumer has not taken the one before it."""
        self.items.append(update)
        self.ready.set()
        while len(self.items) > 1 and self.waits:
            self.taken.clear()
            await self.taken.wait()

    def has_room(self) -> bool:
        """True when an update handed over now need not wait (the consumer took the last one)."""
        return not self.items

    def put_now(self, update: Update) -> None:
        """Hand over an update without waiting (see `has_room`)."""
        self.items.append(update)
        self.ready.set()

    def unblock(self) -> None:
        """Stop waiting for this consumer: what is left is handed over at once (the match stops,
        perhaps from inside the consumer's own loop, which must not wait for itself)."""
        self.waits = False
        self.taken.set()

    def end(self, end: End) -> None:
        """No more updates: the consumer's loop ends after those handed over (with the error, if any)."""
        self.items.append(end)
        self.ready.set()
        self.unblock()

    async def get(self) -> Update | End:
        while not self.items:
            self.ready.clear()
            await self.ready.wait()
        item = self.items.popleft()
        self.taken.set()
        return item


class Stream:
    """One engine run's stream of updates: its `run` id (new for every run of the process, so a
    restart is visible) and each update's place in it (`streamSeq`, from 1, over every fixture that
    shares the stream: a desk's fixtures share one). The runtime stamps each update as it is sent."""

    def __init__(self, run: str | None = None) -> None:
        self.run = run if run is not None else uuid.uuid4().hex
        self.sent = 0  # updates stamped so far

    def __repr__(self) -> str:
        return f"Stream({self.run!r}, {self.sent} sent)"

    def stamp(self, update: Update, snapshot: bool) -> Update:
        """`update` with this run, the next `streamSeq`, and its snapshot flag."""
        self.sent += 1
        return attrs.evolve(update, run=self.run, stream_seq=self.sent, snapshot=snapshot or update.snapshot)
