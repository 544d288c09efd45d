"""Sure bets across one fixture's offered odds (issue 29.1): the whole corpus and random states.

    python bench/surebets.py [--random 300] [--seed 29]

For every recording in fixtures_data (the format from its name when its metadata lacks it), after
every input: the odds open for betting, and the linear programme of `engine.testing.surebets` for
the best sure return. Then `--random` random positions (formats of 3-7 games, any score, a
posterior from random points): the same programme on our prices and on the prices a future game
had before issue 29 (the posterior's plain average, as if the game were always played). Prints the
counts, the largest return found, and the programme's median time.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import time
from pathlib import Path

from engine import playback
from engine.core.config import DEFAULT_MARKETS
from engine.core.markets.catalogue import Market
from engine.core.markets.signals import MarketStatus
from engine.core.match.rules import MatchFormat, Side, game_winner
from engine.core.pricing.model import Position, posterior, price_reference, price_weighted
from engine.core.reduce import reduce
from engine.io.recording import read_recording
from engine.testing.surebets import sure_profit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures_data"


def corpus() -> tuple[int, int, float, list[float]]:
    """(states checked, sure bets, the largest return, the programme's times)."""
    checked = found = 0
    largest = -1.0
    times: list[float] = []
    for path in sorted(FIXTURES.glob("*.jsonl")):
        recording = read_recording(path)
        named = re.search(r"bo(\d)", path.stem)
        state = playback.start_state(recording, int(named[1]) if named else None)
        for _, message in playback.inputs(recording):
            state, _ = reduce(state, message)
            play = state.match.play
            offered = {
                market_id: dict(price.odds)
                for market_id, price in state.prices.items()
                if price.odds and state.book[market_id].status is MarketStatus.OPEN
            }
            if not offered or play.format.best_of is None:
                continue
            _, home, away = play.next_rally_position()
            start = time.perf_counter()
            profit = sure_profit(play.format, play.games, (home, away), offered).profit
            times.append(time.perf_counter() - start)
            checked += 1
            found += profit > 1e-9
            largest = max(largest, profit)
    return checked, found, largest, times


def random_states(count: int, seed: int) -> tuple[int, int, float, float]:
    """(sure bets in our prices, in the unconditional ones, the largest return of each)."""
    rng = random.Random(seed)
    catalogue = DEFAULT_MARKETS.catalogue
    ours = theirs = 0
    largest_ours = largest_theirs = -1.0
    for _ in range(count):
        fmt = MatchFormat(best_of=rng.choice([3, 5, 7]))
        to_win = fmt.games_to_win or 1
        games = (rng.randrange(to_win), rng.randrange(to_win))
        points = (0, 0) if rng.random() < 0.5 else (rng.randrange(11), rng.randrange(11))
        if game_winner(*points, fmt) is not None:
            points = (0, 0)
        position = Position(fmt, games, sum(games) + 1, points, rng.choice(list(Side)))
        markets: list[Market] = catalogue.match_markets(fmt)
        for game in range(position.game, (fmt.best_of or 1) + 1):
            markets.extend(catalogue.game_markets(game))
        point = catalogue.point_market(position.game, sum(points) + 1)
        markets.extend([point] if point is not None else [])
        played = sum(games) * 9 + sum(points)
        home_points = rng.randint(0, played)
        weighted = posterior(home_points, played - home_points)
        unconditional: dict[str, dict[str, float]] = {}
        for weight, strengths in weighted:
            for market_id, outcomes in price_reference(position, strengths, markets).items():
                into = unconditional.setdefault(market_id, {})
                for outcome, p in outcomes.items():
                    into[outcome] = into.get(outcome, 0.0) + weight * p
        for fair, mine in ((price_weighted(position, weighted, markets), True), (unconditional, False)):
            types = {market.id: market.type for market in markets}
            offered = {key: DEFAULT_MARKETS.pricing.odds.offer(value, types[key]) for key, value in fair.items()}  # type: ignore[union-attr]
            profit = sure_profit(fmt, games, points, {key: odds for key, odds in offered.items() if odds}).profit
            if mine:
                ours += profit > 1e-9
                largest_ours = max(largest_ours, profit)
            else:
                theirs += profit > 1e-9
                largest_theirs = max(largest_theirs, profit)
    return ours, theirs, largest_ours, largest_theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--random", type=int, default=300, help="random states (default 300)")
    parser.add_argument("--seed", type=int, default=29)
    args = parser.parse_args()
    checked, found, largest, times = corpus()
    print(f"corpus: {checked} states with odds open, {found} sure bets, the best sure return {largest:+.4f}")
    print(f"  the programme: median {statistics.median(times) * 1000:.1f} ms per state")
    ours, theirs, largest_ours, largest_theirs = random_states(args.random, args.seed)
    print(f"random states ({args.random}, seed {args.seed}):")
    print(f"  ours (a future game given it is played): {ours} sure bets, the best sure return {largest_ours:+.4f}")
    print(f"  before (as if always played): {theirs} sure bets, the best sure return {largest_theirs:+.4f}")


if __name__ == "__main__":
    main()
