"""The ratings against real results (issue 29.5): ratings known before each match (leak-free),
the forecasts with them, the bettor with his own rating list against our offered odds, and
`ttengine calibrate --ratings`' report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import attrs

from engine.analysis.calibration import (
    BOOTSTRAP_SAMPLES,
    BOOTSTRAP_SEED,
    Forecast,
    Interval,
    Scores,
    bootstrap,
    fit_logistic,
    forecasts,
    logit,
    percentiles,
    points_features,
    probability_axes,
    reliability,
    scores,
)
from engine.analysis.ittf_results import Result, read_results
from engine.core.markets.signals import MarketType
from engine.core.match.rules import Side
from engine.core.pricing.model import PRIOR, Prior
from engine.ratings import (
    DEFAULT_SYSTEM,
    HALF_STRENGTH_RD,
    RATED_STRENGTH,
    Rating,
    RatingSystem,
    apply_result,
    identity,
    prior_from,
    rating_at,
    win_probability,
)


def ratings_before(results: Sequence[Result], system: RatingSystem = DEFAULT_SYSTEM) -> list[tuple[Rating, Rating]]:
    """For each result, the two sides' ratings from strictly earlier results only: every earlier
    year, and the same event's earlier rounds (the results carry no dates: other events of the
    same year, and the same round, are not known to be earlier)."""
    by_year: dict[int, dict[str, list[int]]] = {}
    for index, result in enumerate(results):
        by_year.setdefault(result.year, {}).setdefault(result.event, []).append(index)
    base: dict[str, Rating] = {}
    out: list[tuple[Rating, Rating] | None] = [None] * len(results)
    for year in sorted(by_year):
        for indices in by_year[year].values():
            overlay = _Overlay(base)
            ordered = sorted(indices, key=lambda i: results[i].order)
            at = 0
            while at < len(ordered):
                order = results[ordered[at]].order
                same = [i for i in ordered[at:] if results[i].order == order]
                for i in same:  # priced before any of the round is known
                    home, away = identity(results[i].home), identity(results[i].away)
                    out[i] = (rating_at(overlay, home, year, system), rating_at(overlay, away, year, system))
                for i in same:
                    apply_result(overlay, results[i].home, results[i].away, results[i].home_won, year, system)
                at += len(same)
        for indices in by_year[year].values():  # the year folded in, event by event, round by round
            for i in sorted(indices, key=lambda i: results[i].order):
                apply_result(base, results[i].home, results[i].away, results[i].home_won, year, system)
    return [pair for pair in out if pair is not None]


class _Overlay(dict[str, Rating]):
    """An event's ratings: its own changes, read through to the year's starting ratings."""

    def __init__(self, base: dict[str, Rating]) -> None:
        super().__init__()
        self.base = base

    def get(self, key: str, default: Rating | None = None) -> Rating | None:  # type: ignore[override]
        found = super().get(key)
        return found if found is not None else self.base.get(key, default)


def rated_forecasts(
    results: Sequence[Result],
    ratings: Sequence[tuple[Rating, Rating]],
    base: Prior = PRIOR,
    rated_strength: float = RATED_STRENGTH,
    half_rd: float = HALF_STRENGTH_RD,
) -> list[Forecast]:
    """`forecasts` with each match's prior from its two ratings (`ratings_before`): the model's price
    at every game boundary, and in `rating` the ratings' own P(home wins) before the first point."""
    priors = [
        prior_from(home, away, result.format, base, rated_strength, half_rd)
        for result, (home, away) in zip(results, ratings, strict=True)
    ]
    return forecasts(results, base, priors=priors)


def rating_features(forecast: Forecast) -> tuple[float, ...]:
    """The points baseline's inputs and the log-odds of the ratings' pre-match P(home wins)."""
    return (*points_features(forecast), logit(forecast.rating))


# --- the bettor's return against our offered odds (issue 29.5) -----------------------------------

