"""Command line: `python -m engine {demo,replay,serve,connect} …` (also the `ttengine` script).

    demo                                   a real match served on loopback, followed live
    replay FILE [--summary|--trace] [--speed X]
    serve PATH --port P (--token T | --token-env VAR) [faults]
    connect FIXTURE --token-env VAR [--record FILE] [--base URL]

Errors are one line on stderr; exit codes: 0 done, 1 the feed failed, 2 bad usage or input,
3 the provider refused the token or the request, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import attrs
import orjson

from engine.core.events import Event, GameWon, MatchWon, PointWon, event_name
from engine.core.reduce import EndOfStream, Input, reduce
from engine.core.report import describe_signal, is_signal, summarize
from engine.core.rules import UNKNOWN_FORMAT, MatchFormat
from engine.core.signals import (
    MarketResumed,
    MarketSettled,
    MarketSuspended,
    MarketVoided,
    SettlementRolledBack,
    Signal,
    SuspensionReasonsChanged,
    VoidRolledBack,
)
from engine.core.state import MatchState
from engine.feed.wire import Malformed
from engine.io.client import ClientSettings
from engine.io.protocol import FeedError, Secret
from engine.io.recording import Recording, RecordingError, read_recording, recorded_inputs
from engine.io.server import Faults, ProviderServer, load_fixtures
from engine.match import Match, connect, replay

#: The recording the demo serves: a real best-of-7 match (AI CUP 2026, see fixtures_data/).
DEMO_RECORDING = Path(__file__).resolve().parent.parent / "fixtures_data" / "aicup2026_m05_female_bo7.jsonl"

EXIT_OK, EXIT_FEED_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a writer killed by SIGPIPE


def recording_inputs(recording: Recording) -> Iterator[tuple[float | None, Input]]:
    """The reducer inputs a recording replays to (`recorded_inputs`, then EndOfStream), each with
    its receive time (POSIX seconds) when the recording has it."""
    last: float | None = None
    for moment, message in recorded_inputs(recording):
        last = moment
        yield moment, message
    yield last, EndOfStream()


def initial_state(recording: Recording, best_of: int | None, doubles: bool) -> MatchState:
    """The state a replay starts from: the recording's metadata, overridden by the flags."""
    return MatchState.new(recording.fixture_id, _format(recording.meta.format(UNKNOWN_FORMAT), best_of, doubles))


def fold_recording(recording: Recording, best_of: int | None = None, doubles: bool = False) -> MatchState:
    """The final state of a recording replayed from its start (what `replay --summary` prints)."""
    state = initial_state(recording, best_of, doubles)
    for _, message in recording_inputs(recording):
        state, _ = reduce(state, message)
    return state


def _format(base: MatchFormat, best_of: int | None, doubles: bool) -> MatchFormat:
    if best_of is not None:
        base = attrs.evolve(base, best_of=best_of)
    if doubles:
        base = attrs.evolve(base, doubles=True)
    return base


def _write_json(out: IO[str], value: object, indent: bool = False) -> None:
    out.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0).decode() + "\n")


