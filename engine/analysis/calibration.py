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

import csv
import gzip
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from engine.core.markets.signals import MarketType
from engine.core.match.rules import MatchFormat, Side, game_winner, match_winner
from engine.core.pricing.model import PRIOR, Prior, Strengths, match_win_at, match_win_before_game
from engine.ratings import (
    DEFAULT_SYSTEM,
    HALF_STRENGTH_RD,
    RATED_STRENGTH,
    FixturePrior,
    Rating,
    RatingSystem,
    apply_result,
    identity,
    prior_from,
    rating_at,
    win_probability,
)

_YEAR = re.compile(r"\b(20\d\d)\b")


@attrs.frozen(slots=True)
class Result:
    """One finished match of the results: its year, format and game scores (home = side A)."""

    year: int
    format: MatchFormat
    games: tuple[tuple[int, int], ...]
    home_won: bool
    home: str = ""  # the players as the results name them (with their country)
    away: str = ""
    event: str = ""
    #: Where the match stands in its event: (stage, -draw size); a smaller one was played earlier,
    #: equal ones in an unknown order (the results have no dates).
    order: tuple[int, int] = (0, 0)


def read_results(path: Path) -> tuple[list[Result], Counter[str]]:
    """The clean best-of-5 and best-of-7 matches of an ITTF results CSV (gzip or plain), and why
    each other row was left out."""
    with open(path, "rb") as head:
        compressed = head.read(2) == b"\x1f\x8b"
    results: list[Result] = []
    skipped: Counter[str] = Counter()
    with gzip.open(path, "rt", newline="") if compressed else open(path, newline="") as source:
        for row in csv.DictReader(source):
            reason, result = _result(row)
            if result is None:
                skipped[reason] += 1
            else:
                results.append(result)
    return results, skipped


def _result(row: dict[str, str]) -> tuple[str, Result | None]:
    if row.get("flags"):
        return "flagged: " + row["flags"].split()[0], None
    to_win = {"3": 3, "4": 4}.get(row.get("games_won_winner", ""))
    if to_win is None:
        return "not best of 5 or 7", None
    year = _year(row)
    if year is None:
        return "no year", None
    fmt = MatchFormat(best_of=2 * to_win - 1, doubles="/" in row.get("side_a", ""))
    try:
        games = tuple((int(home), int(away)) for home, away in (game.split(":") for game in row["games"].split()))
    except ValueError:
        return "unreadable games", None
    won = [0, 0]
    for home, away in games:
        winner = game_winner(home, away, fmt)
        if winner is None or match_winner(won[0], won[1], fmt) is not None:
            return "games do not make a match", None
        won[0 if winner is Side.HOME else 1] += 1
    decided = match_winner(won[0], won[1], fmt)
    if decided is None or decided.value != {"A": "home", "B": "away"}.get(row.get("winner_side", "")):
        return "games do not make a match", None
    side_a, side_b, event = row.get("side_a", ""), row.get("side_b", ""), row.get("event", "")
    return "", Result(year, fmt, games, decided is Side.HOME, side_a, side_b, event, _order(row))


#: [ours] Stages in the order an event plays them (qualification first); any other stage counts as
#: the main draw's (its order against it unknown).
_STAGES = (("qualif", 0), ("group", 0))
_ROUND_SIZE = re.compile(r"(\d+)$")
_NAMED_ROUNDS = {"quarterfinal": 8, "semifinal": 4, "final": 2}


def _order(row: dict[str, str]) -> tuple[int, int]:
    """(stage, -draw size) of a result's round: qualification before the main draw, a round of 32
    before a round of 16; a round without a size (groups) first in its stage."""
    stage_name = row.get("stage", "").casefold()
    stage = next((rank for word, rank in _STAGES if word in stage_name), 1)
    name = row.get("round", "").casefold()
    size = _NAMED_ROUNDS.get(name)
    if size is None:
        found = _ROUND_SIZE.search(name)
        size = int(found.group(1)) if found else 1_000_000
    return stage, -size


def _year(row: dict[str, str]) -> int | None:
    if row.get("year", "").isdigit():
        return int(row["year"])
    found = _YEAR.search(row.get("event", ""))
    return None if found is None else int(found.group(1))


# --- the prior -----------------------------------------------------------------------------------


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


def _logit(p: float) -> float:
    p = min(1 - 1e-9, max(1e-9, p))
    return math.log(p / (1 - p))


def games_features(forecast: Forecast) -> tuple[float, ...]:
    """The games score baseline's inputs: a constant (the side: side A of the results won more
    often) and the log-odds of the equal-players price at the games score."""
    return (1.0, _logit(forecast.baseline))


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
    intervals, gain = _bootstrap(found, predictions)
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


def _bootstrap(
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
        {name: _percentiles(values) for name, values in samples.items()},
        {name: _percentiles(values) for name, values in differences.items()},
    )


def _percentiles(values: list[float]) -> Interval:
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
    _probability_axes(curve)
    counts.set_xlabel("predicted P(home wins the match)")
    counts.set_ylabel("forecasts")
    counts.grid(alpha=0.3)
    figure.savefig(path, dpi=100)
    plt.close(figure)


# --- in-game calibration on the point-by-point matches (issue 21.5) ------------------------------

#: The in-game markets scored before each point: the next point, the current game, its races.
IN_GAME_TYPES = ("point_winner", "game_winner", "race_to")


@attrs.frozen(slots=True)
class InGameForecast:
    """One in-game price taken before a point was played: the market, the probability of `outcome`
    (home, or the race's side) and whether it happened."""

    recording: str
    market: str
    probability: float
    happened: bool


