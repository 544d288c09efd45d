"""The match picture (issue 16, `ttengine report`): a `Review` drawn with matplotlib (the `plot` extra).

Top: each game's point lead (home minus away) over time, each point a dot in the colour of the
side that served it, game ends marked with their score, and the windows when markets were
suspended shaded by reason (ball in play drawn as a thin strip at the bottom: it is every rally).
Bottom: the match-winner price for home, with settlements of game and match markets, rollbacks,
provider corrections and discrepancies marked. Time runs in minutes from the first frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.analysis.review import Review
from engine.core.markets.signals import Reason
from engine.core.match.rules import Side

SIDE_COLOURS = {Side.HOME: "tab:blue", Side.AWAY: "tab:orange"}
#: One colour per reason a window can be shaded with (ball in play is the thin strip).
REASON_COLOURS = {
    Reason.NOT_STARTED: "0.75",
    Reason.PENDING_ACTION: "tab:purple",
    Reason.VIDEO_CHECK: "tab:cyan",
    Reason.TIMEOUT: "tab:olive",
    Reason.PLAY_STOPPED: "tab:brown",
    Reason.INJURY: "tab:red",
    Reason.COLLECTION: "tab:pink",
    Reason.NOT_LIVE_DATA: "gold",
    Reason.SEQUENCE_GAP: "crimson",
    Reason.DISCREPANCY: "darkred",
    Reason.OUTCOME_UNKNOWN: "slategray",
    Reason.STALE_FEED: "darkorange",
    Reason.DISCONNECTED: "black",
    Reason.FINISHED: "0.55",
    Reason.FORMAT_UNKNOWN: "lightsteelblue",
}
MARK_STYLES = {  # kind -> (marker, colour, label)
    "settled": ("v", "tab:green", "settled (game and match markets)"),
    "voided": ("x", "0.4", "voided (game and match markets)"),
    "rolled back": ("X", "red", "settlement rolled back"),
    "correction": ("^", "tab:purple", "provider corrected the past"),
    "discrepancy": ("D", "darkred", "disagreed with the provider's score"),
}


def draw(review: Review, path: Path) -> None:
    """Write the picture of `review` to `path` (.png or .svg, by its suffix)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]

    figure, (score, price) = plt.subplots(
        2, 1, figsize=(12, 6.8), height_ratios=[3, 1.4], sharex=True, constrained_layout=True
    )
    _score_panel(score, review)
    _price_panel(price, review)
    price.set_xlabel(f"minutes from the first frame (by {review.timed_by})")
    state = review.state
    games = "-".join(str(won) for won in state.games)
    scores = "  ".join(f"{home}-{away}" for home, away in state.points)
    winner = f"winner {review.name(state.winner)}" if state.winner is not None else f"no winner ({state.status.value})"
    result = f", {state.result.value}" if state.result is not None and state.result.value != "normal" else ""
    figure.suptitle(
        f"{review.name(Side.HOME)} (home) v {review.name(Side.AWAY)} (away): {games} ({scores}), {winner}{result}\n"
        f"fixture {state.fixture_id}, best of {state.format.best_of or '?'}; "
        f"{_minutes(review.end - review.start)} of feed",
        fontsize=10,
    )
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def _score_panel(axes: Any, review: Review) -> None:
    from matplotlib.patches import Patch

    lead_top = max((abs(point.score[0] - point.score[1]) for point in review.points), default=3) + 3
    for window in review.windows:
        start, end = window.start / 60, max(window.end, window.start + 0.5) / 60
        if window.reason is Reason.BALL_IN_PLAY:
            axes.axvspan(start, end, ymin=0.0, ymax=0.025, color="0.35", linewidth=0)
        else:
            axes.axvspan(start, end, color=REASON_COLOURS.get(window.reason, "0.8"), alpha=0.28, linewidth=0)
    axes.axhline(0, color="0.6", linewidth=0.8)
    by_game: dict[int, list[tuple[float, int]]] = {}
    for point in review.points:
        by_game.setdefault(point.game, []).append((point.moment / 60, point.score[0] - point.score[1]))
    for line in by_game.values():
        axes.step([t for t, _ in line], [lead for _, lead in line], where="post", color="0.25", linewidth=1.2)
    for side in Side:
        served = [point for point in review.points if point.server is side]
        axes.scatter(
            [point.moment / 60 for point in served],
            [point.score[0] - point.score[1] for point in served],
            s=14,
            color=SIDE_COLOURS[side],
            zorder=3,
            label=f"point served by {review.name(side)}",
        )
    begun = review.start / 60
    for ended in review.games:
        axes.axvline(ended.moment / 60, color="0.3", linestyle=":", linewidth=1)
        middle = (begun + ended.moment / 60) / 2
        axes.text(
            middle,
            1.01,
            f"G{ended.game} {ended.score[0]}-{ended.score[1]}",
            ha="center",
            va="bottom",
            fontsize=8,
            transform=axes.get_xaxis_transform(),
        )
        begun = ended.moment / 60
    handles, _ = axes.get_legend_handles_labels()
    shaded = sorted({w.reason for w in review.windows if w.reason is not Reason.BALL_IN_PLAY}, key=lambda r: r.value)
    for reason in shaded:
        handles.append(Patch(color=REASON_COLOURS.get(reason, "0.8"), alpha=0.28, label=f"suspended: {reason.value}"))
    if any(w.reason is Reason.BALL_IN_PLAY for w in review.windows):
        handles.append(Patch(color="0.35", label="suspended: ball in play (strip at the bottom)"))
    axes.set_ylim(-lead_top, lead_top)
    axes.set_ylabel(f"lead in the game\n(+ {review.name(Side.HOME)}, - {review.name(Side.AWAY)})")
    axes.legend(handles=handles, loc="upper left", fontsize=7, ncols=3, framealpha=0.85)
    axes.grid(alpha=0.25)


