"""How well the prices predict real matches (issue 15): the ITTF official results, game by game.

The results give each match's game scores, not its points in order, so the evaluation asks what
the feed would have shown at every game boundary: the games won and every point of the games
played. There the model prices the match winner — strengths from `engine.core.pricing.model.estimate`'s
posterior on the points so far, the game about to start opened by either side with equal chance
(the results do not say who serves) — and a score-only baseline prices it with both sides equal.
Both are scored by log loss, Brier score and calibration error against who won. The prior's
strength is fitted on the matches before a year (least log loss of the same forecasts) and the
evaluation uses only the matches from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from engine.analysis.ittf_results import Result, read_results
from engine.core.match.rules import MatchFormat
from engine.core.pricing.game import Strengths
from engine.core.pricing.model import PRIOR, Prior, match_win_at, match_win_before_game
from engine.ratings import (
    FixturePrior,
)


def fit_strength(results: Sequence[Result], serve: float = PRIOR.serve, steps: int = 10) -> float:
    """The prior's strength (in points, a whole number) whose in-play match-winner forecasts — the
    model as it prices, averaged over the posterior — have the least log loss on `results`: a
    golden-section search over 5-300 points on a log scale."""

    def loss(log_strength: float) -> float:
        found = forecasts(results, Prior(serve=serve, strength=math.exp(log_strength)))
        return scores([f.model for f in found], [f.home_won for f in found]).log_loss

    return float(round(math.exp(golden_minimum(loss, math.log(5.0), math.log(300.0), steps))))


def golden_minimum(fn: Callable[[float], float], low: float, high: float, steps: int) -> float:
    """Where `fn` (one minimum in [low, high]) is least, by golden-section search: each step keeps
    0.618 of the interval and costs one evaluation."""
    ratio = (math.sqrt(5) - 1) / 2
    left, right = high - ratio * (high - low), low + ratio * (high - low)
    at_left, at_right = fn(left), fn(right)
    for _ in range(steps):
        if at_left < at_right:
            high, right, at_right = right, left, at_left
            left = high - ratio * (high - low)
            at_left = fn(left)
        else:
            low, left, at_left = left, right, at_right
            right = low + ratio * (high - low)
            at_right = fn(right)
    return (low + high) / 2


# --- the evaluation ------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Forecast:
    """The match-winner price at one game boundary of match number `match`: P(home wins) by the
    model and by the equal-players baseline, after `played` games at `games`, with `points` won by
    each side so far, and whether home won."""

    played: int
    model: float
    baseline: float
    home_won: bool
    match: int = 0
    games: tuple[int, int] = (0, 0)
    points: tuple[int, int] = (0, 0)
    rating: float = 0.5  # the ratings' P(home wins) before the first point (0.5: none)


def forecasts(
    results: Iterable[Result],
    prior: Prior = PRIOR,
    model: bool = True,
    priors: Sequence[FixturePrior] | None = None,
) -> list[Forecast]:
    """A forecast at every boundary between two games of every match (after game 1 until the last
    game starts): what the feed had shown by then, and nothing after. `model=False` leaves the
    model's price out (0.5; the fitted baselines need only the rest). `priors`: each match's own
    prior (from ratings: `rated_forecasts`), its P(home wins) kept in `Forecast.rating`."""
    equal = Strengths(prior.serve, prior.serve)
    baseline_memo: dict[tuple[MatchFormat, tuple[int, int]], float] = {}
    out = []
    for number, result in enumerate(results):
        own = None if priors is None else priors[number]
        match_prior, edge = (prior, 0.0) if own is None else (own.prior, own.home_edge)
        won, points = [0, 0], [0, 0]
        for played, (home, away) in enumerate(result.games[:-1], start=1):
            won[0 if home > away else 1] += 1
            points[0] += home
            points[1] += away
            games = (won[0], won[1])
            key = (result.format, games)
            if key not in baseline_memo:
                baseline_memo[key] = match_win_before_game(result.format, games, equal)
            price = match_win_at(result.format, games, (points[0], points[1]), match_prior, edge) if model else 0.5
            scored = (points[0], points[1])
            rating = 0.5 if own is None else own.home_wins
            out.append(Forecast(played, price, baseline_memo[key], result.home_won, number, games, scored, rating))
    return out


@attrs.frozen(slots=True)
class Scores:
    """Log loss (nats), Brier score and expected calibration error (10 equal bins) of forecasts."""

    forecasts: int
    log_loss: float
    brier: float
    calibration_error: float


def scores(probabilities: Sequence[float], outcomes: Sequence[bool]) -> Scores:
    """How good `probabilities` of the `outcomes` are."""
    count = len(probabilities)
    if count == 0:
        raise ValueError("no forecasts to score")
    log_loss = sum(_loss(p, won) for p, won in zip(probabilities, outcomes, strict=True))
    brier = sum((p - won) ** 2 for p, won in zip(probabilities, outcomes, strict=True))
    error = sum(abs(mean - rate) * n for mean, rate, n in reliability(probabilities, outcomes))
    return Scores(count, log_loss / count, brier / count, error / count)


def _loss(p: float, won: bool) -> float:
    return -math.log(max(1e-12, p if won else 1 - p))


def reliability(
    probabilities: Sequence[float], outcomes: Sequence[bool], bins: int = 10
) -> list[tuple[float, float, int]]:
    """Per bin of predicted probability (equal widths, empty ones left out): the mean prediction,
    the observed rate, and the number of forecasts."""
    sums: dict[int, list[float]] = {}
    for p, won in zip(probabilities, outcomes, strict=True):
        entry = sums.setdefault(min(bins - 1, int(p * bins)), [0.0, 0.0, 0.0])
        entry[0] += p
        entry[1] += won
        entry[2] += 1
    return [(total / n, wins / n, int(n)) for _, (total, wins, n) in sorted(sums.items())]


# --- the fitted baselines ------------------------------------------------------------------------


def logit(p: float) -> float:
    p = min(1 - 1e-9, max(1e-9, p))
    return math.log(p / (1 - p))


def games_features(forecast: Forecast) -> tuple[float, ...]:
    """The games score baseline's inputs: a constant (the side: side A of the results won more
    often) and the log-odds of the equal-players price at the games score."""
    return (1.0, logit(forecast.baseline))


def points_features(forecast: Forecast) -> tuple[float, ...]:
    """The games score baseline's inputs and the points lead so far, (home - away) / sqrt(total)."""
    home, away = forecast.points
    return (*games_features(forecast), (home - away) / math.sqrt(max(1, home + away)))