#: [ours] The bettor's own rating: Elo-like (a fixed uncertainty, so every match moves a rating by
#: the same K ~ 40), from the same earlier results as ours: a rating list anyone can keep.
BETTOR_SYSTEM = RatingSystem(initial_rd=120.0, min_rd=120.0, inflation=0.0)


@attrs.frozen(slots=True)
class Bet:
    """One unit staked by the bettor on `match` (`strategy`: `match` for the match winner at the
    opening and each game boundary, `games` for a future game's winner): what it returned (0 when
    lost, the stake when void)."""

    strategy: str
    match: int
    odds: float
    returned: float


def bettor_bets(
    results: Sequence[Result],
    ours: Sequence[tuple[Rating, Rating]],
    theirs: Sequence[tuple[Rating, Rating]],
    offered_prior: bool = True,
) -> list[Bet]:
    """The bettor (prices from our model with his own ratings' prior, `theirs`) against the odds we
    offer (our model with our ratings' prior, `ours`; `offered_prior=False`: without a prior): at
    the opening and at every game boundary he backs each match-winner side and each future game's
    winner whose offered odds his price calls +EV, one unit each."""
    from engine.core.markets.catalogue import MarketCatalogue
    from engine.core.pricing.model import DEFAULT_PRICING, Position, posterior_nodes, price_rows

    catalogue = MarketCatalogue()
    odds_policy = DEFAULT_PRICING.odds
    bets: list[Bet] = []
    for number, result in enumerate(results):
        fmt = result.format
        to_win = fmt.games_to_win or 1
        mine = prior_from(*ours[number], fmt)
        his = prior_from(*theirs[number], fmt)
        won, points = [0, 0], [0, 0]
        winners = [home > away for home, away in result.games]
        for played in range(len(result.games)):
            games = (won[0], won[1])
            markets = [*catalogue.match_markets(fmt)[:1]]
            markets += [market for game in range(played + 1, 2 * to_win) for market in catalogue.game_markets(game)[:1]]
            positions = [Position(fmt, games, played + 1, (0, 0), first) for first in Side]
            priced = {}
            for name, fixture in (("ours", mine), ("his", his)):
                prior, edge = (fixture.prior, fixture.home_edge) if name == "his" or offered_prior else (PRIOR, 0.0)
                rows = price_rows(positions, posterior_nodes(points[0], points[1], prior, edge), markets)
                priced[name] = {market.id: dict(zip(names, values, strict=True)) for market, names, values in rows}
            for market in markets:
                fair, estimate = priced["ours"].get(market.id), priced["his"].get(market.id)
                if fair is None or estimate is None:
                    continue
                offered = odds_policy.offer(fair, market.type)
                for side in ("home", "away"):
                    price = offered.get(side)
                    if price is None or estimate[side] * price <= 1.0:
                        continue
                    if market.type is MarketType.MATCH_WINNER:
                        returned = price if result.home_won == (side == "home") else 0.0
                        bets.append(Bet("match", number, price, returned))
                    else:
                        index = market.game - 1
                        if index >= len(result.games):
                            returned = 1.0  # the game was not played: void
                        else:
                            returned = price if winners[index] == (side == "home") else 0.0
                        bets.append(Bet("games", number, price, returned))
            if played < len(result.games) - 1:
                home, away = result.games[played]
                won[0 if home > away else 1] += 1
                points[0] += home
                points[1] += away
    return bets


def bettor_return(bets: Sequence[Bet]) -> tuple[float, Interval]:
    """The return per unit staked and its 95 % bootstrap interval (resampling matches)."""
    import random

    by_match: dict[int, list[float]] = {}
    for bet in bets:
        entry = by_match.setdefault(bet.match, [0.0, 0.0])
        entry[0] += 1.0
        entry[1] += bet.returned
    totals = list(by_match.values())
    staked = sum(s for s, _ in totals)
    if not staked:
        return 0.0, Interval(0.0, 0.0)
    draw = random.Random(BOOTSTRAP_SEED)
    samples = []
    for _ in range(BOOTSTRAP_SAMPLES):
        chosen = draw.choices(totals, k=len(totals))
        total = sum(s for s, _ in chosen)
        samples.append((sum(r for _, r in chosen) - total) / total)
    return (sum(r for _, r in totals) - staked) / staked, percentiles(samples)


