"""Recordings: what arrived on the wire, one frame per line, replayable through the same core.

Format (JSON Lines): an optional first line `{"meta": {"fixtureId": ..., "bestOf": 7, "doubles": false}}`,
then one line per received frame: `{"recv": "<RFC 3339 UTC receive time>", "text": "<frame as received>"}`.
`read_recording` also accepts provider messages one per line (no `text` wrapper), a JSON array of
them (the provider's REST `GET .../fixtures/{id}/actions` body for a finished match), and any of
these compressed with gzip, bzip2 or xz (recognised by their first bytes, whatever the file name).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import orjson

from engine.core.inputs import Input, Stale
from engine.core.match.rules import UNKNOWN_FORMAT, MatchFormat
from engine.feed.catalogue import DEFAULT_CATALOGUE, ActionCatalogue, ActionKind
from engine.feed.wire import Action, Malformed, decode, shown
from engine.io.protocol import STALE_AFTER


class RecordingError(Exception):
    """The file is not a recording we can read (as a whole; bad lines become Malformed frames)."""


@attrs.frozen(slots=True)
class Frame:
    """One received frame: its receive time (None when unknown) and its exact text."""

    text: str
    recv: str | None = None


def posix_seconds(moment: str | None) -> float | None:
    """An RFC 3339 time (a frame's receive time, an action's timestamp) as POSIX seconds; None when unknown
    or unreadable."""
    if moment is None:
        return None
    try:
        return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@attrs.frozen(slots=True)
class BadLine:
    """A recording line that holds no frame; replayed as a Malformed input so nothing is hidden."""

    line: int
    reason: str


@attrs.frozen(slots=True)
class RecordingMeta:
    """The optional first line of a recording."""

    fixture_id: str | None = None
    best_of: int | None = None
    doubles: bool | None = None
    #: Type ids the recording uses beyond the default catalogue (`"types": {"9901": "expedite"}`).
    types: Mapping[int, ActionKind] = attrs.field(factory=dict)

    def catalogue(self) -> ActionCatalogue:
        """The action catalogue to decode this recording's frames with."""
        return DEFAULT_CATALOGUE.with_types(self.types) if self.types else DEFAULT_CATALOGUE

    def format(self, base: MatchFormat = UNKNOWN_FORMAT) -> MatchFormat:
        """`base` with what the recording says about the format applied."""
        return attrs.evolve(
            base,
            best_of=base.best_of if self.best_of is None else self.best_of,
            doubles=base.doubles if self.doubles is None else self.doubles,
        )

    def to_json(self) -> dict[str, Any]:
        """The `meta` object as written."""
        out: dict[str, Any] = {"fixtureId": self.fixture_id}
        if self.best_of is not None:
            out["bestOf"] = self.best_of
        if self.doubles is not None:
            out["doubles"] = self.doubles
        if self.types:
            out["types"] = {str(type_id): kind.value for type_id, kind in sorted(self.types.items())}
        return out


@attrs.frozen(slots=True)
class Recording:
    """A whole recording: its metadata and its frames (or bad lines) in order."""

    meta: RecordingMeta
    frames: tuple[Frame | BadLine, ...]

    @property
    def fixture_id(self) -> str | None:
        """The fixture: the meta line's, else the first action's."""
        return self.meta.fixture_id or first_fixture_id(frame for frame in self.frames if isinstance(frame, Frame))

    def without_actions(self) -> str | None:
        """None when some frame decodes to an action; else one line saying what the file held
        instead (a replay of it would fold nothing: the caller should refuse it)."""
        catalogue = self.meta.catalogue()
        frames = [frame for frame in self.frames if isinstance(frame, Frame)]
        if any(isinstance(decode(frame.text, catalogue), Action) for frame in frames):
            return None
        lines = len(self.frames)
        if not lines:
            return "no actions read: the file holds no frames"
        bad = lines - len(frames)
        found = [f"{bad} not a recording frame or provider message"] if bad else []
        if frames:
            found.append(f"{len(frames)} {_plural(len(frames), 'message')} without a readable action")
        hint = " — compressed with something other than gzip, bzip2 or xz, or not JSON Lines?" if not frames else ""
        return f"no actions read: {lines} {_plural(lines, 'line')}, {', '.join(found)}{hint}"


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else f"{noun}s"


