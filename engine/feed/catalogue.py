"""What the provider's codes mean (FEED.md sections 2-3): one place, overridable without editing us.

The table from `fixtureActionTypeId` to meaning is an `ActionCatalogue`. The documented table tennis
types and the platform types we expect are in `DEFAULT_CATALOGUE`; when a real stream shows a new
id (lets and cards have no public ids), map it without touching the package:

    catalogue = DEFAULT_CATALOGUE.with_types({1201: ActionKind.LET})
    message = decode(frame, catalogue)

Provider codes live here (type ids, status codes); what they mean to the engine — the kinds,
stoppages, results and their [ours] tables — is the core's vocabulary (`engine.core.match.vocabulary`),
re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from engine.core.match.vocabulary import (  # the core's vocabulary, re-exported where users found it
    COLLECTION_NOT_LIVE,
    FIXTURE_STATUS_ABANDONED,
    FIXTURE_STATUS_CANCELLED,
    FIXTURE_STATUS_COMPLETED,
    FIXTURE_STATUS_LIVE,
    FIXTURE_STATUS_POSTPONED,
    FIXTURE_STATUS_SUSPENDED,
    RESULT_KIND_BY_WORD,
    STOPPAGE_OPENED_BY,
    STOPPAGES_CLOSED_BY,
    ActionKind,
    ResultKind,
    SendType,
    Stoppage,
    end_match_winner,
    result_kind_from_text,
)

__all__ = [
    "COLLECTION_NOT_LIVE",
    "COLLECTION_STATUS_NAMES",
    "DEFAULT_CATALOGUE",
    "FIXTURE_STATUS_ABANDONED",
    "FIXTURE_STATUS_CANCELLED",
    "FIXTURE_STATUS_COMPLETED",
    "FIXTURE_STATUS_LIVE",
    "FIXTURE_STATUS_NAMES",
    "FIXTURE_STATUS_POSTPONED",
    "FIXTURE_STATUS_SUSPENDED",
    "RESULT_KIND_BY_WORD",
    "STOPPAGES_CLOSED_BY",
    "STOPPAGE_OPENED_BY",
    "ActionCatalogue",
    "ActionKind",
    "ResultKind",
    "SendType",
    "Stoppage",
    "end_match_winner",
    "result_kind_from_text",
]


def _as_kinds(kinds: Mapping[int, ActionKind]) -> dict[int, ActionKind]:
    return dict(kinds)


@attrs.frozen(slots=True)
class ActionCatalogue:
    """Provider type id -> ActionKind. Ids not in the table decode as ActionKind.UNKNOWN."""

    kinds: Mapping[int, ActionKind] = attrs.field(converter=_as_kinds)

    def kind_of(self, type_id: int) -> ActionKind:
        """The meaning of a type id (UNKNOWN when the table does not know it)."""
        return self.kinds.get(type_id, ActionKind.UNKNOWN)

    def with_types(self, extra: Mapping[int, ActionKind]) -> ActionCatalogue:
        """A copy with `extra` added or overriding existing ids."""
        return ActionCatalogue({**self.kinds, **extra})


DEFAULT_CATALOGUE = ActionCatalogue(
    {
        # [sib] generic platform types, expected in table tennis
        1: ActionKind.MATCH_CONDITIONS,
        2: ActionKind.TEAM_COLOURS,
        3: ActionKind.LINEUPS,  # [doc] seen pre-match in a real sample
        4: ActionKind.START_MATCH,
        5: ActionKind.END_MATCH,
        6: ActionKind.START_PERIOD,
        7: ActionKind.END_PERIOD,
        22: ActionKind.STATUS_UPDATED,
        # [doc] table tennis
        51: ActionKind.VIDEO_CHECK_UNDERWAY,
        52: ActionKind.TIMEOUT,
        56: ActionKind.MATCH_START_DELAYED,
        58: ActionKind.PLAY_STOPPED,
        61: ActionKind.VIDEO_CHECK_RESULT,
        62: ActionKind.INJURY,
        63: ActionKind.PLAY_RESUMED,
        1101: ActionKind.POINT_STARTED,
        1102: ActionKind.POINT_SCORED,
    }
)


#: FEED.md section 2: `currentStatus` codes. Payloads carry the name; a number is mapped here.
FIXTURE_STATUS_NAMES: Mapping[int, str] = {
    0: "Scheduled",
    1: "Live",
    2: "Completed",
    3: "Postponed",
    4: "Abandoned",
    5: "Cancelled",
    6: "Suspended",
    7: "Unverified",
}

#: FEED.md section 2: `collectionStatus` codes.
COLLECTION_STATUS_NAMES: Mapping[int, str] = {
    0: "CollectionScheduled",
    1: "CollectingLive",
    2: "CollectingPostMatch",
    3: "CollectionSuspended",
    4: "CollectionDropped",
    5: "CollectionCompleted",
    6: "PostMatchChecked",
}
