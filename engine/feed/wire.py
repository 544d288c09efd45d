"""The provider's wire format (FEED.md section 2). The only module that knows JSON field names.

`decode(frame)` turns one received frame into exactly one of:

- `Action` — one `fixtureAction` with its `fixtureSummary`, typed;
- `Heartbeat` — well-formed JSON object with no `fixtureAction` (liveness only);
- `Malformed` — anything else, with a reason naming the offending field.

It never raises. `encode_message` is the inverse, used by our generators and recordings.

Parsing and validation are one step for a well-formed frame: msgspec decodes it straight into
typed structs (`_RawMessage`), checked by their types. Anything that step refuses — or accepts but
our own checks then refuse (UUIDs, ranges, status codes, nesting) — is read again by the reference
path (orjson, then field by field), which names the offending field in the `Malformed`. So the
fast path decides nothing on its own: it returns an `Action` only where the reference would have
returned the same one (tests/feed/test_wire.py checks this on corpus, mutated and random frames).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final

import attrs
import msgspec
import orjson

from engine.core.match.inputs import (  # the reducer's input types, re-exported where users found them
    Action,
    Heartbeat,
    Malformed,
    Message,
    PeriodScore,
    Player,
    Summary,
    Team,
)

__all__ = [
    "Action",
    "Heartbeat",
    "Malformed",
    "Message",
    "PeriodScore",
    "Player",
    "Summary",
    "Team",
    "decode",
    "decode_object",
    "decode_reference",
    "shown",
]
from engine.feed.catalogue import (
    COLLECTION_STATUS_NAMES,
    DEFAULT_CATALOGUE,
    FIXTURE_STATUS_NAMES,
    ActionCatalogue,
    SendType,
)

#: [ours] Frames larger than this are refused before parsing: it bounds the work per message (a
#: frame this size of small objects parses in about a millisecond; a real message is 1-2 KiB).
MAX_FRAME_BYTES: Final = 256 << 10
#: [ours] `metadata` is the one free-form value an `Action` keeps: nested deeper than this, the
#: frame is refused (orjson alone stops at 1024 levels, deep enough to break a repr or a comparison).
MAX_METADATA_DEPTH: Final = 16
#: [ours] More games than this in `fixtureSummary.periods` is no table tennis match: refused.
MAX_PERIODS: Final = 16
#: FEED.md section 2: `fixtureId` and `actionId` are UUIDs (any case, with hyphens).
UUID_PATTERN: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
#: How much of a bad frame a `Malformed` keeps for the quarantine record.
EXCERPT_CHARS: Final = 200

# [ours] metadata keys that may say why a match ended (End Match) — FEED.md is silent.
_END_REASON_KEYS: Final = ("reason", "resultType", "matchEndReason", "endReason")


class _Bad(Exception):
    """Internal: a field is missing or ill-typed. Never escapes `decode`."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field = field
        self.reason = reason


def _excerpt(frame: str | bytes) -> str:
    text = frame if isinstance(frame, str) else frame[: EXCERPT_CHARS * 4].decode("utf-8", "replace")
    return text[:EXCERPT_CHARS]


def decode(frame: str | bytes, catalogue: ActionCatalogue = DEFAULT_CATALOGUE) -> Message:
    """Read one received frame. Never raises: bad input becomes `Malformed`."""
    if len(frame) > MAX_FRAME_BYTES:
        return Malformed(f"frame larger than {MAX_FRAME_BYTES} bytes", None, _excerpt(frame))
    # Bytes go the reference way: orjson checks all of their UTF-8, msgspec only the strings it reads.
    fast = _decode_fast(frame, catalogue) if isinstance(frame, str) else None
    return fast if fast is not None else decode_reference(frame, catalogue)