def first_fixture_id(frames: Iterable[Frame]) -> str | None:
    """The `fixtureAction.fixtureId` of the first frame that has one."""
    for frame in frames:
        try:
            fixture_id = orjson.loads(frame.text)["fixtureAction"]["fixtureId"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
        if isinstance(fixture_id, str):
            return fixture_id
    return None


#: First bytes of the compressed files `read_recording` opens transparently.
_COMPRESSED = (
    (b"\x1f\x8b", "gzip", gzip.decompress),
    (b"BZh", "bzip2", bz2.decompress),
    (b"\xfd7zXZ\x00", "xz", lzma.decompress),
)


def read_recording(path: str | Path) -> Recording:
    """Read a JSONL recording, provider messages one per line, or a JSON array of them; gzip,
    bzip2 or xz compressed or not. RecordingError when the file cannot be read at all."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror or exc}") from None
    for magic, name, decompress in _COMPRESSED:
        if data.startswith(magic):
            try:
                data = decompress(data)
            except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:
                raise RecordingError(f"{path}: not a readable {name} file: {exc}") from None
            break
    if data.lstrip()[:1] == b"[":
        return _read_array(path, data)
    return _read_lines(data)


def _read_array(path: str | Path, data: bytes) -> Recording:
    try:
        items = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise RecordingError(f"{path}: not a JSON array of messages: {exc}") from None
    return Recording(RecordingMeta(), tuple(Frame(orjson.dumps(item).decode()) for item in items))


def _read_lines(data: bytes) -> Recording:
    meta = RecordingMeta()
    frames: list[Frame | BadLine] = []
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            frames.append(BadLine(number, f"recording line {number}: not JSON: {exc}"))
            continue
        if not isinstance(line, dict):
            frames.append(BadLine(number, f"recording line {number}: not an object"))
        elif "meta" in line and not frames and number == 1:
            meta = _meta(line["meta"])
        elif isinstance(line.get("text"), str):
            recv = line.get("recv")
            frames.append(Frame(line["text"], recv if isinstance(recv, str) else None))
        elif "text" in line:
            frames.append(BadLine(number, f'recording line {number}: "text" is not a string'))
        else:  # a provider message as it came, not wrapped in a recording frame
            frames.append(Frame(raw.decode()))
    return Recording(meta, tuple(frames))


def _meta(value: object) -> RecordingMeta:
    if not isinstance(value, dict):
        raise RecordingError('recording line 1: "meta" is not an object')
    fixture_id, best_of, doubles = value.get("fixtureId"), value.get("bestOf"), value.get("doubles")
    if fixture_id is not None and not isinstance(fixture_id, str):
        raise RecordingError("recording meta: fixtureId must be a string")
    if best_of is not None and (type(best_of) is not int or best_of < 1 or best_of % 2 == 0):
        raise RecordingError(f"recording meta: bestOf must be a positive odd integer, got {shown(best_of)}")
    if doubles is not None and type(doubles) is not bool:
        raise RecordingError("recording meta: doubles must be true or false")
    return RecordingMeta(fixture_id, best_of, doubles, parse_types(value.get("types", {})))


def parse_types(value: object, where: str = "recording meta") -> dict[int, ActionKind]:
    """A `types` map (`{"9901": "expedite"}`: type id -> action kind) read from JSON; RecordingError
    naming `where` and the entry when it is not one."""
    if not isinstance(value, dict):
        raise RecordingError(f'{where}: "types" must map type ids to action kinds')
    types = {}
    for key, kind in value.items():
        try:
            types[int(key)] = ActionKind(kind)
        except ValueError:
            raise RecordingError(
                f"{where}: types: {shown(key)}: {shown(kind)} is not a type id and an action kind"
            ) from None
    return types


def extra_types(catalogue: ActionCatalogue) -> dict[int, ActionKind]:
    """What `catalogue` maps differently from the default one: what a recording's meta must say."""
    return {
        type_id: kind for type_id, kind in catalogue.kinds.items() if DEFAULT_CATALOGUE.kinds.get(type_id) is not kind
    }


def repair_recording(path: str | Path) -> int:
    """Cut a recording back to its last whole line (a process killed while writing leaves half a
    line): the bytes removed (0 when it ends in a newline, is empty, or does not exist)."""
    target = Path(path)
    try:
        data = target.read_bytes()
    except FileNotFoundError:
        return 0
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    with open(target, "r+b") as out:
        out.truncate(keep)
    return len(data) - keep


def write_recording(path: str | Path, frames: Iterable[Frame], meta: RecordingMeta | None = None) -> None:
    """Write a JSONL recording (meta line first when given)."""
    with open(path, "wb") as out:
        if meta is not None:
            out.write(orjson.dumps({"meta": meta.to_json()}) + b"\n")
        for frame in frames:
            out.write(orjson.dumps({"recv": frame.recv, "text": frame.text}) + b"\n")


def recorded_inputs(
    recording: Recording, stale_after: float | None = STALE_AFTER
) -> Iterator[tuple[float | None, Input]]:
    """Every input a recording replays to, with its time (POSIX seconds; None when unknown): each
    frame decoded, a bad line as Malformed, and `Stale()` where the receive times show a silence
    longer than `stale_after` — at the moment the live adapter would have reported it. So a replay
    folds what the live adapter folded from the same frames, except the inputs of the connection
    itself (`Connected`, `Disconnected`) and of the runtime (`Lagging`, `CaughtUp`, `Unfollowed`)."""
    last: float | None = None
    catalogue = recording.meta.catalogue()
    for frame in recording.frames:
        if isinstance(frame, BadLine):
            yield last, Malformed(frame.reason, None, "")
            continue
        moment = posix_seconds(frame.recv)
        if stale_after is not None and moment is not None and last is not None and moment - last > stale_after:
            yield last + stale_after, Stale()
        last = moment if moment is not None else last
        yield moment, decode(frame.text, catalogue)
