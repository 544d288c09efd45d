"""What pricing costs: the exact model for every market of a best-of-7, and the price step of the
reducer after a scored point, against the status-only step.

    python bench/pricing.py [--repeat 2000]

Medians of `--repeat` timed calls, in one run: `price()` for the 31 undecided markets of a best-of-7
at 1-1 in games and 4-3 in game 3 (the default catalogue); `advance_prices` on every state of the
recorded best-of-7 right after a point was scored (its prices recomputed from the score); and one
whole `reduce` of a Point Scored input with pricing on and off.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from engine import playback
from engine.core.config import DEFAULT_MARKETS
from engine.core.inputs import Input
from engine.core.match.rules import MatchFormat, Side
from engine.core.pricing import kernel
from engine.core.pricing.game import Strengths
from engine.core.pricing.model import Position, market_ask, posterior_nodes, price, price_rows
from engine.core.pricing.prices import NO_PRICES, advance_prices
from engine.core.reduce import reduce
from engine.core.state import MatchState
from engine.io.recording import read_recording

SOURCE = Path(__file__).resolve().parent.parent / "fixtures_data" / "aicup2026_m05_female_bo7.jsonl"


def median_us(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def scored_steps(pricing: bool = True) -> list[tuple[MatchState, Input, MatchState]]:
    """(state before, the input, state after) for every input of the recording that scored a point,
    folded with pricing on or off."""
    recording = read_recording(SOURCE)
    state = playback.start_state(recording)
    if not pricing:
        state = attrs.evolve(state, markets=attrs.evolve(DEFAULT_MARKETS, pricing=None))
    out = []
    for _, message in playback.inputs(recording):
        after, _ = reduce(state, message)
        if sum(map(sum, after.points)) > sum(map(sum, state.points)) and after.winner is None:
            out.append((state, message, after))
        state = after
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    fmt = MatchFormat(best_of=7)
    catalogue = DEFAULT_MARKETS.catalogue
    markets = catalogue.match_markets(fmt)
    for game in range(3, 8):
        markets.extend(catalogue.game_markets(game))
    point = catalogue.point_market(3, 8)
    markets.extend([point] if point is not None else [])
    position = Position(fmt, (1, 1), 3, (4, 3), Side.HOME)
    odds = Strengths(0.58, 0.53)
    priced = len(price(position, odds, markets))
    model = median_us(lambda: price(position, odds, markets), args.repeat)
    # The kernel alone at the same position, over a posterior of 5 strengths and one server.
    nodes = posterior_nodes(40, 35)
    asks = [market_ask(market) for market in markets]
    score = kernel.Score(11, 4, 1, 1, 3, 4, 3, False)
    servings = [kernel.Serving(True, True)]
    alone = median_us(lambda: kernel.price_position(score, servings, nodes, asks), args.repeat)
    rows = median_us(lambda: price_rows([position], nodes, markets), args.repeat)

    steps = scored_steps()
    cleared = [attrs.evolve(after, prices=NO_PRICES) for _, _, after in steps]  # forces the recompute
    rounds = max(1, args.repeat // len(steps))

    def advance(s: MatchState) -> object:
        return advance_prices(s.match, s.book, s.markets.pricing, s.prices)

    step = statistics.median(median_us(lambda s=state: advance(s), rounds) for state in cleared)
    unpriced = [(before, message) for before, message, _ in scored_steps(pricing=False)]
    with_prices = statistics.median(
        median_us(lambda b=before, m=message: reduce(b, m), rounds) for before, message, _ in steps
    )
    without = statistics.median(
        median_us(lambda b=before, m=message: reduce(b, m), rounds) for before, message in unpriced
    )
    print(
        f"{platform.python_version()}; medians of {args.repeat} calls (per state: {rounds} calls x {len(steps)} points)"
    )
    print(f"price(): {priced} markets of a best-of-7 at 1-1, 4-3 in game 3     {model:8.1f} us")
    build = "compiled" if kernel.COMPILED else "plain Python"
    print(f"the kernel alone ({build}), same markets, 5 posterior strengths  {alone:8.1f} us")
    print(f"price_rows: the kernel with its inputs built and outputs named  {rows:8.1f} us")
    print(f"advance_prices after a point scored (recorded bo7)             {step:8.1f} us")
    print(f"reduce(Point Scored) with prices                               {with_prices:8.1f} us")
    print(f"reduce(Point Scored) with pricing off                          {without:8.1f} us")
    print(f"the prices cost {with_prices / without:.1f}x the status-only step on a scored point")


if __name__ == "__main__":
    main()
