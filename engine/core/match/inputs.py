"""The reducer's inputs from the feed, as the core knows them: an `Action` (one action of the match
with the provider's summary sent alongside it), a `Heartbeat`, or a `Malformed` frame. Built by the
wire format (`engine.feed.wire.decode`), by generators and by tests; the core never sees JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import msgspec

from engine.core.match.rules import Side
from engine.core.match.vocabulary import ActionKind, SendType


@attrs.frozen(slots=True)
class Team:
    """`team`: a side of the match (the player's name in singles)."""

    id: str | None
    name: str | None
    home: bool

    @property
    def side(self) -> Side:
        """HOME or AWAY."""
        return Side.HOME if self.home else Side.AWAY


class Player(msgspec.Struct, frozen=True, gc=False):
    """`player`: an individual, when the provider names one (the server in doubles, say). Untracked
    by the cyclic collector (two strings): the timeline keeps one per action that names a player."""

    id: str | None
    name: str | None


class PeriodScore(msgspec.Struct, frozen=True):
    """One game of the provider's summary: points per side ([ours] FEED.md section 2). Change one
    with `msgspec.structs.replace`."""

    home_points: int
    away_points: int
    id: str | int | None = None
    label: str | None = None
    home_score: int | None = None
    away_score: int | None = None


class Summary(msgspec.Struct, frozen=True):
    """`fixtureSummary`: the provider's own running score after the action it came with (statuses
    by name). Change one with `msgspec.structs.replace`."""

    home_games: int
    away_games: int
    periods: tuple[PeriodScore, ...] = ()
    current_period: int | None = None
    status: str | None = None
    collection_status: str | None = None
    finished: bool | None = None
    is_tied: bool | None = None
    clock_time: str | None = None
    clock_state: str | None = None
    home_in_possession: bool | None = None


@attrs.frozen(slots=True)
class Action:
    """One message about one action (`fixtureAction`), with the summary sent alongside it."""

    fixture_id: str
    action_id: str
    seq: int
    timeline: float
    type_id: int
    kind: ActionKind
    send_type: SendType
    period: int | None = None
    type_name: str | None = None
    subtype_id: int | None = None
    subtype_name: str | None = None
    team: Team | None = None
    player: Player | None = None
    timestamp: str | None = None
    clock_time: str | None = None
    metadata: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    related_ids: tuple[str, ...] = ()
    delayed: bool = False
    fixture_status: str | None = None
    collection_status: str | None = None
    end_reason: str | None = None
    finished: bool = False
    summary: Summary | None = None
    trace_id: str | None = None
    version: int | None = None

    @property
    def side(self) -> Side | None:
        """The side named by `team`, if any."""
        return None if self.team is None else self.team.side


@attrs.frozen(slots=True)
class Heartbeat:
    """A well-formed message with no action: proves the feed is alive, changes nothing."""


@attrs.frozen(slots=True)
class Malformed:
    """A frame we could not read as a message. Also reported as an event by the reducer."""

    reason: str
    field: str | None = None
    excerpt: str = ""
    seq: int | None = None


Message = Action | Heartbeat | Malformed
