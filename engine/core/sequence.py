"""Ordering on `fixtureSeqNum` before the reducer (FEED.md section 2): pure and deterministic.

Messages older than the next expected number are duplicates and are dropped. Messages ahead of it
are held, in order, until the missing ones arrive. When more than `max_held` are held, the missing
numbers are given up as lost: a `Gap` is reported and the held messages are released.
"""

from __future__ import annotations

from typing import Final

import attrs
from sortedcontainers import SortedDict

from engine.feed.wire import Action

#: [ours] How many later messages may wait for a missing one before it is declared lost.
DEFAULT_MAX_HELD: Final = 8
#: FEED.md section 2: `fixtureSeqNum` starts at 1.
FIRST_SEQ: Final = 1


@attrs.frozen(slots=True)
class Gap:
    """Messages `first_missing`..`resumed_at - 1` never arrived; processing went on without them."""

    first_missing: int
    resumed_at: int

    @property
    def lost(self) -> int:
        """How many sequence numbers were skipped."""
        return self.resumed_at - self.first_missing


@attrs.frozen(slots=True)
class DuplicateDropped:
    """A message whose `fixtureSeqNum` was already applied or is already held."""

    seq: int


@attrs.frozen(slots=True)
class Sequencer:
    """Which `fixtureSeqNum` comes next, and the early arrivals waiting for it."""

    next_seq: int = FIRST_SEQ
    held: SortedDict = attrs.field(factory=SortedDict, eq=False, hash=False)
    max_held: int = DEFAULT_MAX_HELD

    @property
    def waiting(self) -> bool:
        """True while messages are held because an earlier one is missing (a gap is open)."""
        return bool(self.held)

    def push(self, action: Action) -> tuple[Sequencer, list[Action], list[Gap | DuplicateDropped]]:
        """Offer one action: returns the new sequencer, the actions now released in order, and notes."""
        seq = action.seq
        if seq < self.next_seq or seq in self.held:
            return self, [], [DuplicateDropped(seq)]
        if seq == self.next_seq and not self.held:
            return Sequencer(seq + 1, self.held, self.max_held), [action], []
        held = self.held.copy()
        held[seq] = action
        return self._release(held, [])

    def _release(
        self, held: SortedDict, notes: list[Gap | DuplicateDropped]
    ) -> tuple[Sequencer, list[Action], list[Gap | DuplicateDropped]]:
        next_seq = self.next_seq
        released: list[Action] = []
        while held:
            first = held.peekitem(0)[0]
            if first != next_seq:
                if len(held) <= self.max_held:
                    break
                notes.append(Gap(next_seq, first))
                next_seq = first
            released.append(held.popitem(0)[1])
            next_seq += 1
        return Sequencer(next_seq, held, self.max_held), released, notes

    def flush(self) -> tuple[Sequencer, list[Action], list[Gap | DuplicateDropped]]:
        """Give up on every missing message now: release all held actions, reporting the gaps."""
        held = self.held.copy()
        notes: list[Gap | DuplicateDropped] = []
        next_seq = self.next_seq
        released: list[Action] = []
        for seq in list(held.keys()):
            if seq != next_seq:
                notes.append(Gap(next_seq, seq))
            released.append(held[seq])
            next_seq = seq + 1
        return Sequencer(next_seq, SortedDict(), self.max_held), released, notes
