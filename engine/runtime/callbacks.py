"""Handlers by kind for a match's updates, events and signals (plain or `async def`), shared
by any number of matches: `Callbacks`."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar, overload

from engine.core.update import Update

log = logging.getLogger("engine.runtime")


class Followed(Protocol):
    """What a handler's first argument is (an `engine.runtime.following.Match`) as far as the
    callbacks read it: its fixture id, for their log lines."""

    @property
    def fixture_id(self) -> str | None: ...


#: A callback: `fn(match, item)` where item is an `Update`, or one event or signal of it; it may
#: be an `async def` (awaited before the next item is delivered).
Callback = Callable[[Any, Any], object]
C = TypeVar("C", bound=Callback)
EventTypes = type | tuple[type, ...]
#: [ours] A callback slower than this (seconds) is warned about.
SLOW_CALLBACK = 1.0


class Callbacks:
    """Handlers by kind, shared by any number of matches. `on` also works as a decorator.

    Each update is delivered in order: handlers of `Update` get the update, then handlers of an
    event or signal type (`object`: every one) get each matching item of `update.items()`. While a
    handler runs, `match.update` is the update it belongs to (its seq, times and score)."""

    def __init__(self, slow_after: float = SLOW_CALLBACK) -> None:
        self.slow_after = slow_after
        self._handlers: list[tuple[tuple[type, ...], bool, Callback]] = []
        self.failures = 0  # callbacks that raised
        self.slow = 0  # calls slower than `slow_after` (plain and async)
        self.blocking = 0  # of those, plain handlers: the event loop (every fixture) waited for them
        self.blocked_seconds = 0.0  # how long those blocking calls held the loop, summed
        self.slowest: str | None = None  # the handler of the latest slow call, by name

    @overload
    def on(self, event_type: EventTypes, fn: None = None) -> Callable[[C], C]: ...
    @overload
    def on(self, event_type: EventTypes, fn: C) -> C: ...
    def on(self, event_type: EventTypes, fn: C | None = None) -> C | Callable[[C], C]:
        """Call `fn(match, item)` for every `Update` (`event_type=Update`), or for every event or signal
        that is an instance of `event_type` (`object` for all); `fn` may be an `async def`. Returns
        `fn`; without `fn`, a decorator. TypeError for a kind that is not a class, or a `fn` that is
        not callable."""
        kinds = event_type if isinstance(event_type, tuple) else (event_type,)
        if not kinds or not all(isinstance(kind, type) for kind in kinds):
            raise TypeError(f"on(): the kind must be a class or a tuple of classes, not {event_type!r}")
        if fn is None:
            return lambda handler: self.on(event_type, handler)
        if not callable(fn):
            raise TypeError(f"on(): the callback must be callable (a function or an async def), not {fn!r}")
        wants_update = Update in kinds
        self._handlers.append((tuple(kind for kind in kinds if kind is not Update), wants_update, fn))
        return fn

    def off(self, fn: Callback) -> None:
        """Stop calling `fn`."""
        self._handlers = [handler for handler in self._handlers if handler[2] is not fn]

    async def deliver(self, match: Followed, update: Update) -> None:
        """Hand one update to every matching handler, in order (awaiting `async def` ones); isolate
        failures, time each call."""
        rest = self.begin(match, update)
        if rest is not None:
            await rest

    def begin(self, match: Followed, update: Update) -> Coroutine[Any, Any, None] | None:
        """Call the matching handlers of one update, in order, for as long as they are plain
        functions; at the first that returns an awaitable, return a coroutine that awaits it and
        goes on with the rest (None: every handler ran). Plain handlers so run right after the
        reducer, without a hop through the event loop."""
        calls = self._calls(update)
        for index, (fn, item) in enumerate(calls):
            began = time.perf_counter()
            try:
                result = fn(match, item)
            except Exception:
                self._failed(match, fn, item)
                continue
            if inspect.isawaitable(result):
                return self._go_on(match, result, began, calls[index:])
            self._timed(match, fn, item, began, blocking=True)
        return None

    def _calls(self, update: Update) -> list[tuple[Callback, object]]:
        """(handler, item) for every call one update makes, in order."""
        handlers = self._handlers
        if not handlers:
            return []
        calls: list[tuple[Callback, object]] = [(fn, update) for _, wants, fn in handlers if wants]
        for item in update.items():
            calls.extend((fn, item) for kinds, _, fn in handlers if kinds and isinstance(item, kinds))
        return calls

    async def _go_on(
        self, match: Followed, pending: Awaitable[object], began: float, calls: list[tuple[Callback, object]]
    ) -> None:
        """Await the handler that returned `pending` (the first of `calls`), then call the rest."""
        fn, item = calls[0]
        try:
            await pending
        except Exception:
            self._failed(match, fn, item)
        else:
            self._timed(match, fn, item, began, blocking=False)
        for fn, item in calls[1:]:
            began = time.perf_counter()
            try:
                result = fn(match, item)
                plain = True
                if inspect.isawaitable(result):
                    plain = False
                    await result
            except Exception:
                self._failed(match, fn, item)
                continue
            self._timed(match, fn, item, began, blocking=plain)

    def _failed(self, match: Followed, fn: Callback, item: object) -> None:
        self.failures += 1
        log.exception(
            "fixture %s: callback %s raised on %s; the feed goes on", match.fixture_id, _name(fn), _kind(item)
        )

    def _timed(self, match: Followed, fn: Callback, item: object, began: float, *, blocking: bool) -> None:
        """Count and warn about a call slower than `slow_after`; a plain (`blocking`) one held the
        event loop, so every fixture of the process waited for it: said so, and its time summed."""
        spent = time.perf_counter() - began
        if spent <= self.slow_after:
            return
        self.slow += 1
        self.slowest = _name(fn)
        if blocking:
            self.blocking += 1
            self.blocked_seconds += spent
            log.warning(
                "fixture %s: plain callback %s blocked the event loop for %.3f s on %s (slower than %.3f s): "
                "every fixture waited; make it `async def` and await the slow part, or hand it to a thread",
                match.fixture_id,
                self.slowest,
                spent,
                _kind(item),
                self.slow_after,
            )
        else:
            log.warning(
                "fixture %s: callback %s took %.3f s on %s (slower than %.3f s)",
                match.fixture_id,
                self.slowest,
                spent,
                _kind(item),
                self.slow_after,
            )


def _name(fn: Callable[..., object]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def _kind(item: object) -> str:
    return type(item).__name__