def decode_reference(frame: str | bytes, catalogue: ActionCatalogue = DEFAULT_CATALOGUE) -> Message:
    """`decode` by the reference path alone (orjson, then field by field): what the fast path must
    agree with, and what reads every frame it does not accept."""
    if len(frame) > MAX_FRAME_BYTES:
        return Malformed(f"frame larger than {MAX_FRAME_BYTES} bytes", None, _excerpt(frame))
    try:
        obj = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        return Malformed(f"not JSON: {exc}", None, _excerpt(frame))
    result = decode_object(obj, catalogue)
    if isinstance(result, Malformed):
        return attrs.evolve(result, excerpt=_excerpt(frame))
    return result


def decode_object(obj: object, catalogue: ActionCatalogue = DEFAULT_CATALOGUE) -> Message:
    """Read one already-parsed message (an element of the REST actions array, say)."""
    if not isinstance(obj, dict):
        return Malformed(f"not an object: a JSON {type(obj).__name__}", None)
    raw_action = obj.get("fixtureAction")
    if raw_action is None:
        return Heartbeat()
    seq = raw_action.get("fixtureSeqNum") if isinstance(raw_action, dict) else None
    try:
        return _action(obj, raw_action, catalogue)
    except _Bad as bad:
        return Malformed(f"{bad.field}: {bad.reason}", bad.field, seq=seq if type(seq) is int else None)


def _action(obj: dict[str, Any], raw: object, catalogue: ActionCatalogue) -> Action:
    if not isinstance(raw, dict):
        raise _Bad("fixtureAction", "not an object")
    p = "fixtureAction."
    type_id = _int(raw, "fixtureActionTypeId", p)
    send_id = _int(raw, "sendTypeId", p)
    try:
        send_type = SendType(send_id)
    except ValueError:
        raise _Bad(p + "sendTypeId", f"unknown sendTypeId {send_id}") from None
    raw_timeline = raw.get("timelineSequence")
    if type(raw_timeline) not in (int, float):
        raise _Bad(p + "timelineSequence", _missing_or_type(raw_timeline, "a number"))
    timeline = float(raw_timeline)  # type: ignore[arg-type]
    if not math.isfinite(timeline):
        raise _Bad(p + "timelineSequence", "not a finite number")
    seq = _int(raw, "fixtureSeqNum", p)
    if seq < 0:
        raise _Bad(p + "fixtureSeqNum", "negative")
    metadata = _opt(raw, "metadata", dict, p) or {}
    if metadata and _depth(metadata) > MAX_METADATA_DEPTH:
        raise _Bad(p + "metadata", f"nested deeper than {MAX_METADATA_DEPTH} levels")
    related = _opt(raw, "relatedFixtureActionIds", list, p) or []
    if not all(isinstance(item, str) for item in related):
        raise _Bad(p + "relatedFixtureActionIds", "not a list of strings")
    delay = raw.get("delayStatus")
    return Action(
        fixture_id=_uuid(raw, "fixtureId", p),
        action_id=_uuid(raw, "actionId", p),
        seq=seq,
        timeline=timeline,
        type_id=type_id,
        kind=catalogue.kind_of(type_id),
        send_type=send_type,
        period=_opt_int(raw, "period", p),
        type_name=_opt(raw, "fixtureActionType", str, p),
        subtype_id=_opt_int(raw, "fixtureActionSubTypeId", p),
        subtype_name=_opt(raw, "fixtureActionSubType", str, p),
        team=_team(raw.get("team"), p + "team"),
        player=_player(raw.get("player"), p + "player"),
        timestamp=_opt(raw, "timestamp", str, p),
        clock_time=_opt(raw, "clockTime", str, p),
        metadata=metadata,
        related_ids=tuple(related),
        delayed=delay is not None and delay is not False and delay != "",
        fixture_status=_status(metadata, "fixtureStatus", FIXTURE_STATUS_NAMES, p + "metadata."),
        collection_status=_status(metadata, "collectionStatus", COLLECTION_STATUS_NAMES, p + "metadata."),
        end_reason=_end_reason(metadata, raw.get("fixtureActionSubType")),
        finished=_opt(obj, "finished", bool, "") or False,
        summary=_summary(obj.get("fixtureSummary")),
        trace_id=_opt(obj, "traceId", str, ""),
        version=_opt_int(obj, "version", ""),
    )


