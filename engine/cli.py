"""Command line: `python -m engine replay FILE [--summary | --trace] [--best-of N] [--doubles]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence

import attrs
import orjson

from engine.core.events import event_name
from engine.core.reduce import EndOfStream, Input, reduce
from engine.core.report import describe_signal, is_signal, summarize
from engine.core.rules import DEFAULT_FORMAT
from engine.core.state import MatchState
from engine.feed.wire import Malformed, decode
from engine.io.recording import BadLine, Recording, RecordingError, read_recording


def recording_inputs(recording: Recording) -> Iterator[tuple[int | None, Input]]:
    """The reducer inputs a recording replays to, each with its `fixtureSeqNum` when it has one."""
    for frame in recording.frames:
        if isinstance(frame, BadLine):
            yield None, Malformed(frame.reason, None, "")
            continue
        message = decode(frame.text)
        yield getattr(message, "seq", None), message
    yield None, EndOfStream()


def initial_state(recording: Recording, best_of: int | None, doubles: bool) -> MatchState:
    """The state a replay starts from: the recording's metadata, overridden by the flags."""
    fmt = recording.meta.format(DEFAULT_FORMAT)
    if best_of is not None:
        fmt = attrs.evolve(fmt, best_of=best_of)
    if doubles:
        fmt = attrs.evolve(fmt, doubles=True)
    return MatchState.new(recording.meta.fixture_id, fmt)


def _replay(args: argparse.Namespace) -> int:
    try:
        recording = read_recording(args.file)
        state = initial_state(recording, args.best_of, args.doubles)
    except (RecordingError, ValueError) as exc:
        print(f"engine replay: {exc}", file=sys.stderr)
        return 2
    out = sys.stdout
    for seq, message in recording_inputs(recording):
        state, events = reduce(state, message)
        if args.trace:
            line = {
                "seq": seq,
                "events": [event_name(event) for event in events if not is_signal(event)],
                "signals": [describe_signal(event) for event in events if is_signal(event)],
                "state": summarize(state, markets=False),
            }
            out.write(orjson.dumps(line).decode() + "\n")
    if not args.trace:
        out.write(orjson.dumps(summarize(state), option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engine", description="Table tennis live market state engine.")
    commands = parser.add_subparsers(dest="command", required=True)
    replay = commands.add_parser("replay", help="fold a recording and print its summary or trace")
    replay.add_argument("file", help="JSONL recording, or a JSON array of provider messages")
    output = replay.add_mutually_exclusive_group()
    output.add_argument("--summary", action="store_true", help="print the final state (the default)")
    output.add_argument("--trace", action="store_true", help="print one JSON line per input message")
    replay.add_argument("--best-of", type=int, default=None, help="games in the match (default: recording, else 5)")
    replay.add_argument("--doubles", action="store_true", help="a doubles match")
    replay.set_defaults(run=_replay)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = _parser().parse_args(argv)
    code: int = args.run(args)
    return code
