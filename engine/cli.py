"""Command line: `ttengine {demo,replay,serve,connect,follow,price,report,calibrate} …` (also
`python -m engine`).

    demo [--speed 20] [--summary]          a real match served on loopback, followed live
    replay FILE [--summary|--trace] [--speed X]
    serve PATH --port P (--token T | --token-env VAR) [faults]
    connect FIXTURE --token-env VAR [--record FILE] [--base URL] [--max-retries N]
    follow [FIXTURE_ID[:bestOf] ...] [--config desk.toml] [--http HOST:PORT] [--updates FILE|-]

Errors are one line on stderr; exit codes: 0 done, 1 the feed failed, 2 bad usage or input,
3 the provider refused the token or the request, 130 interrupted (Ctrl-C), 141 the reader of our
output went away.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import math
import os
import secrets
import signal
import sys
from collections.abc import Callable, Sequence
from importlib import metadata, resources
from pathlib import Path
from typing import IO, Any, NoReturn

import attrs
import orjson

from engine import playback
from engine.analysis import calibration, review, table
from engine.analysis.report import summarize
from engine.analysis.results import read_match_results
from engine.analysis.scoreboard import Scoreboard
from engine.analysis.trace import describe_update
from engine.core.config import DEFAULT_MARKETS, MarketConfig
from engine.core.inputs import Input
from engine.core.match.rules import (
    MAX_BEST_OF,
    UNKNOWN_FORMAT,
    MatchFormat,
    Side,
    game_winner,
    match_winner,
    possible_game_score,
)
from engine.core.pricing import kernel
from engine.core.pricing.model import DEFAULT_PRICING, Position, Pricing, Strengths, Weighted, posterior, price_weighted
from engine.core.state import MatchState
from engine.core.update import Update, stamp
from engine.feed.catalogue import DEFAULT_CATALOGUE, ActionCatalogue
from engine.feed.wire import Malformed
from engine.io.client import ClientSettings
from engine.io.protocol import FeedError, Secret
from engine.io.recording import RecordingError, parse_types, read_recording
from engine.io.server import Faults, ProviderServer, load_fixtures
from engine.match import Match, StepObserver, connect, replay
from engine.ratings import Ratings, load_ratings, prior_for, save_ratings
from engine.ratings import build as build_ratings

EXIT_OK, EXIT_FEED_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a writer killed by SIGPIPE
EXIT_INTERRUPTED = 128 + 2  # Ctrl-C (SIGINT)


def _write_json(out: IO[str], value: object, indent: bool = False) -> None:
    out.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0).decode() + "\n")


def _trace_line(message: Input, update: Update) -> dict[str, Any]:
    """The `--trace` line of one input: its update (README "Command line")."""
    return describe_update(update, message.reason if isinstance(message, Malformed) else None)


# --- replay --------------------------------------------------------------------------------------


def _replay(args: argparse.Namespace) -> int:
    if args.table is not None:
        if args.pre_match is not None:
            return _fail(f"{PROG} replay: --pre-match is one match's odds: not with --table", EXIT_USAGE)
        try:
            markets = _markets(args, UNKNOWN_FORMAT)
        except ValueError as exc:
            return _fail(f"{PROG} replay: {exc}", EXIT_USAGE)
        return _table(args, markets)
    if Path(args.file).is_dir():
        return _fail(f"{PROG} replay: {args.file} is a folder: give --table FILE.csv|FILE.parquet", EXIT_USAGE)
    try:
        recording = read_recording(args.file)
        fmt = playback.overridden(recording.meta.format(UNKNOWN_FORMAT), args.best_of, args.doubles)
        markets = _markets(args, fmt)
        state = playback.start_state(recording, args.best_of, args.doubles, markets)
    except (RecordingError, ValueError) as exc:
        return _fail(f"{PROG} replay: {exc}", EXIT_USAGE)
    unreadable = recording.without_actions()
    if unreadable is not None:
        return _fail(f"{PROG} replay: {args.file}: {unreadable}", EXIT_USAGE)
    out = sys.stdout
    if args.speed is None and not args.trace:
        state = playback.fold(recording, args.best_of, args.doubles, markets)
    elif args.speed is None:
        for moment, message, state_after, events in playback.steps(recording, state):
            _write_json(out, _trace_line(message, stamp(state_after, message, events, moment)))
            state = state_after
    else:
        state = asyncio.run(_paced_replay(args, state.format, markets, out))
    if not args.trace:
        _write_json(out, summarize(state), indent=True)
    return EXIT_OK


def _table(args: argparse.Namespace, markets: MarketConfig) -> int:
    """`replay DIR --table FILE`: one row per recording; each unreadable one is one line on stderr."""
    if args.trace or args.speed is not None:
        return _fail(f"{PROG} replay: --table replays as fast as it can: no --trace or --speed", EXIT_USAGE)
    source, destination = Path(args.file), Path(args.table)
    try:
        table.check_destination(destination)
    except ValueError as exc:
        return _fail(f"{PROG} replay: {exc}", EXIT_USAGE)
    paths = table.recordings_in(source) if source.is_dir() else [source]
    if not paths:
        patterns = ", ".join(table.RECORDING_PATTERNS)
        return _fail(f"{PROG} replay: {source}: no recording ({patterns}) in this folder", EXIT_USAGE)
    from tqdm import tqdm  # only this command shows progress

    unread: list[str] = []

    def failed(path: Path, why: str) -> None:
        unread.append(str(path))
        tqdm.write(f"{PROG} replay: {path}: {why} (skipped)", file=sys.stderr)

    progress = tqdm(total=len(paths), desc="replaying", unit="recording", file=sys.stderr, disable=None, leave=False)
    with progress:
        found = table.rows(paths, failed, markets, args.best_of, args.doubles, args.jobs, lambda: progress.update(1))
    try:
        table.write_table(found, destination)
    except OSError as exc:
        return _fail(f"{PROG} replay: cannot write {destination}: {exc.strerror or exc}", EXIT_USAGE)
    print(f"{destination}: {len(found)} rows from {len(paths)} recordings, {len(unread)} unreadable", file=sys.stderr)
    return EXIT_USAGE if unread else EXIT_OK


async def _paced_replay(args: argparse.Namespace, fmt: MatchFormat, markets: MarketConfig, out: IO[str]) -> MatchState:
    observer = _trace_observer(out) if args.trace else None
    match = replay(args.file, args.speed, fmt=fmt, markets=markets, on_input=observer)
    async with match:
        return await match.wait()


# --- following a live match: demo and connect ----------------------------------------------------


async def _follow(match: Match, out: IO[str], command: str, board: Scoreboard | None, summary: bool) -> int:
    """Follow `match` to its end; the board's final table and/or the JSON summary after it.
    SIGTERM or SIGINT stops following: the closing bet stop (every undecided market suspended,
    `not_followed`) is printed like any update, then exit 0 (SIGTERM) or 130 (SIGINT)."""
    stopped_by = _StopSignals()
    try:
        async with match:
            state = await match.wait()
    except asyncio.CancelledError:
        if stopped_by.signal is None:
            raise
        out.flush()
        name = signal.Signals(stopped_by.signal).name
        print(f"{PROG} {command}: {name}: stopped following; every undecided market suspended", file=sys.stderr)
        return EXIT_INTERRUPTED if stopped_by.signal == signal.SIGINT else EXIT_OK
    except FeedError as exc:
        return _fail(f"{PROG} {command}: {exc}", EXIT_REFUSED)
    except BrokenPipeError:
        raise  # our reader went away (`| head`): main ends quietly
    except (OSError, RecordingError) as exc:
        return _fail(f"{PROG} {command}: {exc}", EXIT_FEED_FAILED)
    finally:
        stopped_by.remove()
    if board is not None:
        out.write("\n" + board.final_table(state))
    if summary:
        _write_json(out, summarize(state), indent=True)
    return EXIT_OK


class _StopSignals:
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


#: The demo's pace: a 13-minute match in about 40 seconds.
DEMO_SPEED = 20.0
#: The match the demo serves: a real best-of-7 (AI CUP 2026 match 5; engine/data/ATTRIBUTION.md),
#: shipped inside the package so an installed `ttengine demo` runs anywhere.
DEMO_RECORDING = resources.files("engine") / "data" / "demo_match.jsonl.gz"


def _demo(args: argparse.Namespace) -> int:
    try:
        with resources.as_file(DEMO_RECORDING if args.recording is None else Path(args.recording)) as path:
            fixtures = load_fixtures(path)
            meta = read_recording(path).meta
    except RecordingError as exc:
        return _fail(f"{PROG} demo: {exc}", EXIT_USAGE)
    (fixture_id,) = fixtures
    fmt = meta.format(UNKNOWN_FORMAT)
    try:
        markets = _markets(args, fmt)
    except ValueError as exc:
        return _fail(f"{PROG} demo: {exc}", EXIT_USAGE)
    token = Secret(secrets.token_urlsafe(24))  # the demo's own token, never shown
    out = sys.stdout
    board = Scoreboard(out, args.all_signals)

    async def run() -> int:
        async with ProviderServer(fixtures, token, speed=args.speed) as server:
            out.write(
                f"{PROG} demo: a real best-of-{meta.best_of} match (AI CUP 2026) served by our provider-compatible"
                f" server at {server.base}\nand followed live with the websocket adapter, at {args.speed:g}x real"
                " time (--speed to change; Ctrl-C stops)\n\n"
            )
            match = connect(
                fixture_id,
                token,
                base=server.base,
                fmt=fmt,
                markets=markets,
                on_input=board,
            )
            return await _follow(match, out, "demo", board, args.summary)

    return asyncio.run(run())


def _connect(args: argparse.Namespace) -> int:
    value = os.environ.get(args.token_env)
    if not value:
        return _fail(f"{PROG} connect: environment variable {args.token_env} is not set or empty", EXIT_USAGE)
    try:
        settings = ClientSettings(
            base=args.base,
            stale_after=args.stale_after,
            allow_insecure=args.allow_insecure,
            max_retries=args.max_retries,
        )
    except ValueError as exc:
        return _fail(f"{PROG} connect: {str(exc).replace('allow_insecure=True', '--allow-insecure')}", EXIT_USAGE)
    fmt = playback.overridden(UNKNOWN_FORMAT, args.best_of, args.doubles)
    try:
        catalogue = DEFAULT_CATALOGUE if args.types is None else _catalogue(args.types)
        markets = _markets(args, fmt)
    except (RecordingError, ValueError) as exc:
        return _fail(f"{PROG} connect: {exc}", EXIT_USAGE)
    board = None if args.trace else Scoreboard(sys.stdout, args.all_signals)
    observer = _trace_observer(sys.stdout) if board is None else board
    match = connect(
        args.fixture,
        Secret(value),
        fmt=fmt,
        markets=markets,
        record=args.record,
        settings=settings,
        on_input=observer,
        catalogue=catalogue,
    )
    return asyncio.run(_follow(match, sys.stdout, "connect", board, summary=board is not None))


def _catalogue(path: str) -> ActionCatalogue:
    """The default catalogue with the `{"9901": "expedite"}` type map of a JSON file added."""
    try:
        value = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise RecordingError(f"{path}: not JSON: {exc}") from None
    return DEFAULT_CATALOGUE.with_types(parse_types(value, path))


def _trace_observer(out: IO[str]) -> StepObserver:
    """Prints each input's trace line as the runtime folds it (live, or a paced replay)."""

    def trace(match: Match, message: Input, update: Update) -> None:
        _write_json(out, _trace_line(message, update))
        out.flush()

    return trace


