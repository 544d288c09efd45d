"""What the reducer reports: the match events (`engine.core.match.events`) and the market signals
(`engine.core.markets.signals`), which it emits after them, together. An event's name is its class
name (`event_name`), as traces and callbacks use it."""

from __future__ import annotations

from engine.core.markets.signals import (
    MarketResumed,
    MarketSettled,
    MarketSuspended,
    MarketVoided,
    SettlementRolledBack,
    Signal,
    SuspensionReasonsChanged,
    VoidRolledBack,
)
from engine.core.match.events import (
    FINAL_STATUSES,
    ActionPending,
    Discrepancy,
    DuplicateDropped,
    EndsChanged,
    FormatContradicted,
    GameWon,
    Gap,
    LateArrival,
    Malformed,
    MatchEvent,
    MatchWon,
    NotLiveData,
    PastAmended,
    PointStarted,
    PointWon,
    RatingsLookedUp,
    ServerChanged,
    Status,
    StatusChanged,
    StoppageEnded,
    StoppageStarted,
    UnexpectedServer,
    UnknownAction,
)

Event = MatchEvent | Signal


def event_name(event: Event) -> str:
    """The name a trace or a callback registry uses for an event."""
    return type(event).__name__


__all__ = [
    "FINAL_STATUSES",
    "ActionPending",
    "Discrepancy",
    "DuplicateDropped",
    "EndsChanged",
    "Event",
    "FormatContradicted",
    "GameWon",
    "Gap",
    "LateArrival",
    "Malformed",
    "MarketResumed",
    "MarketSettled",
    "MarketSuspended",
    "MarketVoided",
    "MatchEvent",
    "MatchWon",
    "NotLiveData",
    "PastAmended",
    "PointStarted",
    "PointWon",
    "RatingsLookedUp",
    "ServerChanged",
    "SettlementRolledBack",
    "Signal",
    "Status",
    "StatusChanged",
    "StoppageEnded",
    "StoppageStarted",
    "SuspensionReasonsChanged",
    "UnexpectedServer",
    "UnknownAction",
    "VoidRolledBack",
    "event_name",
]
