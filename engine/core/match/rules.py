"""Table tennis rules as pure functions of the score (ITTF Handbook, laws 2.11-2.15; FEED.md section 5).

Nothing here stores anything: who serves, which end each side plays from, whether a game
or the match is over all follow from the format, the first server and the points played.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import attrs


class Side(enum.Enum):
    """One side of the table: a player in singles, a pair in doubles."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C (Enum's is Python)

    HOME = "home"
    AWAY = "away"

    @property
    def other(self) -> Side:
        """The opposing side."""
        return Side.AWAY if self is Side.HOME else Side.HOME


#: [ours] The longest format a user may give (ITTF 2.12 allows any odd number; play uses 3, 5 and 7).
MAX_BEST_OF = 9
#: [ours] The formats played in practice: with the format unknown, the total-games lines offered
#: span them (FEED.md says nothing of the format; no field of the feed is known to carry it).
USUAL_LONGEST_BEST_OF = 7


def _check_best_of(_instance: object, _attribute: object, value: int | None) -> None:
    if value is not None and (value < 1 or value % 2 == 0):
        raise ValueError(f"best_of must be a positive odd number of games, got {value}")


def games_needed(best_of: int) -> int:
    """Games a side needs to win a best-of-`best_of` match (3 of 5, 4 of 7)."""
    return best_of // 2 + 1


@attrs.frozen(slots=True)
class MatchFormat:
    """How a match is played: best of N games (None: not known), singles or doubles, 11 points win by 2.

    With `best_of=None` no match is ever won from the score alone: only the provider's End Match
    ends it, and the markets that depend on the format wait for it (`engine.core.markets.outcomes`)."""

    best_of: int | None = attrs.field(default=5, validator=_check_best_of)
    doubles: bool = False
    points_to_win: int = 11
    lead: int = 2

    @property
    def games_to_win(self) -> int | None:
        """Games a side needs to win the match (3 in a best of 5); None when the format is unknown."""
        return None if self.best_of is None else games_needed(self.best_of)


DEFAULT_FORMAT = MatchFormat()
#: Singles, number of games not known: what a live follow starts from unless the user says.
UNKNOWN_FORMAT = MatchFormat(best_of=None)

#: ITTF 2.14.2: ends change in the last possible game when a side first reaches this many points.
LAST_GAME_CHANGE_OF_ENDS_AT = 5


def game_winner(home: int, away: int, fmt: MatchFormat = DEFAULT_FORMAT) -> Side | None:
    """The side that has won a game at this score, or None while it goes on (ITTF 2.11)."""
    if home >= fmt.points_to_win and home - away >= fmt.lead:
        return Side.HOME
    if away >= fmt.points_to_win and away - home >= fmt.lead:
        return Side.AWAY
    return None


def match_winner(home_games: int, away_games: int, fmt: MatchFormat = DEFAULT_FORMAT) -> Side | None:
    """The side that has won the match with these games, or None (ITTF 2.12). None whenever the
    format is unknown: the score alone cannot tell."""
    to_win = fmt.games_to_win
    if to_win is None:
        return None
    if home_games >= to_win:
        return Side.HOME
    if away_games >= to_win:
        return Side.AWAY
    return None


def fewest_points_left(home: int, away: int, fmt: MatchFormat = DEFAULT_FORMAT) -> int:
    """The fewest points still to be played before a game at this score is won (0 once it is):
    one side scores every one of them (ITTF 2.11)."""
    if game_winner(home, away, fmt) is not None:
        return 0
    need_home = max(fmt.points_to_win, away + fmt.lead) - home
    need_away = max(fmt.points_to_win, home + fmt.lead) - away
    return min(need_home, need_away)


def games_range(home_games: int, away_games: int, fmt: MatchFormat) -> tuple[int, int] | None:
    """The fewest and the most games the match can last, played out from these games won (None
    with the format unknown)."""
    to_win = fmt.games_to_win
    if to_win is None or fmt.best_of is None:
        return None
    played = home_games + away_games
    if max(home_games, away_games) >= to_win:
        return played, played
    return played + to_win - max(home_games, away_games), fmt.best_of


#: [ours] No game runs longer than this many points (real deuce games end in the 20s and 30s). A
#: score beyond it is impossible, whatever the lead; it also bounds the work a claimed score costs.
MAX_GAME_POINTS = 200


