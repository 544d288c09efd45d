"""Bad input for fuzzing: frames a broken or hostile feed could send, each with the kind of fault.

    from hypothesis import given
    from engine.testing.garbage import bad_frames

    @given(bad_frames(valid_frames))
    def test_my_consumer(bad): ...  # bad.kind names the fault, bad.frame is what was received

`mutate(rng, message)` damages one valid provider message (a parsed JSON object) in one of the
ways of `MUTATIONS`: wrong types, missing fields, huge or negative numbers, NaN, huge strings, deep
nesting, an unknown `sendTypeId`, invalid UUIDs, impossible scores in `fixtureSummary`,
`fixtureSeqNum` jumps and repeats, truncation, bytes that are not UTF-8; and well-formed messages
that are still wrong: another fixture's id, an unknown or another known action type, another
send type, another status, the other side's team, no team, no summary, a possible score that is
not the match's, and (`correction`) a new version of an earlier action — these were added after
atheris runs reached code the others did not. `noise(rng)` is a frame with no message in it at
all (random bytes, random JSON). All are deterministic given the `random.Random`, so a long run is
reproducible from its seed; `bad_frames` draws them through hypothesis.
"""

from __future__ import annotations

import copy
import random
import string
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs
import orjson
from hypothesis import strategies as st

from engine.feed.catalogue import (
    COLLECTION_STATUS_NAMES,
    DEFAULT_CATALOGUE,
    FIXTURE_STATUS_NAMES,
    SendType,
)
from engine.feed.wire import MAX_FRAME_BYTES


@attrs.frozen(slots=True)
class BadFrame:
    """One frame as received and the fault that made it (a name in `MUTATIONS`, "correction", or in `NOISE`)."""

    kind: str
    frame: str | bytes


Json = Any
_Mutation = Callable[[random.Random, dict[str, Any]], "str | bytes"]


def _dumps(message: Json) -> str:
    return orjson.dumps(message).decode()


