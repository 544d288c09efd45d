"""Which ratings, and how strong a prior they make (issue 29.2): measured on the ITTF results.

    python bench/ratings.py [--split 2023] [--fit-from 2019] [--results PATH] [--cost]

Every rating is leak-free (`engine.analysis.rated.ratings_before`: earlier years, and the same
event's earlier rounds). Prints, on the matches from `--split` on:
1. the pre-match log loss of P(home wins) by Glicko-1 (the shipped `RatingSystem`) and by Elo-like
   systems (the uncertainty held fixed, so every match moves a rating by the same K), and a coin;
2. the game-boundary log loss of the model with the ratings' prior for a grid of the rated strength
   and the half-strength uncertainty, fitted on the matches from `--fit-from` to `--split` - 1
   (the least log loss there), and the chosen values on the evaluation years;
3. with `--cost` only: what the ratings cost (building, the file, memory, a fixture's prior).
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from pathlib import Path

from engine.analysis.calibration import scores
from engine.analysis.ittf_results import Result, read_results
from engine.analysis.rated import rated_forecasts, ratings_before
from engine.ratings import DEFAULT_SYSTEM, RatingSystem, win_probability

REALDATA = (
    Path(__file__).resolve().parent.parent / "fixtures_data" / "realdata" / "ittf_results_matches_2014_2026.csv.gz"
)

SYSTEMS = {
    "glicko-1 (shipped)": DEFAULT_SYSTEM,
    "elo-like, K~24": RatingSystem(initial_rd=90.0, min_rd=90.0, inflation=0.0),
    "elo-like, K~40": RatingSystem(initial_rd=120.0, min_rd=120.0, inflation=0.0),
    "glicko-1, no yearly growth": RatingSystem(inflation=0.0),
    "glicko-1, floor 30": RatingSystem(min_rd=30.0),
}
STRENGTHS = (70.0, 100.0, 140.0, 200.0)
HALF_RDS = (150.0, 250.0, 400.0, 1e9)


def cost(results: list[Result]) -> None:
    """What the ratings cost: building, the file, loading it, its memory, and a fixture's prior
    (cold: the first of its format and strength builds a table of match prices; warm: cached)."""
    import statistics
    import tempfile
    import tracemalloc

    from engine.core.match.rules import MatchFormat
    from engine.ratings import build, load_ratings, prior_for, save_ratings

    start = time.perf_counter()
    ratings = build((r.home, r.away, r.home_won, r.year) for r in results)
    built = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ratings.json"
        save_ratings(ratings, path)
        size = path.stat().st_size
        tracemalloc.start()
        start = time.perf_counter()
        loaded = load_ratings(path)
        took = time.perf_counter() - start
        memory = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    names = [result.home for result in results[-200:]]
    fmt = MatchFormat(best_of=5)
    start = time.perf_counter()
    prior_for(loaded, names[0], names[1], fmt)
    cold = time.perf_counter() - start
    warm = []
    for home, away in itertools.pairwise(names):
        start = time.perf_counter()
        prior_for(loaded, home, away, fmt)
        warm.append(time.perf_counter() - start)
    print(
        f"3. cost: {len(loaded)} players from {len(results)} matches built in {built:.1f} s; file {size / 1e3:.0f} kB,"
    )
    print(f"   loaded in {took * 1e3:.0f} ms, {memory / 1e6:.1f} MB in memory (one object, shared by every fixture);")
    print(
        f"   a fixture's prior: {cold * 1e3:.0f} ms cold (a new table),"
        f" median {statistics.median(warm) * 1e6:.0f} us warm"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", type=int, default=2023)
    parser.add_argument("--fit-from", type=int, default=2019)
    parser.add_argument("--results", type=Path, default=REALDATA)
    parser.add_argument("--cost", action="store_true", help="only what the ratings cost (3.)")
    args = parser.parse_args()
    results, _ = read_results(args.results)
    if args.cost:
        cost(results)
        return
    after = [i for i, result in enumerate(results) if result.year >= args.split]
    fitting = [i for i, result in enumerate(results) if args.fit_from <= result.year < args.split]
    outcomes = [results[i].home_won for i in after]
    print(f"{len(results)} clean matches; evaluated on {len(after)} from {args.split}, fitted on {len(fitting)}")
    print("1. pre-match log loss (coin: 0.6931):")
    for name, system in SYSTEMS.items():
        start = time.perf_counter()
        pairs = ratings_before(results, system)
        found = scores([win_probability(*pairs[i]) for i in after], outcomes)
        took = time.perf_counter() - start
        print(f"   {name:28s} {found.log_loss:.4f}  Brier {found.brier:.4f}  ({took:.1f} s)")
    pairs = ratings_before(results, DEFAULT_SYSTEM)
    print("2. game-boundary log loss with the ratings' prior, fitted on the earlier years:")
    fit_results = [results[i] for i in fitting]
    fit_pairs = [pairs[i] for i in fitting]
    best: tuple[float, float, float] = (math.inf, 0.0, 0.0)
    for strength in STRENGTHS:
        for half_rd in HALF_RDS:
            found_forecasts = rated_forecasts(fit_results, fit_pairs, rated_strength=strength, half_rd=half_rd)
            loss = scores([f.model for f in found_forecasts], [f.home_won for f in found_forecasts]).log_loss
            print(f"   strength {strength:5.1f}, half at rd {half_rd:5.1f}: {loss:.4f}")
            best = min(best, (loss, strength, half_rd))
    _, strength, half_rd = best
    evaluated = rated_forecasts(
        [results[i] for i in after], [pairs[i] for i in after], rated_strength=strength, half_rd=half_rd
    )
    loss = scores([f.model for f in evaluated], [f.home_won for f in evaluated]).log_loss
    print(
        f"   chosen: strength {strength:g}, half at rd {half_rd:g};"
        f" from {args.split}: {loss:.4f} ({len(evaluated)} boundaries)"
    )


if __name__ == "__main__":
    main()