# --- follow: the desk ----------------------------------------------------------------------------


def _follow_desk(args: argparse.Namespace) -> int:
    """`follow`: many fixtures as one service (engine.desk.run)."""
    from engine.desk.config import DeskConfig, load_config, parse_fixture_argument
    from engine.desk.learning import RatingsLearner
    from engine.desk.run import ALIVE_EVERY, ServiceOptions, parse_http, run_service, use_log_format
    from engine.match import LAG_LIMIT

    def fail(message: str) -> int:
        return _fail(f"{PROG} follow: {message}", EXIT_USAGE)

    try:
        config = DeskConfig() if args.config is None else load_config(args.config)
        fixtures = tuple(parse_fixture_argument(text) for text in args.fixtures)
    except ValueError as exc:  # ConfigError is one
        return fail(str(exc))
    service = config.service
    log_format = args.log_format or service.log_format or "text"
    use_log_format(log_format)
    token_env = args.token_env or service.token_env
    if token_env is None:
        return fail("give --token-env VAR (or token_env in the config's [service])")
    value = os.environ.get(token_env)
    if not value:
        return fail(f"environment variable {token_env} is not set or empty")
    if not fixtures and args.config is None:
        return fail("nothing to follow: give FIXTURE_ID[:bestOf] … or --config FILE")
    ids = [entry.fixture_id for entry in fixtures]
    if len(set(ids)) < len(ids):
        return fail("a fixture is given twice")
    margin = args.margin if args.margin is not None else service.margin
    try:
        settings = ClientSettings(
            base=args.base or service.base or ClientSettings().base,
            stale_after=args.stale_after or service.stale_after or ClientSettings().stale_after,
            allow_insecure=args.allow_insecure,
            max_retries=args.max_retries if args.max_retries is not None else service.max_retries,
        )
        for entry in fixtures:
            entry.markets(margin)  # refused here, in words, rather than when it is followed
        http_text = args.http or service.http
        http = None if http_text is None else parse_http(http_text)
    except ValueError as exc:
        return fail(str(exc).replace("allow_insecure=True", "--allow-insecure"))
    http_token_env = args.http_token_env or service.http_token_env
    http_token = None
    if http_token_env is not None:
        if http is None:
            return fail("--http-token-env needs --http (or http in the config's [service])")
        http_value = os.environ.get(http_token_env)
        if not http_value:
            return fail(f"environment variable {http_token_env} is not set or empty")
        http_token = Secret(http_value)
    record_text = args.record_dir or service.record_dir
    record_dir = None if record_text is None else Path(record_text)
    if record_dir is not None:
        try:
            record_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return fail(f"cannot create {record_dir}: {exc.strerror or exc}")
    exit_when_done = args.config is None if service.exit_when_done is None else service.exit_when_done
    ratings_path = args.ratings or (None if service.ratings is None else Path(service.ratings))
    learner = None
    if ratings_path is not None:
        try:
            learner = RatingsLearner(load_ratings(ratings_path) if ratings_path.exists() else Ratings(), ratings_path)
        except ValueError as exc:
            return fail(str(exc))
    options = ServiceOptions(
        Secret(value),
        settings,
        fixtures,
        None if args.config is None else Path(args.config),
        config,
        margin,
        args.updates or service.updates,
        record_dir,
        http,
        http_token,
        args.exit_when_done or exit_when_done,
        args.alive_every or service.alive_every or ALIVE_EVERY,
        args.lag_limit or service.lag_limit or LAG_LIMIT,
        learner,
    )
    try:
        return asyncio.run(run_service(options, sys.stdout.buffer, sys.stderr))
    except BrokenPipeError:
        raise  # our reader went away (`--updates - | head`): main ends quietly
    except OSError as exc:  # the updates file, the HTTP port: before anything was followed
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{PROG} follow: {where}{exc.strerror or exc}", EXIT_USAGE)


