"""`ttengine price` (the prices at a score) and `ttengine ratings` (build a ratings file, show a player)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.analysis.results import read_match_results
from engine.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    CommandMaker,
    arg_best_of,
    arg_probability,
    fail,
    odds_flags,
    pricing_of,
    write_json,
)
from engine.core.config import DEFAULT_MARKETS
from engine.core.match.rules import (
    MatchFormat,
    Side,
    game_winner,
    match_winner,
    possible_game_score,
)
from engine.core.pricing.game import Strengths
from engine.core.pricing.model import Position, Pricing, Weighted, posterior, price_weighted
from engine.io.recording import RecordingError
from engine.ratings import build as build_ratings
from engine.ratings import load_ratings, prior_for, save_ratings

# --- ratings -------------------------------------------------------------------------------------


def _ratings_build(args: argparse.Namespace) -> int:
    try:
        results, skipped = read_match_results(args.results)
    except (RecordingError, ValueError, OSError) as exc:
        return fail(f"{PROG} ratings build: {exc}", EXIT_USAGE)
    if not results:
        return fail(f"{PROG} ratings build: no match result in {', '.join(map(str, args.results))}", EXIT_USAGE)
    ratings = build_ratings(results)
    try:
        save_ratings(ratings, args.output)
    except OSError as exc:
        return fail(f"{PROG} ratings build: cannot write {args.output}: {exc.strerror or exc}", EXIT_USAGE)
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
        return fail(f"{PROG} ratings show: {exc}", EXIT_USAGE)
    code = EXIT_OK
    for name in args.names:
        lookup = ratings.lookup(name)
        if lookup.rating is None:
            also = f": {', '.join(lookup.candidates)}" if lookup.candidates else ""
            print(f"{name}: {lookup.why}{also}", file=sys.stderr)
            code = EXIT_USAGE
            continue
        rating = lookup.rating
        write_json(
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
        pricing = pricing_of(args, fmt)
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
        return fail(f"{PROG} price: {exc}", EXIT_USAGE)
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
        write_json(sys.stdout, {market_id: odds for market_id, odds in offered.items() if odds}, indent=True)
    else:
        write_json(sys.stdout, fair, indent=True)
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


def add_commands(command: CommandMaker) -> None:
    """Add this module's commands to the parser."""
    pricing = command(
        "price",
        "fair probabilities (or, with --odds, the odds offered) of every undecided market at a score, from two point"
        " probabilities or from the points of --score and --pre-match odds",
    )
    pricing.add_argument("--best-of", type=arg_best_of, required=True, metavar="N", help="games in the match")
    pricing.add_argument("--doubles", action="store_true", help="a doubles match")
    pricing.add_argument(
        "--score", required=True, help='finished games then the current one, e.g. "11-7,9-11,3-2" (0-0: about to start)'
    )
    pricing.add_argument("--server", required=True, choices=("home", "away"), help="who serves the next point")
    pricing.add_argument("--expedite", action="store_true", help="the expedite system is on")
    pricing.add_argument(
        "--p-home-serve",
        type=arg_probability,
        default=None,
        metavar="P",
        help="P(home wins its serve), with --p-away-serve (None: the model's estimate from the points of --score)",
    )
    pricing.add_argument(
        "--p-away-serve", type=arg_probability, default=None, metavar="Q", help="P(away wins its serve)"
    )
    pricing.add_argument(
        "--odds", action="store_true", help="print the decimal odds offered instead (withdrawn markets left out)"
    )
    odds_flags(pricing)
    pricing.add_argument(
        "--players", nargs=2, default=None, metavar=("HOME", "AWAY"), help="the players, as --ratings knows them"
    )
    pricing.set_defaults(run=_price)

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
