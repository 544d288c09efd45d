"""Issue 29.1: no combination of one fixture's offered odds gives a sure profit. A future game's
markets are priced given that the game is played (one joint distribution for every market), so a
linear programme over every way the match can end (`engine.testing.surebets`) finds no stakes that
win whatever happens: at random positions, formats, strengths and posteriors, and at every input of
corpus recordings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import playback
from engine.core.inputs import EndOfStream
from engine.core.markets.catalogue import Market, MarketCatalogue
from engine.core.markets.signals import MarketStatus
from engine.core.match.rules import MatchFormat, Side, game_winner
from engine.core.pricing.kernel import Posterior
from engine.core.pricing.model import (
    DEFAULT_PRICING,
    Position,
    Prior,
    Strengths,
    Weighted,
    posterior,
    price_reference,
    price_rows,
)
from engine.core.reduce import reduce
from engine.core.state import MatchState
from engine.io.recording import read_recording
from engine.testing.surebets import sure_profit

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures_data"
CATALOGUE = MarketCatalogue(race_to=(3, 5, 7, 9, 11), game_total_points_lines=(16.5, 18.5, 20.5, 22.5))
#: The solver's rounding: a "profit" this small is no bet anyone can take.
ROUNDING = 1e-9


def _markets(position: Position, catalogue: MarketCatalogue = CATALOGUE) -> list[Market]:
    fmt = position.format
    markets = catalogue.match_markets(fmt)
    for game in range(position.game, (fmt.best_of or 1) + 1):
        markets.extend(catalogue.game_markets(game))
    point = catalogue.point_market(position.game, sum(position.points) + 1)
    return [*markets, *([point] if point is not None else [])]


def _offered(fair: dict[str, dict[str, float]], markets: Sequence[Market]) -> dict[str, dict[str, float]]:
    types = {market.id: market.type for market in markets}
    offered = {
        market_id: DEFAULT_PRICING.odds.offer(outcomes, types[market_id]) for market_id, outcomes in fair.items()
    }
    return {market_id: odds for market_id, odds in offered.items() if odds}


def _priced(positions: list[Position], weighted: Weighted, markets: Sequence[Market]) -> dict[str, dict[str, float]]:
    nodes = Posterior(
        [weight for weight, _ in weighted],
        [strengths.home_serve for _, strengths in weighted],
        [strengths.away_serve for _, strengths in weighted],
    )
    rows = price_rows(positions, nodes, markets)
    return {market.id: dict(zip(names, values, strict=True)) for market, names, values in rows}


def test_the_audit_s_sure_bet_is_found_in_unconditional_prices_and_gone_from_ours() -> None:
    """The issue's example: best of 5 at 2-0 in games, home to serve. Pricing game 5 with the
    posterior's plain average (as if always played) lets 0.57 on home, 0.035 on 3-1 and the away
    side of games 4 and 5 return +0.5 % whatever happens; our prices (given the game is played)
    leave no sure bet."""
    fmt = MatchFormat(best_of=5)
    position = Position(fmt, (2, 0), 3, (0, 0), Side.HOME)
    weighted = posterior(11 + 11, 9 + 8)
    markets = _markets(position, MarketCatalogue())
    unconditional: dict[str, dict[str, float]] = {}
    for weight, strengths in weighted:  # one strength: conditional and unconditional agree
        for market_id, outcomes in price_reference(position, strengths, markets).items():
            into = unconditional.setdefault(market_id, {})
            for outcome, p in outcomes.items():
                into[outcome] = into.get(outcome, 0.0) + weight * p
    flawed = sure_profit(fmt, (2, 0), (0, 0), _offered(unconditional, markets))
    assert flawed.profit > 0.004
    assert set(flawed.stakes) == {"match_winner", "correct_score", "game_winner:4", "game_winner:5"}
    ours = sure_profit(fmt, (2, 0), (0, 0), _offered(_priced([position], weighted, markets), markets))
    assert ours.profit < -0.005
    assert not ours.stakes


def test_the_programme_finds_a_plain_sure_bet() -> None:
    """Two markets that disagree (a match winner at 2.2 / 2.2 and a correct score whose home
    outcomes sum below the match winner's away price) are a sure bet, and the stakes say how."""
    fmt = MatchFormat(best_of=3)
    found = sure_profit(fmt, (1, 1), (0, 0), {"match_winner": {"home": 2.2, "away": 2.2}})
    assert found.profit == pytest.approx(0.1)
    assert found.stakes["match_winner"] == pytest.approx({"home": 0.5, "away": 0.5})
    race = sure_profit(fmt, (0, 0), (4, 6), {"race_to:1:7": {"home": 1.5}, "game_winner:1": {"away": 1.5}})
    assert race.profit < 0  # home can reach 7 first and still lose the game (no lock)
    unlocked = sure_profit(fmt, (0, 0), (0, 0), {"race_to:1:11": {"home": 2.1}, "game_winner:1": {"away": 2.1}})
    assert unlocked.profit < 0  # the first to 11 can lose the game (11-10, 11-12)
    locked = sure_profit(fmt, (0, 0), (0, 0), {"race_to:1:11": {"home": 2.1, "away": 2.1}})
    assert locked.profit == pytest.approx(0.05)  # somebody gets to 11 first


@st.composite
def positions(draw: st.DrawFn) -> Position:
    """A position of a game in play or about to start: formats of 1-7 games, scores past the tie."""
    fmt = MatchFormat(best_of=draw(st.sampled_from([1, 3, 5, 7])))
    to_win = fmt.games_to_win or 1
    games = (draw(st.integers(0, to_win - 1)), draw(st.integers(0, to_win - 1)))
    if draw(st.booleans()):
        home, away = 0, 0
    elif draw(st.booleans()):
        home = draw(st.integers(10, 14))
        away = home + draw(st.sampled_from([-1, 0, 1]))
    else:
        home, away = draw(st.integers(0, 10)), draw(st.integers(0, 10))
    assert game_winner(home, away, fmt) is None
    return Position(fmt, games, sum(games) + 1, (home, away), draw(st.sampled_from(Side)))


@settings(max_examples=150, deadline=None)
@given(
    position=positions(),
    points=st.tuples(st.integers(0, 200), st.integers(0, 200)),
    edge=st.floats(-0.3, 0.3),
    strength=st.floats(5.0, 200.0),
    coin=st.booleans(),
    fixed=st.none() | st.tuples(st.floats(0.3, 0.9), st.floats(0.3, 0.9)),
)
def test_no_sure_bet_at_any_position(
    position: Position,
    points: tuple[int, int],
    edge: float,
    strength: float,
    coin: bool,
    fixed: tuple[float, float] | None,
) -> None:
    """Any posterior (or one fixed pair of strengths), the first server known or a coin toss."""
    weighted = (
        ((1.0, Strengths(*fixed)),)
        if fixed is not None
        else posterior(*points, Prior(serve=0.547, strength=strength), edge)
    )
    variants = [position, Position(position.format, position.games, position.game, (0, 0), position.server.other)]
    positions_ = variants if coin and position.points == (0, 0) else [position]
    markets = _markets(position)
    offered = _offered(_priced(positions_, weighted, markets), markets)
    found = sure_profit(position.format, position.games, position.points, offered)
    assert found.profit <= ROUNDING, found.stakes


@pytest.mark.parametrize(
    ("name", "best_of"),
    [("aicup2026_m05_female_bo7", 7), ("ittf_wd_bo5_doubles", 5), ("aicup2026_m02_male_bo5", 5)],
    ids=str,
)
def test_no_sure_bet_at_any_input_of_a_recording(name: str, best_of: int) -> None:
    """The odds open for betting after every input of a recording (the whole corpus: bench/surebets.py)."""
    recording = read_recording(FIXTURES / f"{name}.jsonl")
    state = playback.start_state(recording, best_of)
    checked = 0
    for message in [*(message for _, message in playback.inputs(recording)), EndOfStream()]:
        state, _ = reduce(state, message)
        offered = open_odds(state)
        play = state.match.play
        if offered and play.format.best_of is not None:
            _, home, away = play.next_rally_position()
            found = sure_profit(play.format, play.games, (home, away), offered)
            assert found.profit <= ROUNDING, (play.games, (home, away), found.stakes)
            checked += 1
    assert checked > 40  # an input with markets open (a rally in play suspends them)


def open_odds(state: MatchState) -> dict[str, dict[str, float]]:
    """The odds a bettor can take: every open market's offered odds."""
    return {
        market_id: dict(found.odds)
        for market_id, found in state.prices.items()
        if found.odds and state.book[market_id].status is MarketStatus.OPEN
    }


def test_a_market_the_endings_cannot_settle_is_refused() -> None:
    fmt = MatchFormat(best_of=3)
    with pytest.raises(ValueError, match="decided"):
        sure_profit(fmt, (0, 0), (5, 2), {"race_to:1:5": {"home": 1.5, "away": 2.5}})
    with pytest.raises(ValueError, match="next point"):
        sure_profit(fmt, (0, 0), (5, 2), {"point_winner:1:9": {"home": 1.9, "away": 1.9}})