# --- serve ---------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    if args.token is None and args.token_env is None:
        return _fail(f"{PROG} serve: give --token T or --token-env VAR", EXIT_USAGE)
    token_text = args.token if args.token is not None else os.environ.get(args.token_env, "")
    if not token_text:
        where = "--token" if args.token is not None else f"environment variable {args.token_env}"
        return _fail(f"{PROG} serve: {where} is empty or not set", EXIT_USAGE)
    try:
        fixtures = load_fixtures(args.path)
        faults = Faults(
            drop_after=tuple(args.drop_after),
            duplicate=args.duplicate,
            reorder_window=args.reorder,
            delay=args.delay,
            silence_after=args.silence_after,
            silence_for=args.silence_for,
            seed=args.seed,
        )
        server = ProviderServer(
            fixtures,
            Secret(token_text),
            host=args.host,
            port=args.port,
            heartbeat=args.heartbeat,
            speed=args.speed,
            faults=faults,
            require_accept=args.require_accept,
            live=args.live,
            started_ago=args.started_ago,
        )
    except (RecordingError, ValueError) as exc:
        return _fail(f"{PROG} serve: {exc}", EXIT_USAGE)

    async def run() -> None:
        await server.start()
        for fixture_id in fixtures:
            print(f"serving {server.base}/v2/tabletennis/fixtures/{fixture_id}/actions", flush=True)
        await server.serve_forever()

    try:
        asyncio.run(run())
    except OSError as exc:
        return _fail(f"{PROG} serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", EXIT_FEED_FAILED)
    return EXIT_OK  # serve_forever returns only when stopped: Ctrl-C ends in main (exit 130)


