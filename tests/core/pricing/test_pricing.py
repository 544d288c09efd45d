"""The exact pricing model (issue 15, first part): its laws, and a seeded Monte-Carlo of the same
rules (ITTF 2.11-2.13: games to 11 by 2, two serves each, one each from 10-10, the first server
alternating by game) that it must agree with."""

from __future__ import annotations

import csv
import json
import math
import random
from pathlib import Path

import attrs
import pytest

from engine import playback
from engine.cli import main
from engine.core.config import DEFAULT_MARKETS, MarketConfig
from engine.core.events import Event
from engine.core.markets.catalogue import Market, MarketCatalogue, MarketType, parse_market
from engine.core.markets.signals import PricesChanged
from engine.core.match.rules import MatchFormat, Side, game_winner, server
from engine.core.pricing.model import (
    PRIOR,
    Position,
    Pricing,
    Prior,
    Strengths,
    estimate,
    home_edge_for,
    price,
    price_reference,
)
from engine.core.reduce import reduce
from engine.core.state import MatchState
from engine.io.recording import read_recording

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures_data"
CATALOGUE = MarketCatalogue(race_to=(5, 7, 9, 11))
BO5 = MatchFormat(best_of=5)
MIDDLE = Position(BO5, (1, 1), 3, (9, 8), Side.AWAY)
ODDS = Strengths(home_serve=0.62, away_serve=0.55)


def _markets(position: Position) -> list[Market]:
    fmt = position.format
    games = range(position.game, (fmt.best_of or 0) + 1)
    markets = CATALOGUE.match_markets(fmt)
    for game in games:
        markets.extend(CATALOGUE.game_markets(game))
    point = CATALOGUE.point_market(position.game, sum(position.points) + 1)
    return [*markets, *([point] if point is not None else [])]


POSITIONS = [
    Position(BO5, (0, 0), 1, (0, 0), Side.HOME),
    MIDDLE,
    Position(MatchFormat(best_of=7), (3, 2), 6, (10, 10), Side.HOME),
    Position(BO5, (2, 2), 5, (12, 13), Side.HOME),
    Position(BO5, (0, 0), 1, (3, 1), Side.AWAY, expedite=True),
]


@pytest.mark.parametrize("position", POSITIONS)
def test_the_outcomes_of_every_market_sum_to_one(position: Position) -> None:
    prices = price(position, ODDS, _markets(position))
    assert prices
    for market_id, outcomes in prices.items():
        assert math.isclose(sum(outcomes.values()), 1.0, abs_tol=1e-9), market_id
        assert all(0.0 <= value <= 1.0 + 1e-12 for value in outcomes.values()), market_id


def _swapped(position: Position) -> Position:
    home, away = position.games
    points_home, points_away = position.points
    return Position(position.format, (away, home), position.game, (points_away, points_home), position.server.other)


def test_swapping_the_sides_swaps_the_prices() -> None:
    markets = _markets(MIDDLE)
    prices = price(MIDDLE, ODDS, markets)
    mirrored = price(_swapped(MIDDLE), Strengths(ODDS.away_serve, ODDS.home_serve), markets)
    flip = {"home": "away", "away": "home"}
    for market_id, outcomes in prices.items():
        if market_id == "correct_score":
            assert all(
                math.isclose(p, mirrored[market_id]["-".join(reversed(score.split("-")))])
                for score, p in outcomes.items()
            )
            continue
        for outcome, p in outcomes.items():
            assert math.isclose(p, mirrored[market_id][flip.get(outcome, outcome)], abs_tol=1e-12), market_id


def test_the_match_price_grows_with_each_side_s_serve() -> None:
    match = [Market(MarketType.MATCH_WINNER)]
    homes = [price(MIDDLE, Strengths(p, 0.55), match)["match_winner"]["home"] for p in (0.3, 0.45, 0.55, 0.7, 0.9)]
    aways = [price(MIDDLE, Strengths(0.62, q), match)["match_winner"]["away"] for q in (0.3, 0.45, 0.55, 0.7, 0.9)]
    assert homes == sorted(homes)
    assert aways == sorted(aways)
    assert len(set(homes)) == len(homes)


