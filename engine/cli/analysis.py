"""`ttengine report` (one match's picture) and `ttengine calibrate` (the prices against the ITTF results)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from engine.analysis import calibration, in_game, rated, review
from engine.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    CommandMaker,
    arg_positive,
    fail,
    format_flags,
    write_json,
)
from engine.core.match.rules import (
    Side,
)
from engine.io.recording import RecordingError

# --- report ----------------------------------------------------------------------------------------


def _report(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("matplotlib") is None:
        return fail(f"{PROG} report: the picture needs matplotlib: pip install 'ttengine[plot]'", EXIT_USAGE)
    destination = Path(args.output)
    if destination.suffix not in (".png", ".svg"):
        return fail(f"{PROG} report: -o {destination.name}: write .png or .svg", EXIT_USAGE)
    try:
        found = review.review_file(Path(args.file), best_of=args.best_of, doubles=args.doubles)
    except (RecordingError, ValueError, OSError) as exc:
        return fail(f"{PROG} report: {args.file}: {exc}", EXIT_USAGE)
    from engine.analysis.review_plot import draw

    try:
        draw(found, destination)
    except OSError as exc:
        return fail(f"{PROG} report: cannot write {destination}: {exc.strerror or exc}", EXIT_USAGE)
    print(f"{destination}: {found.name(Side.HOME)} v {found.name(Side.AWAY)}", file=sys.stderr)
    return EXIT_OK


# --- calibrate -----------------------------------------------------------------------------------


def _calibrate(args: argparse.Namespace) -> int:
    for flag, picture in (
        ("--plot", args.plot),
        ("--in-game-plot", args.in_game_plot),
        ("--ratings-plot", args.ratings_plot),
    ):
        if picture is not None and importlib.util.find_spec("matplotlib") is None:
            return fail(f"{PROG} calibrate: {flag} needs matplotlib: pip install 'ttengine[plot]'", EXIT_USAGE)
        if picture is not None and not picture.resolve().parent.is_dir():
            return fail(f"{PROG} calibrate: {flag} {picture}: no such folder {picture.parent}", EXIT_USAGE)
    if args.in_game_plot is not None and not args.in_game:
        return fail(f"{PROG} calibrate: --in-game-plot draws the --in-game recordings: give them", EXIT_USAGE)
    try:
        evaluation = calibration.evaluate(args.results, args.split_year, strength=args.strength)
    except OSError as exc:
        return fail(f"{PROG} calibrate: {args.results}: {exc.strerror or exc}", EXIT_USAGE)
    except (ValueError, KeyError, UnicodeDecodeError, EOFError) as exc:
        return fail(f"{PROG} calibrate: {args.results}: not an ITTF results CSV ({exc})", EXIT_USAGE)
    summary = evaluation.summary()
    try:
        if args.ratings or args.ratings_plot is not None:
            with_ratings = rated.evaluate_ratings(args.results, args.split_year)
            summary["ratings"] = with_ratings.summary()
            if args.ratings_plot is not None:
                rated.plot_ratings(with_ratings, args.ratings_plot)
        if args.in_game:
            summary["in_game"] = in_game.in_game_report(args.in_game)
        if args.plot is not None:
            calibration.plot_reliability(evaluation, args.plot)
        if args.in_game_plot is not None:
            in_game.plot_in_game(in_game.in_game_forecasts(args.in_game), args.in_game_plot)
    except RecordingError as exc:
        return fail(f"{PROG} calibrate: --in-game: {exc}", EXIT_USAGE)
    except (OSError, ValueError) as exc:  # matplotlib refuses an unknown suffix with ValueError
        return fail(f"{PROG} calibrate: cannot write a picture: {exc}", EXIT_USAGE)
    write_json(sys.stdout, summary, indent=True)
    return EXIT_OK


def add_commands(command: CommandMaker) -> None:
    """Add this module's commands to the parser."""
    reporting = command("report", "draw one recorded match: score path, suspensions, settlements, corrections, price")
    reporting.add_argument("file", help="a recording (as replay reads it)")
    reporting.add_argument("-o", "--output", required=True, metavar="FILE", help="the picture: FILE.png or FILE.svg")
    format_flags(reporting)
    reporting.set_defaults(run=_report)

    calibrating = command(
        "calibrate", "fit the prices' prior on ITTF results before a year and score the in-play match prices after it"
    )
    calibrating.add_argument(
        "results", type=Path, help="ITTF results CSV, gzip or plain (fixtures_data/realdata/ittf_results_*.csv.gz)"
    )
    calibrating.add_argument(
        "--split-year", type=int, default=2023, metavar="YEAR", help="fit before this year, evaluate from it"
    )
    calibrating.add_argument(
        "--strength", type=arg_positive, default=None, help="use this prior strength (points) instead of fitting one"
    )
    calibrating.add_argument(
        "--plot", type=Path, default=None, metavar="FILE", help="write the reliability picture (.png or .svg)"
    )
    calibrating.add_argument(
        "--in-game",
        type=Path,
        nargs="+",
        default=None,
        metavar="RECORDING",
        help="also score the in-game prices before every point of these point-by-point recordings"
        " (fixtures_data/aicup2026_*.jsonl)",
    )
    calibrating.add_argument(
        "--in-game-plot", type=Path, default=None, metavar="FILE", help="write their reliability picture (.png or .svg)"
    )
    calibrating.add_argument(
        "--ratings",
        action="store_true",
        help="also score the ratings (each from strictly earlier results): the pre-match and game-boundary prices"
        " with and without them, a logistic with the rating, and a rating bettor's return against our odds",
    )
    calibrating.add_argument(
        "--ratings-plot", type=Path, default=None, metavar="FILE", help="write the ratings' picture (.png or .svg)"
    )
    calibrating.set_defaults(run=_calibrate)
