"""Fair prices of the table tennis markets: an exact Markov model of the rules (issue 15, first part).

Two numbers drive everything: P(home wins a point it serves) and P(away wins a point it serves).
The service order is the rules' (two serves each, one each from 10-10 and under the expedite
system, the first server alternating by game), so every point's server is known and each point is
an independent trial with its server's probability. From a match position — games won, the points
of the game in play, who serves next, the expedite system, the format — `price` gives, for each
market asked, the probability of each outcome (summing to 1), exactly: recursions over the finite
scores, and the deuce in closed form (from a tie at 10-10 or later, each pair of points is one
serve each, so the game is won from a tie with probability ab / (ab + (1-a)(1-b)), a and b home's
chances on its own and on the other's serve). Reference: Dominicy, Ley & Swan, "A stochastic
analysis of table tennis", Brazilian Journal of Probability and Statistics (2013).

Pure: no clock, no I/O, no randomness. A market on a game not yet played is priced given that the
game is played (it is void otherwise); the format must be known for the match-level markets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

import attrs

from engine.core.market_catalogue import Market, MarketType
from engine.core.rules import MatchFormat, Side, server, service_turn
from engine.core.state import PlayState


@attrs.frozen(slots=True)
class Position:
    """Where the match stands for pricing: games won, the points of the current game (`game`,
    1-based; 0-0 when it is about to start), who serves the next point, and the expedite system."""

    format: MatchFormat
    games: tuple[int, int]
    game: int
    points: tuple[int, int]
    server: Side
    expedite: bool = False


@attrs.frozen(slots=True)
class Strengths:
    """P(home wins a point it serves) and P(away wins a point it serves)."""

    home_serve: float
    away_serve: float

    def __attrs_post_init__(self) -> None:
        for value in (self.home_serve, self.away_serve):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"a point probability is between 0 and 1, not {value}")

    def home_wins_point(self, server: Side) -> float:
        """P(home wins a point `server` serves)."""
        return self.home_serve if server is Side.HOME else 1.0 - self.away_serve


@attrs.frozen(slots=True)
class Prior:
    """A Beta prior on a side's P(winning a point it serves): its `mean`, and its `strength` in
    points (how many points of evidence it is worth)."""

    mean: float
    strength: float


#: Fitted on the AI CUP 2026 rallies (fixtures_data/realdata, 514 points with their observed server:
#: 281 won by the server, 0.547); the strength, 20 points, maximised the sequential predictive
#: likelihood of each server's points within its match over 1-160 (tests/test_pricing.py refits both).
SERVE_PRIOR = Prior(mean=0.547, strength=20.0)


def estimate(play: PlayState, prior: Prior = SERVE_PRIOR, home_edge: float = 0.0) -> Strengths:
    """Each side's P(winning its serve) given the points played: the posterior mean of a Beta prior
    (`prior`, its mean moved by +`home_edge` for home and -`home_edge` for away, e.g. from a
    pre-match price) updated by every point whose server and winner are known. Pure: the same play
    state gives the same strengths."""
    serves = {Side.HOME: 0, Side.AWAY: 0}
    held = {Side.HOME: 0, Side.AWAY: 0}
    if play.first_server is not None:
        for index, rallies in enumerate(play.rallies):
            game = index + 1
            expedite = None if play.expedite is None else play.expedite.from_point_in(game)
            home = away = 0
            for winner in rallies:
                serving = server(play.first_server, game, home, away, expedite, play.format)
                if winner is not None:
                    serves[serving] += 1
                    held[serving] += winner is serving
                    home, away = (home + 1, away) if winner is Side.HOME else (home, away + 1)
                else:
                    break  # the order is lost from here: later servers are not known
    means = {Side.HOME: prior.mean + home_edge, Side.AWAY: prior.mean - home_edge}
    posterior = {side: (means[side] * prior.strength + held[side]) / (prior.strength + serves[side]) for side in Side}
    return Strengths(min(1.0, max(0.0, posterior[Side.HOME])), min(1.0, max(0.0, posterior[Side.AWAY])))


class _Game:
    """One game from a score with a known next server: the point-level Markov chain."""

    def __init__(self, fmt: MatchFormat, start: tuple[int, int], server: Side, expedite: bool, odds: Strengths):
        self.fmt = fmt
        self.start = start
        self.server = server
        self.expedite = expedite
        self.odds = odds
        self.turn0 = self._turn(sum(start))
        self.tie_at = fmt.points_to_win - 1  # from this tie on, serve changes each point

    def _turn(self, played: int) -> int:
        return played if self.expedite else service_turn(played, None, self.fmt)

    def home_wins_point(self, home: int, away: int) -> float:
        """P(home wins the point played at home-away)."""
        serving = self.server if (self._turn(home + away) - self.turn0) % 2 == 0 else self.server.other
        return self.odds.home_wins_point(serving)

    def over(self, home: int, away: int) -> Side | None:
        fmt = self.fmt
        if home >= fmt.points_to_win and home - away >= fmt.lead:
            return Side.HOME
        if away >= fmt.points_to_win and away - home >= fmt.lead:
            return Side.AWAY
        return None

    def tie_win(self) -> float:
        """P(home wins the game from a tie at or past 10-10): pairs of points, one serve each."""
        a = self.odds.home_wins_point(Side.HOME)
        b = self.odds.home_wins_point(Side.AWAY)
        both, neither = a * b, (1 - a) * (1 - b)
        return 0.5 if both + neither == 0 else both / (both + neither)

    def tie_split(self) -> float:
        """P(a pair of points from a tie is split one each: the tie goes on)."""
        a = self.odds.home_wins_point(Side.HOME)
        b = self.odds.home_wins_point(Side.AWAY)
        return 1.0 - a * b - (1 - a) * (1 - b)

    def walk(self, stop: Callable[[int, int], float | None]) -> float:
        """E[stop's value where it first returns one], walking the points from the start; `stop`
        must return a value at every score where the game is over (and may earlier)."""
        memo: dict[tuple[int, int], float] = {}

        def value(home: int, away: int) -> float:
            found = stop(home, away)
            if found is not None:
                return found
            key = (home, away)
            if key not in memo:
                p = self.home_wins_point(home, away)
                memo[key] = p * value(home + 1, away) + (1 - p) * value(home, away + 1)
            return memo[key]

        return value(*self.start)

    def home_wins(self) -> float:
        def stop(home: int, away: int) -> float | None:
            winner = self.over(home, away)
            if winner is not None:
                return 1.0 if winner is Side.HOME else 0.0
            return self.tie_win() if home == away >= self.tie_at else None

        return self.walk(stop)

    def total_over(self, line: float) -> float:
        """P(the game's total points exceed `line`)."""

        def stop(home: int, away: int) -> float | None:
            played = home + away
            if self.over(home, away) is not None:
                return 1.0 if played > line else 0.0
            if home == away >= self.tie_at:  # 2K more points, K >= 1 geometric with P(K > k) = split**k
                needed = int((line - played) // 2) + 1  # the pairs that make the total exceed the line
                return 1.0 if needed <= 1 else self.tie_split() ** (needed - 1)
            return None

        return self.walk(stop)

    def race(self, target: int) -> dict[str, float]:
        """P(home / away first to `target` points, or neither before the game ends)."""
        outcomes = {}
        for name, wanted in (("home", Side.HOME), ("away", Side.AWAY)):

            def stop(home: int, away: int, wanted: Side = wanted) -> float | None:
                if home >= target or away >= target:
                    first = Side.HOME if home >= target else Side.AWAY
                    return 1.0 if first is wanted else 0.0
                return 0.0 if self.over(home, away) is not None else None

            outcomes[name] = self.walk(stop)
        outcomes["neither"] = max(0.0, 1.0 - outcomes["home"] - outcomes["away"])
        return outcomes


def price(position: Position, odds: Strengths, markets: Sequence[Market]) -> dict[str, dict[str, float]]:
    """Market id -> {outcome: probability} for each market the position leaves undecided (a decided
    one — a past game or point, a race reached, a line exceeded — has no price and is left out)."""
    fmt = position.format
    current = _Game(fmt, position.points, position.server, position.expedite, odds)
    opening = _opening_server(position)

    def fresh(game: int) -> _Game:
        first = opening if (game - position.game) % 2 == 0 else opening.other
        return _Game(fmt, (0, 0), first, position.expedite, odds)

    def game_model(game: int) -> _Game:
        return current if game == position.game else fresh(game)

    out: dict[str, dict[str, float]] = {}
    match_wanted = [m for m in markets if m.type in _MATCH_TYPES]
    for market in markets:
        if market.type in _MATCH_TYPES or _decided(market, position):
            continue
        model = game_model(market.game)
        if market.type is MarketType.GAME_WINNER:
            home = model.home_wins()
            out[market.id] = {"home": home, "away": 1.0 - home}
        elif market.type is MarketType.GAME_TOTAL_POINTS:
            over = model.total_over(market.line)
            out[market.id] = {"over": over, "under": 1.0 - over}
        elif market.type is MarketType.RACE_TO:
            out[market.id] = model.race(market.number)
        elif market.type is MarketType.POINT_WINNER:
            home = odds.home_wins_point(position.server)
            out[market.id] = {"home": home, "away": 1.0 - home}
    if match_wanted:
        out.update(_match_prices(position, current.home_wins(), fresh, match_wanted))
    return {market.id: out[market.id] for market in markets if market.id in out}  # in the order asked


def _decided(market: Market, position: Position) -> bool:
    """True when the position already decides a game market (or it is about a point not next)."""
    if market.game < position.game:
        return True
    if market.game > position.game:
        return market.type is MarketType.POINT_WINNER
    home, away = position.points
    if market.type is MarketType.RACE_TO:
        return max(home, away) >= market.number
    if market.type is MarketType.GAME_TOTAL_POINTS:
        return home + away > market.line
    if market.type is MarketType.POINT_WINNER:
        return market.number != home + away + 1
    return False


_MATCH_TYPES = frozenset({MarketType.MATCH_WINNER, MarketType.CORRECT_SCORE, MarketType.TOTAL_GAMES})


def _opening_server(position: Position) -> Side:
    """Who served (or serves) first in the current game, from who serves at its score."""
    played = sum(position.points)
    turn = played if position.expedite else service_turn(played, None, position.format)
    return position.server if turn % 2 == 0 else position.server.other


def _match_prices(
    position: Position, current_home: float, fresh: Callable[[int], _Game], markets: list[Market]
) -> dict[str, dict[str, float]]:
    """Match winner, correct score and total games from the final-score distribution."""
    best_of = position.format.best_of
    if best_of is None:
        raise ValueError("match-level markets need the match format (best_of)")
    to_win = best_of // 2 + 1

    @cache
    def fresh_home(game: int) -> float:
        return fresh(game).home_wins()

    finals: dict[tuple[int, int], float] = {}

    def play(home: int, away: int, game: int, weight: float) -> None:
        if home == to_win or away == to_win:
            finals[(home, away)] = finals.get((home, away), 0.0) + weight
            return
        p = current_home if game == position.game else fresh_home(game)
        play(home + 1, away, game + 1, weight * p)
        play(home, away + 1, game + 1, weight * (1 - p))

    play(*position.games, position.game, 1.0)
    out: dict[str, dict[str, float]] = {}
    for market in markets:
        if market.type is MarketType.MATCH_WINNER:
            home = sum(weight for (h, a), weight in finals.items() if h > a)
            out[market.id] = {"home": home, "away": 1.0 - home}
        elif market.type is MarketType.CORRECT_SCORE:
            out[market.id] = {f"{h}-{a}": weight for (h, a), weight in sorted(finals.items())}
        else:
            over = sum(weight for (h, a), weight in finals.items() if h + a > market.line)
            out[market.id] = {"over": over, "under": 1.0 - over}
    return out