# --- the fast path: one validated parse into structs ----------------------------------------------


#: A signed 64-bit integer: the fast path's int (larger ones, which orjson may still read, are left to
#: the reference path).
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class _RawTeam(msgspec.Struct):  # the _Raw structs use the provider's JSON names
    homeTeam: bool
    id: str | None = None
    name: str | None = None


class _RawPlayer(msgspec.Struct):
    id: str | None = None
    name: str | None = None


class _RawPeriod(msgspec.Struct):
    homeTeamPeriodScore: Int64
    awayTeamPeriodScore: Int64
    id: str | Int64 | None = None
    label: str | None = None
    homeTeamScore: Int64 | None = None
    awayTeamScore: Int64 | None = None


class _RawSummary(msgspec.Struct):
    homeTeamScore: Int64
    awayTeamScore: Int64
    periods: tuple[_RawPeriod, ...] = ()
    currentPeriod: Int64 | None = None
    currentStatus: str | Int64 | None = None
    collectionStatus: str | Int64 | None = None
    finished: bool | None = None
    isTied: bool | None = None
    currentClockTime: str | None = None
    currentClockState: str | None = None
    isHomeTeamInPossesion: bool | None = None


class _RawAction(msgspec.Struct):
    fixtureId: str
    actionId: str
    fixtureSeqNum: Int64
    timelineSequence: float
    fixtureActionTypeId: Int64
    sendTypeId: Int64
    period: Int64 | None = None
    fixtureActionType: str | None = None
    fixtureActionSubTypeId: Int64 | None = None
    fixtureActionSubType: str | None = None
    team: _RawTeam | None = None
    player: _RawPlayer | None = None
    timestamp: str | None = None
    clockTime: str | None = None
    metadata: dict[str, Any] | None = None
    relatedFixtureActionIds: tuple[str, ...] | None = None
    delayStatus: Any = None


class _RawMessage(msgspec.Struct):
    fixtureAction: _RawAction | None = None
    fixtureSummary: _RawSummary | None = None
    finished: bool | None = None
    traceId: str | None = None
    version: Int64 | None = None


_FAST_DECODER: Final = msgspec.json.Decoder(_RawMessage)
_SEND_TYPES: Final = {int(send_type): send_type for send_type in SendType}


class _Refer(Exception):
    """Internal: the fast path leaves this frame to the reference path."""


def _decode_fast(frame: str, catalogue: ActionCatalogue) -> Action | None:
    """The frame as an `Action` when it is a well-formed action message; None otherwise (a
    heartbeat, or anything bad: the reference path then says what)."""
    try:
        message = _FAST_DECODER.decode(frame)
        raw = message.fixtureAction
        if raw is None:
            return None
        return _fast_action(message, raw, catalogue)
    except (msgspec.DecodeError, _Refer):
        return None
    except Exception:  # anything else the parser could raise on hostile input: the reference decides
        return None