# --- ratings -------------------------------------------------------------------------------------


def _ratings_build(args: argparse.Namespace) -> int:
    try:
        results, skipped = read_match_results(args.results)
    except (RecordingError, ValueError, OSError) as exc:
        return _fail(f"{PROG} ratings build: {exc}", EXIT_USAGE)
    if not results:
        return _fail(f"{PROG} ratings build: no match result in {', '.join(map(str, args.results))}", EXIT_USAGE)
    ratings = build_ratings(results)
    try:
        save_ratings(ratings, args.output)
    except OSError as exc:
        return _fail(f"{PROG} ratings build: cannot write {args.output}: {exc.strerror or exc}", EXIT_USAGE)
    years = sorted({year for _, _, _, year in results})
    left_out = sum(skipped.values())
    print(
        f"rated {len(ratings)} players from {len(results)} matches ({years[0]}-{years[-1]})"
        f"{f', {left_out} rows left out' if left_out else ''} -> {args.output}"
    )
    return EXIT_OK


def _ratings_show(args: argparse.Namespace) -> int:
    try:
        ratings = load_ratings(args.ratings)
    except ValueError as exc:
        return _fail(f"{PROG} ratings show: {exc}", EXIT_USAGE)
    code = EXIT_OK
    for name in args.names:
        lookup = ratings.lookup(name)
        if lookup.rating is None:
            also = f": {', '.join(lookup.candidates)}" if lookup.candidates else ""
            print(f"{name}: {lookup.why}{also}", file=sys.stderr)
            code = EXIT_USAGE
            continue
        rating = lookup.rating
        _write_json(
            sys.stdout,
            {
                "name": name,
                "rating": round(rating.mu, 1),
                "uncertainty": round(rating.rd, 1),
                "matches": rating.matches,
                "lastYear": rating.year,
            },
        )
    return code


# --- price ---------------------------------------------------------------------------------------


def _price(args: argparse.Namespace) -> int:
    fmt = MatchFormat(best_of=args.best_of, doubles=args.doubles)
    try:
        position = _position(fmt, args.score, Side(args.server), args.expedite)
        pricing = _pricing(args, fmt)
        if (args.ratings is None) != (args.players is None):
            raise ValueError("--ratings and --players go together: the ratings of which players")
        if args.ratings is not None and args.players is not None and not pricing.has_prior:
            home, away = args.players
            found = prior_for(load_ratings(args.ratings), home, away, fmt, pricing.prior)
            for lookup in (found.home, found.away):
                if lookup.rating is None:
                    also = f": {', '.join(lookup.candidates)}" if lookup.candidates else ""
                    raise ValueError(f"--players: {lookup.name!r} is {lookup.why} in {args.ratings}{also}")
            pricing = pricing.with_ratings(found.prior, found.home_edge)
            print(
                f"{PROG} price: P(home wins) {found.home_wins:.3f} before the first point from the ratings,"
                f" prior strength {found.prior.strength:g} points",
                file=sys.stderr,
            )
        weighted = _strengths(args, pricing)
    except ValueError as exc:
        return _fail(f"{PROG} price: {exc}", EXIT_USAGE)
    catalogue = DEFAULT_MARKETS.catalogue
    markets = catalogue.match_markets(fmt)
    for game in range(position.game, args.best_of + 1):
        markets.extend(catalogue.game_markets(game))
    point = catalogue.point_market(position.game, sum(position.points) + 1)
    if point is not None:
        markets.append(point)
    fair = price_weighted(position, weighted, markets)
    if args.odds:
        types = {market.id: market.type for market in markets}
        offered = {market_id: pricing.odds.offer(outcomes, types[market_id]) for market_id, outcomes in fair.items()}
        _write_json(sys.stdout, {market_id: odds for market_id, odds in offered.items() if odds}, indent=True)
    else:
        _write_json(sys.stdout, fair, indent=True)
    return EXIT_OK


