"""The bus for people: `ttengine mirror` (a service's copy of every fixture on the bus,
`engine.bus.Mirror`), `ttengine assign` and `unassign` (the fixtures the engines share,
`engine.bus.assignments`)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Mapping
from typing import IO, Any

import orjson

from engine.bus.address import BusAddress
from engine.cli.common import EXIT_FEED_FAILED, EXIT_OK, EXIT_USAGE, PROG, CommandMaker, arg_positive, fail


def _http_address(text: str) -> tuple[str, int]:
    from engine.desk.run import parse_http

    try:
        return parse_http(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _address(args: argparse.Namespace) -> BusAddress:
    """The broker of `--bus` and `--bus-env` (ImportError without aio-pika, ValueError in words)."""
    from engine.bus.address import credentials_from, parse_bus_address
    from engine.bus.connection import require_aio_pika

    require_aio_pika()
    return parse_bus_address(args.bus, credentials_from(args.bus_env))


def _assign(args: argparse.Namespace) -> int:
    """`assign`: put fixtures on the engines' shared queue."""
    from engine.bus.assignments import assign, with_pre_match
    from engine.bus.connection import BusUnreachable
    from engine.desk.config import parse_fixture_argument

    try:
        address = _address(args)
        entries = [parse_fixture_argument(text) for text in args.fixtures]
        if args.pre_match is not None:
            try:
                odds = [float(value) for value in args.pre_match.split(",")]
            except ValueError:
                raise ValueError(f"--pre-match is HOME,AWAY decimal odds, not {args.pre_match!r}") from None
            entries = [with_pre_match(entry, odds) for entry in entries]
    except (ImportError, ValueError) as exc:
        return fail(f"{PROG} assign: {exc}", EXIT_USAGE)
    try:
        report = asyncio.run(assign(address, entries))
    except BusUnreachable as exc:
        return fail(f"{PROG} assign: {exc}", EXIT_FEED_FAILED)
    holdings = report.holdings
    for fixture_id in report.assigned:
        print(f"assigned {fixture_id}")
    for fixture_id, why in report.refused.items():
        print(f"{PROG} assign: {fixture_id} refused: {why}", file=sys.stderr)
    _say_engines(holdings.engines, holdings.silent, "assign")
    return EXIT_OK if not report.refused else EXIT_FEED_FAILED


def _unassign(args: argparse.Namespace) -> int:
    """`unassign`: take fixtures back from the queue or from the engine that follows them."""
    from engine.bus.assignments import unassign
    from engine.bus.connection import BusUnreachable
    from engine.io.protocol import check_fixture_id

    try:
        address = _address(args)
        for fixture_id in args.fixtures:
            check_fixture_id(fixture_id)
    except (ImportError, ValueError) as exc:
        return fail(f"{PROG} unassign: {exc}", EXIT_USAGE)
    try:
        report = asyncio.run(unassign(address, args.fixtures))
    except BusUnreachable as exc:
        return fail(f"{PROG} unassign: {exc}", EXIT_FEED_FAILED)
    for fixture_id in report.removed:
        print(f"unassigned {fixture_id} (it was waiting on the queue)")
    for fixture_id, run in report.released.items():
        print(f"unassigned {fixture_id} (engine run {run} stopped following it)")
    for fixture_id in report.unknown:
        print(f"{PROG} unassign: {fixture_id} is not assigned: not on the queue, no engine holds it", file=sys.stderr)
    _say_engines(report.holdings.engines, report.holdings.silent, "unassign")
    return EXIT_OK if not report.unknown else EXIT_FEED_FAILED


def _say_engines(engines: Mapping[str, tuple[str, ...]], silent: tuple[str, ...], command: str) -> None:
    print(f"{PROG} {command}: {len(engines)} engine(s) answered", file=sys.stderr)
    for run in silent:
        print(f"{PROG} {command}: engine run {run} lives but did not answer in time", file=sys.stderr)


def _mirror(args: argparse.Namespace) -> int:
    try:
        address = _address(args)
    except (ImportError, ValueError) as exc:
        return fail(f"{PROG} mirror: {exc}", EXIT_USAGE)
    out: IO[bytes] | None = None
    try:
        if args.updates == "-":
            out = sys.stdout.buffer
        elif args.updates is not None:
            out = open(args.updates, "ab")  # noqa: SIM115  # closed below, after the loop
    except OSError as exc:
        return fail(f"{PROG} mirror: {args.updates}: {exc.strerror or exc}", EXIT_USAGE)
    try:
        return asyncio.run(_run(address, args, out, sys.stderr))
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        return fail(f"{PROG} mirror: --http {exc.strerror or exc}", EXIT_USAGE)
    finally:
        if out is not None and out is not sys.stdout.buffer:
            out.close()


