"""The pricing kernel (issue 22.3): one call per position prices every market, averaged over the
posterior; it must give the reference model's numbers (`price_weighted_reference`, the plain
recursion) to 1e-12 at any position, and the odds the plain policy gave. Runs against whichever
build is installed: the compiled one (`.ci/run` checks it is) or the plain-Python fallback."""

from __future__ import annotations

import ast
import bisect
import importlib
import math
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import _build
from engine.core.markets.catalogue import Market, MarketCatalogue, MarketType
from engine.core.match.rules import MatchFormat, Side, game_winner
from engine.core.pricing import kernel
from engine.core.pricing.model import (
    Position,
    Prior,
    Weighted,
    posterior,
    price_weighted,
    price_weighted_reference,
)
from engine.core.pricing.odds import LADDER_CENTS, ladder_floor

CATALOGUE = MarketCatalogue(race_to=(3, 5, 7, 9, 11), game_total_points_lines=(16.5, 18.5, 20.5, 22.5, 25.5))


@st.composite
def positions(draw: st.DrawFn) -> Position:
    """Any position of a game in play: formats of 1-7 games, scores past the tie, the expedite system."""
    best_of = draw(st.sampled_from([1, 3, 5, 7]))
    fmt = MatchFormat(best_of=best_of)
    to_win = fmt.games_to_win or 1
    games = (draw(st.integers(0, to_win - 1)), draw(st.integers(0, to_win - 1)))
    if draw(st.booleans()):
        home = draw(st.integers(10, 16))
        away = home + draw(st.sampled_from([-1, 0, 1]))
    else:
        home, away = draw(st.integers(0, 10)), draw(st.integers(0, 10))
    assert game_winner(home, away, fmt) is None
    expedite = draw(st.booleans())
    expedite_from = draw(st.none() | st.integers(0, home + away)) if expedite else None
    interrupted = draw(st.booleans()) if expedite_from else False
    server = draw(st.sampled_from(Side))
    return Position(fmt, games, sum(games) + 1, (home, away), server, expedite, expedite_from, interrupted)


def _markets(position: Position) -> list[Market]:
    fmt = position.format
    markets = CATALOGUE.match_markets(fmt)
    for game in range(max(1, position.game - 1), (fmt.best_of or 1) + 1):
        markets.extend(CATALOGUE.game_markets(game))
    for number in (sum(position.points), sum(position.points) + 1):
        point = CATALOGUE.point_market(position.game, number)
        markets.extend([point] if point is not None else [])
    return markets


@settings(max_examples=150, deadline=None)
@given(
    position=positions(),
    points=st.tuples(st.integers(0, 300), st.integers(0, 300)),
    edge=st.floats(-0.3, 0.3),
    nodes=st.sampled_from([1, 3, 5]),
)
def test_the_kernel_gives_the_reference_prices_at_any_position(
    position: Position, points: tuple[int, int], edge: float, nodes: int
) -> None:
    weighted = posterior(*points, Prior(serve=0.547, strength=22.0, nodes=nodes), edge)
    markets = _markets(position)
    fast = price_weighted(position, weighted, markets)
    reference = price_weighted_reference(position, weighted, markets)
    assert list(fast) == list(reference)  # the same markets priced, in the order asked
    for market in markets:
        outcomes = reference.get(market.id)
        if outcomes is None:
            continue
        assert list(fast[market.id]) == list(outcomes), market.id
        # A future game is priced given it is played: a quotient whose rounding grows as that gets rare.
        tolerance = 1e-12 / max(_played(position, weighted, market.game), 1e-12)
        for outcome, p in outcomes.items():
            assert math.isclose(fast[market.id][outcome], p, rel_tol=0.0, abs_tol=tolerance), (market.id, outcome)


def _played(position: Position, weighted: Weighted, game: int) -> float:
    """P(game `game` is played): the total games go past `game` - 1/2 (1 for the current game)."""
    if game <= position.game or position.format.best_of is None:
        return 1.0
    line = Market(MarketType.TOTAL_GAMES, line=game - 0.5)
    return price_weighted_reference(position, weighted, [line])[line.id]["over"]