def in_game_forecasts(recordings: Iterable[Path], prior: Prior = PRIOR) -> list[InGameForecast]:
    """Replay each recording with pricing on (`prior`); before every point — the state after the
    previous point, or the game's start — take the price of the next point's market, of the current
    game's winner and of each of its undecided races, and score them against how each settled."""
    from engine import playback
    from engine.core.config import DEFAULT_MARKETS
    from engine.core.events import PointWon
    from engine.core.markets.catalogue import parse_market
    from engine.core.markets.signals import MarketStatus
    from engine.core.pricing.model import Pricing
    from engine.io.recording import read_recording

    config = attrs.evolve(DEFAULT_MARKETS, pricing=Pricing(prior=prior))
    out: list[InGameForecast] = []
    for path in recordings:
        recording = read_recording(path)
        start = playback.start_state(recording, markets=config)
        taken: list[tuple[str, dict[str, float]]] = []
        final = start.book
        for _, _, state, events in playback.steps(recording, start):
            final = state.book
            if not any(isinstance(event, PointWon) for event in events) and state.points:
                continue
            game = state.play.next_rally_position()[0]
            for market_id, price in state.prices.items():
                market = parse_market(market_id)
                if market.type.value in IN_GAME_TYPES and market.game == game:
                    taken.append((market_id, dict(price.fair)))
        for market_id, fair in taken:
            entry = final[market_id]
            if entry.status is not MarketStatus.SETTLED or entry.result is None:
                continue  # void (not played, or offline): nothing to score
            for outcome in ("home", "away"):  # a race's "neither" is scored through the sides
                if outcome in fair:
                    out.append(InGameForecast(path.name, market_id, fair[outcome], entry.result == outcome))
                    if market_id.split(":")[0] != "race_to":
                        break  # two-way: one side says it all
    return out


def in_game_scores(found: Sequence[InGameForecast]) -> dict[str, Scores]:
    """Scores of the in-game forecasts by market type."""
    out = {}
    for kind in IN_GAME_TYPES:
        picked = [f for f in found if f.market.split(":")[0] == kind]
        if picked:
            out[kind] = scores([f.probability for f in picked], [f.happened for f in picked])
    return out


#: The prior strengths the in-game report compares (points; infinity: the points never move the prices).
IN_GAME_STRENGTHS = (10.0, PRIOR.strength, 74.0, math.inf)


def in_game_report(recordings: Sequence[Path], serve: float = PRIOR.serve) -> dict[str, object]:
    """The in-game scores by market type at each strength of `IN_GAME_STRENGTHS` (the shipped one
    among them), as JSON-ready values."""
    out: dict[str, object] = {"recordings": len(recordings)}
    for strength in IN_GAME_STRENGTHS:
        prior = Prior(serve=serve, strength=1e9 if math.isinf(strength) else strength)
        found = in_game_scores(in_game_forecasts(recordings, prior))
        key = "no learning" if math.isinf(strength) else f"strength {strength:g}"
        out[key] = {
            kind: {
                "forecasts": scored.forecasts,
                "log_loss": round(scored.log_loss, 4),
                "brier": round(scored.brier, 4),
                "calibration_error": round(scored.calibration_error, 4),
            }
            for kind, scored in found.items()
        }
    return out


def plot_in_game(found: Sequence[InGameForecast], path: Path) -> None:
    """The in-game reliability picture: observed rate against predicted, per market type (needs
    the `plot` extra: matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]

    figure, curve = plt.subplots(figsize=(7.2, 6.0), constrained_layout=True)
    curve.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfectly calibrated")
    colours = {"point_winner": "tab:blue", "game_winner": "tab:green", "race_to": "tab:purple"}
    for kind, scored in in_game_scores(found).items():
        picked = [f for f in found if f.market.split(":")[0] == kind]
        table = reliability([f.probability for f in picked], [f.happened for f in picked])
        label = f"{kind}: {scored.forecasts} prices, log loss {scored.log_loss:.3f}, ECE {scored.calibration_error:.3f}"
        curve.plot([m for m, _, _ in table], [r for _, r, _ in table], marker="o", color=colours[kind], label=label)
    curve.set_xlabel("predicted probability before the point")
    curve.set_ylabel("observed share that happened")
    matches = len({f.recording for f in found})
    curve.set_title(
        f"In-game prices before every point, {matches} AI CUP 2026 matches point by point\n"
        f"(the next point, the game, the races to 5/7/9 of the game in play; prior strength {PRIOR.strength:g})",
        fontsize=9,
    )
    _probability_axes(curve)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _probability_axes(curve: Any) -> None:
    """A reliability curve's axes: both from 0 to 1, the legend top left, a light grid."""
    curve.legend(loc="upper left", fontsize=8)
    curve.set_xlim(0, 1)
    curve.set_ylim(0, 1)
    curve.grid(alpha=0.3)


# --- ratings (issue 29.5) ------------------------------------------------------------------------


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
    return (*points_features(forecast), _logit(forecast.rating))


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
    from engine.core.pricing.model import DEFAULT_PRICING, Position, posterior_arrays, price_rows

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
                weights, home_serves, away_serves = posterior_arrays(points[0], points[1], prior, edge)
                rows = price_rows(positions, weights, home_serves, away_serves, markets)
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
    return (sum(r for _, r in totals) - staked) / staked, _percentiles(samples)


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
    intervals, gain = _bootstrap(rated, predictions, RATED_FORECASTERS, "ratings")
    opening = [
        Forecast(0, win_probability(*ours[i]), 0.5, results[i].home_won, number) for number, i in enumerate(after)
    ]
    opening_intervals, _ = _bootstrap(opening, {"model": [f.model for f in opening]}, ("model",))
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
    _probability_axes(curve)
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
