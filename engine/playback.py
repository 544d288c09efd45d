"""Replay of a recording through the pure core: the one home of replay.

    recording = read_recording(path)
    state = playback.fold(recording)                      # the final state (`replay --summary`)
    for moment, message, state, events in playback.steps(recording):
        ...                                               # every input, as `replay --trace` prints it

`inputs(recording)` gives the reducer inputs a recording replays to, with their receive times:
every frame decoded with the recording's catalogue, a bad line as `Malformed`, `Stale()` where the
receive times show a silence longer than the live adapter's stale timeout, and `EndOfStream()` last.
`start_state` is the state a replay starts from (the recording's meta, overridden by the caller).
A recording that stops mid-match ends with the closing bet stop (`Unfollowed()`, see `closing`),
as the runtime's replay does.
The CLI, the async runtime (`engine.replay`), the tests, the benches and `regenerate.py` all replay
through here; paced replay is `engine.replay(path, speed)`, which feeds the same inputs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import attrs

from engine.core.config import DEFAULT_MARKETS, MarketConfig
from engine.core.events import Event, FormatContradicted
from engine.core.inputs import EndOfStream, Input, Unfollowed
from engine.core.match.rules import UNKNOWN_FORMAT, MatchFormat
from engine.core.reduce import reduce
from engine.core.state import MatchState
from engine.core.update import Update, step
from engine.io.recording import Recording, recorded_inputs

log = logging.getLogger("engine.playback")


def warn_of_contradictions(fixture_id: str | None, events: Iterable[Event]) -> None:
    """Log a warning (stderr on the command line) for every `FormatContradicted` among `events`:
    the format given was wrong, and the feed corrected it."""
    for event in events:
        if isinstance(event, FormatContradicted):
            log.warning("fixture %s: the feed contradicts the format: %s", fixture_id, event.reason)


def start_state(
    recording: Recording, best_of: int | None = None, doubles: bool = False, markets: MarketConfig = DEFAULT_MARKETS
) -> MatchState:
    """The state a replay starts from: the recording's fixture and format, `best_of` and `doubles`
    overriding them when given (the format is unknown when neither says), and the `markets` config."""
    fmt = overridden(recording.meta.format(UNKNOWN_FORMAT), best_of, doubles)
    return MatchState.new(recording.fixture_id, fmt, markets=markets)


def overridden(fmt: MatchFormat, best_of: int | None, doubles: bool) -> MatchFormat:
    """`fmt` with a given number of games and doubles flag applied."""
    if best_of is not None:
        fmt = attrs.evolve(fmt, best_of=best_of)
    if doubles:
        fmt = attrs.evolve(fmt, doubles=True)
    return fmt


def inputs(recording: Recording, end: bool = True) -> Iterator[tuple[float | None, Input]]:
    """Every reducer input of the recording with its receive time (POSIX seconds, None when
    unknown), then `EndOfStream()` (at the last time) unless `end` is False."""
    last: float | None = None
    for moment, message in recorded_inputs(recording):
        last = moment
        yield moment, message
    if end:
        yield last, EndOfStream()


def closing(state: MatchState) -> Unfollowed | None:
    """The input that ends following a fixture (`Unfollowed`, the closing bet stop) when its book
    still has an undecided market — a recording that stops mid-match — else None. The runtime does
    the same when it stops following."""
    return Unfollowed() if state.book.index.undecided else None


def steps(
    recording: Recording, state: MatchState | None = None
) -> Iterator[tuple[float | None, Input, MatchState, list[Event]]]:
    """Each input folded in turn: (receive time, input, state after it, its events), from `state`
    (default: `start_state(recording)`)."""
    state = start_state(recording) if state is None else state
    moment: float | None = None
    for moment, message in inputs(recording):
        state, events = reduce(state, message)
        warn_of_contradictions(state.fixture_id, events)
        yield moment, message, state, events
    last = closing(state)
    if last is not None:
        state, events = reduce(state, last)
        yield moment, last, state, events


def updates(recording: Recording, state: MatchState) -> Iterator[tuple[Input, Update]]:
    """Each input folded in turn from `state`, with its update (`engine.core.update.step`, stamped
    with the input's receive time): what `replay --trace` prints."""
    moment: float | None = None
    for moment, message in inputs(recording):
        state, update = step(state, message, moment)
        warn_of_contradictions(state.fixture_id, update.events)
        yield message, update
    last = closing(state)
    if last is not None:
        yield last, step(state, last, moment)[1]


def fold(
    recording: Recording, best_of: int | None = None, doubles: bool = False, markets: MarketConfig = DEFAULT_MARKETS
) -> MatchState:
    """The final state of the recording replayed from its start (what `replay --summary` prints)."""
    state = start_state(recording, best_of, doubles, markets)
    for _, message in inputs(recording):
        state, events = reduce(state, message)
        warn_of_contradictions(state.fixture_id, events)
    last = closing(state)
    return state if last is None else reduce(state, last)[0]
