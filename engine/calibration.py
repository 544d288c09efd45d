"""How well the prices predict real matches (issue 15): the ITTF official results, game by game.

The results give each match's game scores, not its points in order, so the evaluation asks what
the feed would have shown at every game boundary: the games won and every point of the games
played. There the model prices the match winner — strengths from `engine.core.pricing.estimate`'s
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

import attrs

from engine.core.pricing import PRIOR, Prior, Strengths, match_win_before_game, strengths_from
from engine.core.rules import MatchFormat, Side, game_winner, match_winner

_YEAR = re.compile(r"\b(20\d\d)\b")


@attrs.frozen(slots=True)
class Result:
    """One finished match of the results: its year, format and game scores (home = side A)."""

    year: int
    format: MatchFormat
    games: tuple[tuple[int, int], ...]
    home_won: bool


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
    return "", Result(year, fmt, games, decided is Side.HOME)


def _year(row: dict[str, str]) -> int | None:
    if row.get("year", "").isdigit():
        return int(row["year"])
    found = _YEAR.search(row.get("event", ""))
    return None if found is None else int(found.group(1))


# --- the prior -----------------------------------------------------------------------------------


def fit_strength(results: Sequence[Result], serve: float = PRIOR.serve, steps: int = 12) -> float:
    """The prior's strength (in points, a whole number) whose in-play match-winner forecasts have
    the least log loss on `results`: a golden-section search over 10-1000 points on a log scale.

    (The Beta-binomial maximum-likelihood fit of the points alone, 23 points on 2014-2022, prices
    too confidently: the model plugs in the posterior mean and treats points as independent, so
    the fit is made on the forecasts themselves.)"""

    def loss(log_strength: float) -> float:
        found = forecasts(results, Prior(serve=serve, strength=math.exp(log_strength)))
        return scores([f.model for f in found], [f.home_won for f in found]).log_loss

    return float(round(math.exp(golden_minimum(loss, math.log(10.0), math.log(1000.0), steps))))


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
    """The match-winner price at one game boundary: P(home wins) by the model and by the baseline,
    after `played` games, and whether home won."""

    played: int
    model: float
    baseline: float
    home_won: bool


def forecasts(results: Iterable[Result], prior: Prior = PRIOR) -> list[Forecast]:
    """A forecast at every boundary between two games of every match (after game 1 until the last
    game starts): what the feed had shown by then, and nothing after."""
    equal = Strengths(prior.serve, prior.serve)
    baseline_memo: dict[tuple[MatchFormat, tuple[int, int]], float] = {}
    out = []
    for result in results:
        won, points = [0, 0], [0, 0]
        for played, (home, away) in enumerate(result.games[:-1], start=1):
            won[0 if home > away else 1] += 1
            points[0] += home
            points[1] += away
            games = (won[0], won[1])
            key = (result.format, games)
            if key not in baseline_memo:
                baseline_memo[key] = match_win_before_game(result.format, games, equal)
            odds = strengths_from(points[0], points[1], prior)
            model = match_win_before_game(result.format, games, odds)
            out.append(Forecast(played, model, baseline_memo[key], result.home_won))
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
    eps = 1e-12
    log_loss = -sum(math.log(max(eps, p if won else 1 - p)) for p, won in zip(probabilities, outcomes, strict=True))
    brier = sum((p - won) ** 2 for p, won in zip(probabilities, outcomes, strict=True))
    error = sum(abs(mean - rate) * n for mean, rate, n in reliability(probabilities, outcomes))
    return Scores(count, log_loss / count, brier / count, error / count)


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


@attrs.frozen(slots=True)
class Evaluation:
    """The calibration report: the split, the fitted prior, and the scores of the model and of the
    baseline on the matches from `split_year` on, overall and after each number of games."""

    split_year: int
    fitted_on: int
    evaluated_on: int
    skipped: dict[str, int]
    prior: Prior
    model: Scores
    baseline: Scores
    by_games_played: dict[int, tuple[Scores, Scores]]
    forecasts: list[Forecast]

    def summary(self) -> dict[str, object]:
        """The report as JSON-ready values (no per-forecast lines)."""

        def plain(found: Scores) -> dict[str, float]:
            return {
                "forecasts": found.forecasts,
                "log_loss": round(found.log_loss, 4),
                "brier": round(found.brier, 4),
                "calibration_error": round(found.calibration_error, 4),
            }

        return {
            "split_year": self.split_year,
            "fitted_on_matches": self.fitted_on,
            "evaluated_on_matches": self.evaluated_on,
            "skipped_rows": dict(sorted(self.skipped.items())),
            "prior": {"serve": self.prior.serve, "strength": self.prior.strength},
            "model": plain(self.model),
            "baseline": plain(self.baseline),
            "by_games_played": {
                str(played): {"model": plain(model), "baseline": plain(base)}
                for played, (model, base) in sorted(self.by_games_played.items())
            },
        }


def evaluate(path: Path, split_year: int, serve: float = PRIOR.serve, strength: float | None = None) -> Evaluation:
    """Fit the prior's strength on the matches before `split_year` (or take `strength`) and score
    the forecasts on the rest."""
    results, skipped = read_results(path)
    before = [result for result in results if result.year < split_year]
    after = [result for result in results if result.year >= split_year]
    if not before or not after:
        raise ValueError(f"the year {split_year} leaves {len(before)} matches to fit and {len(after)} to evaluate")
    prior = Prior(serve=serve, strength=fit_strength(before, serve) if strength is None else strength)
    found = forecasts(after, prior)
    by_played: dict[int, tuple[Scores, Scores]] = {}
    for played in sorted({forecast.played for forecast in found}):
        some = [forecast for forecast in found if forecast.played == played]
        by_played[played] = _both(some)
    model, baseline = _both(found)
    return Evaluation(split_year, len(before), len(after), dict(skipped), prior, model, baseline, by_played, found)


def _both(found: Sequence[Forecast]) -> tuple[Scores, Scores]:
    outcomes = [forecast.home_won for forecast in found]
    return (
        scores([forecast.model for forecast in found], outcomes),
        scores([forecast.baseline for forecast in found], outcomes),
    )


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
    model = [forecast.model for forecast in evaluation.forecasts]
    baseline = [forecast.baseline for forecast in evaluation.forecasts]
    for name, predicted, scored, colour in (
        ("model", model, evaluation.model, "tab:blue"),
        ("score only (sides equal)", baseline, evaluation.baseline, "tab:orange"),
    ):
        table = reliability(predicted, outcomes)
        label = f"{name}: log loss {scored.log_loss:.3f}, Brier {scored.brier:.3f}, ECE {scored.calibration_error:.3f}"
        curve.plot([m for m, _, _ in table], [r for _, r, _ in table], marker="o", color=colour, label=label)
        counts.bar(
            [m for m, _, _ in table],
            [n for _, _, n in table],
            width=0.03,
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
    curve.legend(loc="upper left", fontsize=8)
    curve.set_xlim(0, 1)
    curve.set_ylim(0, 1)
    curve.grid(alpha=0.3)
    counts.set_xlabel("predicted P(home wins the match)")
    counts.set_ylabel("forecasts")
    counts.grid(alpha=0.3)
    figure.savefig(path, dpi=100)
    plt.close(figure)