def possible_game_score(home: int, away: int, fmt: MatchFormat = DEFAULT_FORMAT) -> bool:
    """True when a game can stand at this score: the game was not already over before its last point."""
    high, low = max(home, away), min(home, away)
    if low < 0 or high + low > MAX_GAME_POINTS:
        return False
    return high <= fmt.points_to_win or high - low <= fmt.lead


def impossible_score(games: tuple[int, int], points: Sequence[tuple[int, int]], fmt: MatchFormat) -> str | None:
    """Why a match cannot stand at these games and per-game points in `fmt`, or None when it can
    (an unknown format is judged as the longest a user may give, `MAX_BEST_OF`)."""
    home, away = games
    best_of = MAX_BEST_OF if fmt.best_of is None else fmt.best_of
    to_win = games_needed(best_of)
    if min(home, away) < 0 or max(home, away) > to_win or home == away == to_win:
        return f"{home}-{away} games in a best of {best_of}"
    if len(points) > best_of:
        return f"{len(points)} games of points in a best of {best_of}"
    for number, (game_home, game_away) in enumerate(points, start=1):
        if not possible_game_score(game_home, game_away, fmt):
            return f"game {number} at {game_home}-{game_away}"
    return None


def is_last_possible_game(game: int, fmt: MatchFormat = DEFAULT_FORMAT) -> bool:
    """True for the deciding game (game 5 of a best of 5); never when the format is unknown."""
    return game == fmt.best_of


def _normal_turn(points_played: int, fmt: MatchFormat) -> int:
    deuce_at = 2 * (fmt.points_to_win - 1)
    if points_played < deuce_at:
        return points_played // 2
    return deuce_at // 2 + (points_played - deuce_at)


def service_turn(
    points_played: int, expedite_from: int | None = None, fmt: MatchFormat = DEFAULT_FORMAT, interrupted: bool = False
) -> int:
    """How many times service has changed hands in a game before rally number `points_played`.

    Two points per turn (ITTF 2.13.3), one from 10-10 (2.13.4). Under the expedite system
    (2.15), introduced when `expedite_from` points of this game had been played, each player then
    serves one point in turn, starting (2.15.2) with the server of the interrupted rally when the
    ball was in play (`interrupted`: that rally is played again), else with the receiver of the
    preceding rally. Pass `expedite_from=0` for a game that started with expedite already on (its
    first server is the usual one).
    """
    if expedite_from is None or points_played < expedite_from:
        return _normal_turn(points_played, fmt)
    if expedite_from == 0:
        start = 0
    elif interrupted:
        start = _normal_turn(expedite_from, fmt)  # the interrupted rally's server serves it again
    else:
        start = _normal_turn(expedite_from - 1, fmt) + 1  # the receiver of the preceding rally
    return start + (points_played - expedite_from)


def first_server_of_game(first_server_of_match: Side, game: int) -> Side:
    """The side serving first in `game` (1-based): the first receiver of the previous game (2.13.5)."""
    return first_server_of_match if game % 2 == 1 else first_server_of_match.other


def server(
    first_server_of_match: Side,
    game: int,
    home: int,
    away: int,
    expedite_from: int | None = None,
    fmt: MatchFormat = DEFAULT_FORMAT,
    interrupted: bool = False,
) -> Side:
    """The side due to serve the next rally of `game` at score home-away (`expedite_from`,
    `interrupted`: as `service_turn`)."""
    opening = first_server_of_game(first_server_of_match, game)
    turn = service_turn(home + away, expedite_from, fmt, interrupted)
    return opening if turn % 2 == 0 else opening.other


def infer_first_server_of_match(
    observed_server: Side,
    game: int,
    home: int,
    away: int,
    expedite_from: int | None = None,
    fmt: MatchFormat = DEFAULT_FORMAT,
    interrupted: bool = False,
) -> Side:
    """Invert `server`: which side must have served first in game 1 for `observed_server` to serve now."""
    if server(Side.HOME, game, home, away, expedite_from, fmt, interrupted) is observed_server:
        return Side.HOME
    return Side.AWAY


def ends_swapped(game: int, home: int, away: int, fmt: MatchFormat = DEFAULT_FORMAT) -> bool:
    """True when each side plays from the end the other side started the match at.

    Ends change after every game (2.13.6) and, in the last possible game, when a side first
    reaches 5 points (2.14.2 for ends).
    """
    swapped = (game - 1) % 2 == 1
    if is_last_possible_game(game, fmt) and max(home, away) >= LAST_GAME_CHANGE_OF_ENDS_AT:
        swapped = not swapped
    return swapped