def _paths(value: Json, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every path to a value inside `value` (keys of objects, indexes of arrays), depth-first."""
    found: list[tuple[str | int, ...]] = []
    items: list[tuple[str | int, Json]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, child in items:
        path = (*prefix, key)
        found.append(path)
        found.extend(_paths(child, path))
    return found


def _set(message: dict[str, Any], path: tuple[str | int, ...], value: Json) -> None:
    target: Json = message
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _delete(message: dict[str, Any], path: tuple[str | int, ...]) -> None:
    target: Json = message
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]


def _action(message: dict[str, Any]) -> dict[str, Any]:
    action = message.get("fixtureAction")
    return action if isinstance(action, dict) else message


def _random_scalar(rng: random.Random) -> Json:
    return rng.choice(
        [
            None,
            True,
            False,
            0,
            -1,
            rng.randint(-(2**63), 2**63 - 1),
            rng.random() * 1e6,
            "",
            "".join(rng.choices(string.printable, k=rng.randint(1, 12))),
            [],
            {},
        ]
    )


def random_json(rng: random.Random, depth: int = 3) -> Json:
    """A random JSON value, nested at most `depth` deep."""
    if depth <= 0 or rng.random() < 0.4:
        return _random_scalar(rng)
    if rng.random() < 0.5:
        return [random_json(rng, depth - 1) for _ in range(rng.randint(0, 4))]
    keys = ["fixtureAction", "fixtureSummary", "finished", "x", "periods", "team"]
    return {rng.choice(keys): random_json(rng, depth - 1) for _ in range(rng.randint(0, 4))}


def _wrong_type(rng: random.Random, message: dict[str, Any]) -> str:
    paths = _paths(message)
    path = rng.choice(paths)
    value: Json = message
    for key in path:
        value = value[key]
    replacement = _random_scalar(rng)
    while type(replacement) is type(value):
        replacement = _random_scalar(rng)
    _set(message, path, replacement)
    return _dumps(message)


def _missing_field(rng: random.Random, message: dict[str, Any]) -> str:
    _delete(message, rng.choice([path for path in _paths(message) if isinstance(path[-1], str)]))
    return _dumps(message)


def _numbers(message: dict[str, Any]) -> list[tuple[str | int, ...]]:
    paths = []
    for path in _paths(message):
        value: Json = message
        for key in path:
            value = value[key]
        if type(value) in (int, float):
            paths.append(path)
    return paths


def _huge_number(rng: random.Random, message: dict[str, Any]) -> str:
    paths = _numbers(message)
    huge = rng.choice([2**63 - 1, 2**64 + 7, 10**30, -(2**63), 1e308, -1e308])
    if not paths:
        return _dumps(message)
    path = rng.choice(paths)
    if isinstance(huge, int) and not -(2**63) <= huge < 2**64:
        # orjson cannot write it; the provider's serializer could: splice the digits in.
        _set(message, path, 123456789)
        return _dumps(message).replace("123456789", str(huge), 1)
    _set(message, path, huge)
    return _dumps(message)


def _negative_number(rng: random.Random, message: dict[str, Any]) -> str:
    paths = _numbers(message)
    if paths:
        _set(message, rng.choice(paths), -rng.randint(1, 1000))
    return _dumps(message)


def _nan(rng: random.Random, message: dict[str, Any]) -> str:
    paths = _numbers(message)
    if not paths:
        return _dumps(message)
    _set(message, rng.choice(paths), 987654321)
    return _dumps(message).replace("987654321", rng.choice(["NaN", "Infinity", "-Infinity", "1e999"]), 1)


def _huge_string(rng: random.Random, message: dict[str, Any]) -> str:
    paths = _paths(message)
    size = rng.choice([10_000, MAX_FRAME_BYTES // 2, MAX_FRAME_BYTES + 1])
    _set(message, rng.choice(paths), "x" * size)
    return _dumps(message)


def _deep_nesting(rng: random.Random, message: dict[str, Any]) -> str:
    depth = rng.choice([100, 1_000, 5_000, 100_000])
    _set(message, rng.choice(_paths(message)), 424242)
    return _dumps(message).replace("424242", "[" * depth + "]" * depth, 1)


def _unknown_send_type(rng: random.Random, message: dict[str, Any]) -> str:
    _action(message)["sendTypeId"] = rng.choice([0, 7, 99, -1, 2**40])
    return _dumps(message)


def _invalid_uuid(rng: random.Random, message: dict[str, Any]) -> str:
    key = rng.choice(["actionId", "fixtureId"])
    _action(message)[key] = rng.choice(["", "not-a-uuid", "0" * 36, "{" + "1" * 32 + "}", "é" * 36, " " * 5])
    return _dumps(message)


def _impossible_summary(rng: random.Random, message: dict[str, Any]) -> str:
    summary = message.setdefault("fixtureSummary", {})
    if not isinstance(summary, dict):
        summary = message["fixtureSummary"] = {}
    choice = rng.randrange(5)
    if choice == 4:
        summary["periods"] = [{"homeTeamPeriodScore": 11, "awayTeamPeriodScore": 3}] * rng.choice([8, 9])
    elif choice == 0:
        summary["homeTeamScore"] = rng.choice([99, 2**62])
    elif choice == 1:
        summary["periods"] = [{"homeTeamPeriodScore": rng.choice([30, 10**7, 2**62]), "awayTeamPeriodScore": 0}]
    elif choice == 2:
        summary["periods"] = [{"homeTeamPeriodScore": 11, "awayTeamPeriodScore": 3}] * rng.choice([12, 10_000])
    else:
        summary["periods"] = [{"homeTeamPeriodScore": 25, "awayTeamPeriodScore": 9}]
    return _dumps(message)


def _seq_jump(rng: random.Random, message: dict[str, Any]) -> str:
    action = _action(message)
    seq = action.get("fixtureSeqNum")
    base = seq if type(seq) is int else 0
    action["fixtureSeqNum"] = base + rng.choice([2, 9, 1_000, 10**9, 2**62])
    return _dumps(message)


def _seq_repeat(rng: random.Random, message: dict[str, Any]) -> str:
    action = _action(message)
    seq = action.get("fixtureSeqNum")
    action["fixtureSeqNum"] = rng.randint(0, seq) if type(seq) is int and seq >= 0 else 1
    return _dumps(message)


def _other_fixture(rng: random.Random, message: dict[str, Any]) -> str:
    _action(message)["fixtureId"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return _dumps(message)


def _unknown_type(rng: random.Random, message: dict[str, Any]) -> str:
    _action(message)["fixtureActionTypeId"] = rng.choice([0, 2, 999, 1199, 31337])
    return _dumps(message)


def _other_side(rng: random.Random, message: dict[str, Any]) -> str:
    team = _action(message).get("team")
    if isinstance(team, dict):
        team["homeTeam"] = not team.get("homeTeam")
    return _dumps(message)


def _other_kind(rng: random.Random, message: dict[str, Any]) -> str:
    """Another known action type (an End Match in mid-game, a Start Period mid-rally, …)."""
    _action(message)["fixtureActionTypeId"] = rng.choice(sorted(DEFAULT_CATALOGUE.kinds))
    return _dumps(message)


def _other_send_type(rng: random.Random, message: dict[str, Any]) -> str:
    """Another lifecycle (the action Cancelled, Deleted, Restored, … out of turn)."""
    _action(message)["sendTypeId"] = rng.choice([int(send_type) for send_type in SendType])
    return _dumps(message)


def _other_status(rng: random.Random, message: dict[str, Any]) -> str:
    """Another fixture or collection status, in the summary or the action's metadata."""
    summary = message.get("fixtureSummary")
    if isinstance(summary, dict) and rng.random() < 0.5:
        summary["currentStatus"] = rng.choice(sorted(FIXTURE_STATUS_NAMES.values()))
        summary["collectionStatus"] = rng.choice(sorted(COLLECTION_STATUS_NAMES.values()))
        summary["finished"] = rng.random() < 0.3
    else:
        metadata = _action(message).setdefault("metadata", {})
        if isinstance(metadata, dict):
            metadata["fixtureStatus"] = rng.choice(sorted(FIXTURE_STATUS_NAMES))
    return _dumps(message)


def _no_team(rng: random.Random, message: dict[str, Any]) -> str:
    _action(message)["team"] = None
    return _dumps(message)


def _no_summary(rng: random.Random, message: dict[str, Any]) -> str:
    message.pop("fixtureSummary", None)
    return _dumps(message)


def _other_score(rng: random.Random, message: dict[str, Any]) -> str:
    """A possible score that is not the match's: the reducer adopts it (and may finish the match)."""
    games = rng.randint(0, 4)
    message["fixtureSummary"] = {
        "homeTeamScore": games,
        "awayTeamScore": rng.randint(0, 3),
        "periods": [{"homeTeamPeriodScore": 11, "awayTeamPeriodScore": rng.randint(0, 9)} for _ in range(games)],
    }
    return _dumps(message)


def _truncated(rng: random.Random, message: dict[str, Any]) -> str:
    text = _dumps(message)
    return text[: rng.randrange(len(text))]


def _not_utf8(rng: random.Random, message: dict[str, Any]) -> bytes:
    data = orjson.dumps(message)
    at = rng.randrange(len(data))
    return data[:at] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x00"]) + data[at:]


#: Every way `mutate` damages a valid message, by name.
MUTATIONS: Final[dict[str, _Mutation]] = {
    "wrong_type": _wrong_type,
    "missing_field": _missing_field,
    "huge_number": _huge_number,
    "negative_number": _negative_number,
    "nan": _nan,
    "huge_string": _huge_string,
    "deep_nesting": _deep_nesting,
    "unknown_send_type": _unknown_send_type,
    "invalid_uuid": _invalid_uuid,
    "impossible_summary": _impossible_summary,
    "seq_jump": _seq_jump,
    "seq_repeat": _seq_repeat,
    "other_fixture": _other_fixture,
    "unknown_type": _unknown_type,
    "other_side": _other_side,
    "other_kind": _other_kind,
    "other_send_type": _other_send_type,
    "other_status": _other_status,
    "no_team": _no_team,
    "no_summary": _no_summary,
    "other_score": _other_score,
    "truncated": _truncated,
    "not_utf8": _not_utf8,
}
#: Frames that carry no message at all.
NOISE: Final = ("random_bytes", "random_json")


def mutate(rng: random.Random, message: dict[str, Any], kind: str | None = None) -> BadFrame:
    """`message` (left untouched) damaged by the mutation `kind`, or by one `rng` picks."""
    name = kind if kind is not None else rng.choice(sorted(MUTATIONS))
    return BadFrame(name, MUTATIONS[name](rng, copy.deepcopy(message)))


def noise(rng: random.Random) -> BadFrame:
    """A frame with no provider message in it: random bytes or a random JSON value."""
    if rng.random() < 0.5:
        return BadFrame("random_bytes", rng.randbytes(rng.randint(0, 64)))
    return BadFrame("random_json", orjson.dumps(random_json(rng)).decode())


def correction(rng: random.Random, message: dict[str, Any], others: Sequence[dict[str, Any]]) -> BadFrame:
    """`message` (its number kept) turned into a new version of the action of one of `others` —
    its id, type, team and place in the timeline — sent as Updated, Cancelled, Deleted or Restored."""
    damaged = copy.deepcopy(message)
    action, other = _action(damaged), _action(rng.choice(others))
    for key in ("actionId", "fixtureActionTypeId", "team", "timelineSequence"):
        if key in other:
            action[key] = copy.deepcopy(other[key])
    action["sendTypeId"] = rng.choice(
        [int(SendType.UPDATED), int(SendType.CANCELLED), int(SendType.DELETED), int(SendType.RESTORED)]
    )
    return BadFrame("correction", _dumps(damaged))


def bad_frame(
    rng: random.Random, messages: Sequence[dict[str, Any]], others: Sequence[dict[str, Any]] = ()
) -> BadFrame:
    """Noise one time in five; else one of `messages` mutated, or (one time in ten, when `others`
    are given) turned into a correction of one of them."""
    if not messages or rng.random() < 0.2:
        return noise(rng)
    if others and rng.random() < 0.1:
        return correction(rng, rng.choice(messages), others)
    return mutate(rng, rng.choice(messages))


def bad_frames(valid_frames: Sequence[str]) -> st.SearchStrategy[BadFrame]:
    """Hypothesis strategy: bad frames made from these valid provider frames."""
    messages = [orjson.loads(frame) for frame in valid_frames]
    return st.randoms(use_true_random=False).map(lambda rng: bad_frame(rng, messages, messages))
