"""FEED.md section 2 (the message) and section 3 (action types): decoding never raises."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.match.rules import Side
from engine.feed.catalogue import DEFAULT_CATALOGUE, ActionKind, SendType
from engine.feed.encode import encode_message
from engine.feed.wire import (
    MAX_FRAME_BYTES,
    Action,
    Heartbeat,
    Malformed,
    _decode_fast,
    decode,
    decode_object,
    decode_reference,
)
from engine.io.recording import Frame, read_recording
from engine.testing.garbage import MUTATIONS, bad_frame, mutate

# The real table tennis sample from the provider's documentation (FEED.md section 2).
SAMPLE: dict[str, Any] = {
    "traceId": "16c8bf0541f256b462c409f86e960d1c",
    "version": 3,
    "finished": False,
    "fixtureAction": {
        "fixtureId": "7c2253bb-790d-4cc5-9874-afa75d771e14",
        "actionId": "8a57b9c5-f3ef-4509-a831-64a3efd42932",
        "fixtureSeqNum": 1,
        "timelineSequence": 0.0000000000000001,
        "timestamp": "2025-05-20T08:25:59.674Z",
        "clockTime": "00:00",
        "period": 0,
        "fixtureActionTypeId": 3,
        "fixtureActionType": "Lineups",
        "sendTypeId": 5,
        "sendType": "Confirmed",
        "team": {"id": "353b35e6-4e24-4e58-900d-2f89968dc439", "name": "PARK Gahyeon", "homeTeam": True},
        "metadata": {"teamId": "353b35e6-4e24-4e58-900d-2f89968dc439", "substitutes": [], "startingLineup": []},
        "relatedFixtureActionIds": [],
    },
    "fixtureSummary": {
        "isTied": True,
        "periods": [],
        "finished": False,
        "homeTeamScore": 0,
        "awayTeamScore": 0,
        "currentPeriod": 1,
        "currentStatus": "Scheduled",
        "collectionStatus": "CollectionScheduled",
        "currentClockTime": "00:00",
        "currentClockState": "stopped",
        "isHomeTeamInPossesion": True,
    },
}


def _with(path: str, value: object) -> str:
    """The sample with one field (dotted path) replaced; `...` deletes it."""
    message = orjson.loads(orjson.dumps(SAMPLE))
    *parents, last = path.split(".")
    target = message
    for key in parents:
        target = target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return json.dumps(message)  # stdlib: it writes integers of any size, as a hostile feed might


def test_the_documented_sample_decodes_to_a_typed_action() -> None:
    action = decode(orjson.dumps(SAMPLE))
    assert isinstance(action, Action)
    assert action.kind is ActionKind.LINEUPS
    assert action.send_type is SendType.CONFIRMED
    assert action.seq == 1
    assert action.side is Side.HOME
    assert action.team is not None
    assert action.team.name == "PARK Gahyeon"
    assert action.period == 0
    assert action.summary is not None
    assert action.summary.status == "Scheduled"
    assert action.summary.home_in_possession is True
    assert action.metadata["teamId"] == "353b35e6-4e24-4e58-900d-2f89968dc439"
    assert decode(orjson.dumps(SAMPLE).decode()) == action  # text and bytes alike


def test_a_message_without_fixture_action_is_a_heartbeat() -> None:
    assert decode('{"type": "heartbeat"}') == Heartbeat()
    assert decode("{}") == Heartbeat()


@pytest.mark.parametrize(
    ("frame", "field", "words"),
    [
        ("not json", None, "not JSON"),
        ("[1, 2]", None, "not an object"),
        ('"text"', None, "not an object"),
        (_with("fixtureAction", 7), "fixtureAction", "not an object"),
        (_with("fixtureAction.fixtureSeqNum", ...), "fixtureAction.fixtureSeqNum", "missing"),
        (_with("fixtureAction.fixtureSeqNum", "1"), "fixtureAction.fixtureSeqNum", "expected an integer"),
        (_with("fixtureAction.fixtureSeqNum", True), "fixtureAction.fixtureSeqNum", "expected an integer"),
        (_with("fixtureAction.fixtureSeqNum", -3), "fixtureAction.fixtureSeqNum", "negative"),
        (_with("fixtureAction.sendTypeId", 9), "fixtureAction.sendTypeId", "unknown sendTypeId 9"),
        (_with("fixtureAction.actionId", None), "fixtureAction.actionId", "missing"),
        (_with("fixtureAction.timelineSequence", "x"), "fixtureAction.timelineSequence", "a number"),
        (_with("fixtureAction.team", {"name": "X"}), "fixtureAction.team.homeTeam", "missing"),
        (_with("fixtureAction.team", "home"), "fixtureAction.team", "not an object"),
        (_with("fixtureAction.metadata", []), "fixtureAction.metadata", "expected dict"),
        (_with("fixtureSummary.homeTeamScore", "2"), "fixtureSummary.homeTeamScore", "integer"),
        (_with("fixtureSummary.periods", [{"homeTeamPeriodScore": 1}]), "fixtureSummary.periods[0]", "missing"),
        (_with("fixtureSummary.currentStatus", 99), "fixtureSummary.currentStatus", "status"),
    ],
)
def test_bad_frames_are_malformed_naming_the_field(frame: str, field: str | None, words: str) -> None:
    result = decode(frame)
    assert isinstance(result, Malformed)
    assert words in result.reason
    if field is not None:
        assert result.field is not None
        assert result.field.startswith(field)
    assert result.excerpt == frame[:200]


def test_nan_and_oversized_frames_are_refused() -> None:
    nan = _with("fixtureAction.timelineSequence", float("nan"))
    assert '"timelineSequence": NaN' in nan
    assert isinstance(decode(nan), Malformed)
    huge = decode(_with("fixtureAction.fixtureSeqNum", 2**70))
    assert isinstance(huge, Malformed)
    big = decode(b" " * (MAX_FRAME_BYTES + 1))
    assert isinstance(big, Malformed)
    assert "larger than" in big.reason
    deep = decode("[" * 5000 + "]" * 5000)
    assert isinstance(deep, Malformed)


def test_status_codes_are_mapped_to_names() -> None:
    action = decode(_with("fixtureSummary.currentStatus", 4))
    assert isinstance(action, Action)
    assert action.summary is not None
    assert action.summary.status == "Abandoned"


def test_unknown_type_ids_are_kept_as_unknown_and_the_table_is_overridable() -> None:
    frame = _with("fixtureAction.fixtureActionTypeId", 1201)
    action = decode(frame)
    assert isinstance(action, Action)
    assert action.kind is ActionKind.UNKNOWN
    assert action.type_id == 1201
    catalogue = DEFAULT_CATALOGUE.with_types({1201: ActionKind.LET})
    let = decode(frame, catalogue)
    assert isinstance(let, Action)
    assert let.kind is ActionKind.LET
    assert DEFAULT_CATALOGUE.kind_of(1201) is ActionKind.UNKNOWN  # the default is untouched


def test_delay_status_marks_the_action_as_not_live() -> None:
    action = decode(_with("fixtureAction.delayStatus", "Delayed"))
    assert isinstance(action, Action)
    assert action.delayed


def test_decode_object_reads_parsed_messages() -> None:
    assert decode_object(SAMPLE) == decode(orjson.dumps(SAMPLE))
    assert isinstance(decode_object([SAMPLE]), Malformed)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)


@given(st.binary(max_size=200))
def test_random_bytes_never_raise(frame: bytes) -> None:
    assert isinstance(decode(frame), Action | Heartbeat | Malformed)


@given(st.sampled_from(sorted(SAMPLE["fixtureAction"])), json_values)
def test_any_value_in_any_action_field_never_raises(key: str, value: object) -> None:
    assert isinstance(decode(_with(f"fixtureAction.{key}", value)), Action | Malformed)


@given(st.sampled_from(sorted(SAMPLE["fixtureSummary"])), json_values)
def test_any_value_in_any_summary_field_never_raises(key: str, value: object) -> None:
    assert isinstance(decode(_with(f"fixtureSummary.{key}", value)), Action | Malformed)


# --- the fast path decides nothing on its own (issue 13.4) -------------------------------------------

_CORPUS_FRAMES = [
    frame.text
    for path in sorted((Path(__file__).resolve().parents[2] / "fixtures_data").glob("*.jsonl"))
    for frame in read_recording(path).frames
    if isinstance(frame, Frame)
]
_CORPUS_MESSAGES = [
    encode_message(message) for message in map(decode_reference, _CORPUS_FRAMES) if isinstance(message, Action)
]


def test_the_fast_decode_equals_the_reference_on_every_corpus_frame() -> None:
    fast = 0
    for text in _CORPUS_FRAMES:
        assert decode(text) == decode_reference(text)
        fast += _decode_fast(text, DEFAULT_CATALOGUE) is not None
    assert fast > 0.95 * len(_CORPUS_MESSAGES)  # the fast path does read the corpus' actions


def test_the_fast_decode_equals_the_reference_on_damaged_frames() -> None:
    """Every mutation of every kind, many times, plus corrections and noise: `decode` (fast path
    first) gives exactly what the reference gives, Malformed reasons included."""
    rng = random.Random(13)
    checked = 0
    for kind in sorted(MUTATIONS):
        for _ in range(300):
            frame = mutate(rng, rng.choice(_CORPUS_MESSAGES), kind).frame
            assert decode(frame) == decode_reference(frame), (kind, frame[:300])
            checked += 1
    for _ in range(3000):
        frame = bad_frame(rng, _CORPUS_MESSAGES, _CORPUS_MESSAGES).frame
        assert decode(frame) == decode_reference(frame), frame[:300]
    assert checked == 300 * len(MUTATIONS)


def _containers(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)


def _paths(value: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if not isinstance(value, dict):
        return [prefix] if prefix else []
    found = [prefix] if prefix else []
    for key, child in value.items():
        found.extend(_paths(child, (*prefix, key)))
    return found


_PATHS = _paths(SAMPLE)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(), _containers, max_leaves=30))
def test_the_fast_decode_equals_the_reference_on_random_json_in_every_field(value: object) -> None:
    """A random JSON value in place of each field of the sample message."""
    for path in _PATHS:
        message = json.loads(json.dumps(SAMPLE))
        target = message
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        frame = json.dumps(message)
        assert decode(frame) == decode_reference(frame), (path, frame[:300])


def test_an_integer_wider_than_64_bits_in_metadata_decodes_the_same_both_ways() -> None:
    """Found by CI's hypothesis run: msgspec kept -2**63 - 1 exact where orjson reads a float."""
    for wide in (-(2**63) - 1, 2**64, 10**30):
        message = json.loads(json.dumps(SAMPLE))
        message["fixtureAction"]["metadata"] = {"teamId": wide, "nested": [{"x": wide}]}
        frame = json.dumps(message)
        assert decode(frame) == decode_reference(frame)