def _fast_action(message: _RawMessage, raw: _RawAction, catalogue: ActionCatalogue) -> Action:
    send_type = _SEND_TYPES.get(raw.sendTypeId)
    if (
        send_type is None
        or raw.fixtureSeqNum < 0
        or not math.isfinite(raw.timelineSequence)
        or UUID_PATTERN.fullmatch(raw.fixtureId) is None
        or UUID_PATTERN.fullmatch(raw.actionId) is None
    ):
        raise _Refer
    metadata = raw.metadata or {}
    if metadata and (_depth(metadata) > MAX_METADATA_DEPTH or _has_wide_int(metadata)):
        raise _Refer
    team, player, delay = raw.team, raw.player, raw.delayStatus
    return Action(
        fixture_id=raw.fixtureId,
        action_id=raw.actionId,
        seq=raw.fixtureSeqNum,
        timeline=raw.timelineSequence,
        type_id=raw.fixtureActionTypeId,
        kind=catalogue.kind_of(raw.fixtureActionTypeId),
        send_type=send_type,
        period=raw.period,
        type_name=raw.fixtureActionType,
        subtype_id=raw.fixtureActionSubTypeId,
        subtype_name=raw.fixtureActionSubType,
        team=None if team is None else Team(team.id, team.name, team.homeTeam),
        player=None if player is None else Player(player.id, player.name),
        timestamp=raw.timestamp,
        clock_time=raw.clockTime,
        metadata=metadata,
        related_ids=raw.relatedFixtureActionIds or (),
        delayed=delay is not None and delay is not False and delay != "",
        fixture_status=_fast_status(metadata.get("fixtureStatus"), FIXTURE_STATUS_NAMES),
        collection_status=_fast_status(metadata.get("collectionStatus"), COLLECTION_STATUS_NAMES),
        end_reason=_end_reason(metadata, raw.fixtureActionSubType),
        finished=message.finished or False,
        summary=None if message.fixtureSummary is None else _fast_summary(message.fixtureSummary),
        trace_id=message.traceId,
        version=message.version,
    )


def _fast_status(value: object, names: Mapping[int, str]) -> str | None:
    if value is None or type(value) is str:
        return value
    if type(value) is int and value in names:
        return names[value]
    raise _Refer


def _fast_summary(raw: _RawSummary) -> Summary:
    if len(raw.periods) > MAX_PERIODS or raw.homeTeamScore < 0 or raw.awayTeamScore < 0:
        raise _Refer
    periods = []
    for period in raw.periods:
        if period.homeTeamPeriodScore < 0 or period.awayTeamPeriodScore < 0:
            raise _Refer
        periods.append(
            PeriodScore(
                period.homeTeamPeriodScore,
                period.awayTeamPeriodScore,
                period.id,
                period.label,
                period.homeTeamScore,
                period.awayTeamScore,
            )
        )
    return Summary(
        raw.homeTeamScore,
        raw.awayTeamScore,
        tuple(periods),
        raw.currentPeriod,
        _fast_status(raw.currentStatus, FIXTURE_STATUS_NAMES),
        _fast_status(raw.collectionStatus, COLLECTION_STATUS_NAMES),
        raw.finished,
        raw.isTied,
        raw.currentClockTime,
        raw.currentClockState,
        raw.isHomeTeamInPossesion,
    )


# --- the reference path ----------------------------------------------------------------------------


#: The integers orjson (the reference path) reads as integers; outside, it reads a float.
_ORJSON_INTS = (-(2**63), 2**64 - 1)


def _has_wide_int(value: object) -> bool:
    """True when `value` holds an integer orjson would read as a float (msgspec keeps it exact):
    such a frame goes the reference way, so both paths give the same metadata."""
    low, high = _ORJSON_INTS
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
        elif isinstance(item, int) and not isinstance(item, bool) and not low <= item <= high:
            return True
    return False


def _depth(value: object) -> int:
    """How deeply objects and arrays nest in `value` (a scalar is 0), without recursion."""
    deepest = 0
    todo = [(value, 1)]
    while todo:
        item, level = todo.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level > MAX_METADATA_DEPTH:
            break
        todo.extend((child, level + 1) for child in children)
    return deepest


def shown(value: object, limit: int = 60) -> str:
    """A short, safe description of a received value for an error message: scalars by their text
    (cut at `limit`), containers by kind only (a repr of deep nesting would itself fail)."""
    if isinstance(value, dict | list):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'} of {len(value)} items"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _missing_or_type(value: object, expected: str) -> str:
    return "missing" if value is None else f"expected {expected}, got {type(value).__name__}"


def _int(obj: Mapping[str, Any], key: str, prefix: str) -> int:
    value = obj.get(key)
    if type(value) is not int:
        raise _Bad(prefix + key, _missing_or_type(value, "an integer"))
    return value