def test_the_deuce_closed_form_and_the_even_game() -> None:
    """From a tie at 10-10 the game is won with ab / (ab + (1-a)(1-b)); with equal serve strengths
    a game from 0-0 is even whoever serves first (the serve advantage cancels over the game)."""
    a, b = 0.62, 1 - 0.55
    at_deuce = Position(BO5, (0, 0), 1, (10, 10), Side.HOME)
    found = price(at_deuce, ODDS, [Market(MarketType.GAME_WINNER, 1)])["game_winner:1"]["home"]
    assert math.isclose(found, a * b / (a * b + (1 - a) * (1 - b)))
    for p in (0.3, 0.5, 0.7):
        even = price(POSITIONS[0], Strengths(p, p), [Market(MarketType.GAME_WINNER, 1)])
        assert math.isclose(even["game_winner:1"]["home"], 0.5)


def _simulate(position: Position, odds: Strengths, rng: random.Random) -> dict[str, str]:
    """One match played point by point from `position` with the engine's own rules, as outcomes."""
    fmt = position.format
    assert fmt.best_of is not None
    to_win = fmt.best_of // 2 + 1
    # The match's first server that puts position.server on serve at this score.
    first = Side.HOME if server(Side.HOME, position.game, *position.points, None, fmt) is position.server else Side.AWAY
    games = list(position.games)
    game, (home, away) = position.game, position.points
    seen: dict[str, str] = {}
    total_points: dict[int, int] = {}
    races: dict[tuple[int, int], str] = {}
    while max(games) < to_win:
        serving = server(first, game, home, away, None, fmt)
        p = odds.home_wins_point(serving)
        if game == position.game and home + away == sum(position.points):
            seen[f"point_winner:{game}:{home + away + 1}"] = "home" if rng.random() < p else "away"
            won_home = seen[f"point_winner:{game}:{home + away + 1}"] == "home"
        else:
            won_home = rng.random() < p
        home, away = (home + 1, away) if won_home else (home, away + 1)
        for target in CATALOGUE.race_to:
            if (game, target) not in races and (home == target or away == target):
                races[(game, target)] = "home" if home == target else "away"
        decided = game_winner(home, away, fmt)
        if decided is not None:
            seen[f"game_winner:{game}"] = decided.value
            total_points[game] = home + away
            games[0 if decided is Side.HOME else 1] += 1
            game, home, away = game + 1, 0, 0
    for (race_game, target), side in races.items():
        seen[f"race_to:{race_game}:{target}"] = side
    for race_game in total_points:
        for target in CATALOGUE.race_to:
            seen.setdefault(f"race_to:{race_game}:{target}", "neither")
        seen[f"game_total_points:{race_game}:18.5"] = "over" if total_points[race_game] > 18.5 else "under"
    seen["match_winner"] = "home" if games[0] > games[1] else "away"
    seen["correct_score"] = f"{games[0]}-{games[1]}"
    for line in (3.5, 4.5):
        seen[f"total_games:{line}"] = "over" if sum(games) > line else "under"
    return seen


def test_exact_prices_agree_with_a_seeded_monte_carlo_of_the_same_rules() -> None:
    rng = random.Random(2026)
    runs = 6000
    counts: dict[str, dict[str, int]] = {}
    for _ in range(runs):
        for market_id, outcome in _simulate(MIDDLE, ODDS, rng).items():
            counts.setdefault(market_id, {}).setdefault(outcome, 0)
            counts[market_id][outcome] += 1
    prices = price(MIDDLE, ODDS, _markets(MIDDLE))
    checked = 0
    for market_id, outcomes in prices.items():
        played = sum(counts.get(market_id, {}).values())
        if played < 1000:  # a game seldom played: too few samples to judge
            continue
        for outcome, p in outcomes.items():
            observed = counts[market_id].get(outcome, 0) / played
            sigma = math.sqrt(max(p * (1 - p), 1e-4) / played)
            assert abs(observed - p) <= 4.5 * sigma, (market_id, outcome, p, observed)
            checked += 1
    assert checked >= 20


def test_a_decided_market_has_no_price() -> None:
    """At 9-8 in game 3: games 1-2 are decided, so are the races to 5, 7 and 9, and past points."""
    asked = [
        Market(MarketType.GAME_WINNER, 1),
        Market(MarketType.RACE_TO, 3, number=5),
        Market(MarketType.RACE_TO, 3, number=7),
        Market(MarketType.POINT_WINNER, 3, number=4),
        Market(MarketType.RACE_TO, 3, number=9),
        Market(MarketType.RACE_TO, 3, number=11),
        Market(MarketType.POINT_WINNER, 3, number=18),
    ]
    assert set(price(MIDDLE, ODDS, asked)) == {"race_to:3:11", "point_winner:3:18"}


