"""The reducer's inputs: the feed's (`Action`, `Heartbeat`, `Malformed`, from
`engine.core.match.inputs`) and the runtime's own — the stream ended, the connection's state, the
consumer's, a backlog folded, a fixture unfollowed or reconfigured. `Input` is their union. Apart
from `reduce` so that what only sends inputs (the adapter, the runtime, the analyses) need not
import the reducer."""

from __future__ import annotations

import enum

import attrs

from engine.core.config import MarketConfig
from engine.core.match.inputs import Action, Heartbeat, Malformed

__all__ = [
    "FLAG_SET_BY",
    "Action",
    "CatchingUp",
    "CaughtUp",
    "CaughtUpWithFeed",
    "Connected",
    "Disconnected",
    "EndOfStream",
    "Heartbeat",
    "Input",
    "Lagging",
    "Malformed",
    "Reconfigured",
    "Stale",
    "UnfollowReason",
    "Unfollowed",
]


@attrs.frozen(slots=True)
class EndOfStream:
    """Input: the stream is over (end of a recording). Releases actions held behind a gap."""


@attrs.frozen(slots=True)
class Stale:
    """Input: nothing (not even a heartbeat) arrived for longer than the stale timeout. Every market
    suspends until the next message arrives."""


@attrs.frozen(slots=True)
class Disconnected:
    """Input: the connection to the provider is down. Every market suspends until `Connected`."""


@attrs.frozen(slots=True)
class Connected:
    """Input: the connection to the provider is up again."""


@attrs.frozen(slots=True)
class Lagging:
    """Input: the consumer of this fixture's updates fell behind (the runtime's queue is full).
    Every market suspends (`consumer_lagging`) until `CaughtUp`."""


@attrs.frozen(slots=True)
class CaughtUp:
    """Input: the consumer of this fixture's updates caught up again."""


class UnfollowReason(enum.Enum):
    """Why the engine stopped following a fixture (`Unfollowed.why`)."""

    __hash__ = object.__hash__

    OPERATOR = "operator"  # stopped on purpose: unfollowed, the service stopped, the recording ended
    FINISHED = "finished"  # the match is over and its feed ended
    FAILED = "failed"  # the feed failed (retries exhausted, a fault of ours); it may be followed again
    REFUSED = "refused"  # the provider refused the token or the request: final


@attrs.frozen(slots=True)
class Unfollowed:
    """Input: the engine stops following this fixture before the match is over (stopped,
    cancelled, interrupted, or the feed failed for good), `why`. Every undecided market suspends
    (`not_followed`) for good: the closing bet stop."""

    why: UnfollowReason = UnfollowReason.OPERATOR


@attrs.frozen(slots=True)
class Reconfigured:
    """Input: the fixture's market config changes while it is followed (a new margin or pre-match
    price on a reload): the book and the prices are brought up to date under it."""

    markets: MarketConfig


@attrs.frozen(slots=True)
class CatchingUp:
    """Input: the runtime starts folding a backlog — the first connection to a match under way, a
    reconnection after a gap, a restart from a recording. Every market suspends (`catching_up`)
    until `CaughtUpWithFeed`, so no market opens at a past score while the backlog is folded."""


@attrs.frozen(slots=True)
class CaughtUpWithFeed:
    """Input: the backlog is folded; the feed is live again (FEED.md 1, [ours]: the burst's end)."""


Input = (
    Action
    | Heartbeat
    | Malformed
    | EndOfStream
    | Stale
    | Disconnected
    | Connected
    | Lagging
    | CaughtUp
    | Unfollowed
    | CatchingUp
    | CaughtUpWithFeed
    | Reconfigured
)


#: What each input about the connection or the runtime sets on the match (`MatchFacts`): a flag
#: the market policy reads. Such an input only moves markets.
FLAG_SET_BY: dict[type, tuple[str, bool]] = {
    Stale: ("stale", True),
    Disconnected: ("disconnected", True),
    Connected: ("disconnected", False),
    Lagging: ("lagging", True),
    CaughtUp: ("lagging", False),
    Unfollowed: ("unfollowed", True),
    CatchingUp: ("catching_up", True),
    CaughtUpWithFeed: ("catching_up", False),
}
