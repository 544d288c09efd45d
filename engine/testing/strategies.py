"""Hypothesis strategies for whole matches, with the truth they encode.

    from hypothesis import given
    from engine.testing.strategies import match_scripts

    @given(match_scripts(best_of=7))
    def test_my_desk(script): ...

`match_scripts` draws a valid match (games end at 11 with a lead of 2, the match at the format's
winning count); `feedgen.match_stream(script)` turns it into provider messages. Shrinking goes
towards short matches with few points.
"""

from __future__ import annotations

import uuid

from hypothesis import strategies as st

from engine.core.match.rules import Side
from engine.testing.feedgen import MatchScript, ScriptedPoint, serving_side


@st.composite
def game_points(draw: st.DrawFn, first_server: Side | None, named_servers: bool) -> tuple[ScriptedPoint, ...]:
    """One valid game as a point sequence, serve by serve (two each, one each from 10-10)."""
    points: list[ScriptedPoint] = []
    home = away = 0
    while not ((home >= 11 or away >= 11) and abs(home - away) >= 2):
        index = home + away
        serving = None if first_server is None else serving_side(first_server, index)
        winner = draw(st.sampled_from([Side.HOME, Side.AWAY]))
        shown = serving if named_servers or (draw(st.booleans()) and serving is not None) else None
        points.append(ScriptedPoint(winner, shown, serving))
        if winner is Side.HOME:
            home += 1
        else:
            away += 1
    return tuple(points)


@st.composite
def match_scripts(
    draw: st.DrawFn,
    best_of: int | None = None,
    named_servers: bool | None = None,
) -> MatchScript:
    """A whole valid match. `best_of` fixes the format (else 3, 5 or 7); `named_servers` True
    names the server on every Point Started, False on a random subset, None lets hypothesis choose."""
    fmt = best_of if best_of is not None else draw(st.sampled_from([3, 5, 7]))
    named = named_servers if named_servers is not None else draw(st.booleans())
    first = draw(st.sampled_from([Side.HOME, Side.AWAY]))
    to_win = fmt // 2 + 1
    games: list[tuple[ScriptedPoint, ...]] = []
    won = [0, 0]
    opening = first
    while max(won) < to_win:
        points = draw(game_points(opening, named))
        home = sum(1 for point in points if point.winner is Side.HOME)
        won[0 if home > len(points) - home else 1] += 1
        games.append(points)
        opening = opening.other
    return MatchScript(str(uuid.uuid5(uuid.NAMESPACE_URL, f"engine.testing/gen-{fmt}")), tuple(games))