def _trace_line(message: Input, events: list[Event], state: MatchState, moment: float | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {
        "seq": getattr(message, "seq", None),
        "input": type(message).__name__,
        "events": [event_name(event) for event in events if not is_signal(event)],
        "signals": [describe_signal(event) for event in events if is_signal(event)],
        "state": summarize(state, markets=False),
    }
    if moment is not None:
        line["recv"] = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(message, Malformed):
        line["refused"] = message.reason
    return line


# --- replay --------------------------------------------------------------------------------------


def _replay(args: argparse.Namespace) -> int:
    try:
        recording = read_recording(args.file)
        state = initial_state(recording, args.best_of, args.doubles)
    except (RecordingError, ValueError) as exc:
        return _fail(f"engine replay: {exc}", EXIT_USAGE)
    unreadable = recording.without_actions()
    if unreadable is not None:
        return _fail(f"engine replay: {args.file}: {unreadable}", EXIT_USAGE)
    out = sys.stdout
    if args.speed is None and not args.trace:
        state = fold_recording(recording, args.best_of, args.doubles)
    elif args.speed is None:
        for moment, message in recording_inputs(recording):
            state, events = reduce(state, message)
            _write_json(out, _trace_line(message, events, state, moment))
    else:
        if args.speed <= 0:
            return _fail("engine replay: --speed must be positive", EXIT_USAGE)
        state = asyncio.run(_paced_replay(args, state.format, out))
    if not args.trace:
        _write_json(out, summarize(state), indent=True)
    return EXIT_OK


async def _paced_replay(args: argparse.Namespace, fmt: MatchFormat, out: IO[str]) -> MatchState:
    def trace(match: Match, message: Input, events: list[Event]) -> None:
        _write_json(out, _trace_line(message, events, match.state, match.recv))
        out.flush()

    match = replay(args.file, args.speed, fmt=fmt, buffer=0, on_input=trace if args.trace else None)
    async with match:
        return await match.wait()


# --- following a live match: demo and connect ----------------------------------------------------


class Scoreboard:
    """Prints a one-line scoreboard per point and the market signals, compactly: settlements,
    voids and rollbacks one per line; suspensions and resumptions one line per step and kind."""

    def __init__(self, out: IO[str], every_signal: bool = False) -> None:
        self.out = out
        self.every_signal = every_signal

    def __call__(self, match: Match, message: Input, events: list[Event]) -> None:
        scored = [event for event in events if isinstance(event, PointWon | GameWon | MatchWon)]
        if scored:  # one line per step: the point, labelled by the most it decided
            label = (
                "MATCH"
                if any(isinstance(e, MatchWon) for e in scored)
                else "GAME "
                if any(isinstance(e, GameWon) for e in scored)
                else "point"
            )
            self.out.write(self._score_line(match.state, label) + "\n")
        grouped: dict[str, list[str]] = {}
        for event in [event for event in events if is_signal(event)]:
            if self.every_signal or not isinstance(event, MarketSuspended | MarketResumed | SuspensionReasonsChanged):
                self.out.write("    " + _signal_line(event) + "\n")
                continue
            if isinstance(event, MarketSuspended | SuspensionReasonsChanged):
                label = f"suspended ({', '.join(reason.value for reason in event.reasons)})"
            else:
                label = "resumed"
            grouped.setdefault(label, []).append(event.market)
        for label, markets in grouped.items():
            shown = ", ".join(markets[:3]) + (f", … {len(markets) - 3} more" if len(markets) > 3 else "")
            self.out.write(f"    {label}: {shown}\n")
        self.out.flush()

    @staticmethod
    def _score_line(state: MatchState, label: str) -> str:
        home, away = state.games
        points = " ".join(f"{h}-{a}" for h, a in state.points)
        server = state.server.value if state.server is not None else "-"
        return f"{label} games {home}-{away} | {points} | next serve {server} | {state.status.value}"


def _signal_line(event: Signal) -> str:
    if isinstance(event, MarketSettled):
        return f"SETTLED   {event.market} = {event.result}"
    if isinstance(event, MarketVoided):
        return f"VOID      {event.market} ({event.reason.value})"
    if isinstance(event, SettlementRolledBack):
        return f"ROLLBACK  {event.market} (was {event.previous})"
    if isinstance(event, VoidRolledBack):
        return f"UNVOID    {event.market} (was {event.previous.value})"
    if isinstance(event, MarketSuspended | SuspensionReasonsChanged):
        return f"SUSPENDED {event.market} ({', '.join(reason.value for reason in event.reasons)})"
    return f"RESUMED   {event.market}"


async def _follow(match: Match, out: IO[str]) -> int:
    try:
        async with match:
            state = await match.wait()
    except FeedError as exc:
        return _fail(f"engine: {exc}", EXIT_REFUSED)
    except BrokenPipeError:
        raise  # our reader went away (`| head`): main ends quietly
    except (OSError, RecordingError) as exc:
        return _fail(f"engine: {exc}", EXIT_FEED_FAILED)
    _write_json(out, summarize(state), indent=True)
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    path = Path(args.recording)
    try:
        fixtures = load_fixtures(path)
        meta = read_recording(path).meta
    except RecordingError as exc:
        return _fail(f"engine demo: {exc} (the demo needs the repository's fixtures_data/)", EXIT_USAGE)
    (fixture_id,) = fixtures
    token = Secret(secrets.token_urlsafe(24))  # the demo's own token, never shown
    out = sys.stdout

    async def run() -> int:
        async with ProviderServer(fixtures, token, speed=args.speed) as server:
            out.write(f"serving {path.name} (fixture {fixture_id}) at {server.base}; following it live\n")
            match = connect(
                fixture_id,
                token,
                base=server.base,
                fmt=meta.format(UNKNOWN_FORMAT),
                buffer=0,
                on_input=Scoreboard(out, args.all_signals),
            )
            return await _follow(match, out)

    return asyncio.run(run())


def _connect(args: argparse.Namespace) -> int:
    value = os.environ.get(args.token_env)
    if not value:
        return _fail(f"engine connect: environment variable {args.token_env} is not set or empty", EXIT_USAGE)
    try:
        settings = ClientSettings(base=args.base, stale_after=args.stale_after, allow_insecure=args.allow_insecure)
    except ValueError as exc:
        return _fail(f"engine connect: {exc}", EXIT_USAGE)
    fmt = _format(UNKNOWN_FORMAT, args.best_of, args.doubles)
    observer = _trace_observer(sys.stdout) if args.trace else Scoreboard(sys.stdout, args.all_signals)
    match = connect(
        args.fixture, Secret(value), fmt=fmt, record=args.record, settings=settings, buffer=0, on_input=observer
    )
    return asyncio.run(_follow(match, sys.stdout))


def _trace_observer(out: IO[str]) -> Callable[[Match, Input, list[Event]], None]:
    def trace(match: Match, message: Input, events: list[Event]) -> None:
        _write_json(out, _trace_line(message, events, match.state))
        out.flush()

    return trace


# --- serve ---------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    token_text = args.token if args.token is not None else os.environ.get(args.token_env or "", "")
    if not token_text:
        return _fail("engine serve: give --token T or --token-env VAR (a non-empty token)", EXIT_USAGE)
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
        )
    except (RecordingError, ValueError) as exc:
        return _fail(f"engine serve: {exc}", EXIT_USAGE)

    async def run() -> None:
        await server.start()
        for fixture_id in fixtures:
            print(f"serving {server.base}/v2/tabletennis/fixtures/{fixture_id}/actions", flush=True)
        await server.serve_forever()

    try:
        asyncio.run(run())
    except OSError as exc:
        return _fail(f"engine serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", EXIT_FEED_FAILED)
    except KeyboardInterrupt:
        pass
    return EXIT_OK


