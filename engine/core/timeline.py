"""The action timeline: every action's current version, keyed by `actionId`.

A `Timeline` is an immutable value. Internally, versions share one append-only log: a timeline is
(log, length) and sees only the first `length` entries. Appending to the newest timeline of a log
extends the log in place (O(1)) and returns a longer view; the older view still sees exactly what it
saw before. Appending to an older view (a fork) copies its prefix first. So every `Timeline` behaves
as a persistent value while the common case stays O(1). Not thread-safe: fold one match in one thread.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

import attrs

from engine.feed.catalogue import SendType
from engine.feed.wire import Action


class Standing(enum.Enum):
    """Where an action stands after all the messages about it so far."""

    PENDING = "pending"  # may have happened; not in the score
    CONFIRMED = "confirmed"  # in the score (Confirmed, Updated, Restored)
    CANCELLED = "cancelled"  # a pending action that did not happen
    DELETED = "deleted"  # a confirmed action that was removed


#: FEED.md section 2: what each send type makes of an action.
STANDING_AFTER: dict[SendType, Standing] = {
    SendType.PENDING: Standing.PENDING,
    SendType.CONFIRMED: Standing.CONFIRMED,
    SendType.UPDATED: Standing.CONFIRMED,
    SendType.RESTORED: Standing.CONFIRMED,
    SendType.CANCELLED: Standing.CANCELLED,
    SendType.DELETED: Standing.DELETED,
}


@attrs.frozen(slots=True)
class Entry:
    """One action's version as the timeline holds it."""

    action: Action
    standing: Standing


class _Log:
    """Shared, append-only storage behind timelines. Never exposed."""

    __slots__ = ("entries", "positions")

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.positions: dict[str, list[int]] = {}

    def append(self, entry: Entry) -> None:
        self.positions.setdefault(entry.action.action_id, []).append(len(self.entries))
        self.entries.append(entry)


class Timeline:
    """The effective timeline; use `record` to add a message and `ordered` to read it in order."""

    __slots__ = ("_last_timeline", "_length", "_log", "_pending")

    def __init__(self) -> None:
        self._log = _Log()
        self._length = 0
        self._last_timeline = float("-inf")
        self._pending: frozenset[str] = frozenset()

    @property
    def last_timeline(self) -> float:
        """The largest `timelineSequence` of any action recorded so far."""
        return self._last_timeline

    @property
    def pending(self) -> frozenset[str]:
        """Action ids currently Pending."""
        return self._pending

    def __len__(self) -> int:
        """How many distinct actions the timeline knows, whatever their standing."""
        return sum(1 for _ in self._latest())

    def get(self, action_id: str) -> Entry | None:
        """The current version of an action, or None if unknown."""
        positions = self._log.positions.get(action_id)
        if positions is None:
            return None
        for position in reversed(positions):
            if position < self._length:
                return self._log.entries[position]
        return None

    def record(self, action: Action, standing: Standing) -> Timeline:
        """A new timeline in which `action` is the current version of its actionId."""
        log = self._log
        if len(log.entries) != self._length:  # a fork from an older version: copy our prefix
            log = _Log()
            for entry in self._log.entries[: self._length]:
                log.append(entry)
        log.append(Entry(action, standing))
        new = Timeline.__new__(Timeline)
        new._log = log
        new._length = self._length + 1
        new._last_timeline = max(self._last_timeline, action.timeline)
        if standing is Standing.PENDING:
            new._pending = self._pending | {action.action_id}
        elif action.action_id in self._pending:
            new._pending = self._pending - {action.action_id}
        else:
            new._pending = self._pending
        return new

    def _latest(self) -> Iterator[Entry]:
        seen: set[str] = set()
        entries = self._log.entries
        for position in range(self._length - 1, -1, -1):
            entry = entries[position]
            if entry.action.action_id not in seen:
                seen.add(entry.action.action_id)
                yield entry

    def ordered(self) -> list[Entry]:
        """Every action's current version, in `timelineSequence` order (ties: arrival order)."""
        latest = list(self._latest())
        latest.reverse()
        latest.sort(key=lambda entry: entry.action.timeline)
        return latest

    def effective(self) -> list[Action]:
        """The confirmed actions in timeline order: what the score is folded from."""
        return [e.action for e in self.ordered() if e.standing is Standing.CONFIRMED]

    def __eq__(self, other: object) -> bool:
        """Equal when every action has the same current version and standing."""
        if not isinstance(other, Timeline):
            return NotImplemented
        return {e.action.action_id: e for e in self._latest()} == {e.action.action_id: e for e in other._latest()}

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Timeline(actions={len(self)}, pending={len(self._pending)})"
