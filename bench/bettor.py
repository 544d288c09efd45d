"""What a sharp bettor with a rating list makes against our offered odds (issue 29.3 and 29.5).

    python bench/bettor.py [--split 2023] [--results PATH] [--margins 0.05 0.15 0.30]

The bettor knows every player's Glicko rating from strictly earlier results (`ratings_before`) and
prices with our own model and that prior. On each match from `--split` on, at the opening and at
every game boundary, he backs the match-winner side whose offered odds his price calls +EV, one
unit. The offered odds come from our model without a prior (nothing known of the players) with
the match-level margin of `--margins`, and from our model with the same ratings' prior (the
default margin). Prints his return per unit staked by games played, with a 95 % bootstrap interval
resampling matches.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import attrs

from engine.analysis.ittf_results import read_results
from engine.analysis.rated import ratings_before
from engine.core.markets.catalogue import MarketType
from engine.core.pricing.model import DEFAULT_PRICING, PRIOR, match_win_at
from engine.ratings import prior_from

REALDATA = (
    Path(__file__).resolve().parent.parent / "fixtures_data" / "realdata" / "ittf_results_matches_2014_2026.csv.gz"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", type=int, default=2023)
    parser.add_argument("--results", type=Path, default=REALDATA)
    parser.add_argument("--margins", type=float, nargs="+", default=[0.05, 0.15, 0.30])
    parser.add_argument("--sample", type=int, default=4000, help="matches evaluated (a seeded sample; 0: all)")
    args = parser.parse_args()
    results, _ = read_results(args.results)
    pairs = ratings_before(results)
    chosen = [i for i, result in enumerate(results) if result.year >= args.split]
    if args.sample and len(chosen) > args.sample:
        chosen = sorted(random.Random(29).sample(chosen, args.sample))
    offers = {f"no prior, margin {margin:.0%}": margin for margin in args.margins}
    # profit[offer][games played] -> per match: (staked, returned)
    profit: dict[str, dict[int, dict[int, tuple[float, float]]]] = {name: {} for name in [*offers, "ratings prior"]}
    for index in chosen:
        result = results[index]
        fmt = result.format
        fixture = prior_from(*pairs[index], fmt)
        won, points = [0, 0], [0, 0]
        boundaries = [((0, 0), (0, 0))]
        for home, away in result.games[:-1]:
            won[0 if home > away else 1] += 1
            points[0] += home
            points[1] += away
            boundaries.append(((won[0], won[1]), (points[0], points[1])))
        for played, (games, scored) in enumerate(boundaries):
            sharp = match_win_at(fmt, games, scored, fixture.prior, fixture.home_edge)
            ours = {
                "no prior": match_win_at(fmt, games, scored, PRIOR),
                "ratings prior": sharp,
            }
            for name in profit:
                fair = ours["ratings prior"] if name == "ratings prior" else ours["no prior"]
                margin = offers.get(name)
                policy = DEFAULT_PRICING.odds if margin is None else attrs.evolve(DEFAULT_PRICING.odds, margins=margin)
                odds = policy.offer({"home": fair, "away": 1 - fair}, MarketType.MATCH_WINNER)
                for side, p in (("home", sharp), ("away", 1 - sharp)):
                    price = odds.get(side)
                    if price is not None and p * price > 1.0:
                        wins = result.home_won == (side == "home")
                        staked, returned = profit[name].setdefault(played, {}).get(index, (0.0, 0.0))
                        profit[name][played][index] = (staked + 1.0, returned + (price if wins else 0.0))
    print(f"{len(chosen)} matches from {args.split}; the bettor's return per unit staked (95 % interval by match):")
    for name, by_played in profit.items():
        print(f"  against {name}:")
        for played, per_match in sorted(by_played.items()):
            low, mid, high = _interval(per_match)
            bets = sum(staked for staked, _ in per_match.values())
            where = "opening" if played == 0 else f"after game {played}"
            print(f"    {where:14s} {bets:7.0f} bets  {mid:+.3f}  [{low:+.3f}, {high:+.3f}]")


def _interval(per_match: dict[int, tuple[float, float]]) -> tuple[float, float, float]:
    matches = list(per_match.values())
    staked = sum(s for s, _ in matches)
    mid = (sum(r for _, r in matches) - staked) / staked
    draw = random.Random(2026)
    samples = []
    for _ in range(400):
        chosen = draw.choices(matches, k=len(matches))
        total = sum(s for s, _ in chosen)
        samples.append((sum(r for _, r in chosen) - total) / total)
    samples.sort()
    return samples[int(0.025 * len(samples))], mid, samples[int(0.975 * len(samples))]


if __name__ == "__main__":
    main()