# --- the parser ----------------------------------------------------------------------------------


def _fail(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def _format_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--best-of", type=int, default=None, help="games in the match, odd (default: the recording's, else unknown)"
    )
    parser.add_argument("--doubles", action="store_true", help="a doubles match")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engine", description="Table tennis live market state engine.")
    commands = parser.add_subparsers(dest="command", required=True)

    play = commands.add_parser("replay", help="fold a recording and print its summary or trace")
    play.add_argument("file", help="JSONL recording, or a JSON array of provider messages")
    output = play.add_mutually_exclusive_group()
    output.add_argument("--summary", action="store_true", help="print the final state (the default)")
    output.add_argument("--trace", action="store_true", help="print one JSON line per input message")
    play.add_argument(
        "--speed", type=float, default=None, help="pace by receive times, X times faster (default: no pacing)"
    )
    _format_flags(play)
    play.set_defaults(run=_replay)

    demo = commands.add_parser("demo", help="serve a real match on loopback and follow it live with the real adapter")
    demo.add_argument(
        "--speed", type=_positive, default=None, help="X times the real pace (default: as fast as possible)"
    )
    demo.add_argument("--all-signals", action="store_true", help="one line per signal, suspensions included")
    demo.add_argument("--recording", default=str(DEMO_RECORDING), help=argparse.SUPPRESS)
    demo.set_defaults(run=_demo)

    live = commands.add_parser("connect", help="follow a fixture on the provider's live feed")
    live.add_argument("fixture", help="the fixture id (UUID)")
    live.add_argument("--token-env", required=True, metavar="VAR", help="environment variable holding the auth token")
    live.add_argument(
        "--record", default=None, metavar="FILE", help="append every received frame to this JSONL recording"
    )
    live.add_argument("--base", default=ClientSettings().base, help="provider base URL (default: %(default)s)")
    live.add_argument(
        "--stale-after",
        type=_positive,
        default=ClientSettings().stale_after,
        help="seconds of silence before markets suspend",
    )
    live.add_argument("--allow-insecure", action="store_true", help="allow plain ws:// to a host that is not loopback")
    live.add_argument("--trace", action="store_true", help="one JSON line per input instead of the scoreboard")
    live.add_argument("--all-signals", action="store_true", help="one line per signal, suspensions included")
    _format_flags(live)
    live.set_defaults(run=_connect)

    server = commands.add_parser("serve", help="serve recordings over the provider's websocket protocol")
    server.add_argument("path", help="a JSONL recording or a folder of them")
    server.add_argument("--port", type=int, default=8765)
    server.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
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
        "--drop-after", type=int, nargs="*", default=[], metavar="K", help="fault: abort connection n after K frames"
    )
    server.add_argument(
        "--duplicate", type=float, default=0.0, metavar="P", help="fault: send each frame twice with probability P"
    )
    server.add_argument("--reorder", type=int, default=0, metavar="N", help="fault: shuffle frames within windows of N")
    server.add_argument("--delay", type=float, default=0.0, metavar="S", help="fault: extra seconds before each frame")
    server.add_argument("--silence-after", type=int, default=None, metavar="K", help="fault: go silent after K frames")
    server.add_argument("--silence-for", type=float, default=0.0, metavar="S", help="fault: for S seconds")
    server.add_argument("--seed", type=int, default=0, help="seed of the fault injection")
    server.set_defaults(run=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
        sys.stdout.flush()
    except KeyboardInterrupt:
        print("engine: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`| head`): stop quietly, as a killed pipe writer does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return EXIT_BROKEN_PIPE
    return code
