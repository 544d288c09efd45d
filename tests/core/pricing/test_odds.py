"""The odds we offer (issue 21.1): margins per market type spread by Shin's method, prices rounded
down onto the exchange ladder, a cap, withdrawal near certainty — and the law that no offered book
ever sums below 1 + the minimum margin (never a sure profit for a bettor)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.config import DEFAULT_MARKETS
from engine.core.markets.catalogue import Market, MarketType
from engine.core.match.rules import MatchFormat, Side
from engine.core.pricing import offer
from engine.core.pricing.game import Strengths
from engine.core.pricing.model import Position, Pricing, price
from engine.core.pricing.odds import (
    _METHOD,
    DEFAULT_MARGINS,
    IMPOSSIBLE,
    LADDER_CENTS,
    MarginMethod,
    OddsPolicy,
    book_sum,
    ladder_floor,
    remove_margin,
)

LADDER = set(LADDER_CENTS)


def test_the_ladder_is_the_exchange_ladder() -> None:
    steps = {(101, 200): 1, (200, 300): 2, (300, 400): 5, (400, 600): 10, (600, 1000): 20, (1000, 2000): 50}
    steps |= {(2000, 3000): 100, (3000, 5000): 200, (5000, 10000): 500, (10000, 100000): 1000}
    for (low, high), step in steps.items():
        assert [c for c in LADDER_CENTS if low <= c < high] == list(range(low, high, step))
    assert LADDER_CENTS[0] == 101
    assert LADDER_CENTS[-1] == 100000
    assert ladder_floor(2.019) == 2.0
    assert ladder_floor(2.02) == 2.02
    assert ladder_floor(3.04) == 3.0
    assert ladder_floor(1.005) is None
    assert ladder_floor(5000.0) == 1000.0
    assert all(ladder_floor(cents / 100) == cents / 100 for cents in LADDER_CENTS)


def _fair_books() -> st.SearchStrategy[dict[str, float]]:
    """Fair books of 2 to 8 outcomes, extremes included (near-certain, tiny, exactly zero)."""
    weight = st.one_of(
        st.floats(0.0, 1.0),
        st.sampled_from([0.0, 1e-17, 1e-9, 1e-6, 1e-3, 0.5, 0.96, 0.969, 0.97, 0.999, 1.0]),
    )
    return (
        st.lists(weight, min_size=2, max_size=8)
        .filter(lambda ws: sum(ws) > 0)
        .map(lambda ws: {f"o{i}": w / sum(ws) for i, w in enumerate(ws)})
    )


POLICIES = st.builds(
    OddsPolicy,
    margins=st.one_of(st.just(DEFAULT_MARGINS), st.floats(0.02, 0.3)),
    method=st.sampled_from(MarginMethod),
    min_margin=st.just(0.02),
    max_price=st.sampled_from([101.0, 51.0, 1000.0]),
    withdraw_at=st.sampled_from([0.97, 0.9, 1.0]),
)


def _check_offer(policy: OddsPolicy, fair: dict[str, float], market_type: MarketType) -> dict[str, float]:
    odds = policy.offer(fair, market_type)
    if not odds:
        return odds
    assert book_sum(odds) >= 1.0 + policy.min_margin - 1e-12  # the law: never a sure profit
    assert book_sum(odds) >= 1.0 + policy.margins[market_type] - 1e-9  # and at least the type's margin
    cap = ladder_floor(policy.max_price)
    for outcome, offered in odds.items():
        assert round(offered * 100) in LADDER  # on the ladder
        assert 1.01 <= offered <= (cap or 0.0)
        assert fair[outcome] >= IMPOSSIBLE  # impossible outcomes are not listed
        assert offered <= 1.0 / fair[outcome] + 1e-9  # never above the fair price
    assert set(odds) == {outcome for outcome, p in fair.items() if p >= IMPOSSIBLE}
    assert max(fair.values()) < policy.withdraw_at
    return odds


@settings(max_examples=600, deadline=None)
@given(_fair_books(), POLICIES, st.sampled_from(MarketType))
def test_no_offered_book_sums_below_one_plus_the_minimum_margin(
    fair: dict[str, float], policy: OddsPolicy, market_type: MarketType
) -> None:
    _check_offer(policy, fair, market_type)


STRENGTH = st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 0.001, 0.5, 0.999, 1.0]))


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([3, 5, 7]),
    st.data(),
    STRENGTH,
    STRENGTH,
    st.sampled_from(Side),
    st.booleans(),
)
def test_the_law_holds_over_random_positions_and_strengths(
    best_of: int, data: st.DataObject, home_serve: float, away_serve: float, server: Side, expedite: bool
) -> None:
    """Every market the model prices at a random position, under random strengths (the extremes
    included), offered by the default policy: no book below 1 + the minimum margin."""
    fmt = MatchFormat(best_of=best_of)
    to_win = best_of // 2 + 1
    home_games = data.draw(st.integers(0, to_win - 1))
    away_games = data.draw(st.integers(0, to_win - 1))
    home = data.draw(st.integers(0, 14))
    away = data.draw(st.integers(0, 14))
    if (max(home, away) >= 11 and abs(home - away) >= 2) or (abs(home - away) > 2 and max(home, away) > 11):
        home, away = 10, 10
    game = home_games + away_games + 1
    catalogue = DEFAULT_MARKETS.catalogue
    markets: list[Market] = catalogue.match_markets(fmt)
    for number in range(game, best_of + 1):
        markets.extend(catalogue.game_markets(number))
    point = catalogue.point_market(game, home + away + 1)
    assert point is not None
    markets.append(point)
    position = Position(fmt, (home_games, away_games), game, (home, away), server, expedite)
    policy = Pricing().odds
    types = {market.id: market.type for market in markets}
    for market_id, fair in price(position, Strengths(home_serve, away_serve), markets).items():
        _check_offer(policy, fair, types[market_id])


def test_near_certain_and_certain_markets_are_withdrawn_and_impossible_outcomes_not_listed() -> None:
    policy = OddsPolicy()
    assert policy.offer({"home": 0.97, "away": 0.03}, MarketType.MATCH_WINNER) == {}
    assert policy.offer({"over": 1.0, "under": 0.0}, MarketType.TOTAL_GAMES) == {}
    offered = policy.offer({"home": 0.6, "away": 0.4, "neither": 5e-17}, MarketType.RACE_TO)
    assert set(offered) == {"home", "away"}
    # the example: 2-0, 10-2 in a best of 5 at 0.6 / 0.55 on serve
    fmt = MatchFormat(best_of=5)
    position = Position(fmt, (2, 0), 3, (10, 2), Side.HOME)
    markets = [
        Market(MarketType.MATCH_WINNER),
        Market(MarketType.CORRECT_SCORE),
        Market(MarketType.TOTAL_GAMES, line=3.5),
    ]
    for market in markets:
        fair = price(position, Strengths(0.6, 0.55), [market])[market.id]
        assert policy.offer(fair, market.type) == {}, market.id


def test_long_shots_carry_more_of_the_margin_than_favourites() -> None:
    """Shin (the default) and power load long shots; proportional does not."""
    fair = {"favourite": 0.85, "outsider": 0.15}
    for method in (MarginMethod.SHIN, MarginMethod.POWER):
        odds = OddsPolicy(margins=0.06, method=method).offer(fair, MarketType.MATCH_WINNER)
        favourite_cut = 1.0 / odds["favourite"] / fair["favourite"]
        outsider_cut = 1.0 / odds["outsider"] / fair["outsider"]
        assert outsider_cut > favourite_cut > 1.0, method


@pytest.mark.parametrize("method", list(MarginMethod))
def test_remove_margin_inverts_the_method(method: MarginMethod) -> None:
    fair = {"home": 0.62, "away": 0.38}
    implied = dict(zip(fair, offer.implied_probabilities(list(fair.values()), 0.07, _METHOD[method]), strict=True))
    assert math.isclose(sum(implied.values()), 1.07, abs_tol=1e-9)
    back = remove_margin({k: 1.0 / q for k, q in implied.items()}, method)
    for outcome in fair:
        assert math.isclose(back[outcome], fair[outcome], abs_tol=1e-6), (method, back)


def test_a_book_with_a_sure_profit_or_a_bad_price_is_refused_as_pre_match_odds() -> None:
    with pytest.raises(ValueError, match="sure profit"):
        remove_margin({"home": 2.2, "away": 2.2})
    with pytest.raises(ValueError, match="above 1"):
        remove_margin({"home": 1.0, "away": 20.0})


def test_bad_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="margin"):
        OddsPolicy(margins=0.01)  # below the minimum margin
    with pytest.raises(ValueError, match="maximum price"):
        OddsPolicy(max_price=1.0)
    with pytest.raises(ValueError, match="withdraw_at"):
        OddsPolicy(withdraw_at=0.4)


def test_pre_match_odds_set_the_edge_the_first_price_gives_back() -> None:
    fmt = MatchFormat(best_of=5)
    pricing = Pricing().with_pre_match(1.60, 2.45, fmt)
    fair = remove_margin({"home": 1.60, "away": 2.45})
    assert pricing.home_edge > 0.0
    from engine.core.pricing.model import match_win_at

    first = match_win_at(fmt, (0, 0), (0, 0), pricing.prior, pricing.home_edge)
    assert math.isclose(first, fair["home"], abs_tol=1e-6)


def test_price_odds_on_the_command_line_offers_only_safe_books(capsys: pytest.CaptureFixture[str]) -> None:
    """Done-when of issue 21: at 2-0, 10-2 of a best of 5 no market has a book below 1 and the
    near-certain ones (match winner, correct score, game 3) are withdrawn."""
    from engine.cli import main

    args = ["price", "--best-of", "5", "--score", "11-2,11-3,10-2", "--server", "home"]
    assert main([*args, "--p-home-serve", "0.6", "--p-away-serve", "0.55", "--odds"]) == 0
    offered = json.loads(capsys.readouterr().out)
    assert offered
    for market_id, odds in offered.items():
        assert book_sum(odds) >= 1.02, market_id
    for near_certain in ("match_winner", "correct_score", "total_games:3.5", "game_winner:3", "race_to:3:5"):
        assert near_certain not in offered
    assert "neither" not in offered["race_to:4:5"]  # first to 5 in a game to 11: someone gets there


def test_pre_match_odds_on_the_command_line_start_the_prices(capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import main

    recording = Path(__file__).resolve().parents[3] / "fixtures_data" / "ittf_ws_bo5.jsonl"
    assert main(["replay", str(recording), "--trace", "--pre-match", "1.40", "3.00"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    first = next(
        signal
        for line in lines
        for signal in line["signals"]
        if signal["signal"] == "PricesChanged" and "match_winner" in signal["prices"]
    )
    fair = remove_margin({"home": 1.40, "away": 3.00})
    assert math.isclose(first["prices"]["match_winner"]["home"], fair["home"], abs_tol=1e-6)


@settings(max_examples=300, deadline=None)
@given(st.floats(0.001, 0.999), st.floats(0.0, 0.3))
def test_shin_in_closed_form_for_two_outcomes_equals_the_general_solver(p: float, margin: float) -> None:
    two = offer.implied_probabilities([p, 1 - p], margin, offer.METHOD_SHIN)
    # a third, negligible outcome: the general solver's path
    general = offer.implied_probabilities([p, 1 - p, 1e-300], margin, offer.METHOD_SHIN)
    assert math.isclose(two[0], general[0], abs_tol=1e-9)
    assert math.isclose(two[1], general[1], abs_tol=1e-9)