@attrs.frozen(slots=True)
class Logistic:
    """A logistic regression: P(home wins) = 1 / (1 + exp(-w . features(forecast)))."""

    weights: tuple[float, ...]
    features: Callable[[Forecast], tuple[float, ...]]

    def __call__(self, forecast: Forecast) -> float:
        z = sum(w * x for w, x in zip(self.weights, self.features(forecast), strict=True))
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))


def fit_logistic(found: Sequence[Forecast], features: Callable[[Forecast], tuple[float, ...]]) -> Logistic:
    """The maximum-likelihood weights by Newton's method (a handful of features: solved in pure
    Python), from zero weights."""
    rows = [(features(forecast), forecast.home_won) for forecast in found]
    size = len(rows[0][0])
    weights = [0.0] * size
    for _ in range(25):
        gradient = [0.0] * size
        hessian = [[0.0] * size for _ in range(size)]
        for x, won in rows:
            z = max(-40.0, min(40.0, sum(w * v for w, v in zip(weights, x, strict=True))))
            p = 1.0 / (1.0 + math.exp(-z))
            residual, curvature = won - p, p * (1 - p)
            for i in range(size):
                gradient[i] += residual * x[i]
                for j in range(i + 1):
                    hessian[i][j] += curvature * x[i] * x[j]
        for i in range(size):
            for j in range(i + 1, size):
                hessian[i][j] = hessian[j][i]
        step = _solve(hessian, gradient)
        weights = [w + d for w, d in zip(weights, step, strict=True)]
        if max(abs(d) for d in step) < 1e-10:
            break
    return Logistic(tuple(weights), features)


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """x with matrix x = vector (Gaussian elimination with partial pivoting; a small system)."""
    size = len(vector)
    rows = [[*matrix[i], vector[i]] for i in range(size)]
    for column in range(size):
        pivot = max(range(column, size), key=lambda row: abs(rows[row][column]))
        rows[column], rows[pivot] = rows[pivot], rows[column]
        for row in range(column + 1, size):
            factor = rows[row][column] / rows[column][column]
            for k in range(column, size + 1):
                rows[row][k] -= factor * rows[column][k]
    solution = [0.0] * size
    for row in reversed(range(size)):
        solution[row] = (rows[row][size] - sum(rows[row][k] * solution[k] for k in range(row + 1, size))) / rows[row][
            row
        ]
    return solution


