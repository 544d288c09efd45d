"""Which margin method (issue 21.1): the bettor's return at our odds, by how likely the model says
the side is, on the in-play match-winner forecasts of the ITTF matches of 2023-2026.

For every forecast (a game boundary) both sides are priced with a 5 % margin by each method, rounded
down onto the ladder, capped at 101 and withdrawn at 0.97 (as `engine.core.pricing.odds` does), and a unit
stake on each side at our odds returns odds - 1 if the side won the match, -1 otherwise. A method
that loads long shots too little leaves the bettor a positive return on underdogs (the
favourite-longshot bias: the model's 2-10 % sides won more often than it said).

    python bench/margins.py [--margin 0.05] [--results fixtures_data/realdata/ittf_results_matches_2014_2026.csv.gz]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from engine.analysis import calibration, ittf_results
from engine.core.markets.signals import MarketType
from engine.core.pricing.model import PRIOR
from engine.core.pricing.odds import MarginMethod, OddsPolicy, book_sum, ladder_floor

RESULTS = (
    Path(__file__).resolve().parent.parent / "fixtures_data" / "realdata" / "ittf_results_matches_2014_2026.csv.gz"
)
BUCKETS = [(0.0, 0.02), (0.02, 0.05), (0.05, 0.10), (0.10, 0.25), (0.25, 0.50), (0.50, 0.75), (0.75, 0.90), (0.90, 1.0)]


def _solve(total: Callable[[float], float], target: float, low: float, high: float) -> float:
    """The x in [low, high] with total(x) = target, total increasing (bisection)."""
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if total(middle) < target else (low, middle)
    return (low + high) / 2


def odds_ratio(fair: dict[str, float], margin: float) -> dict[str, float]:
    """q/(1-q) = c * p/(1-p), one c for the market."""

    def implied(c: float) -> dict[str, float]:
        return {k: c * p / (1 - p + c * p) for k, p in fair.items()}

    c = _solve(lambda c: sum(implied(c).values()), 1 + margin, 1.0, 1e6)
    return implied(c)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--margin", type=float, default=0.05)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    results, _ = ittf_results.read_results(args.results)
    found = calibration.forecasts([r for r in results if r.year >= 2023], PRIOR)
    policies = {method: OddsPolicy(margins=args.margin, method=method) for method in MarginMethod}
    power = policies[MarginMethod.POWER]
    methods: dict[str, Callable[[dict[str, float]], dict[str, float]]] = {
        "proportional": lambda fair: policies[MarginMethod.PROPORTIONAL].offer(fair, MarketType.MATCH_WINNER),
        "power": lambda fair: power.offer(fair, MarketType.MATCH_WINNER),
        "odds ratio": lambda fair: _laddered(fair, odds_ratio(fair, args.margin), power),
        "Shin": lambda fair: policies[MarginMethod.SHIN].offer(fair, MarketType.MATCH_WINNER),  # the default
    }
    print(f"{len(found)} forecasts (2023-2026), both sides each, margin {args.margin:.0%}")
    print("bettor's mean return per unit stake by the model's probability of the side (n, observed win rate):")
    header = f"{'model p':>12} {'n':>6} {'won':>6} {'model':>6}  " + "  ".join(f"{name:>12}" for name in methods)
    print(header)
    sides = [(f.model, f.home_won) for f in found] + [(1 - f.model, not f.home_won) for f in found]
    offered = {name: [fn({"home": f.model, "away": 1 - f.model}) for f in found] for name, fn in methods.items()}
    for low, high in BUCKETS:
        picked = [(i, p, won) for i, (p, won) in enumerate(sides) if low <= p < high]
        if not picked:
            continue
        row = f"{low:5.2f}-{high:4.2f}  {len(picked):6d} {sum(w for _, _, w in picked) / len(picked):6.3f}"
        row += f" {sum(p for _, p, _ in picked) / len(picked):6.3f}  "
        cells = []
        for name in methods:
            returns = []
            for i, _, won in picked:
                odds = offered[name][i % len(found)]
                if not odds:
                    continue  # withdrawn: no bet
                price = odds["home" if i < len(found) else "away"]
                returns.append(price - 1 if won else -1.0)
            cells.append(f"{sum(returns) / len(returns):+12.3f}" if returns else f"{'withdrawn':>12}")
        print(row + "  ".join(cells))
    for name in methods:
        sums = [book_sum(o) for o in offered[name] if o]
        print(f"{name:>12}: books offered {len(sums)}, least book sum {min(sums):.4f}")


def _laddered(fair: dict[str, float], implied: dict[str, float], policy: OddsPolicy) -> dict[str, float]:
    """Implied probabilities onto the ladder and cap, withdrawn as the policy withdraws (for the
    bench's other methods)."""
    if max(fair.values()) >= policy.withdraw_at:
        return {}
    out = {}
    cap = ladder_floor(policy.max_price) or 100.0
    for k, q in implied.items():
        price = ladder_floor(1 / q)
        if price is None:
            return {}
        out[k] = min(price, cap)
    return out


if __name__ == "__main__":
    main()