REALDATA = Path(__file__).resolve().parents[3] / "fixtures_data" / "realdata" / "aicup2026_points_derived.csv"


def _observed_points() -> list[dict[str, str]]:
    with open(REALDATA, newline="") as source:
        return [row for row in csv.DictReader(source) if row["source"] == "observed"]


def test_the_prior_s_serve_is_the_server_s_share_of_the_real_rallies() -> None:
    """PRIOR.serve refitted: the server's share of the 514 observed AI CUP points."""
    rows = _observed_points()
    rate = sum(row["server"] == row["winner"] for row in rows) / len(rows)
    assert len(rows) == 514
    assert round(rate, 3) == PRIOR.serve


def test_one_strength_with_a_serve_edge_predicts_the_real_rallies_better_than_per_server_rates() -> None:
    """Why the estimate learns one strength (home's share of the points) rather than each side's
    serve apart: replaying the AI CUP points in order, it predicts each next point better (higher
    log likelihood) at every prior strength tried, and both beat the prior alone."""

    def per_server(strength: float) -> float:
        seen: dict[tuple[str, str], tuple[int, int]] = {}
        total = 0.0
        for row in _observed_points():
            key = (row["match"], row["server"])
            served, held = seen.get(key, (0, 0))
            p = (PRIOR.serve * strength + held) / (strength + served)
            won = row["server"] == row["winner"]
            total += math.log(p if won else 1 - p)
            seen[key] = (served + 1, held + won)
        return total

    def shared(strength: float) -> float:
        seen: dict[str, tuple[int, int]] = {}
        total = 0.0
        for row in _observed_points():
            first = row["playerA"]
            won_a, played = seen.get(row["match"], (0, 0))
            edge = (0.5 * strength + won_a) / (strength + played) - 0.5
            p_a = PRIOR.serve + edge if row["server"] == first else 1 - (PRIOR.serve - edge)
            a_won = row["winner"] == first
            total += math.log(p_a if a_won else 1 - p_a)
            seen[row["match"]] = (won_a + a_won, played + 1)
        return total

    for strength in (10.0, 20.0, 40.0, PRIOR.strength):
        assert shared(strength) > per_server(strength) > shared(1e9)


def test_the_estimate_starts_at_the_prior_and_follows_the_points_played() -> None:
    recording = read_recording(FIXTURES / "aicup2026_m05_female_bo7.jsonl")
    start = estimate(playback.start_state(recording).match.play)
    assert (start.home_serve, start.away_serve) == (PRIOR.serve, PRIOR.serve)
    final = playback.fold(recording).match.play
    after = estimate(final)
    assert after == estimate(final)  # pure
    assert after.away_serve > PRIOR.serve > after.home_serve  # the winner (away, 4-1) won more points
    assert math.isclose(after.home_serve + after.away_serve, 2 * PRIOR.serve)  # one strength, one serve edge
    edge = estimate(final, home_edge=0.05)
    assert edge.home_serve > after.home_serve
    assert edge.away_serve < after.away_serve
    weaker = estimate(final, Prior(PRIOR.serve, PRIOR.strength / 4))
    assert weaker.away_serve > after.away_serve  # a weaker prior follows the points more


def test_the_kernel_equals_the_plain_recursion_at_every_score() -> None:
    """The kernel (reach probabilities forward once, the deuce closed) against the plain backward
    recursion: every score of a game, both servers, with and without the expedite system."""
    fmt = MatchFormat(best_of=7)
    markets = [
        *CATALOGUE.game_markets(1),
        *(Market(MarketType.GAME_TOTAL_POINTS, 1, line=line) for line in (14.5, 20.5, 23.5)),
    ]
    checked = 0
    for home in range(11):
        for away in range(11):
            for serving in Side:
                for expedite in (False, True):
                    if game_winner(home, away, fmt) is not None:
                        continue
                    position = Position(fmt, (0, 0), 1, (home, away), serving, expedite)
                    fast, walked = price(position, ODDS, markets), price_reference(position, ODDS, markets)
                    assert list(fast) == list(walked)
                    for market_id, outcomes in walked.items():
                        for outcome, p in outcomes.items():
                            assert math.isclose(fast[market_id][outcome], p, abs_tol=1e-12), (market_id, outcome)
                    checked += 1
    assert checked == 2 * 2 * 121