# --- the report ----------------------------------------------------------------------------------

#: The forecasters compared, in the report's order.
FORECASTERS = ("model", "games_fitted", "points_fitted", "baseline")
#: [ours] Bootstrap resamples of matches for the intervals, and their seed (the report is reproducible).
BOOTSTRAP_SAMPLES, BOOTSTRAP_SEED = 1000, 2026


@attrs.frozen(slots=True)
class Interval:
    """A 95 % bootstrap interval (resampling matches) of a mean log loss, or of a difference of two."""

    low: float
    high: float


@attrs.frozen(slots=True)
class Evaluation:
    """The calibration report: the split, the fitted prior and baselines, and the scores of each
    forecaster on the matches from `split_year` on — overall with bootstrap intervals, and after
    each number of games. `model` is the live model, `baseline` the equal-players price at the
    games score, `games_fitted` and `points_fitted` the logistic regressions fitted on the earlier
    matches (on the games score and the side; and on the points lead too)."""

    split_year: int
    fitted_on: int
    evaluated_on: int
    skipped: dict[str, int]
    prior: Prior
    scored: dict[str, Scores]
    intervals: dict[str, Interval]
    gain: dict[str, Interval]  # model minus each baseline, log loss: below 0 the model is better
    by_games_played: dict[int, dict[str, Scores]]
    forecasts: list[Forecast]
    predictions: dict[str, list[float]]
    baselines: dict[str, Logistic]

    @property
    def model(self) -> Scores:
        return self.scored["model"]

    @property
    def baseline(self) -> Scores:
        return self.scored["baseline"]

    def summary(self) -> dict[str, object]:
        """The report as JSON-ready values (no per-forecast lines)."""

        def plain(found: Scores, interval: Interval | None = None) -> dict[str, object]:
            out: dict[str, object] = {
                "forecasts": found.forecasts,
                "log_loss": round(found.log_loss, 4),
                "brier": round(found.brier, 4),
                "calibration_error": round(found.calibration_error, 4),
            }
            if interval is not None:
                out["log_loss_95"] = [round(interval.low, 4), round(interval.high, 4)]
            return out

        return {
            "split_year": self.split_year,
            "fitted_on_matches": self.fitted_on,
            "evaluated_on_matches": self.evaluated_on,
            "skipped_rows": dict(sorted(self.skipped.items())),
            "prior": {"serve": self.prior.serve, "strength": self.prior.strength, "nodes": self.prior.nodes},
            **{name: plain(self.scored[name], self.intervals[name]) for name in FORECASTERS},
            "fitted_weights": {name: [round(w, 4) for w in fit.weights] for name, fit in self.baselines.items()},
            "model_minus": {
                name: [round(interval.low, 4), round(interval.high, 4)] for name, interval in self.gain.items()
            },
            "by_games_played": {
                str(played): {name: plain(found) for name, found in by_name.items()}
                for played, by_name in sorted(self.by_games_played.items())
            },
        }


def evaluate(path: Path, split_year: int, serve: float = PRIOR.serve, strength: float | None = None) -> Evaluation:
    """Fit the prior's strength (or take `strength`) and the two logistic baselines on the matches
    before `split_year`, and score every forecaster on the rest."""
    results, skipped = read_results(path)
    before = [result for result in results if result.year < split_year]
    after = [result for result in results if result.year >= split_year]
    if not before or not after:
        raise ValueError(f"the year {split_year} leaves {len(before)} matches to fit and {len(after)} to evaluate")
    prior = Prior(serve=serve, strength=fit_strength(before, serve) if strength is None else strength)
    training = forecasts(before, prior, model=False)
    baselines = {
        "games_fitted": fit_logistic(training, games_features),
        "points_fitted": fit_logistic(training, points_features),
    }
    found = forecasts(after, prior)
    predictions = {
        "model": [forecast.model for forecast in found],
        "baseline": [forecast.baseline for forecast in found],
        **{name: [fit(forecast) for forecast in found] for name, fit in baselines.items()},
    }
    outcomes = [forecast.home_won for forecast in found]
    scored = {name: scores(predictions[name], outcomes) for name in FORECASTERS}
    by_played: dict[int, dict[str, Scores]] = {}
    for played in sorted({forecast.played for forecast in found}):
        picked = [i for i, forecast in enumerate(found) if forecast.played == played]
        by_played[played] = {
            name: scores([predictions[name][i] for i in picked], [outcomes[i] for i in picked]) for name in FORECASTERS
        }
    intervals, gain = bootstrap(found, predictions)
    return Evaluation(
        split_year,
        len(before),
        len(after),
        dict(skipped),
        prior,
        scored,
        intervals,
        gain,
        by_played,
        found,
        predictions,
        baselines,
    )


