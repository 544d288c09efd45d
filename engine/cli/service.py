"""`ttengine follow` (the desk: many fixtures as one service) and `ttengine serve` (our provider)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from engine.cli.common import (
    EXIT_FEED_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    CommandMaker,
    arg_count,
    arg_margin,
    arg_non_negative,
    arg_port,
    arg_positive,
    arg_positive_int,
    arg_probability,
    fail,
)
from engine.io.client import ClientSettings
from engine.io.protocol import MAX_CONNECTS_PER_SECOND, Secret
from engine.io.recording import RecordingError
from engine.io.server import Faults, ProviderServer, load_fixtures
from engine.ratings import Ratings, load_ratings

# --- follow: the desk ----------------------------------------------------------------------------


def _follow_desk(args: argparse.Namespace) -> int:
    """`follow`: many fixtures as one service (engine.desk.run)."""
    from engine.desk.config import DeskConfig, load_config, parse_fixture_argument
    from engine.desk.learning import RatingsLearner
    from engine.desk.run import ALIVE_EVERY, ServiceOptions, parse_http, run_service, use_log_format
    from engine.runtime.delivery import LAG_LIMIT

    def usage(message: str) -> int:
        return fail(f"{PROG} follow: {message}", EXIT_USAGE)

    try:
        config = DeskConfig() if args.config is None else load_config(args.config)
        fixtures = tuple(parse_fixture_argument(text) for text in args.fixtures)
    except ValueError as exc:  # ConfigError is one
        return usage(str(exc))
    service = config.service
    log_format = args.log_format or service.log_format or "text"
    use_log_format(log_format)
    token_env = args.token_env or service.token_env
    if token_env is None:
        return usage("give --token-env VAR (or token_env in the config's [service])")
    value = os.environ.get(token_env)
    if not value:
        return usage(f"environment variable {token_env} is not set or empty")
    if args.take is not None:
        if args.bus is None:
            return usage("--take needs --bus: the fixtures come from the bus's queue (ttengine assign)")
        if fixtures or config.fixtures:
            return usage("with --take the fixtures come from the bus's queue (ttengine assign), not from here")
    elif not fixtures and args.config is None:
        return usage("nothing to follow: give FIXTURE_ID[:bestOf] … or --config FILE (or --bus URL --take N)")
    ids = [entry.fixture_id for entry in fixtures]
    if len(set(ids)) < len(ids):
        return usage("a fixture is given twice")
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
        return usage(str(exc).replace("allow_insecure=True", "--allow-insecure"))
    http_token_env = args.http_token_env or service.http_token_env
    http_token = None
    if http_token_env is not None:
        if http is None:
            return usage("--http-token-env needs --http (or http in the config's [service])")
        http_value = os.environ.get(http_token_env)
        if not http_value:
            return usage(f"environment variable {http_token_env} is not set or empty")
        http_token = Secret(http_value)
    record_text = args.record_dir or service.record_dir
    record_dir = None if record_text is None else Path(record_text)
    if record_dir is not None:
        try:
            record_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return usage(f"cannot create {record_dir}: {exc.strerror or exc}")
    exit_when_done = args.config is None if service.exit_when_done is None else service.exit_when_done
    ratings_path = args.ratings or (None if service.ratings is None else Path(service.ratings))
    outlets = []
    if args.bus is not None:
        from engine.bus.address import credentials_from, parse_bus_address
        from engine.bus.connection import require_aio_pika
        from engine.bus.publisher import BusPublisher

        try:
            require_aio_pika()
            address = parse_bus_address(args.bus, credentials_from(args.bus_env))
            outlets.append(BusPublisher(address, take=args.take or 0))
        except (ImportError, ValueError) as exc:
            return usage(str(exc))
    elif args.bus_env is not None:
        return usage("--bus-env needs --bus")
    learner = None
    if ratings_path is not None:
        try:
            learner = RatingsLearner(load_ratings(ratings_path) if ratings_path.exists() else Ratings(), ratings_path)
        except ValueError as exc:
            return usage(str(exc))
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
        args.take is None and (args.exit_when_done or exit_when_done),
        args.alive_every or service.alive_every or ALIVE_EVERY,
        args.lag_limit or service.lag_limit or LAG_LIMIT,
        learner,
        tuple(outlets),
        args.connect_rate,
    )
    try:
        return asyncio.run(run_service(options, sys.stdout.buffer, sys.stderr))
    except BrokenPipeError:
        raise  # our reader went away (`--updates - | head`): main ends quietly
    except OSError as exc:  # the updates file, the HTTP port: before anything was followed
        where = f"{exc.filename}: " if exc.filename else ""
        return fail(f"{PROG} follow: {where}{exc.strerror or exc}", EXIT_USAGE)


# --- serve ---------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    if args.token is None and args.token_env is None:
        return fail(f"{PROG} serve: give --token T or --token-env VAR", EXIT_USAGE)
    token_text = args.token if args.token is not None else os.environ.get(args.token_env, "")
    if not token_text:
        where = "--token" if args.token is not None else f"environment variable {args.token_env}"
        return fail(f"{PROG} serve: {where} is empty or not set", EXIT_USAGE)
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
        return fail(f"{PROG} serve: {exc}", EXIT_USAGE)

    async def run() -> None:
        await server.start()
        for fixture_id in fixtures:
            print(f"serving {server.base}/v2/tabletennis/fixtures/{fixture_id}/actions", flush=True)
        await server.serve_forever()

    try:
        asyncio.run(run())
    except OSError as exc:
        return fail(f"{PROG} serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", EXIT_FEED_FAILED)
    return EXIT_OK  # serve_forever returns only when stopped: Ctrl-C ends in main (exit 130)


def add_commands(command: CommandMaker) -> None:
    """Add this module's commands to the parser."""
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
        type=arg_positive,
        default=None,
        metavar="S",
        help=f"seconds of silence before a fixture's markets suspend (default: {ClientSettings().stale_after:g})",
    )
    desk.add_argument(
        "--max-retries",
        type=arg_count,
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
        type=arg_positive,
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
        type=arg_positive,
        default=None,
        metavar="S",
        help="seconds a consumer (the callbacks) may fall behind before its fixture's markets suspend"
        " (consumer_lagging; default: 1)",
    )
    desk.add_argument(
        "--margin",
        type=arg_margin,
        default=None,
        metavar="M",
        help="one margin for every market type of every fixture (a config fixture's own wins)",
    )
    desk.add_argument(
        "--bus",
        default=None,
        metavar="amqp://HOST[:PORT]/VHOST",
        help="also publish every line of the stream to RabbitMQ (topic exchange ttengine; needs ttengine[bus])",
    )
    desk.add_argument(
        "--bus-env", default=None, metavar="VAR", help="environment variable holding the bus's USER:PASSWORD"
    )
    desk.add_argument(
        "--take",
        type=arg_positive_int,
        default=None,
        metavar="N",
        help="with --bus: follow up to N fixtures at a time from the bus's shared queue (ttengine assign);"
        " an engine that dies gives its fixtures back, and another takes them",
    )
    desk.add_argument(
        "--connect-rate",
        type=arg_positive_int,
        default=None,
        metavar="N",
        help="connection attempts per second to the provider, all fixtures together (default:"
        f" {MAX_CONNECTS_PER_SECOND}, the provider's limit per customer: with several engines, give each its share)",
    )
    desk.set_defaults(run=_follow_desk)

    server = command("serve", "serve recordings over the provider's websocket protocol")
    server.add_argument("path", help="a JSONL recording or a folder of them")
    server.add_argument("--port", type=arg_port, default=8765, help="port to listen on (0: any free port)")
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
    server.add_argument("--heartbeat", type=arg_positive, default=10.0, help="seconds between heartbeats")
    server.add_argument(
        "--speed", type=arg_positive, default=None, help="pace by receive times, X times faster (default: no pacing)"
    )
    server.add_argument(
        "--drop-after",
        type=arg_count,
        nargs="*",
        default=[],
        metavar="K",
        help="fault: abort connection n after K frames",
    )
    server.add_argument(
        "--duplicate",
        type=arg_probability,
        default=0.0,
        metavar="P",
        help="fault: send each frame twice with probability P",
    )
    server.add_argument(
        "--reorder", type=arg_count, default=0, metavar="N", help="fault: shuffle frames within windows of N"
    )
    server.add_argument(
        "--delay", type=arg_non_negative, default=0.0, metavar="S", help="fault: extra seconds before each frame"
    )
    server.add_argument(
        "--silence-after", type=arg_count, default=None, metavar="K", help="fault: go silent after K frames"
    )
    server.add_argument("--silence-for", type=arg_non_negative, default=0.0, metavar="S", help="fault: for S seconds")
    server.add_argument("--seed", type=int, default=0, help="seed of the fault injection")
    server.add_argument(
        "--live",
        action="store_true",
        help="live mode: each match runs on its own clock from the server's start (at --speed, default 1);"
        " a client gets what is due at once, then the rest as it falls due",
    )
    server.add_argument(
        "--started-ago",
        type=arg_non_negative,
        default=0.0,
        metavar="S",
        help="live mode: the matches began S seconds of match time before the server started",
    )
    server.set_defaults(run=_serve)
