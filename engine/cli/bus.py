"""`ttengine mirror`: a service's copy of every fixture on the bus, for people (`engine.bus.Mirror`)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import IO, Any

import orjson

from engine.bus.address import BusAddress
from engine.cli.common import EXIT_OK, EXIT_USAGE, PROG, CommandMaker, arg_positive, fail


def _mirror(args: argparse.Namespace) -> int:
    from engine.bus.address import credentials_from, parse_bus_address
    from engine.bus.connection import require_aio_pika

    try:
        require_aio_pika()
        address = parse_bus_address(args.bus, credentials_from(args.bus_env))
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
    finally:
        if out is not None and out is not sys.stdout.buffer:
            out.close()


async def _run(address: BusAddress, args: argparse.Namespace, out: IO[bytes] | None, err: IO[str]) -> int:
    from engine.bus.mirror import Mirror, ProducerDown
    from engine.desk.reader import Decision, FixtureCopy

    mirror = Mirror(address, alive_limit=args.alive_limit, bindings=args.binding or ("tabletennis.#",))
    stop = asyncio.Event()
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
            out.write(orjson.dumps(line) + b"\n")
            out.flush()

    mirror.on(Decision, decided)
    mirror.on(ProducerDown, down)
    mirror.on(FixtureCopy, taken)
    print(f"{PROG} mirror: subscribing to {address}", file=err, flush=True)
    async with mirror:
        await stop.wait()
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
