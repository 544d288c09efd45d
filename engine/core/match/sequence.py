"""Ordering on `fixtureSeqNum` before the reducer (FEED.md section 2): pure and deterministic.

Messages older than the next expected number are duplicates and are dropped. Messages ahead of it
are held, in order, until the missing ones arrive. When more than `max_held` are held, the missing
numbers are given up as lost: a `Gap` is reported and the held messages are released. A lost
message that turns up after all is released then (`LateArrival`), not dropped: it was never applied.
A message numbered more than `max_ahead` past the next expected one is not held at all but refused
(`TooFarAhead`): holding it would keep a gap open for the rest of the match.
"""

from __future__ import annotations

import bisect
from typing import Final

import attrs

from engine.core.match.inputs import Action

#: Early arrivals, (seq, action) in order of seq: a handful at most (`max_held`), so a sorted tuple —
#: immutable, shared by the states that follow, and the empty one costs the collector nothing.
Held = tuple[tuple[int, Action], ...]

#: [ours] How many later messages may wait for a missing one before it is declared lost.
DEFAULT_MAX_HELD: Final = 8
#: FEED.md section 2: `fixtureSeqNum` starts at 1.
FIRST_SEQ: Final = 1
#: [ours] A message this far past the next expected number is refused, not held (a best-of-7 match
#: has well under a thousand actions; a resumed connection starts where we left off).
DEFAULT_MAX_AHEAD: Final = 5_000
#: [ours] How many given-up ranges are remembered, so a lost message arriving late is still applied.
LOST_RANGES_KEPT: Final = 32


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
class LateArrival:
    """A message given up as lost arrived after all; it is applied now, out of order."""

    seq: int


@attrs.frozen(slots=True)
class TooFarAhead:
    """A message numbered implausibly far past the next expected one: refused, not held."""

    seq: int
    next_seq: int


Note = Gap | DuplicateDropped | LateArrival | TooFarAhead


@attrs.frozen(slots=True)
class Sequencer:
    """Which `fixtureSeqNum` comes next, and the early arrivals waiting for it."""

    next_seq: int = FIRST_SEQ
    held: Held = attrs.field(default=(), eq=False, hash=False)
    max_held: int = DEFAULT_MAX_HELD
    max_ahead: int = DEFAULT_MAX_AHEAD
    #: Ranges [first, end) given up as lost and not yet arrived, oldest first.
    lost: tuple[tuple[int, int], ...] = ()

    @property
    def waiting(self) -> bool:
        """True while messages are held because an earlier one is missing (a gap is open)."""
        return bool(self.held)

    def push(self, action: Action) -> tuple[Sequencer, list[Action], list[Note]]:
        """Offer one action: returns the new sequencer, the actions now released in order, and notes."""
        seq = action.seq
        if seq < self.next_seq or any(held_seq == seq for held_seq, _ in self.held):
            lost = _without(self.lost, seq)
            if lost is None:
                return self, [], [DuplicateDropped(seq)]
            return attrs.evolve(self, lost=lost), [action], [LateArrival(seq)]
        if seq == self.next_seq and not self.held:  # the common case, built directly (not attrs.evolve)
            return Sequencer(seq + 1, self.held, self.max_held, self.max_ahead, self.lost), [action], []
        if seq - self.next_seq > self.max_ahead:
            return self, [], [TooFarAhead(seq, self.next_seq)]
        at = bisect.bisect_left([held_seq for held_seq, _ in self.held], seq)
        return self._release((*self.held[:at], (seq, action), *self.held[at:]), [])

    def _release(self, held: Held, notes: list[Note]) -> tuple[Sequencer, list[Action], list[Note]]:
        next_seq = self.next_seq
        released: list[Action] = []
        taken = 0
        for first, action in held:
            if first != next_seq:
                if len(held) - taken <= self.max_held:
                    break
                notes.append(Gap(next_seq, first))
                next_seq = first
            released.append(action)
            taken += 1
            next_seq += 1
        return self._after(next_seq, held[taken:], notes), released, notes

    def _after(self, next_seq: int, held: Held, notes: list[Note]) -> Sequencer:
        gaps = tuple((gap.first_missing, gap.resumed_at) for gap in notes if isinstance(gap, Gap))
        lost = (self.lost + gaps)[-LOST_RANGES_KEPT:] if gaps else self.lost
        return attrs.evolve(self, next_seq=next_seq, held=held, lost=lost)

    def flush(self) -> tuple[Sequencer, list[Action], list[Note]]:
        """Give up on every missing message now: release all held actions, reporting the gaps."""
        notes: list[Note] = []
        next_seq = self.next_seq
        released: list[Action] = []
        for seq, action in self.held:
            if seq != next_seq:
                notes.append(Gap(next_seq, seq))
            released.append(action)
            next_seq = seq + 1
        return self._after(next_seq, (), notes), released, notes


def _without(lost: tuple[tuple[int, int], ...], seq: int) -> tuple[tuple[int, int], ...] | None:
    """`lost` with `seq` taken out of its range, or None when no range holds it."""
    for index, (first, end) in enumerate(lost):
        if first <= seq < end:
            pieces = tuple(piece for piece in ((first, seq), (seq + 1, end)) if piece[0] < piece[1])
            return lost[:index] + pieces + lost[index + 1 :]
    return None
