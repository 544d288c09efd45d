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
import logging
import os
import sys
from collections.abc import Sequence

from engine.cli import analysis, bus, one_match, prices, service
from engine.cli.common import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, PROG, Parser, version


def parser() -> argparse.ArgumentParser:
    """The whole command line: the global flags, then each module's commands."""
    parser = Parser(prog=PROG, description="Table tennis live market state engine.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
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

    for module in (one_match, service, bus, prices, analysis):
        module.add_commands(command)
    return parser


def _log_level(args: argparse.Namespace) -> int:
    if args.log_level is not None:
        return int(getattr(logging, args.log_level))
    return logging.DEBUG if args.verbose >= 2 else logging.INFO if args.verbose == 1 else logging.WARNING


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = parser().parse_args(argv)
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
