"""What happens in a match, as the reducer reports it: small frozen classes, one per kind of happening.

`Malformed` (a frame we could not read), `Gap`, `DuplicateDropped` and `LateArrival` (sequencing)
are defined where they arise and re-exported here. The market signals come from the markets layer;
`engine.core.events` puts both together (`Event`).
"""

from __future__ import annotations

import enum

import attrs

from engine.core.match.inputs import Malformed
from engine.core.match.rules import Side
from engine.core.match.sequence import DuplicateDropped, Gap, LateArrival
from engine.core.match.vocabulary import ActionKind, ResultKind, SendType, Stoppage


class Status(enum.Enum):
    """Where the match stands."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C (Enum's is Python)

    NOT_STARTED = "not_started"
    LIVE = "live"
    BETWEEN_GAMES = "between_games"
    SUSPENDED = "suspended"  # suspended by the provider's collection (not being scored live)
    FINISHED = "finished"
    ABANDONED = "abandoned"
    POSTPONED = "postponed"
    CANCELLED = "cancelled"


#: The statuses a match does not leave (corrections aside): finished, abandoned, cancelled.
FINAL_STATUSES = frozenset({Status.FINISHED, Status.ABANDONED, Status.CANCELLED})


@attrs.frozen(slots=True)
class PointStarted:
    """A rally began in `game`; `server` is the side serving (None if unknown)."""

    game: int
    server: Side | None
    action_id: str


@attrs.frozen(slots=True)
class PointWon:
    """`side` won a point; `score` is the game's score after it (home, away)."""

    game: int
    side: Side
    score: tuple[int, int]
    action_id: str


@attrs.frozen(slots=True)
class GameWon:
    """`side` won `game` with `score` (home, away); `games` is the match's games after it."""

    game: int
    side: Side
    score: tuple[int, int]
    games: tuple[int, int]


@attrs.frozen(slots=True)
class MatchWon:
    """The match is over: `side` won (None when nobody did, e.g. abandoned) and how."""

    side: Side | None
    result: ResultKind
    games: tuple[int, int]


@attrs.frozen(slots=True)
class ServerChanged:
    """The side due to serve the next rally changed (None: unknown)."""

    server: Side | None
    previous: Side | None


@attrs.frozen(slots=True)
class EndsChanged:
    """The sides changed ends; `swapped` is True when each is at the end the other started at."""

    swapped: bool


@attrs.frozen(slots=True)
class StatusChanged:
    """The match status changed."""

    status: Status
    previous: Status


@attrs.frozen(slots=True)
class StoppageStarted:
    """Play stopped: a timeout, a video check, an injury…"""

    stoppage: Stoppage
    action_id: str


@attrs.frozen(slots=True)
class StoppageEnded:
    """A stoppage ended."""

    stoppage: Stoppage
    action_id: str


@attrs.frozen(slots=True)
class PastAmended:
    """A message changed an action already in the timeline, or inserted one into the past."""

    action_id: str
    send_type: SendType
    inserted: bool


@attrs.frozen(slots=True)
class Discrepancy:
    """Our score disagreed with the provider's (or the feed broke the format); we follow the feed."""

    reason: str
    derived: tuple[tuple[int, int], ...] = ()
    provider: tuple[tuple[int, int], ...] = ()


@attrs.frozen(slots=True)
class FormatContradicted:
    """The feed disproved the match format: play went on after the match was over by it, or the
    provider ended the match before a side won the games it needs. The format is corrected to
    `corrected` (None: unknown from now on); the markets that depend on it stay suspended until
    End Match (`Reason.FORMAT_CONTRADICTED`)."""

    reason: str
    previous: int | None  # best of, as it was
    corrected: int | None  # best of, as the feed shows it


@attrs.frozen(slots=True)
class UnknownAction:
    """An action whose type id the catalogue does not know: kept, no score change."""

    type_id: int
    type_name: str | None
    action_id: str


@attrs.frozen(slots=True)
class UnexpectedServer:
    """The feed says `actual` serves where the rules expected `expected`. The feed wins."""

    game: int
    expected: Side
    actual: Side
    action_id: str


@attrs.frozen(slots=True)
class ActionPending:
    """A Pending action arrived: it may happen; nothing is scored until it is Confirmed."""

    kind: ActionKind
    action_id: str


@attrs.frozen(slots=True)
class NotLiveData:
    """The data's liveness changed: `delayed` True while packets are collected offline (delayStatus)."""

    delayed: bool


@attrs.frozen(slots=True)
class RatingsLookedUp:
    """The lineups named both sides and the ratings were asked: `home_wins` (P(home wins) before the
    first point) and `strength` (the prior's, in points) when both were found, the prices' prior
    then set from them; otherwise None, and `missing` says who was not found and why
    (`unknown`, or `ambiguous` with the rated players the name could be)."""

    home: str
    away: str
    home_wins: float | None
    strength: float | None
    missing: tuple[str, ...] = ()


MatchEvent = (
    PointStarted
    | PointWon
    | GameWon
    | MatchWon
    | ServerChanged
    | EndsChanged
    | StatusChanged
    | StoppageStarted
    | StoppageEnded
    | PastAmended
    | Discrepancy
    | FormatContradicted
    | UnknownAction
    | UnexpectedServer
    | ActionPending
    | NotLiveData
    | RatingsLookedUp
    | Malformed
    | Gap
    | DuplicateDropped
    | LateArrival
)


__all__ = [
    "FINAL_STATUSES",
    "ActionPending",
    "Discrepancy",
    "DuplicateDropped",
    "EndsChanged",
    "FormatContradicted",
    "GameWon",
    "Gap",
    "LateArrival",
    "Malformed",
    "MatchEvent",
    "MatchWon",
    "NotLiveData",
    "PastAmended",
    "PointStarted",
    "PointWon",
    "ServerChanged",
    "Status",
    "StatusChanged",
    "StoppageEnded",
    "StoppageStarted",
    "UnexpectedServer",
    "UnknownAction",
]
