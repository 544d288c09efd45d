"""One game of table tennis as a point-level Markov chain: the serve strengths that drive it
(`Strengths`) and the plain backward recursion over its scores, the deuce in closed form
(`GameChain`): the reference that `engine.core.pricing.kernel` is tested against."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from engine.core.match.rules import MatchFormat, Side, game_winner, service_turn


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


class GameChain:
    """One game from a score with a known next server: the point-level Markov chain, walked by the
    plain backward recursion (the deuce in closed form). The reference the kernel is tested against
    (`engine.core.pricing.kernel` walks the same chain forward once, in C when compiled)."""

    def __init__(
        self, fmt: MatchFormat, start: tuple[int, int], server: Side, expedite: bool, strengths: Strengths
    ) -> None:
        self.fmt = fmt
        self.start = start
        self.server = server
        self.expedite = expedite
        self.strengths = strengths
        self.turn0 = self._turn(sum(start))
        self.tie_at = fmt.points_to_win - 1  # from this tie on, serve changes each point
        self._home_wins: float | None = None

    def _turn(self, played: int) -> int:
        return played if self.expedite else service_turn(played, None, self.fmt)

    def home_wins_point(self, home: int, away: int) -> float:
        """P(home wins the point played at home-away)."""
        serving = self.server if (self._turn(home + away) - self.turn0) % 2 == 0 else self.server.other
        return self.strengths.home_wins_point(serving)

    def tie_win(self) -> float:
        """P(home wins the game from a tie at or past 10-10): pairs of points, one serve each."""
        a = self.strengths.home_wins_point(Side.HOME)
        b = self.strengths.home_wins_point(Side.AWAY)
        both, neither = a * b, (1 - a) * (1 - b)
        return 0.5 if both + neither == 0 else both / (both + neither)

    def tie_split(self) -> float:
        """P(a pair of points from a tie is split one each: the tie goes on)."""
        a = self.strengths.home_wins_point(Side.HOME)
        b = self.strengths.home_wins_point(Side.AWAY)
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
        """P(home wins the game) (computed once per model)."""
        if self._home_wins is None:

            def stop(home: int, away: int) -> float | None:
                winner = game_winner(home, away, self.fmt)
                if winner is not None:
                    return 1.0 if winner is Side.HOME else 0.0
                return self.tie_win() if home == away >= self.tie_at else None

            self._home_wins = self.walk(stop)
        return self._home_wins

    def _over_from_tie(self, played: int, line: float) -> float:
        """P(the total exceeds `line`) from a tie after `played` points: 2K more, K >= 1 geometric
        with P(K > k) = split**k."""
        needed = int((line - played) // 2) + 1  # the pairs that make the total exceed the line
        return 1.0 if needed <= 1 else self.tie_split() ** (needed - 1)

    def total_over(self, line: float) -> float:
        """P(the game's total points exceed `line`)."""

        def stop(home: int, away: int) -> float | None:
            played = home + away
            if game_winner(home, away, self.fmt) is not None:
                return 1.0 if played > line else 0.0
            if home == away >= self.tie_at:
                return self._over_from_tie(played, line)
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
                return 0.0 if game_winner(home, away, self.fmt) is not None else None

            outcomes[name] = self.walk(stop)
        outcomes["neither"] = max(0.0, 1.0 - outcomes["home"] - outcomes["away"])
        return outcomes
