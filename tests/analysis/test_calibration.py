"""Issue 15, real data: the prices' prior fitted on the ITTF results before 2023 and scored after it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from engine.analysis.calibration import Forecast, fit_logistic, forecasts, golden_minimum, points_features, scores
from engine.analysis.in_game import in_game_forecasts, in_game_scores
from engine.analysis.ittf_results import Result, read_results
from engine.cli import main
from engine.core.pricing.model import PRIOR, Prior

REALDATA = Path(__file__).resolve().parents[2] / "fixtures_data" / "realdata"
ITTF = REALDATA / "ittf_results_matches_2014_2026.csv.gz"
SAMPLE = REALDATA / "ittf_results_sample.csv"
SPLIT = 2023
#: The tests on the module's fixtures (the ITTF results, the forecasts after the split: 40 s of the
#: plain build) run on one worker, which builds each fixture once.
on_the_results = pytest.mark.xdist_group("calibration")


@pytest.fixture(scope="module")
def results() -> list[Result]:
    found, skipped = read_results(ITTF)
    # 25,833 rows: the flagged ones, bo3 and single-game rubbers and the 10 whose games make no match are left out
    assert len(found) + sum(skipped.values()) == 25_833
    assert len(found) == 25_259
    assert skipped["games do not make a match"] == 10
    return found


def _loss(results: list[Result], strength: float) -> float:
    found = forecasts(results, Prior(PRIOR.serve, strength))
    return scores([f.model for f in found], [f.home_won for f in found]).log_loss


@on_the_results
def test_the_shipped_strength_is_the_best_fit_before_the_split(results: list[Result]) -> None:
    """PRIOR.strength is what `fit_strength` found on 2014-2022 (a three-minute search, run by
    `ttengine calibrate`); here, on every eighth of those matches, it predicts better than half or
    twice its strength."""
    before = [result for result in results if result.year < SPLIT][::8]
    at = _loss(before, PRIOR.strength)
    assert at < _loss(before, PRIOR.strength / 2)
    assert at < _loss(before, PRIOR.strength * 2)


def test_the_search_finds_the_minimum_of_a_known_curve() -> None:
    """The golden-section search `fit_strength` runs (on log strength), on curves with known minima."""
    for minimum in (2.5, 4.3, 6.8):
        found = golden_minimum(lambda x, m=minimum: (x - m) ** 2, math.log(10.0), math.log(1000.0), 30)
        assert math.isclose(found, minimum, abs_tol=1e-4)
    assert math.isclose(golden_minimum(lambda x: x, 1.0, 5.0, 30), 1.0, abs_tol=1e-4)  # at an end


@pytest.fixture(scope="module")
def after_split(results: list[Result]) -> list[Result]:
    """Every third match from 2023 (for time)."""
    return [result for result in results if result.year >= SPLIT][::3]


@pytest.fixture(scope="module")
def shipped(after_split: list[Result]) -> list[Forecast]:
    return forecasts(after_split)


@on_the_results
def test_after_the_split_the_model_beats_the_score_only_baseline(shipped: list[Forecast]) -> None:
    """On the matches from 2023: lower log loss, Brier score and calibration error than pricing
    with the sides equal, overall and after the second game."""
    found = shipped
    outcomes = [f.home_won for f in found]
    model = scores([f.model for f in found], outcomes)
    baseline = scores([f.baseline for f in found], outcomes)
    assert model.log_loss < baseline.log_loss
    assert model.brier < baseline.brier
    assert model.calibration_error < baseline.calibration_error / 2
    second = [f for f in found if f.played == 2]
    assert scores([f.model for f in second], [f.home_won for f in second]).log_loss < (
        scores([f.baseline for f in second], [f.home_won for f in second]).log_loss
    )


def test_calibrate_prints_the_report_and_draws_the_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    picture = tmp_path / "reliability.png"
    assert main(["calibrate", str(SAMPLE), "--split-year", "2024", "--strength", "74", "--plot", str(picture)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["prior"] == {"serve": PRIOR.serve, "strength": 74.0, "nodes": PRIOR.nodes}
    for name in ("model", "games_fitted", "points_fitted", "baseline"):
        low, high = report[name]["log_loss_95"]
        assert low <= report[name]["log_loss"] <= high, name
    assert report["model"]["forecasts"] == report["baseline"]["forecasts"] > 0
    assert set(report["by_games_played"]) <= {"1", "2", "3", "4", "5", "6"}
    import matplotlib.image

    pixels = matplotlib.image.imread(picture)
    assert pixels.shape[:2] == (720, 760)  # 7.6 x 7.2 inches at 100 dpi
    assert pixels.std() > 0.05  # not blank


def test_without_matplotlib_the_picture_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert main(["calibrate", str(SAMPLE), "--plot", "out.png"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "pip install 'ttengine[plot]'" in err


def test_the_logistic_fit_recovers_known_weights() -> None:
    """The baselines' fit (Newton's method in pure Python) on forecasts drawn from a known logistic."""
    import random

    draw = random.Random(7)
    truth = (0.3, 1.2, 0.8)
    rows = []
    for match in range(20_000):
        games = (draw.randint(0, 2), draw.randint(0, 2))
        points = (draw.randint(0, 60), draw.randint(0, 60))
        baseline = draw.uniform(0.05, 0.95)
        forecast = Forecast(1, 0.5, baseline, False, match, games, points)
        z = sum(w * x for w, x in zip(truth, points_features(forecast), strict=True))
        rows.append(Forecast(1, 0.5, baseline, draw.random() < 1 / (1 + math.exp(-z)), match, games, points))
    fitted = fit_logistic(rows, points_features)
    for got, wanted in zip(fitted.weights, truth, strict=True):
        assert math.isclose(got, wanted, abs_tol=0.08), fitted.weights


@on_the_results
def test_averaging_over_the_posterior_beats_plugging_in_its_mean(
    after_split: list[Result], shipped: list[Forecast]
) -> None:
    """Issue 21.4: on the matches from 2023, the shipped model (the posterior averaged at five
    points) has a lower log loss than the same prior with its mean plugged in."""
    averaged = shipped
    plugged = forecasts(after_split, Prior(PRIOR.serve, PRIOR.strength, nodes=1))
    outcomes = [f.home_won for f in averaged]
    assert (
        scores([f.model for f in averaged], outcomes).log_loss < scores([f.model for f in plugged], outcomes).log_loss
    )


RECORDINGS = sorted((Path(__file__).resolve().parents[2] / "fixtures_data").glob("aicup2026_*.jsonl"))


def test_in_game_prices_before_each_point_learn_from_the_points() -> None:
    """Issue 21.5 on the AI CUP matches point by point: the shipped prices of the next point, the
    game and its races, taken before every point, have a lower log loss than the same model that
    never learns from the points (the game-1 swings are information, not noise)."""
    learned = in_game_scores(in_game_forecasts(RECORDINGS))
    frozen = in_game_scores(in_game_forecasts(RECORDINGS, Prior(PRIOR.serve, 1e9)))
    assert learned["point_winner"].forecasts > 500
    for kind in ("game_winner", "race_to", "point_winner"):
        assert learned[kind].log_loss < frozen[kind].log_loss, kind


def test_calibrate_scores_the_in_game_prices_and_draws_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    picture = tmp_path / "in_game.png"
    arguments = ["calibrate", str(SAMPLE), "--split-year", "2024", "--strength", "22"]
    assert main([*arguments, "--in-game", *map(str, RECORDINGS[:2]), "--in-game-plot", str(picture)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["in_game"]["recordings"] == 2
    assert set(report["in_game"]["strength 22"]) == {"point_winner", "game_winner", "race_to"}
    import matplotlib.image

    assert matplotlib.image.imread(picture).std() > 0.05
    assert main([*arguments, "--in-game-plot", str(picture)]) == 2
    assert "give them" in capsys.readouterr().err