def _strengths(args: argparse.Namespace, pricing: Pricing) -> Weighted:
    """The point strengths `price` uses, with their weights: the two given, else the model's
    posterior from the points of the score (and the `--pre-match` edge), as the live prices use it."""
    given = (args.p_home_serve, args.p_away_serve)
    if given.count(None) == 1:
        raise ValueError("give both --p-home-serve and --p-away-serve, or neither (the model's estimate)")
    if args.p_home_serve is not None and args.p_away_serve is not None:
        if args.pre_match is not None:
            raise ValueError("--pre-match sets the strengths: not with --p-home-serve and --p-away-serve")
        return ((1.0, Strengths(args.p_home_serve, args.p_away_serve)),)
    home = sum(score[0] for score in _games_and_current(args.score))
    away = sum(score[1] for score in _games_and_current(args.score))
    return posterior(home, away, pricing.prior, pricing.home_edge)


def _games_and_current(score: str) -> list[tuple[int, int]]:
    """Every game's points in `--score` ("11-7,9-11,3-2"), read loosely (`_position` checks them)."""
    out = []
    for part in score.split(","):
        home, _, away = part.strip().partition("-")
        out.append((int(home), int(away)))
    return out


def _position(fmt: MatchFormat, score: str, server: Side, expedite: bool) -> Position:
    """The position `--score "11-7,9-11,3-2"` names: finished games, then the current one."""
    try:
        games = [tuple(int(part) for part in game.split("-")) for game in score.split(",")]
    except ValueError:
        raise ValueError(f"--score: games are points like 11-7, separated by commas, not {score!r}") from None
    if any(len(game) != 2 or min(game) < 0 for game in games):
        raise ValueError(f"--score: games are points like 11-7, separated by commas, not {score!r}")
    *finished, current = games
    won = [0, 0]
    for number, (home, away) in enumerate(finished, start=1):
        winner = game_winner(home, away, fmt)
        if winner is None:
            raise ValueError(f"--score: game {number} at {home}-{away} is not finished (only the last game may go on)")
        won[0 if winner is Side.HOME else 1] += 1
    if match_winner(won[0], won[1], fmt) is not None:
        raise ValueError(f"--score: the match is over at {won[0]}-{won[1]} in games: nothing to price")
    home, away = current
    if game_winner(home, away, fmt) is not None or not possible_game_score(home, away, fmt):
        raise ValueError(f"--score: the current game cannot stand at {home}-{away} (a finished game, then 0-0)")
    return Position(fmt, (won[0], won[1]), len(finished) + 1, (home, away), server, expedite)


# --- report ----------------------------------------------------------------------------------------