# --- the ratings' report (`ttengine calibrate --ratings`) -----------------------------------------

#: The game-boundary forecasters the ratings' report compares, in its order.
RATED_FORECASTERS = ("ratings", "no_prior", "logistic_with_rating")


@attrs.frozen(slots=True)
class RatingsEvaluation:
    """The ratings' report: on the matches from `split_year`, every rating from strictly earlier
    results; the game-boundary forecasts of the model with the ratings' prior, without a prior,
    and of a logistic on the score, the points and the rating (fitted on the four years before),
    with their scores and intervals; the pre-match scores; the bettor's bets."""

    split_year: int
    evaluated_on: int
    forecasts: list[Forecast]
    predictions: dict[str, list[float]]
    scored: dict[str, Scores]
    intervals: dict[str, Interval]
    gain: dict[str, Interval]  # ratings minus each other forecaster: below 0 the ratings are better
    pre_match: Scores
    pre_match_interval: Interval
    bets: dict[str, list[Bet]]

    def summary(self) -> dict[str, object]:
        """The report as JSON-ready values."""

        def plain(found: Scores, interval: Interval) -> dict[str, object]:
            return {
                "forecasts": found.forecasts,
                "log_loss": round(found.log_loss, 4),
                "log_loss_95": [round(interval.low, 4), round(interval.high, 4)],
                "brier": round(found.brier, 4),
                "calibration_error": round(found.calibration_error, 4),
            }

        bettor: dict[str, object] = {}
        for name, bets in self.bets.items():
            found, interval = bettor_return(bets)
            bettor[name] = {
                "bets": len(bets),
                "return": round(found, 4),
                "return_95": [round(interval.low, 4), round(interval.high, 4)],
            }
        return {
            "split_year": self.split_year,
            "evaluated_on_matches": self.evaluated_on,
            "pre_match": {
                "ratings": plain(self.pre_match, self.pre_match_interval),
                "coin_log_loss": round(math.log(2), 4),
            },
            "game_boundaries": {name: plain(self.scored[name], self.intervals[name]) for name in RATED_FORECASTERS},
            "ratings_minus": {name: [round(i.low, 4), round(i.high, 4)] for name, i in self.gain.items()},
            "bettor": bettor,
        }


def evaluate_ratings(path: Path, split_year: int) -> RatingsEvaluation:
    """The ratings' report on the results at `path` (see `RatingsEvaluation`)."""
    results, _ = read_results(path)
    ours = ratings_before(results)
    theirs = ratings_before(results, BETTOR_SYSTEM)
    after = [i for i, result in enumerate(results) if result.year >= split_year]
    training = [i for i, result in enumerate(results) if split_year - 4 <= result.year < split_year]
    if not after or not training:
        raise ValueError(f"the year {split_year} leaves {len(training)} matches to fit and {len(after)} to evaluate")
    fitted = fit_logistic(rated_forecasts([results[i] for i in training], [ours[i] for i in training]), rating_features)
    chosen = [results[i] for i in after]
    rated = rated_forecasts(chosen, [ours[i] for i in after])
    plain = forecasts(chosen, PRIOR)
    predictions = {
        "ratings": [forecast.model for forecast in rated],
        "no_prior": [forecast.model for forecast in plain],
        "logistic_with_rating": [fitted(forecast) for forecast in rated],
    }
    outcomes = [forecast.home_won for forecast in rated]
    scored = {name: scores(predictions[name], outcomes) for name in RATED_FORECASTERS}
    intervals, gain = bootstrap(rated, predictions, RATED_FORECASTERS, "ratings")
    opening = [
        Forecast(0, win_probability(*ours[i]), 0.5, results[i].home_won, number) for number, i in enumerate(after)
    ]
    opening_intervals, _ = bootstrap(opening, {"model": [f.model for f in opening]}, ("model",))
    bets = bettor_bets(chosen, [ours[i] for i in after], [theirs[i] for i in after])
    unprotected = bettor_bets(chosen, [ours[i] for i in after], [theirs[i] for i in after], offered_prior=False)
    return RatingsEvaluation(
        split_year,
        len(after),
        rated,
        predictions,
        scored,
        intervals,
        gain,
        scores([f.model for f in opening], [f.home_won for f in opening]),
        opening_intervals["model"],
        {
            "match": [bet for bet in bets if bet.strategy == "match"],
            "games": [bet for bet in bets if bet.strategy == "games"],
            "match_without_prior": [bet for bet in unprotected if bet.strategy == "match"],
            "games_without_prior": [bet for bet in unprotected if bet.strategy == "games"],
        },
    )