def bootstrap(
    found: Sequence[Forecast],
    predictions: dict[str, list[float]],
    names: Sequence[str] = FORECASTERS,
    reference: str = "model",
) -> tuple[dict[str, Interval], dict[str, Interval]]:
    """95 % intervals of each forecaster's mean log loss, and of the `reference`'s minus each
    other's, resampling whole matches (a match's forecasts are not independent)."""
    import random

    per_match: dict[int, dict[str, float]] = {}
    counts: dict[int, int] = {}
    for i, forecast in enumerate(found):
        totals = per_match.setdefault(forecast.match, dict.fromkeys(names, 0.0))
        for name in names:
            totals[name] += _loss(predictions[name][i], forecast.home_won)
        counts[forecast.match] = counts.get(forecast.match, 0) + 1
    matches = sorted(per_match)
    draw = random.Random(BOOTSTRAP_SEED)
    samples: dict[str, list[float]] = {name: [] for name in names}
    differences: dict[str, list[float]] = {name: [] for name in names if name != reference}
    for _ in range(BOOTSTRAP_SAMPLES):
        chosen = draw.choices(matches, k=len(matches))
        n = sum(counts[m] for m in chosen)
        means = {name: sum(per_match[m][name] for m in chosen) / n for name in names}
        for name in names:
            samples[name].append(means[name])
        for name in differences:
            differences[name].append(means[reference] - means[name])
    return (
        {name: percentiles(values) for name, values in samples.items()},
        {name: percentiles(values) for name, values in differences.items()},
    )


def percentiles(values: list[float]) -> Interval:
    ordered = sorted(values)
    return Interval(ordered[int(0.025 * (len(ordered) - 1))], ordered[int(0.975 * (len(ordered) - 1))])


def plot_reliability(evaluation: Evaluation, path: Path) -> None:
    """The reliability picture: observed home-win rate against predicted, model and baseline
    (needs the `plot` extra: matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]

    outcomes = [forecast.home_won for forecast in evaluation.forecasts]
    figure, (curve, counts) = plt.subplots(
        2, 1, figsize=(7.6, 7.2), height_ratios=[3, 1], sharex=True, constrained_layout=True
    )
    curve.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfectly calibrated")
    for name, key, colour in (
        ("model", "model", "tab:blue"),
        ("fitted: games, side, points lead", "points_fitted", "tab:green"),
        ("score only (sides equal)", "baseline", "tab:orange"),
    ):
        predicted, scored = evaluation.predictions[key], evaluation.scored[key]
        table = reliability(predicted, outcomes)
        label = f"{name}: log loss {scored.log_loss:.3f}, Brier {scored.brier:.3f}, ECE {scored.calibration_error:.3f}"
        curve.plot([m for m, _, _ in table], [r for _, r, _ in table], marker="o", color=colour, label=label)
        counts.bar(
            [m for m, _, _ in table],
            [n for _, _, n in table],
            width=0.025,
            color=colour,
            alpha=0.6,
            label=name,
        )
    curve.set_ylabel("observed share of matches home won")
    curve.set_title(
        f"In-play P(home wins the match) at every game boundary, ITTF results {evaluation.split_year} on\n"
        f"{evaluation.model.forecasts:,} forecasts in {evaluation.evaluated_on:,} matches; prior strength "
        f"{evaluation.prior.strength:g} points, fitted on {evaluation.fitted_on:,} earlier matches",
        fontsize=9,
    )
    probability_axes(curve)
    counts.set_xlabel("predicted P(home wins the match)")
    counts.set_ylabel("forecasts")
    counts.grid(alpha=0.3)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def probability_axes(curve: Any) -> None:
    """A reliability curve's axes: both from 0 to 1, the legend top left, a light grid."""
    curve.legend(loc="upper left", fontsize=8)
    curve.set_xlim(0, 1)
    curve.set_ylim(0, 1)
    curve.grid(alpha=0.3)
