"""`ttengine replay`, `demo` and `connect`: one match folded from a recording or followed live."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import sys
from importlib import resources
from pathlib import Path
from typing import IO

from engine import playback
from engine.analysis import table
from engine.analysis.report import summarize
from engine.analysis.scoreboard import Scoreboard
from engine.cli.common import (
    EXIT_FEED_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    PROG,
    CommandMaker,
    StopSignals,
    arg_count,
    arg_positive,
    arg_positive_int,
    catalogue_of,
    fail,
    format_flags,
    markets_of,
    odds_flags,
    trace_line,
    trace_observer,
    write_json,
)
from engine.core.config import MarketConfig
from engine.core.match.rules import (
    UNKNOWN_FORMAT,
    MatchFormat,
)
from engine.core.state import MatchState
from engine.feed.catalogue import DEFAULT_CATALOGUE
from engine.io.client import ClientSettings
from engine.io.protocol import FeedError, Secret
from engine.io.recording import RecordingError, read_recording
from engine.io.server import ProviderServer, load_fixtures
from engine.runtime.following import Match
from engine.runtime.sources import connect, replay

# --- replay --------------------------------------------------------------------------------------


def _replay(args: argparse.Namespace) -> int:
    if args.table is not None:
        if args.pre_match is not None:
            return fail(f"{PROG} replay: --pre-match is one match's odds: not with --table", EXIT_USAGE)
        try:
            markets = markets_of(args, UNKNOWN_FORMAT)
        except ValueError as exc:
            return fail(f"{PROG} replay: {exc}", EXIT_USAGE)
        return _table(args, markets)
    if Path(args.file).is_dir():
        return fail(f"{PROG} replay: {args.file} is a folder: give --table FILE.csv|FILE.parquet", EXIT_USAGE)
    try:
        recording = read_recording(args.file)
        fmt = playback.overridden(recording.meta.format(UNKNOWN_FORMAT), args.best_of, args.doubles)
        markets = markets_of(args, fmt)
        state = playback.start_state(recording, args.best_of, args.doubles, markets)
    except (RecordingError, ValueError) as exc:
        return fail(f"{PROG} replay: {exc}", EXIT_USAGE)
    unreadable = recording.without_actions()
    if unreadable is not None:
        return fail(f"{PROG} replay: {args.file}: {unreadable}", EXIT_USAGE)
    out = sys.stdout
    if args.speed is None and not args.trace:
        state = playback.fold(recording, args.best_of, args.doubles, markets)
    elif args.speed is None:
        for message, update in playback.updates(recording, state):
            write_json(out, trace_line(message, update))
            state = update.state
    else:
        state = asyncio.run(_paced_replay(args, state.format, markets, out))
    if not args.trace:
        write_json(out, summarize(state), indent=True)
    return EXIT_OK


def _table(args: argparse.Namespace, markets: MarketConfig) -> int:
    """`replay DIR --table FILE`: one row per recording; each unreadable one is one line on stderr."""
    if args.trace or args.speed is not None:
        return fail(f"{PROG} replay: --table replays as fast as it can: no --trace or --speed", EXIT_USAGE)
    source, destination = Path(args.file), Path(args.table)
    try:
        table.check_destination(destination)
    except ValueError as exc:
        return fail(f"{PROG} replay: {exc}", EXIT_USAGE)
    paths = table.recordings_in(source) if source.is_dir() else [source]
    if not paths:
        patterns = ", ".join(table.RECORDING_PATTERNS)
        return fail(f"{PROG} replay: {source}: no recording ({patterns}) in this folder", EXIT_USAGE)
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
        return fail(f"{PROG} replay: cannot write {destination}: {exc.strerror or exc}", EXIT_USAGE)
    print(f"{destination}: {len(found)} rows from {len(paths)} recordings, {len(unread)} unreadable", file=sys.stderr)
    return EXIT_USAGE if unread else EXIT_OK


async def _paced_replay(args: argparse.Namespace, fmt: MatchFormat, markets: MarketConfig, out: IO[str]) -> MatchState:
    observer = trace_observer(out) if args.trace else None
    match = replay(args.file, args.speed, fmt=fmt, markets=markets, on_input=observer)
    async with match:
        return await match.wait()


# --- following a live match: demo and connect ----------------------------------------------------


async def _follow(match: Match, out: IO[str], command: str, board: Scoreboard | None, summary: bool) -> int:
    """Follow `match` to its end; the board's final table and/or the JSON summary after it.
    SIGTERM or SIGINT stops following: the closing bet stop (every undecided market suspended,
    `not_followed`) is printed like any update, then exit 0 (SIGTERM) or 130 (SIGINT)."""
    stopped_by = StopSignals()
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
        return fail(f"{PROG} {command}: {exc}", EXIT_REFUSED)
    except BrokenPipeError:
        raise  # our reader went away (`| head`): main ends quietly
    except (OSError, RecordingError) as exc:
        return fail(f"{PROG} {command}: {exc}", EXIT_FEED_FAILED)
    finally:
        stopped_by.remove()
    if board is not None:
        out.write("\n" + board.final_table(state))
    if summary:
        write_json(out, summarize(state), indent=True)
    return EXIT_OK


#: The demo's pace: a 13-minute match in about 20 seconds (README's first command within a minute).
DEMO_SPEED = 40.0
#: The match the demo serves: a real best-of-7 (AI CUP 2026 match 5; engine/data/ATTRIBUTION.md),
#: shipped inside the package so an installed `ttengine demo` runs anywhere.
DEMO_RECORDING = resources.files("engine") / "data" / "demo_match.jsonl.gz"


def _demo(args: argparse.Namespace) -> int:
    try:
        with resources.as_file(DEMO_RECORDING if args.recording is None else Path(args.recording)) as path:
            fixtures = load_fixtures(path)
            meta = read_recording(path).meta
    except RecordingError as exc:
        return fail(f"{PROG} demo: {exc}", EXIT_USAGE)
    (fixture_id,) = fixtures
    fmt = meta.format(UNKNOWN_FORMAT)
    try:
        markets = markets_of(args, fmt)
    except ValueError as exc:
        return fail(f"{PROG} demo: {exc}", EXIT_USAGE)
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
        return fail(f"{PROG} connect: environment variable {args.token_env} is not set or empty", EXIT_USAGE)
    try:
        settings = ClientSettings(
            base=args.base,
            stale_after=args.stale_after,
            allow_insecure=args.allow_insecure,
            max_retries=args.max_retries,
        )
    except ValueError as exc:
        return fail(f"{PROG} connect: {str(exc).replace('allow_insecure=True', '--allow-insecure')}", EXIT_USAGE)
    fmt = playback.overridden(UNKNOWN_FORMAT, args.best_of, args.doubles)
    try:
        catalogue = DEFAULT_CATALOGUE if args.types is None else catalogue_of(args.types)
        markets = markets_of(args, fmt)
    except (RecordingError, ValueError) as exc:
        return fail(f"{PROG} connect: {exc}", EXIT_USAGE)
    board = None if args.trace else Scoreboard(sys.stdout, args.all_signals)
    observer = trace_observer(sys.stdout) if board is None else board
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


def add_commands(command: CommandMaker) -> None:
    """Add this module's commands to the parser."""
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
        "--speed", type=arg_positive, default=None, help="pace by receive times, X times faster (default: no pacing)"
    )
    play.add_argument(
        "--table",
        default=None,
        metavar="FILE",
        help="one row per recording (FILE.csv, or FILE.parquet with ttengine[table]); unreadable ones are reported",
    )
    play.add_argument(
        "--jobs",
        type=arg_positive_int,
        default=os.cpu_count() or 1,
        help="with --table: how many processes replay at once (the default is one per core)",
    )
    play.add_argument(
        "--no-prices",
        dest="prices",
        action="store_false",
        help="no prices (faster: pricing is most of a replay's time)",
    )
    format_flags(play)
    odds_flags(play)
    play.set_defaults(run=_replay)

    demo = command("demo", "serve a real match on loopback and follow it live with the real adapter")
    demo.add_argument("--speed", type=arg_positive, default=DEMO_SPEED, help="X times the real pace")
    demo.add_argument("--summary", action="store_true", help="print the final state as JSON at the end")
    demo.add_argument("--all-signals", action="store_true", help="one line per signal, suspensions included")
    demo.add_argument("--recording", default=None, help=argparse.SUPPRESS)
    odds_flags(demo)
    demo.set_defaults(run=_demo)

    live = command("connect", "follow a fixture on the provider's live feed")
    live.add_argument("fixture", help="the fixture id (UUID)")
    live.add_argument("--token-env", required=True, metavar="VAR", help="environment variable holding the auth token")
    live.add_argument("--record", default=None, metavar="FILE", help="append every received frame to this recording")
    live.add_argument("--base", default=ClientSettings().base, help="provider base URL")
    live.add_argument(
        "--stale-after",
        type=arg_positive,
        default=ClientSettings().stale_after,
        help="seconds of silence before markets suspend",
    )
    live.add_argument(
        "--max-retries",
        type=arg_count,
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
    format_flags(live)
    odds_flags(live)
    live.set_defaults(run=_connect)