def plot_ratings(evaluation: RatingsEvaluation, path: Path) -> None:
    """The ratings' picture: the reliability of the match price at game boundaries with the ratings'
    prior, without a prior and by the logistic with the rating; and the bettor's return per unit
    staked against our odds, with and without a prior (needs the `plot` extra: matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]

    outcomes = [forecast.home_won for forecast in evaluation.forecasts]
    figure, (curve, returns) = plt.subplots(1, 2, figsize=(13.5, 6.0), width_ratios=[3, 2], constrained_layout=True)
    curve.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfectly calibrated")
    for name, key, colour in (
        ("model with the ratings' prior", "ratings", "tab:blue"),
        ("model without a prior", "no_prior", "tab:orange"),
        ("logistic: score, points, rating", "logistic_with_rating", "tab:green"),
    ):
        table = reliability(evaluation.predictions[key], outcomes)
        scored = evaluation.scored[key]
        label = f"{name}: log loss {scored.log_loss:.4f}, ECE {scored.calibration_error:.3f}"
        curve.plot([m for m, _, _ in table], [r for _, r, _ in table], marker="o", color=colour, label=label)
    curve.set_xlabel("predicted P(home wins the match) at a game boundary")
    curve.set_ylabel("observed share of matches home won")
    curve.set_title(
        f"In-play match price at every game boundary, ITTF results {evaluation.split_year} on\n"
        f"{len(outcomes):,} forecasts in {evaluation.evaluated_on:,} matches; ratings from earlier results only",
        fontsize=9,
    )
    probability_axes(curve)
    labels, values, lows, highs, colours = [], [], [], [], []
    for key, label, colour in (
        ("match", "match winner,\nrated odds", "tab:blue"),
        ("games", "game winners,\nrated odds", "tab:blue"),
        ("match_without_prior", "match winner,\nno prior", "tab:orange"),
        ("games_without_prior", "game winners,\nno prior", "tab:orange"),
    ):
        found, interval = bettor_return(evaluation.bets[key])
        labels.append(f"{label}\n({len(evaluation.bets[key]):,} bets)")
        values.append(100 * found)
        lows.append(100 * (found - interval.low))
        highs.append(100 * (interval.high - found))
        colours.append(colour)
    positions = list(range(len(labels)))
    returns.bar(positions, values, color=colours, alpha=0.75, yerr=[lows, highs], capsize=6)
    returns.axhline(0, color="0.3", linewidth=1)
    returns.set_xticks(positions, labels, fontsize=8)
    returns.set_ylabel("bettor's return per unit staked (%), 95 % interval")
    returns.set_title(
        "A bettor with his own Elo-like ratings backs each side\n"
        "his price calls +EV, at the opening and game boundaries",
        fontsize=9,
    )
    returns.text(
        0.98,
        0.03,
        "orange: the odds without a prior,\nwhich we do not offer (no_prior)",
        transform=returns.transAxes,
        ha="right",
        va="bottom",
        fontsize=8,
        color="tab:orange",
    )
    returns.grid(axis="y", alpha=0.3)
    figure.savefig(path, dpi=100)
    plt.close(figure)
