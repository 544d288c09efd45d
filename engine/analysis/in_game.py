"""In-game calibration on the point-by-point matches (issue 21.5): the point, game and race
markets' prices against what happened next."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from engine.analysis.calibration import Scores, probability_axes, reliability, scores
from engine.core.pricing.model import PRIOR, Prior

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
            game = state.match.play.next_rally_position()[0]
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
    probability_axes(curve)
    figure.savefig(path, dpi=100)
    plt.close(figure)
