"""The state's hot-path copies (direct construction instead of attrs.evolve, issue 13.5) equal the
evolve each stands for, whatever the fields hold — so a field added later cannot be silently reset."""

from __future__ import annotations

from typing import Any

import attrs

from engine.core.match.state import MatchFacts, PlayState
from engine.core.state import MatchState


def _marked(cls: type[Any]) -> Any:
    """An instance whose every field holds a distinct object (none of them a default)."""
    return cls(**{field.name: object() for field in attrs.fields(cls)})


def test_match_state_copies_equal_evolve() -> None:
    state: MatchState = _marked(MatchState)
    match = object()
    assert state.with_match(match) == attrs.evolve(state, match=match)  # type: ignore[arg-type]


def test_the_reducer_makes_the_new_state_from_every_field() -> None:
    """`engine.core.reduce.advance` builds the new state positionally from exactly these fields: a
    field added to `MatchState` must be added there too (or it would be reset at every input)."""
    assert [field.name for field in attrs.fields(MatchState)] == ["match", "markets", "book", "prices", "rollbacks"]


def test_match_copies_equal_evolve() -> None:
    match: MatchFacts = _marked(MatchFacts)
    timeline, play, sequencer = object(), object(), object()
    assert match.with_action(timeline, play, 7, 3, sequencer) == attrs.evolve(  # type: ignore[arg-type]
        match, timeline=timeline, play=play, last_seq=7, unknown_actions=3, sequencer=sequencer
    )


def test_play_state_copies_equal_evolve() -> None:
    play: PlayState = _marked(PlayState)
    rally, server, points, rallies, offline = object(), object(), object(), object(), object()
    assert play.with_rally(rally, server) == attrs.evolve(play, rally=rally, first_server=server)  # type: ignore[arg-type]
    assert play.with_point(points, rallies, offline) == attrs.evolve(  # type: ignore[arg-type]
        play, points=points, rallies=rallies, offline=offline, rally=None
    )