def _price_panel(axes: Any, review: Review) -> None:
    if review.match_price:
        times = [moment / 60 for moment, _ in review.match_price] + [review.end / 60]
        values = [p for _, p in review.match_price]
        axes.step(times, [*values, values[-1]], where="post", color=SIDE_COLOURS[Side.HOME], linewidth=1.3)
        axes.set_ylabel(f"P({review.name(Side.HOME)}\nwins the match)")
    else:
        axes.text(
            0.5, 0.5, "no match-winner price (pricing off or format unknown)", ha="center", transform=axes.transAxes
        )
        axes.set_ylabel("price")
    axes.axhline(0.5, color="0.6", linestyle="--", linewidth=0.8)
    axes.set_ylim(0.0, 1.08)
    shown: set[str] = set()
    heights = {"settled": 1.02, "voided": 1.02, "rolled back": 0.06, "correction": 0.16, "discrepancy": 0.26}
    for mark in review.marks:
        if mark.kind == "ended":
            for panel in (axes, axes.figure.axes[0]):
                panel.axvline(mark.moment / 60, color="black", linewidth=1.2)
            axes.text(mark.moment / 60, 0.5, f"{mark.label} ", fontsize=8, va="center", ha="right")
            continue
        if mark.kind in ("settled", "voided") and mark.label.startswith("point_winner"):
            continue  # one per point: the score panel shows them
        marker, colour, label = MARK_STYLES[mark.kind]
        axes.scatter(
            [mark.moment / 60],
            [heights[mark.kind]],
            marker=marker,
            color=colour,
            s=30,
            zorder=3,
            label=None if mark.kind in shown else label,
            clip_on=False,
        )
        shown.add(mark.kind)
    if shown:
        axes.legend(loc="center left", bbox_to_anchor=(1.005, 0.5), fontsize=7, framealpha=0.85)
    axes.grid(alpha=0.25)
