"""The action timeline: every action's current version, keyed by `actionId`.

A `Timeline` is an immutable value. Internally, versions share one append-only log: a timeline is
(log, length) and sees only the first `length` versions. Appending to the newest timeline of a log
extends the log in place (O(1)) and returns a longer view; the older view still sees exactly what it
saw before. Appending to an older view (a fork) copies its prefix first. So every `Timeline` behaves
as a persistent value while the common case stays O(1). Not thread-safe: fold one match in one thread.
"""

from __future__ import annotations

import enum
from array import array
from collections.abc import Iterator
from typing import Protocol

import attrs
import msgspec

from engine.core.match.inputs import Action, Player
from engine.core.match.rules import Side
from engine.core.match.vocabulary import ActionKind, SendType


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


class PlayedAction(Protocol):
    """What playing an action into the score reads (`engine.core.match.play.play_action`): an arriving
    `Action` and a `KeptAction` alike."""

    @property
    def action_id(self) -> str: ...
    @property
    def timeline(self) -> float: ...
    @property
    def kind(self) -> ActionKind: ...
    @property
    def side(self) -> Side | None: ...
    @property
    def player(self) -> Player | None: ...
    @property
    def end_reason(self) -> str | None: ...
    @property
    def delayed(self) -> bool: ...
    @property
    def fixture_status(self) -> str | None: ...


class KeptAction(msgspec.Struct, frozen=True, gc=False):
    """An action as the timeline keeps it: what a re-fold reads (`PlayedAction`) and its number, without
    what only its arrival needed (summary, metadata, names, clocks), so a long match's state stays
    small. A test checks that it carries every `PlayedAction` field of the action it was made from.
    Untracked by the cyclic collector (`gc=False`: it holds atoms, enums and a `Player`, no cycle):
    a live match holds hundreds of them (bench/collector.py)."""

    action_id: str
    seq: int
    timeline: float
    kind: ActionKind
    side: Side | None
    player: Player | None
    end_reason: str | None
    delayed: bool
    fixture_status: str | None

    @classmethod
    def of(cls, action: Action) -> KeptAction:
        """The slim copy of an arriving action."""
        return cls(
            action.action_id,
            action.seq,
            action.timeline,
            action.kind,
            action.side,
            action.player,
            action.end_reason,
            action.delayed,
            action.fixture_status,
        )


@attrs.frozen(slots=True)
class Entry:
    """One action's version as the timeline holds it."""

    action: KeptAction
    standing: Standing


#: Standings by their code in the log (`_Log.standings`).
_STANDINGS = tuple(Standing)
_STANDING_CODE = {standing: code for code, standing in enumerate(_STANDINGS)}


class _Log:
    """Shared, append-only storage behind timelines. Never exposed.

    Version `p` is (`actions[p]`, `standings[p]`); `latest` maps an action id to the position of its
    latest version and `earlier[p]` is the position of the version before `p` (-1: none). Parallel
    arrays rather than an object and a list per version: a live state holds hundreds of them, and the
    cyclic collector walks only the list of actions (the standings are bytes, `earlier` machine
    integers, the actions untracked structs)."""

    __slots__ = ("actions", "earlier", "latest", "standings")

    def __init__(self) -> None:
        self.actions: list[KeptAction] = []
        self.standings = bytearray()
        self.latest: dict[str, int] = {}
        self.earlier = array("q")

    def append(self, action: KeptAction, standing: Standing) -> None:
        action_id = action.action_id
        self.earlier.append(self.latest.get(action_id, -1))
        self.latest[action_id] = len(self.actions)
        self.actions.append(action)
        self.standings.append(_STANDING_CODE[standing])

    def standing(self, position: int) -> Standing:
        return _STANDINGS[self.standings[position]]

    def entry(self, position: int) -> Entry:
        return Entry(self.actions[position], _STANDINGS[self.standings[position]])


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
        log = self._log
        position = log.latest.get(action_id, -1)
        while position >= self._length:  # versions this (older) view does not see
            position = log.earlier[position]
        return None if position < 0 else log.entry(position)

    def record(self, arriving: Action, standing: Standing) -> Timeline:
        """A new timeline in which `arriving` (kept as a `KeptAction`) is the current version of its actionId."""
        action = KeptAction.of(arriving)
        log = self._log
        if len(log.actions) != self._length:  # a fork from an older version: copy our prefix
            log = _Log()
            for position in range(self._length):
                log.append(self._log.actions[position], self._log.standing(position))
        log.append(action, standing)
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
        log = self._log
        for position in range(self._length - 1, -1, -1):
            action_id = log.actions[position].action_id
            if action_id not in seen:
                seen.add(action_id)
                yield log.entry(position)

    def ordered(self) -> list[Entry]:
        """Every action's current version, in `timelineSequence` order (ties: arrival order)."""
        latest = list(self._latest())
        latest.reverse()
        latest.sort(key=lambda entry: entry.action.timeline)
        return latest

    def effective(self) -> list[KeptAction]:
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