async def _run(address: BusAddress, args: argparse.Namespace, out: IO[bytes] | None, err: IO[str]) -> int:
    from engine.bus.mirror import Mirror, ProducerDown
    from engine.desk.reader import Decision, FixtureCopy

    mirror = Mirror(address, alive_limit=args.alive_limit, bindings=args.binding or ("tabletennis.#",))
    stop = asyncio.Event()
    reader_gone = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)

    def decided(_: Mirror, decision: Decision) -> None:
        print(f"{decision.fixture_id} {decision.signal} {decision.market} {decision.result or ''}".rstrip(), file=err)

    def down(_: Mirror, item: ProducerDown) -> None:
        print(f"producer down: {len(item.fixture_ids)} fixture(s) suspended: {', '.join(item.fixture_ids)}", file=err)

    def taken(_: Mirror, copy: FixtureCopy) -> None:
        if out is not None:
            line: dict[str, Any] = {"fixtureId": copy.fixture_id, "run": copy.run, "streamSeq": copy.stream_seq}
            line["markets"] = {market_id: market.status for market_id, market in copy.book.items()}
            try:
                out.write(orjson.dumps(line) + b"\n")
                out.flush()
            except BrokenPipeError:  # our reader went away (`| head`): stop, quietly
                reader_gone.set()
                stop.set()

    mirror.on(Decision, decided)
    mirror.on(ProducerDown, down)
    mirror.on(FixtureCopy, taken)
    print(f"{PROG} mirror: subscribing to {address}", file=err, flush=True)
    async with mirror:
        web = None
        if args.http is not None:
            from engine.bus.web import MirrorWeb

            web = MirrorWeb(mirror, *args.http)
            await web.start()  # a port in use: OSError, said by the command line
            print(f"{PROG} mirror: its fixtures are at {web.url}fixtures (and /engines)", file=err, flush=True)
        try:
            await stop.wait()
        finally:
            if web is not None:
                await web.close()
    if reader_gone.is_set():
        raise BrokenPipeError("the reader of the updates went away")  # the command line exits 141, quietly
    fixtures = mirror.fixtures
    open_markets = sum(len(copy.open_markets()) for copy in fixtures.values())
    print(
        f"{PROG} mirror: {len(fixtures)} fixture(s), {mirror.lines} lines taken, "
        f"{mirror.reader.dropped} repeats dropped, {open_markets} market(s) open at exit",
        file=err,
    )
    return EXIT_OK


def add_commands(command: CommandMaker) -> None:
    """Add this module's commands to the parser."""
    mirror = command(
        "mirror",
        "keep every fixture's book from the bus (snapshots, updates, alive): each decision once on stderr,"
        " each fixture's markets after every line with --updates; Ctrl-C or SIGTERM ends it",
        argparse.HelpFormatter,  # the defaults are in the help texts
    )
    mirror.add_argument("--bus", required=True, metavar="amqp://HOST[:PORT]/VHOST", help="the broker")
    mirror.add_argument("--bus-env", default=None, metavar="VAR", help="environment variable holding USER:PASSWORD")
    mirror.add_argument(
        "--updates",
        default=None,
        metavar="FILE",
        help="write each fixture's market statuses after every line (-: stdout)",
    )
    mirror.add_argument(
        "--http",
        type=_http_address,
        default=None,
        metavar="HOST:PORT",
        help="serve every fixture's copy as JSON at /fixtures and the engines heard at /engines (loopback unless told)",
    )
    mirror.add_argument(
        "--alive-limit",
        type=arg_positive,
        default=2.0,
        metavar="S",
        help="seconds without an alive line before an engine's fixtures read producer_down (default: 2)",
    )
    mirror.add_argument(
        "--binding",
        action="append",
        default=None,
        metavar="KEY",
        help="a routing key pattern to take (repeatable; default: tabletennis.#)",
    )
    mirror.set_defaults(run=_mirror)

    for name, run, what in (
        (
            "assign",
            _assign,
            "put fixtures on the engines' shared queue: an engine of `follow --bus URL --take N`"
            " takes each (refused: a fixture waiting or followed already)",
        ),
        (
            "unassign",
            _unassign,
            "take fixtures back: off the queue, or from the engine following them (its closing bet stop goes out)",
        ),
    ):
        sharing = command(name, what, argparse.HelpFormatter)
        sharing.add_argument("--bus", required=True, metavar="amqp://HOST[:PORT]/VHOST", help="the broker")
        sharing.add_argument(
            "--bus-env", default=None, metavar="VAR", help="environment variable holding USER:PASSWORD"
        )
        sharing.add_argument(
            "fixtures",
            nargs="+",
            metavar="FIXTURE_ID:bestOf" if name == "assign" else "FIXTURE_ID",
            help="a fixture (with its best-of when known)" if name == "assign" else "a fixture",
        )
        if name == "assign":
            sharing.add_argument(
                "--pre-match",
                default=None,
                metavar="HOME,AWAY",
                help="a bookmaker's decimal match odds, the fixtures' prior (needs the best-of): without"
                " a prior (or the engines' --ratings naming both sides) the markets stay suspended, no_prior",
            )
        sharing.set_defaults(run=run)