# --- prices on the book (issue 15.3) -------------------------------------------------------------


def _folded(config: MarketConfig) -> list[tuple[MatchState, MatchState, list[Event]]]:
    recording = read_recording(FIXTURES / "aicup2026_m05_female_bo7.jsonl")
    state = attrs.evolve(playback.start_state(recording), markets=config)
    out = []
    for _, message in playback.inputs(recording):
        after, events = reduce(state, message)
        out.append((state, after, events))
        state = after
    return out


def _played(state: MatchState) -> int:
    return sum(home + away for home, away in state.points)


def test_prices_move_only_when_the_score_or_the_undecided_markets_do() -> None:
    """A frame that changes no score, decides or offers no market and does not show the first
    server (a rally starts, a heartbeat, a stoppage) keeps the very same prices and sends no price
    signal; a point scored moves them."""
    steps = _folded(DEFAULT_MARKETS)
    quiet = moved = 0
    for before, after, events in steps:
        signals = [event for event in events if isinstance(event, PricesChanged)]
        same_score = (
            before.match.play.points == after.match.play.points and before.match.play.games == after.match.play.games
        )
        same_markets = set(before.book.undecided()) == set(after.book.undecided())
        if same_score and same_markets and before.match.play.first_server == after.match.play.first_server:
            assert not signals
            assert after.prices is before.prices
            quiet += 1
        elif _played(after) > _played(before) and after.result is None:  # a point scored
            assert len(signals) == 1
            assert signals[0].prices["match_winner"] == after.prices.prices["match_winner"].fair
            moved += 1
    assert quiet > moved > 90  # 96 points in the match


def test_pricing_off_sends_the_same_status_signals_and_no_price() -> None:
    priced = _folded(DEFAULT_MARKETS)
    unpriced = _folded(attrs.evolve(DEFAULT_MARKETS, pricing=None))
    for (_, with_prices, events), (_, without, plain) in zip(priced, unpriced, strict=True):
        assert not any(isinstance(event, PricesChanged) for event in plain)
        assert [e for e in events if not isinstance(e, PricesChanged)] == plain
        assert without.book == with_prices.book
        assert not without.prices.prices