def test_what_the_kernel_does_not_cover_goes_to_the_reference() -> None:
    """Races beyond the game's points and games won by a lead other than two: the reference prices them."""
    assert not kernel.covers(11, 3, [kernel.MarketAsk(kernel.KIND_GAME_WINNER, 1, 0.0, 0)])
    assert not kernel.covers(11, 2, [kernel.MarketAsk(kernel.KIND_RACE_TO, 1, 0.0, 13)])
    position = Position(MatchFormat(best_of=5), (1, 0), 2, (4, 6), Side.HOME)
    markets = [*CATALOGUE.game_markets(2), Market(MarketType.RACE_TO, 2, number=13)]
    weighted = posterior(30, 25)
    priced = price_weighted(position, weighted, markets)
    assert "race_to:2:13" in priced
    assert priced == price_weighted_reference(position, weighted, markets)


def test_the_kernel_s_ladder_is_the_bisection_of_the_ladder() -> None:
    """`ladder_floor` (the kernel's arithmetic by band) against the highest ladder price at or below, found
    by bisection: at every cent from 0.90 to 1,001 and just either side of each ladder price."""
    for cents in range(90, 100101):
        for price in (cents / 100, cents / 100 - 1e-7, cents / 100 + 1e-7):
            index = bisect.bisect_right(LADDER_CENTS, math.floor(price * 100 + 1e-9)) - 1
            expected = None if index < 0 else LADDER_CENTS[index] / 100
            assert ladder_floor(price) == expected, price


def test_the_build_in_use_is_the_one_expected() -> None:
    """`kernel.COMPILED` says which build runs; `.ci/run` sets TTENGINE_EXPECT_BUILD so that a compiled
    build that failed (the install falls back to plain Python without a word) fails here instead. In
    the compiled build every module setup.py lists is an extension, in the plain one none is."""
    expected = os.environ.get("TTENGINE_EXPECT_BUILD")
    assert (not kernel.__file__.endswith(".py")) == kernel.COMPILED
    listed = _compiled_modules()
    assert "engine.core.pricing.kernel" in listed
    compiled = {name for name in listed if not (importlib.import_module(name).__file__ or "").endswith(".py")}
    assert compiled in (set(), set(listed))  # all or nothing: a partial build is a fault
    assert bool(compiled) == kernel.COMPILED
    for name in compiled:  # what runs was built from the sources as they are (engine._build's guard)
        built = Path(importlib.import_module(name).__file__ or "")
        source = built.parent / (name.rsplit(".", 1)[1] + ".py")
        assert source.with_suffix(".built").read_text().strip() == _build.fingerprint(source)
    if expected is not None:
        assert expected in ("compiled", "pure")
        assert (expected == "compiled") == kernel.COMPILED


def _compiled_modules() -> list[str]:
    """The module names in setup.py's COMPILED_MODULES."""
    tree = ast.parse((Path(__file__).resolve().parents[3] / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(target, ast.Name) and target.id == "COMPILED_MODULES" for target in targets):
                assert node.value is not None
                paths = ast.literal_eval(node.value)
                return [path[:-3].replace("/", ".") for path in paths]
    raise AssertionError("setup.py has no COMPILED_MODULES")


def test_a_stale_extension_never_shadows_its_edited_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """engine._build: where Python would import a compiled module built from other sources than the
    file beside it, the plain source is loaded instead, with a warning; a matching one is left alone."""
    import importlib.machinery
    import sys

    source = tmp_path / "ttengine_probe.py"
    source.write_text("ANSWER = 42\n")
    extension = tmp_path / f"ttengine_probe{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    extension.write_bytes(b"not loaded")
    spec = importlib.machinery.ModuleSpec("ttengine_probe", None, origin=str(extension))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    (tmp_path / "ttengine_probe.built").write_text(_build.fingerprint(source) + "\n")
    assert _build.guard(("ttengine_probe",)) == []  # built from these sources: the extension stands
    source.write_text("ANSWER = 43\n")  # edited after the build
    with pytest.warns(RuntimeWarning, match="changed since its extension was built"):
        assert _build.guard(("ttengine_probe",)) == ["ttengine_probe"]
    try:
        assert sys.modules["ttengine_probe"].ANSWER == 43  # the edited source runs
    finally:
        del sys.modules["ttengine_probe"]