def _str(obj: Mapping[str, Any], key: str, prefix: str) -> str:
    value = obj.get(key)
    if type(value) is not str:
        raise _Bad(prefix + key, _missing_or_type(value, "a string"))
    return value


def _uuid(obj: Mapping[str, Any], key: str, prefix: str) -> str:
    value = _str(obj, key, prefix)
    if UUID_PATTERN.fullmatch(value) is None:
        raise _Bad(prefix + key, f"not a UUID: {shown(value)}")
    return value


def _opt(obj: Mapping[str, Any], key: str, kind: type[Any], prefix: str) -> Any:
    value = obj.get(key)
    if value is None or type(value) is kind:
        return value
    raise _Bad(prefix + key, f"expected {kind.__name__}, got {type(value).__name__}")


def _opt_int(obj: Mapping[str, Any], key: str, prefix: str) -> int | None:
    value: int | None = _opt(obj, key, int, prefix)
    return value


def _status(obj: Mapping[str, Any], key: str, names: Mapping[int, str], prefix: str) -> str | None:
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    if type(value) is int and value in names:
        return names[value]
    raise _Bad(prefix + key, f"expected a status name or code, got {shown(value)}")


def _end_reason(metadata: Mapping[str, Any], subtype: object) -> str | None:
    for key in _END_REASON_KEYS:
        value = metadata.get(key)
        if isinstance(value, str):
            return value
    return subtype if isinstance(subtype, str) else None


def _team(value: object, where: str) -> Team | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Bad(where, "not an object")
    home = value.get("homeTeam")
    if type(home) is not bool:
        raise _Bad(where + ".homeTeam", _missing_or_type(home, "a boolean"))
    return Team(_opt(value, "id", str, where + "."), _opt(value, "name", str, where + "."), home)


def _player(value: object, where: str) -> Player | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Bad(where, "not an object")
    return Player(_opt(value, "id", str, where + "."), _opt(value, "name", str, where + "."))


def _summary(value: object) -> Summary | None:
    if value is None:
        return None
    where = "fixtureSummary"
    if not isinstance(value, dict):
        raise _Bad(where, "not an object")
    p = where + "."
    raw_periods = _opt(value, "periods", list, p) or []
    if len(raw_periods) > MAX_PERIODS:
        raise _Bad(p + "periods", f"{len(raw_periods)} games, more than any match has")
    periods = []
    for index, item in enumerate(raw_periods):
        at = f"{p}periods[{index}]"
        if not isinstance(item, dict):
            raise _Bad(at, "not an object")
        q = at + "."
        home = _int(item, "homeTeamPeriodScore", q)
        away = _int(item, "awayTeamPeriodScore", q)
        if home < 0 or away < 0:
            raise _Bad(q + "homeTeamPeriodScore", "negative score")
        period_id = item.get("id")
        if period_id is not None and type(period_id) not in (int, str):
            raise _Bad(q + "id", "expected an integer or string")
        periods.append(
            PeriodScore(
                home,
                away,
                period_id,
                _opt(item, "label", str, q),
                _opt_int(item, "homeTeamScore", q),
                _opt_int(item, "awayTeamScore", q),
            )
        )
    home_games = _int(value, "homeTeamScore", p)
    away_games = _int(value, "awayTeamScore", p)
    if home_games < 0 or away_games < 0:
        raise _Bad(p + "homeTeamScore", "negative score")
    return Summary(
        home_games=home_games,
        away_games=away_games,
        periods=tuple(periods),
        current_period=_opt_int(value, "currentPeriod", p),
        status=_status(value, "currentStatus", FIXTURE_STATUS_NAMES, p),
        collection_status=_status(value, "collectionStatus", COLLECTION_STATUS_NAMES, p),
        finished=_opt(value, "finished", bool, p),
        is_tied=_opt(value, "isTied", bool, p),
        clock_time=_opt(value, "currentClockTime", str, p),
        clock_state=_opt(value, "currentClockState", str, p),
        home_in_possession=_opt(value, "isHomeTeamInPossesion", bool, p),
    )
