"""Encoding, the inverse of `engine.feed.wire.decode`: an `Action` as the provider's JSON, for our
generators, recordings and provider-compatible server."""

from __future__ import annotations

from typing import Any

import orjson

from engine.core.match.inputs import (
    Action,
    Summary,
)


def encode_message(action: Action) -> dict[str, Any]:
    """The provider's JSON object for `action` (the inverse of `decode_object`)."""
    raw: dict[str, Any] = {
        "fixtureId": action.fixture_id,
        "actionId": action.action_id,
        "fixtureSeqNum": action.seq,
        "timelineSequence": action.timeline,
        "fixtureActionTypeId": action.type_id,
        "sendTypeId": int(action.send_type),
        "sendType": action.send_type.name.capitalize(),
        "relatedFixtureActionIds": list(action.related_ids),
    }
    optional = {
        "period": action.period,
        "fixtureActionType": action.type_name,
        "fixtureActionSubTypeId": action.subtype_id,
        "fixtureActionSubType": action.subtype_name,
        "timestamp": action.timestamp,
        "clockTime": action.clock_time,
    }
    raw.update({key: value for key, value in optional.items() if value is not None})
    if action.team is not None:
        raw["team"] = {"id": action.team.id, "name": action.team.name, "homeTeam": action.team.home}
    if action.player is not None:
        raw["player"] = {"id": action.player.id, "name": action.player.name}
    metadata = dict(action.metadata)
    if action.fixture_status is not None:
        metadata["fixtureStatus"] = action.fixture_status
    if action.collection_status is not None:
        metadata["collectionStatus"] = action.collection_status
    if action.end_reason is not None and action.subtype_name != action.end_reason:
        metadata["reason"] = action.end_reason
    raw["metadata"] = metadata
    if action.delayed:
        raw["delayStatus"] = "Delayed"
    message: dict[str, Any] = {"finished": action.finished, "fixtureAction": raw}
    if action.trace_id is not None:
        message["traceId"] = action.trace_id
    if action.version is not None:
        message["version"] = action.version
    if action.summary is not None:
        message["fixtureSummary"] = _encode_summary(action.summary)
    return message


def _encode_summary(summary: Summary) -> dict[str, Any]:
    out: dict[str, Any] = {
        "homeTeamScore": summary.home_games,
        "awayTeamScore": summary.away_games,
        "periods": [
            {
                "id": period.id,
                "label": period.label,
                "homeTeamPeriodScore": period.home_points,
                "awayTeamPeriodScore": period.away_points,
                "homeTeamScore": period.home_score,
                "awayTeamScore": period.away_score,
            }
            for period in summary.periods
        ],
    }
    optional = {
        "currentPeriod": summary.current_period,
        "currentStatus": summary.status,
        "collectionStatus": summary.collection_status,
        "finished": summary.finished,
        "isTied": summary.is_tied,
        "currentClockTime": summary.clock_time,
        "currentClockState": summary.clock_state,
        "isHomeTeamInPossesion": summary.home_in_possession,
    }
    out.update({key: value for key, value in optional.items() if value is not None})
    return out


def encode_frame(action: Action) -> str:
    """The text frame the provider would send for `action`."""
    return orjson.dumps(encode_message(action)).decode()


def heartbeat_frame() -> str:
    """A heartbeat frame ([ours]: any object without `fixtureAction`)."""
    return '{"type":"heartbeat"}'