def test_replay_summary_prices_the_undecided_markets_of_an_unfinished_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 15.4: a recording cut in game 3 — undecided markets carry "prices" (summing to 1),
    settled ones do not; the match winner equals the engine's own price."""
    lines = (FIXTURES / "aicup2026_m05_female_bo7.jsonl").read_text().splitlines()
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(lines[: len(lines) * 2 // 5]) + "\n")
    assert main(["replay", str(cut), "--summary"]) == 0
    markets = json.loads(capsys.readouterr().out)["markets"]
    priced = {market_id: entry["prices"] for market_id, entry in markets.items() if "prices" in entry}
    assert {"match_winner", "game_winner:7"} <= set(priced)
    assert "game_winner:1" not in priced
    assert markets["game_winner:1"]["status"] == "settled"
    for market_id, outcomes in priced.items():
        assert markets[market_id]["status"] in {"open", "suspended"}
        assert math.isclose(sum(outcomes.values()), 1.0, abs_tol=1e-9), market_id
    folded = playback.fold(read_recording(cut))
    assert priced["match_winner"] == folded.prices.prices["match_winner"].fair


def test_a_pre_match_price_becomes_the_edge_that_reproduces_it() -> None:
    """Issue 15.2: a user's pre-match P(home wins) turned into point strengths: the book's first
    match-winner price (first server unknown: both averaged) gives it back."""
    recording = read_recording(FIXTURES / "aicup2026_m05_female_bo7.jsonl")
    fmt = MatchFormat(best_of=7)
    for wanted in (0.2, 0.5, 0.73):
        edge = home_edge_for(wanted, fmt)
        assert (edge > 0) == (wanted > 0.5) or wanted == 0.5
        config = attrs.evolve(DEFAULT_MARKETS, pricing=Pricing(home_edge=edge))
        state = playback.start_state(recording, markets=config)
        first, _ = reduce(state, next(message for _, message in playback.inputs(recording)))
        assert math.isclose(first.prices.prices["match_winner"].fair["home"], wanted, abs_tol=1e-6)
    with pytest.raises(ValueError, match="format"):
        home_edge_for(0.6, MatchFormat(best_of=None))


def test_a_receiver_cannot_change_the_state_s_prices_through_a_signal() -> None:
    """The signal and the state share the price mappings: they are read-only."""
    _, after, events = next(step for step in _folded(DEFAULT_MARKETS) if step[2])
    (signal,) = [event for event in events if isinstance(event, PricesChanged)]
    with pytest.raises(TypeError):
        signal.prices["match_winner"]["home"] = 1.0  # type: ignore[index]
    with pytest.raises(TypeError):
        signal.prices["match_winner"] = {}  # type: ignore[index]
    assert math.isclose(after.prices["match_winner"].fair["home"], 0.5)


def _rules_game(first_of_match: Side, game: int, expedite_from: int | None, odds: Strengths, fmt: MatchFormat):  # type: ignore[no-untyped-def]
    """(P(home wins game `game`), P(home first to 5), P(away first to 5)) by brute force over the
    points, each point's server from `rules.server` alone (independent of the pricing code)."""
    import functools

    from engine.core.match import rules

    @functools.cache
    def walk(home: int, away: int) -> tuple[float, float, float]:
        if rules.game_winner(home, away, fmt) is not None or home + away > 120:
            won = 1.0 if home > away else 0.0
            return won, float(home >= 5 and away < 5), float(away >= 5 and home < 5)
        serving = rules.server(first_of_match, game, home, away, expedite_from, fmt)
        p = odds.home_wins_point(serving)
        if max(home, away) == 5 and min(home, away) < 5:
            race = (1.0, 0.0) if home == 5 else (0.0, 1.0)
            win_h = walk(home + 1, away)[0]
            win_a = walk(home, away + 1)[0]
            return p * win_h + (1 - p) * win_a, *race
        h = walk(home + 1, away)
        a = walk(home, away + 1)
        return tuple(p * x + (1 - p) * y for x, y in zip(h, a, strict=True))  # type: ignore[return-value]

    return walk(0, 0)


@pytest.mark.parametrize("expedite_from", [3, 4, 5, 6])
def test_the_opener_of_later_games_follows_the_service_order_before_the_expedite_system(expedite_from: int) -> None:
    """Issue 21.3: at 3-3 of game 3 (1-1 in games) with the expedite system on from point
    `expedite_from` of game 3 (odd and even starts), who opens game 4 comes from the normal service
    order before the expedite system; the model priced later games with the wrong opener when it
    began after an odd number of points (race_to:4:5 0.5825 where 0.5414 is right)."""
    from engine.core.match import rules

    fmt = MatchFormat(best_of=5)
    odds = Strengths(0.62, 0.55)
    for first_of_match in Side:
        serving = rules.server(first_of_match, 3, 3, 3, expedite_from, fmt)
        position = Position(fmt, (1, 1), 3, (3, 3), serving, True, expedite_from)
        markets = [parse_market("game_winner:4"), parse_market("race_to:4:5")]
        priced = price(position, odds, markets)
        win, race_home, race_away = _rules_game(first_of_match, 4, 0, odds, fmt)
        assert math.isclose(priced["game_winner:4"]["home"], win, abs_tol=1e-9)
        assert math.isclose(priced["race_to:4:5"]["home"], race_home, abs_tol=1e-9)
        assert math.isclose(priced["race_to:4:5"]["away"], race_away, abs_tol=1e-9)


def test_price_without_strengths_gives_the_live_engine_s_prices(capsys: pytest.CaptureFixture[str]) -> None:
    """`ttengine price` with no --p-*-serve averages over the same posterior as the live prices."""
    import json

    from engine.cli import main

    recording = read_recording(FIXTURES / "aicup2026_m05_female_bo7.jsonl")
    states = [
        state for _, _, state, _ in playback.steps(recording) if state.points and not state.match.play.game_decided()
    ]
    for state in (states[5], states[60], states[120]):
        score = ",".join(f"{h}-{a}" for h, a in state.points)
        server = state.server
        assert server is not None
        assert main(["price", "--best-of", "7", "--score", score, "--server", server.value]) == 0
        printed = json.loads(capsys.readouterr().out)
        for market_id in ("match_winner", "correct_score", f"game_winner:{state.current_game}"):
            for outcome, p in state.prices[market_id].fair.items():
                assert math.isclose(printed[market_id][outcome], p, abs_tol=1e-12), (market_id, outcome)