def _report(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("matplotlib") is None:
        return _fail(f"{PROG} report: the picture needs matplotlib: pip install 'ttengine[plot]'", EXIT_USAGE)
    destination = Path(args.output)
    if destination.suffix not in (".png", ".svg"):
        return _fail(f"{PROG} report: -o {destination.name}: write .png or .svg", EXIT_USAGE)
    try:
        found = review.review_file(Path(args.file), best_of=args.best_of, doubles=args.doubles)
    except (RecordingError, ValueError, OSError) as exc:
        return _fail(f"{PROG} report: {args.file}: {exc}", EXIT_USAGE)
    from engine.analysis.review_plot import draw

    try:
        draw(found, destination)
    except OSError as exc:
        return _fail(f"{PROG} report: cannot write {destination}: {exc.strerror or exc}", EXIT_USAGE)
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
            return _fail(f"{PROG} calibrate: {flag} needs matplotlib: pip install 'ttengine[plot]'", EXIT_USAGE)
        if picture is not None and not picture.resolve().parent.is_dir():
            return _fail(f"{PROG} calibrate: {flag} {picture}: no such folder {picture.parent}", EXIT_USAGE)
    if args.in_game_plot is not None and not args.in_game:
        return _fail(f"{PROG} calibrate: --in-game-plot draws the --in-game recordings: give them", EXIT_USAGE)
    try:
        evaluation = calibration.evaluate(args.results, args.split_year, strength=args.strength)
    except OSError as exc:
        return _fail(f"{PROG} calibrate: {args.results}: {exc.strerror or exc}", EXIT_USAGE)
    except (ValueError, KeyError, UnicodeDecodeError, EOFError) as exc:
        return _fail(f"{PROG} calibrate: {args.results}: not an ITTF results CSV ({exc})", EXIT_USAGE)
    summary = evaluation.summary()
    try:
        if args.ratings or args.ratings_plot is not None:
            rated = calibration.evaluate_ratings(args.results, args.split_year)
            summary["ratings"] = rated.summary()
            if args.ratings_plot is not None:
                calibration.plot_ratings(rated, args.ratings_plot)
        if args.in_game:
            summary["in_game"] = calibration.in_game_report(args.in_game)
        if args.plot is not None:
            calibration.plot_reliability(evaluation, args.plot)
        if args.in_game_plot is not None:
            calibration.plot_in_game(calibration.in_game_forecasts(args.in_game), args.in_game_plot)
    except RecordingError as exc:
        return _fail(f"{PROG} calibrate: --in-game: {exc}", EXIT_USAGE)
    except (OSError, ValueError) as exc:  # matplotlib refuses an unknown suffix with ValueError
        return _fail(f"{PROG} calibrate: cannot write a picture: {exc}", EXIT_USAGE)
    _write_json(sys.stdout, summary, indent=True)
    return EXIT_OK


# --- the parser ----------------------------------------------------------------------------------

PROG = "ttengine"


def _fail(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `ttengine replay: --best-of: … (see ttengine replay --help)`."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _checked(kind: Callable[[str], Any], check: Callable[[Any], bool], need: str) -> Callable[[str], Any]:
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


_positive = _checked(float, lambda v: 0 < v < math.inf, "a positive number")
_non_negative = _checked(float, lambda v: 0 <= v < math.inf, "a number of 0 or more")
_count = _checked(int, lambda v: v >= 0, "a whole number of 0 or more")
_positive_int = _checked(int, lambda v: v >= 1, "a whole number of 1 or more")
_probability = _checked(float, lambda v: 0 <= v <= 1, "a probability from 0 to 1")
_port = _checked(int, lambda v: 0 <= v <= 65535, "a port from 0 to 65535")
_best_of = _checked(
    int, lambda v: 1 <= v <= MAX_BEST_OF and v % 2 == 1, f"an odd number of games from 1 to {MAX_BEST_OF}"
)


_margin = _checked(float, lambda v: 0 <= v < 1, "a margin from 0 up to 1 (0.05 is 5 %)")
_decimal_odds = _checked(float, lambda v: 1 < v < math.inf, "decimal odds above 1")


def _odds_flags(parser: argparse.ArgumentParser) -> None:
    """`--margin` and `--pre-match`: what `MarketConfig.pricing` takes."""
    parser.add_argument(
        "--margin",
        type=_margin,
        default=None,
        metavar="M",
        help="one margin for every market type, at least 0.02 (None: 5 %% two-way … 12 %% correct score)",
    )
    parser.add_argument(
        "--pre-match",
        type=_decimal_odds,
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


def _pricing(args: argparse.Namespace, fmt: MatchFormat) -> Pricing:
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


def _markets(args: argparse.Namespace, fmt: MatchFormat) -> MarketConfig:
    """The market config of `replay`, `connect` and `demo`: `--no-prices`, `--margin`, `--pre-match`,
    `--ratings`."""
    if not getattr(args, "prices", True):
        if args.margin is not None or args.pre_match is not None or args.ratings is not None:
            raise ValueError("--no-prices leaves nothing for --margin, --pre-match or --ratings to change")
        return attrs.evolve(DEFAULT_MARKETS, pricing=None)
    ratings = None if args.ratings is None else load_ratings(args.ratings)
    return attrs.evolve(DEFAULT_MARKETS, pricing=_pricing(args, fmt), ratings=ratings)


def _format_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--best-of",
        type=_best_of,
        default=None,
        metavar="N",
        help="games in the match (default: the recording's, else unknown: match markets wait for End Match)",
    )
    parser.add_argument("--doubles", action="store_true", help="a doubles match")


def _version() -> str:
    """The installed version and which build of the pricing kernel runs (README "Performance")."""
    build = "compiled kernel" if kernel.COMPILED else "plain-Python kernel"
    try:
        return f"{metadata.version('ttengine')} ({build})"
    except metadata.PackageNotFoundError:
        return f"unknown (not installed; {build})"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Table tennis live market state engine.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more: -v for INFO, -vv for DEBUG")
    parser.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default=None,
        help="log level on stderr (default: WARNING, or as -v says)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, help_text: str, formatter: type[argparse.HelpFormatter] = argparse.ArgumentDefaultsHelpFormatter
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = commands.add_parser(
            name, help=help_text, description=help_text, formatter_class=formatter
        )
        return sub

    play = command("replay", "fold a recording and print its summary or trace")
    play.add_argument(
        "file",
        help="JSONL recording, provider messages one per line, or a JSON array (gzip/bzip2/xz too); "
        "with --table, a folder of recordings",
    )
    output = play.add_mutually_exclusive_group()
    output.add_argument("--summary", action="store_true", help="print the final state (the default)")
    output.add_argument("--trace", action="store_true", help="print one JSON line per input message")
    play.add_argument(
        "--speed", type=_positive, default=None, help="pace by receive times, X times faster (default: no pacing)"
    )
    play.add_argument(
        "--table",
        default=None,
        metavar="FILE",
        help="one row per recording (FILE.csv, or FILE.parquet with ttengine[table]); unreadable ones are reported",
    )
    play.add_argument(
        "--jobs",
        type=_positive_int,
        default=os.cpu_count() or 1,
        help="with --table: how many processes replay at once (the default is one per core)",
    )
    play.add_argument(
        "--no-prices",
        dest="prices",
        action="store_false",
        help="no prices (faster: pricing is most of a replay's time)",
    )
    _format_flags(play)
    _odds_flags(play)
    play.set_defaults(run=_replay)

    demo = command("demo", "serve a real match on loopback and follow it live with the real adapter")
    demo.add_argument("--speed", type=_positive, default=DEMO_SPEED, help="X times the real pace")
    demo.add_argument("--summary", action="store_true", help="print the final state as JSON at the end")
    demo.add_argument("--all-signals", action="store_true", help="one line per signal, suspensions included")
    demo.add_argument("--recording", default=None, help=argparse.SUPPRESS)
    _odds_flags(demo)
    demo.set_defaults(run=_demo)

    live = command("connect", "follow a fixture on the provider's live feed")
    live.add_argument("fixture", help="the fixture id (UUID)")
    live.add_argument("--token-env", required=True, metavar="VAR", help="environment variable holding the auth token")
    live.add_argument("--record", default=None, metavar="FILE", help="append every received frame to this recording")
    live.add_argument("--base", default=ClientSettings().base, help="provider base URL")
    live.add_argument(
        "--stale-after",
        type=_positive,
        default=ClientSettings().stale_after,
        help="seconds of silence before markets suspend",
    )
    live.add_argument(
        "--max-retries",
        type=_count,
        default=None,
        metavar="N",
        help="reconnections in a row without a frame before giving up (default: never give up)",
    )
    live.add_argument(
        "--types",
        default=None,
        metavar="FILE",
        help='JSON map of type ids the default catalogue lacks, e.g. {"9901": "expedite"} (recorded in the meta)',
    )
    live.add_argument("--allow-insecure", action="store_true", help="allow plain ws:// to a host that is not loopback")
    live.add_argument("--trace", action="store_true", help="one JSON line per input instead of the scoreboard")
    live.add_argument("--all-signals", action="store_true", help="one line per signal, suspensions included")
    _format_flags(live)
    _odds_flags(live)
    live.set_defaults(run=_connect)

    desk = command(
        "follow",
        "follow many fixtures as one service: their updates, health, metrics and a live page; SIGHUP reloads"
        " --config, SIGTERM/SIGINT close every fixture with a closing bet stop",
        argparse.HelpFormatter,  # a flag's default comes from the config file, else as its help says
    )
    desk.add_argument("fixtures", nargs="*", metavar="FIXTURE_ID[:bestOf]", help="fixtures to follow (and --config's)")
    desk.add_argument(
        "--token-env", default=None, metavar="VAR", help="environment variable holding the auth token (or the config's)"
    )
    desk.add_argument("--config", default=None, metavar="FILE", help="desk.toml: fixtures and service settings")
    desk.add_argument(
        "--base", default=None, metavar="URL", help=f"provider base URL (default: {ClientSettings().base})"
    )
    desk.add_argument(
        "--updates", default=None, metavar="FILE", help="write every update of every fixture as JSON Lines (-: stdout)"
    )
    desk.add_argument("--record-dir", default=None, metavar="DIR", help="record each fixture's frames to DIR/ID.jsonl")
    desk.add_argument(
        "--http",
        default=None,
        metavar="HOST:PORT",
        help="serve the live page, /fixtures and /metrics (read-only; e.g. 127.0.0.1:9100)",
    )
    desk.add_argument(
        "--http-token-env",
        default=None,
        metavar="VAR",
        help="environment variable holding a token every HTTP route asks for (Authorization: Bearer, or /?token= once)",
    )
    desk.add_argument(
        "--stale-after",
        type=_positive,
        default=None,
        metavar="S",
        help=f"seconds of silence before a fixture's markets suspend (default: {ClientSettings().stale_after:g})",
    )
    desk.add_argument(
        "--max-retries",
        type=_count,
        default=None,
        metavar="N",
        help="reconnections in a row without a frame before a fixture fails (default: never)",
    )
    desk.add_argument(
        "--exit-when-done",
        action="store_true",
        help="exit once every fixture has ended (the default without --config)",
    )
    desk.add_argument(
        "--log-format", choices=("text", "json"), default=None, help="log lines on stderr (default: text)"
    )
    desk.add_argument("--allow-insecure", action="store_true", help="allow plain ws:// to a host that is not loopback")
    desk.add_argument(
        "--alive-every",
        type=_positive,
        default=None,
        metavar="S",
        help='seconds between two {"alive": …, "run": …} lines in --updates (default: 1)',
    )
    desk.add_argument(
        "--ratings",
        type=Path,
        default=None,
        metavar="FILE",
        help="players' ratings (`ttengine ratings build`; created when missing): each fixture's prior once its"
        " lineups name both sides, and each finished match's result is added to the file",
    )
    desk.add_argument(
        "--lag-limit",
        type=_positive,
        default=None,
        metavar="S",
        help="seconds a consumer (the callbacks) may fall behind before its fixture's markets suspend"
        " (consumer_lagging; default: 1)",
    )
    desk.add_argument(
        "--margin",
        type=_margin,
        default=None,
        metavar="M",
        help="one margin for every market type of every fixture (a config fixture's own wins)",
    )
    desk.set_defaults(run=_follow_desk)

    pricing = command(
        "price",
        "fair probabilities (or, with --odds, the odds offered) of every undecided market at a score, from two point"
        " probabilities or from the points of --score and --pre-match odds",
    )
    pricing.add_argument("--best-of", type=_best_of, required=True, metavar="N", help="games in the match")
    pricing.add_argument("--doubles", action="store_true", help="a doubles match")
    pricing.add_argument(
        "--score", required=True, help='finished games then the current one, e.g. "11-7,9-11,3-2" (0-0: about to start)'
    )
    pricing.add_argument("--server", required=True, choices=("home", "away"), help="who serves the next point")
    pricing.add_argument("--expedite", action="store_true", help="the expedite system is on")
    pricing.add_argument(
        "--p-home-serve",
        type=_probability,
        default=None,
        metavar="P",
        help="P(home wins its serve), with --p-away-serve (None: the model's estimate from the points of --score)",
    )
    pricing.add_argument("--p-away-serve", type=_probability, default=None, metavar="Q", help="P(away wins its serve)")
    pricing.add_argument(
        "--odds", action="store_true", help="print the decimal odds offered instead (withdrawn markets left out)"
    )
    _odds_flags(pricing)
    pricing.add_argument(
        "--players", nargs=2, default=None, metavar=("HOME", "AWAY"), help="the players, as --ratings knows them"
    )
    pricing.set_defaults(run=_price)

    reporting = command("report", "draw one recorded match: score path, suspensions, settlements, corrections, price")
    reporting.add_argument("file", help="a recording (as replay reads it)")
    reporting.add_argument("-o", "--output", required=True, metavar="FILE", help="the picture: FILE.png or FILE.svg")
    _format_flags(reporting)
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
        "--strength", type=_positive, default=None, help="use this prior strength (points) instead of fitting one"
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

    rating = command("ratings", "players' ratings from match results: build a ratings file, show a player's rating")
    rating_commands = rating.add_subparsers(dest="ratings_command", required=True, metavar="SUBCOMMAND")
    building = rating_commands.add_parser(
        "build",
        help="rate every player of these results (in the order played)",
        description="rate every player of these results (in the order played): ITTF results CSVs (gzip or plain)"
        " and recordings (.jsonl, or folders of them)",
    )
    building.add_argument("results", type=Path, nargs="+", metavar="RESULTS", help="results files or recordings")
    building.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="the ratings file to write")
    building.set_defaults(run=_ratings_build)
    showing = rating_commands.add_parser(
        "show", help="a player's rating", description="a player's (or a pair's, 'A / B') rating"
    )
    showing.add_argument(
        "names", nargs="+", metavar="NAME", help='a name as the results give it, e.g. "DOE Jane (USA)"'
    )
    showing.add_argument("--ratings", type=Path, required=True, metavar="FILE", help="the ratings file")
    showing.set_defaults(run=_ratings_show)

    server = command("serve", "serve recordings over the provider's websocket protocol")
    server.add_argument("path", help="a JSONL recording or a folder of them")
    server.add_argument("--port", type=_port, default=8765, help="port to listen on (0: any free port)")
    server.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only, %(default)s)")
    tokens = server.add_mutually_exclusive_group()
    tokens.add_argument("--token", default=None, help="the token clients must send (visible to ps: prefer --token-env)")
    tokens.add_argument("--token-env", default=None, metavar="VAR", help="environment variable holding the token")
    server.add_argument(
        "--no-require-accept",
        dest="require_accept",
        action="store_false",
        help="serve clients that send no Accept header (python -m websockets); the provider refuses them",
    )
    server.add_argument("--heartbeat", type=_positive, default=10.0, help="seconds between heartbeats")
    server.add_argument(
        "--speed", type=_positive, default=None, help="pace by receive times, X times faster (default: no pacing)"
    )
    server.add_argument(
        "--drop-after", type=_count, nargs="*", default=[], metavar="K", help="fault: abort connection n after K frames"
    )
    server.add_argument(
        "--duplicate",
        type=_probability,
        default=0.0,
        metavar="P",
        help="fault: send each frame twice with probability P",
    )
    server.add_argument(
        "--reorder", type=_count, default=0, metavar="N", help="fault: shuffle frames within windows of N"
    )
    server.add_argument(
        "--delay", type=_non_negative, default=0.0, metavar="S", help="fault: extra seconds before each frame"
    )
    server.add_argument(
        "--silence-after", type=_count, default=None, metavar="K", help="fault: go silent after K frames"
    )
    server.add_argument("--silence-for", type=_non_negative, default=0.0, metavar="S", help="fault: for S seconds")
    server.add_argument("--seed", type=int, default=0, help="seed of the fault injection")
    server.add_argument(
        "--live",
        action="store_true",
        help="live mode: each match runs on its own clock from the server's start (at --speed, default 1);"
        " a client gets what is due at once, then the rest as it falls due",
    )
    server.add_argument(
        "--started-ago",
        type=_non_negative,
        default=0.0,
        metavar="S",
        help="live mode: the matches began S seconds of match time before the server started",
    )
    server.set_defaults(run=_serve)
    return parser


def _log_level(args: argparse.Namespace) -> int:
    if args.log_level is not None:
        return int(getattr(logging, args.log_level))
    return logging.DEBUG if args.verbose >= 2 else logging.INFO if args.verbose == 1 else logging.WARNING


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=_log_level(args), format="%(levelname)s %(name)s: %(message)s")
    try:
        code: int = args.run(args)
        sys.stdout.flush()
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (`| head`): stop quietly, as a killed pipe writer does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return EXIT_BROKEN_PIPE
    return code
