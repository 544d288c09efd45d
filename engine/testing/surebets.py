"""Sure bets across one fixture's offered odds: the largest return a bettor can lock in, whatever happens.

`sure_profit(fmt, games, points, offered)` solves a linear programme over every way the match can
end from a score: the stakes (summing to 1) on the offered outcomes that maximise the worst return,
a void stake (a game that is never played) returned. By the minimax theorem that is
min over distributions Q of the ways the match can end of max over bets of E_Q[return]; the
programme solved is this second form, on a compact description of Q:

- a probability for each sequence of game winners from the current game until a side has the
  games to win (the match-level markets depend on nothing else);
- for each game, the joint probability that it is played and ends in each *game ending* — its
  winner, its final points (long deuces merged once every line is passed), who first reached each
  race target, and for the game in play who wins the next point — tied to the sequences by its
  winner. A bet on a game depends on that game's ending alone, so any Q has this description and
  each description is some Q.

A game ending's race results are free for every target up to the loser's final points (both sides
can climb level, point by point, either reaching each target first), the winner's above that.

Needs scipy (HiGHS); `pip install 'ttengine[testing]'`. Used by the suite to check the law "no
combination of one fixture's offered odds gives a sure profit", and by anyone checking a book.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping

import attrs

from engine.core.markets.catalogue import Market, MarketType, parse_market
from engine.core.match.rules import MatchFormat, game_winner

_HOME, _AWAY = "home", "away"


@attrs.frozen
class SureBet:
    """The best locked-in return per unit staked (`profit` > 0: a sure bet; the programme's value,
    so a tiny positive number can be the solver's rounding; -1 when nothing is offered) and the stakes that get it
    (market id -> outcome -> share of the unit staked; empty when `profit` <= 0)."""

    profit: float
    stakes: Mapping[str, Mapping[str, float]]


@attrs.frozen
class _Ending:
    """How one game ends: its winner, total points, each race target's first, the next point's winner."""

    winner: str
    total: int
    races: Mapping[int, str]
    next_point: str | None


def sure_profit(
    fmt: MatchFormat,
    games: tuple[int, int],
    points: tuple[int, int],
    offered: Mapping[str, Mapping[str, float]],
) -> SureBet:
    """The largest sure return per unit staked on `offered` (market id -> outcome -> decimal odds, the
    markets open for betting) at `games` won and `points` in the game in play (0-0: about to
    start). Raises ValueError for a market it cannot settle from the endings (a point market not on
    the next point, a decided race)."""
    from scipy.optimize import linprog  # type: ignore[import-untyped]

    to_win = fmt.games_to_win
    if to_win is None:
        raise ValueError("a sure bet across the match's markets needs the format (best_of)")
    at_game = sum(games) + 1
    bets = [(market_id, outcome, odds) for market_id, prices in offered.items() for outcome, odds in prices.items()]
    markets = {market_id: parse_market(market_id) for market_id in offered}
    races = sorted({m.number for m in markets.values() if m.type is MarketType.RACE_TO})
    lines = [m.line for m in markets.values() if m.type is MarketType.GAME_TOTAL_POINTS]
    sequences = list(_sequences(games, to_win))
    endings = {
        game: list(_endings(fmt, points if game == at_game else (0, 0), races, lines, game == at_game))
        for game in range(at_game, 2 * to_win)
    }
    # Variables: one per sequence, then one per (game, ending), then t. Minimise t.
    columns = len(sequences) + sum(len(found) for found in endings.values()) + 1
    offset: dict[int, int] = {}
    at = len(sequences)
    for game, found in endings.items():
        offset[game] = at
        at += len(found)
    upper: list[list[float]] = []
    for market_id, outcome, odds in bets:
        market = markets[market_id]
        row = [0.0] * columns
        if market.type in (MarketType.MATCH_WINNER, MarketType.CORRECT_SCORE, MarketType.TOTAL_GAMES):
            for index, sequence in enumerate(sequences):
                row[index] = odds - 1.0 if _match_outcome(market.type, market.line, games, sequence, outcome) else -1.0
        else:
            if market.game not in endings:
                raise ValueError(f"{market_id}: game {market.game} is not to come at {games}")
            if market.type is MarketType.POINT_WINNER and (market.game, market.number) != (at_game, sum(points) + 1):
                raise ValueError(f"{market_id}: a point market is settled here only on the next point")
            for index, ending in enumerate(endings[market.game]):
                row[offset[market.game] + index] = odds - 1.0 if _game_outcome(market, ending, outcome) else -1.0
        row[-1] = -1.0
        upper.append(row)
    equal: list[list[float]] = []
    targets: list[float] = []
    row = [0.0] * columns
    for index in range(len(sequences)):
        row[index] = 1.0
    equal.append(row)
    targets.append(1.0)
    for game, found in endings.items():
        for winner in (_HOME, _AWAY):
            row = [0.0] * columns
            for index, ending in enumerate(found):
                if ending.winner == winner:
                    row[offset[game] + index] = 1.0
            for index, sequence in enumerate(sequences):
                step = game - at_game
                if step < len(sequence) and sequence[step] == winner:
                    row[index] = -1.0
            equal.append(row)
            targets.append(0.0)
    cost = [0.0] * columns
    cost[-1] = 1.0
    bounds = [(0.0, None)] * (columns - 1) + [(-1.0, None)]  # no bet returns less than -1 (nothing offered: -1)
    solved = linprog(
        cost,
        A_ub=upper or None,
        b_ub=[0.0] * len(upper) or None,
        A_eq=equal,
        b_eq=targets,
        bounds=bounds,
        method="highs",
    )
    if solved.status != 0:
        raise RuntimeError(f"the sure-bet programme failed: {solved.message}")
    profit = float(solved.fun)
    stakes: dict[str, dict[str, float]] = {}
    if profit > 0 and solved.ineqlin is not None:
        for (market_id, outcome, _), share in zip(bets, -solved.ineqlin.marginals, strict=True):
            if share > 1e-12:
                stakes.setdefault(market_id, {})[outcome] = float(share)
    return SureBet(profit, stakes)


def _sequences(games: tuple[int, int], to_win: int) -> Iterator[tuple[str, ...]]:
    """Every sequence of game winners from `games` until a side has `to_win`."""
    home, away = games
    if to_win in (home, away):
        yield ()
        return
    for rest in _sequences((home + 1, away), to_win):
        yield (_HOME, *rest)
    for rest in _sequences((home, away + 1), to_win):
        yield (_AWAY, *rest)


def _match_outcome(
    kind: MarketType, line: float, games: tuple[int, int], sequence: tuple[str, ...], outcome: str
) -> bool:
    home = games[0] + sequence.count(_HOME)
    away = games[1] + sequence.count(_AWAY)
    if kind is MarketType.MATCH_WINNER:
        return outcome == (_HOME if home > away else _AWAY)
    if kind is MarketType.CORRECT_SCORE:
        return outcome == f"{home}-{away}"
    return outcome == ("over" if home + away > line else "under")


def _game_outcome(market: Market, ending: _Ending, outcome: str) -> bool:
    if market.type is MarketType.GAME_WINNER:
        return outcome == ending.winner
    if market.type is MarketType.GAME_TOTAL_POINTS:
        return outcome == ("over" if ending.total > market.line else "under")
    if market.type is MarketType.RACE_TO:
        if market.number not in ending.races:
            raise ValueError(f"{market.id}: the race is decided at this score")
        return outcome == ending.races[market.number]
    return outcome == ending.next_point


def _endings(
    fmt: MatchFormat, start: tuple[int, int], races: list[int], lines: list[float], in_play: bool
) -> Iterator[_Ending]:
    """Every way a game from `start` can end, as far as the markets tell them apart (`in_play`: the
    next point's winner too)."""
    if not in_play:
        yield from _endings_from(fmt, start, start, races, lines, None)
        return
    home, away = start
    for first, after in ((_HOME, (home + 1, away)), (_AWAY, (home, away + 1))):
        yield from _endings_from(fmt, start, after, races, lines, first)


def _endings_from(
    fmt: MatchFormat,
    start: tuple[int, int],
    after: tuple[int, int],
    races: list[int],
    lines: list[float],
    next_point: str | None,
) -> Iterator[_Ending]:
    """The endings from `after` (one point after `start` when `next_point` is known): the races
    reached between the two go to the next point's winner."""
    to_win = fmt.points_to_win
    # Endings up to the first deuce win of each side past every line, past the reach of every race
    # target (up to the points to win) and past where `after` stands: any longer one ends the same
    # way for every market.
    longest = max([2 * to_win + 4, sum(after) + 4, *(int(line) + 3 for line in lines)])
    undecided = [target for target in races if target > max(start)]
    fixed = {} if next_point is None else {target: next_point for target in undecided if target <= max(after)}
    for final in _finals(fmt, after, longest):
        winner = _HOME if final[0] > final[1] else _AWAY
        loser_points = min(final)
        free = [target for target in undecided if target not in fixed and target <= loser_points]
        forced: dict[int, str] = dict(fixed)
        for target in undecided:
            if target not in fixed and target > loser_points:
                forced[target] = winner if target <= max(final) else "neither"
        for choice in itertools.product((_HOME, _AWAY), repeat=len(free)):
            yield _Ending(winner, sum(final), forced | dict(zip(free, choice, strict=True)), next_point)


def _finals(fmt: MatchFormat, start: tuple[int, int], longest: int) -> Iterator[tuple[int, int]]:
    """The final scores reachable from `start` with at most `longest` points in all (the game over at
    `start` itself: just it)."""
    if game_winner(*start, fmt) is not None:
        yield start
        return
    home, away = start
    for total in range(home + away + 1, longest + 1):
        for final_home in range(home, total - away + 1):
            final = (final_home, total - final_home)
            if final[1] < away or game_winner(*final, fmt) is None:
                continue
            # the point before it must not have ended the game already
            winner_first = (final[0] - 1, final[1]) if final[0] > final[1] else (final[0], final[1] - 1)
            if game_winner(*winner_first, fmt) is None:
                yield final
