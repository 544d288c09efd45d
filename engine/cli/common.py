"""What the commands share: exit codes, one-line errors, argument types, the market flags, JSON output."""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import IO, Any, NoReturn, Protocol

import attrs
import orjson

from engine.analysis.trace import describe_update
from engine.core.config import DEFAULT_MARKETS, MarketConfig
from engine.core.inputs import Input
from engine.core.match.rules import (
    MAX_BEST_OF,
    MatchFormat,
)
from engine.core.pricing import kernel
from engine.core.pricing.model import DEFAULT_PRICING, Pricing
from engine.core.update import Update
from engine.feed.catalogue import DEFAULT_CATALOGUE, ActionCatalogue
from engine.feed.wire import Malformed
from engine.io.recording import RecordingError, parse_types
from engine.ratings import load_ratings
from engine.runtime.following import Match, StepObserver

EXIT_OK, EXIT_FEED_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a writer killed by SIGPIPE
EXIT_INTERRUPTED = 128 + 2  # Ctrl-C (SIGINT)


def write_json(out: IO[str], value: object, indent: bool = False) -> None:
    out.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0).decode() + "\n")


def trace_line(message: Input, update: Update) -> dict[str, Any]:
    """The `--trace` line of one input: its update (README "Command line")."""
    return describe_update(update, message.reason if isinstance(message, Malformed) else None)


class StopSignals:
    """SIGTERM and SIGINT cancel the task that installed them, remembering which came."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        for number in (signal.SIGTERM, signal.SIGINT):
            self._loop.add_signal_handler(number, self._stop, number)

    def _stop(self, number: int) -> None:
        if self.signal is None:
            self.signal = number
            self._task.cancel()

    def remove(self) -> None:
        for number in (signal.SIGTERM, signal.SIGINT):
            self._loop.remove_signal_handler(number)


def catalogue_of(path: str) -> ActionCatalogue:
    """The default catalogue with the `{"9901": "expedite"}` type map of a JSON file added."""
    try:
        value = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise RecordingError(f"{path}: not JSON: {exc}") from None
    return DEFAULT_CATALOGUE.with_types(parse_types(value, path))


def trace_observer(out: IO[str]) -> StepObserver:
    """Prints each input's trace line as the runtime folds it (live, or a paced replay)."""

    def trace(match: Match, message: Input, update: Update) -> None:
        write_json(out, trace_line(message, update))
        out.flush()

    return trace


PROG = "ttengine"


def fail(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `ttengine replay: --best-of: … (see ttengine replay --help)`."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def checked(kind: Callable[[str], Any], check: Callable[[Any], bool], need: str) -> Callable[[str], Any]:
    """An argparse type: `kind(text)`, refused unless `check` holds; `need` says what is wanted."""

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{need}, not {text!r}") from None
        if not check(value):
            raise argparse.ArgumentTypeError(f"{need}, not {text}")
        return value

    convert.__name__ = need  # what argparse names in its own messages
    return convert


arg_positive = checked(float, lambda v: 0 < v < math.inf, "a positive number")
arg_non_negative = checked(float, lambda v: 0 <= v < math.inf, "a number of 0 or more")
arg_count = checked(int, lambda v: v >= 0, "a whole number of 0 or more")
arg_positive_int = checked(int, lambda v: v >= 1, "a whole number of 1 or more")
arg_probability = checked(float, lambda v: 0 <= v <= 1, "a probability from 0 to 1")
arg_port = checked(int, lambda v: 0 <= v <= 65535, "a port from 0 to 65535")
arg_best_of = checked(
    int, lambda v: 1 <= v <= MAX_BEST_OF and v % 2 == 1, f"an odd number of games from 1 to {MAX_BEST_OF}"
)


arg_margin = checked(float, lambda v: 0 <= v < 1, "a margin from 0 up to 1 (0.05 is 5 %)")
arg_decimal_odds = checked(float, lambda v: 1 < v < math.inf, "decimal odds above 1")


def odds_flags(parser: argparse.ArgumentParser) -> None:
    """`--margin` and `--pre-match`: what `MarketConfig.pricing` takes."""
    parser.add_argument(
        "--margin",
        type=arg_margin,
        default=None,
        metavar="M",
        help="one margin for every market type, at least 0.02 (None: 5 %% two-way … 12 %% correct score)",
    )
    parser.add_argument(
        "--pre-match",
        type=arg_decimal_odds,
        nargs=2,
        default=None,
        metavar=("HOME_ODDS", "AWAY_ODDS"),
        help="a bookmaker's pre-match match odds (margin removed by Shin's method): the prices start from them",
    )
    parser.add_argument(
        "--ratings",
        type=Path,
        default=None,
        metavar="FILE",
        help="players' ratings (`ttengine ratings build`): the prices' prior once the lineups name both sides"
        " (--pre-match wins over them)",
    )


def pricing_of(args: argparse.Namespace, fmt: MatchFormat) -> Pricing:
    """The pricing `--margin` and `--pre-match` ask for (ValueError, in words, when they cannot be)."""
    pricing = DEFAULT_PRICING
    if args.margin is not None:
        pricing = pricing.with_margin(args.margin)
    if args.pre_match is not None:
        if fmt.best_of is None:
            raise ValueError("--pre-match needs the match format: give --best-of")
        home_odds, away_odds = args.pre_match
        pricing = pricing.with_pre_match(home_odds, away_odds, fmt)
    return pricing


def markets_of(args: argparse.Namespace, fmt: MatchFormat) -> MarketConfig:
    """The market config of `replay`, `connect` and `demo`: `--no-prices`, `--margin`, `--pre-match`,
    `--ratings`."""
    if not getattr(args, "prices", True):
        if args.margin is not None or args.pre_match is not None or args.ratings is not None:
            raise ValueError("--no-prices leaves nothing for --margin, --pre-match or --ratings to change")
        return attrs.evolve(DEFAULT_MARKETS, pricing=None)
    ratings = None if args.ratings is None else load_ratings(args.ratings)
    return attrs.evolve(DEFAULT_MARKETS, pricing=pricing_of(args, fmt), ratings=ratings)


def format_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--best-of",
        type=arg_best_of,
        default=None,
        metavar="N",
        help="games in the match (default: the recording's, else unknown: match markets wait for End Match)",
    )
    parser.add_argument("--doubles", action="store_true", help="a doubles match")


def version() -> str:
    """The installed version and which build of the pricing kernel runs (README "Performance")."""
    build = "compiled kernel" if kernel.COMPILED else "plain-Python kernel"
    try:
        return f"{metadata.version('ttengine')} ({build})"
    except metadata.PackageNotFoundError:
        return f"unknown (not installed; {build})"


class CommandMaker(Protocol):
    """Adds one subcommand to the parser (`ttengine NAME`) and returns its parser."""

    def __call__(
        self, name: str, help_text: str, formatter: type[argparse.HelpFormatter] = ...
    ) -> argparse.ArgumentParser: ...
