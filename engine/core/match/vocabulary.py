"""The core's vocabulary of the feed: what actions mean (`ActionKind`), their lifecycle (`SendType`),
stoppages and how a match ended, and the [ours] tables that give them their effect (FEED.md
sections 2, 3 and 6). The wire format maps provider codes and JSON to these (`engine.feed`); the
core never sees a type id or a field name.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from engine.core.match.rules import Side


class ActionKind(enum.Enum):
    """What an action means to the engine, whatever its provider type id."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C (Enum's is Python)

    MATCH_CONDITIONS = "match_conditions"
    TEAM_COLOURS = "team_colours"
    LINEUPS = "lineups"
    START_MATCH = "start_match"
    END_MATCH = "end_match"
    START_PERIOD = "start_period"
    END_PERIOD = "end_period"
    STATUS_UPDATED = "status_updated"
    VIDEO_CHECK_UNDERWAY = "video_check_underway"
    TIMEOUT = "timeout"
    MATCH_START_DELAYED = "match_start_delayed"
    PLAY_STOPPED = "play_stopped"
    VIDEO_CHECK_RESULT = "video_check_result"
    INJURY = "injury"
    PLAY_RESUMED = "play_resumed"
    POINT_STARTED = "point_started"
    POINT_SCORED = "point_scored"
    # [ours] kinds with no public type id yet: map an id to them with `with_types`.
    LET = "let"  # the rally is replayed, nobody scores
    CARD = "card"  # a warning or card; scoring penalty points arrive as POINT_SCORED
    EXPEDITE = "expedite"  # the expedite system starts (ITTF 2.15)
    UNKNOWN = "unknown"  # kept and reported, never scores


class SendType(enum.IntEnum):
    """The lifecycle message an action arrives as (`sendTypeId`, FEED.md section 2)."""

    PENDING = 1
    UPDATED = 2
    CANCELLED = 3
    DELETED = 4
    CONFIRMED = 5
    RESTORED = 6


#: [ours] A confirmed action of these kinds whose summary agrees with our score ends the
#: uncertainty a discrepancy or a lost message left.
VERIFYING_KINDS = frozenset({ActionKind.POINT_SCORED, ActionKind.END_MATCH})


class Stoppage(enum.Enum):
    """An interruption of play that stays open until something ends it."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C (Enum's is Python)

    TIMEOUT = "timeout"
    VIDEO_CHECK = "video_check"
    PLAY_STOPPED = "play_stopped"
    INJURY = "injury"
    START_DELAYED = "start_delayed"


#: [ours] Which action kinds open which stoppage.
STOPPAGE_OPENED_BY: Mapping[ActionKind, Stoppage] = {
    ActionKind.TIMEOUT: Stoppage.TIMEOUT,
    ActionKind.VIDEO_CHECK_UNDERWAY: Stoppage.VIDEO_CHECK,
    ActionKind.PLAY_STOPPED: Stoppage.PLAY_STOPPED,
    ActionKind.INJURY: Stoppage.INJURY,
    ActionKind.MATCH_START_DELAYED: Stoppage.START_DELAYED,
}

#: [ours] Which action kinds close which stoppages. A new rally (Point Started) or the start of the
#: match proves play is under way, so they close everything a missing Play Resumed would leave open.
_ALL_STOPPAGES = frozenset(Stoppage)
STOPPAGES_CLOSED_BY: Mapping[ActionKind, frozenset[Stoppage]] = {
    ActionKind.PLAY_RESUMED: frozenset(
        {Stoppage.TIMEOUT, Stoppage.PLAY_STOPPED, Stoppage.INJURY, Stoppage.START_DELAYED}
    ),
    ActionKind.VIDEO_CHECK_RESULT: frozenset({Stoppage.VIDEO_CHECK}),
    ActionKind.POINT_STARTED: _ALL_STOPPAGES,
    ActionKind.START_MATCH: frozenset({Stoppage.START_DELAYED}),
}


class ResultKind(enum.Enum):
    """How a match ended."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C (Enum's is Python)

    NORMAL = "normal"
    RETIRED = "retired"
    WALKOVER = "walkover"
    DISQUALIFIED = "disqualified"
    ABANDONED = "abandoned"


#: [ours] Words in an End Match action's sub-type or reason that say how the match ended.
#: Matched case-insensitively as substrings; anything else on End Match is a normal end.
RESULT_KIND_BY_WORD: Mapping[str, ResultKind] = {
    "retire": ResultKind.RETIRED,
    "walkover": ResultKind.WALKOVER,
    "w/o": ResultKind.WALKOVER,
    "disqualif": ResultKind.DISQUALIFIED,
    "abandon": ResultKind.ABANDONED,
}


def result_kind_from_text(text: str | None) -> ResultKind:
    """The result kind an End Match reason names, NORMAL when it names none."""
    if text:
        lowered = text.lower()
        for word, kind in RESULT_KIND_BY_WORD.items():
            if word in lowered:
                return kind
    return ResultKind.NORMAL


#: [ours] On End Match, `team` (when present) is the winning side, also after a retirement,
#: walkover or disqualification. Changing this to "the side that retired" is one line.
def end_match_winner(team_side: Side | None) -> Side | None:
    """The winner an End Match action names."""
    return team_side


#: [ours] Collection states in which the data is not being collected live: the match is
#: "suspended by collection" and nothing it says is certain.
COLLECTION_NOT_LIVE = frozenset({"CollectionSuspended", "CollectionDropped"})

#: [ours] Fixture statuses (names as in FEED.md section 2) that the match status follows.
FIXTURE_STATUS_ABANDONED = frozenset({"Abandoned"})
FIXTURE_STATUS_LIVE = "Live"
FIXTURE_STATUS_COMPLETED = "Completed"
#: [ours] The provider's own fixture status for a match it has suspended: nothing is certain.
FIXTURE_STATUS_SUSPENDED = "Suspended"
FIXTURE_STATUS_POSTPONED = "Postponed"
FIXTURE_STATUS_CANCELLED = "Cancelled"
