"""Market signals: what a trading desk acts on. Each names a market by its stable id (`game_winner:3`).

Signals are edge-triggered differences between the market book before and after one input
(`engine.core.markets`): a market already suspended is not suspended again, a settled market is
not settled again with the same result. Folding the signals alone from an empty book
(`engine.core.book.apply_signals`) gives exactly the engine's book.

In the vocabulary of the Sportradar Unified Odds SDK: `MarketSuspended` is a bet stop,
`MarketSettled` a bet settlement, `SettlementRolledBack` a rollback of a settlement,
`MarketVoided` a bet cancel and `VoidRolledBack` a rollback of a bet cancel.
"""

from __future__ import annotations

import enum

import attrs


class Reason(enum.Enum):
    """Why a market is suspended. A market is open only when no reason holds for it."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C (Enum's is Python)

    NOT_STARTED = "not_started"  # the match has not begun (or was postponed)
    BALL_IN_PLAY = "ball_in_play"  # between Point Started and its Point Scored
    PENDING_ACTION = "pending_action"  # an action arrived Pending: it may change the score
    VIDEO_CHECK = "video_check"
    TIMEOUT = "timeout"
    PLAY_STOPPED = "play_stopped"  # play stopped, or the start delayed
    INJURY = "injury"
    COLLECTION = "collection"  # the provider's collection is suspended or dropped
    NOT_LIVE_DATA = "not_live_data"  # packets collected offline (delayStatus)
    SEQUENCE_GAP = "sequence_gap"  # messages missing: held behind a gap, or lost and not yet verified
    DISCREPANCY = "discrepancy"  # our score disagreed with the provider's; not yet verified again
    OUTCOME_UNKNOWN = "outcome_unknown"  # the market's point was played but we do not know who won it
    STALE_FEED = "stale_feed"  # nothing arrived for longer than the stale timeout
    DISCONNECTED = "disconnected"
    FINISHED = "finished"  # the provider says the match is over but the score does not decide it
    FORMAT_UNKNOWN = "format_unknown"  # the number of games is not known: markets that depend on it wait


class VoidReason(enum.Enum):
    """Why a market was voided: its outcome cannot be decided."""

    NOT_PLAYED = "not_played"  # its game or point was never played
    NO_WINNER = "no_winner"  # the match ended without a winner the market can use
    RETIRED = "retired"
    WALKOVER = "walkover"
    DISQUALIFIED = "disqualified"
    ABANDONED = "abandoned"
    CANCELLED = "cancelled"
    NOT_LIVE_DATA = "not_live_data"  # a point market whose point was collected offline (FEED.md 6)
    OUTCOME_UNKNOWN = "outcome_unknown"  # the point was played but who won it is not known


class MarketStatus(enum.Enum):
    """Where a market stands."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C (Enum's is Python)

    OPEN = "open"
    SUSPENDED = "suspended"
    SETTLED = "settled"
    VOID = "void"


@attrs.frozen(slots=True)
class MarketSuspended:
    """Stop accepting bets on `market`: it is now suspended, for `reasons`."""

    market: str
    reasons: tuple[Reason, ...]


@attrs.frozen(slots=True)
class SuspensionReasonsChanged:
    """`market` stays suspended, now for `reasons` (informational: no trading action needed)."""

    market: str
    reasons: tuple[Reason, ...]


@attrs.frozen(slots=True)
class MarketResumed:
    """`market` is open: no reason to suspend it holds (sent also when an open market first appears)."""

    market: str


@attrs.frozen(slots=True)
class MarketSettled:
    """`market` is decided: settle bets on it with `result` ("home", "away", "over", "3-1"…)."""

    market: str
    result: str


@attrs.frozen(slots=True)
class MarketVoided:
    """`market` cannot be decided: cancel its bets."""

    market: str
    reason: VoidReason


@attrs.frozen(slots=True)
class SettlementRolledBack:
    """The provider corrected the past: the settlement of `market` with `previous` no longer holds.
    The signal that follows it for the same market says where the market stands now."""

    market: str
    previous: str


@attrs.frozen(slots=True)
class VoidRolledBack:
    """The voiding of `market` (for `previous`) no longer holds; the next signal for it says why."""

    market: str
    previous: VoidReason


Signal = (
    MarketSuspended
    | SuspensionReasonsChanged
    | MarketResumed
    | MarketSettled
    | MarketVoided
    | SettlementRolledBack
    | VoidRolledBack
)

SIGNAL_TYPES: tuple[type, ...] = (
    MarketSuspended,
    SuspensionReasonsChanged,
    MarketResumed,
    MarketSettled,
    MarketVoided,
    SettlementRolledBack,
    VoidRolledBack,
)
