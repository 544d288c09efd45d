# cython: annotation_typing=False, boundscheck=False, wraparound=False
"""The pricing model's arithmetic on plain numbers: one call prices every market of a position,
averaged over the posterior's strengths (`engine.core.pricing.model.price_weighted` is the reference).

    prices = price_position(Score(...), [Serving(...), ...], Posterior(...), [MarketAsk(...), ...])
    prices.outcomes(index)  # the index-th market's outcome probabilities; empty when decided

Its inputs and output are small classes of named numbers. `pip install .` compiles it with Cython
(C types in kernel.pxd) when a C compiler is at hand; without one, or with `TTENGINE_PURE=1`, it runs
as plain Python with the same numbers (README "Performance"). A market comes encoded (`KIND_*`,
game, line, number); its outcomes come in the order `engine.core.pricing.model` names them. Covers
the games won by a lead of two (a score past the tie at 10-10 is priced as the score before
it that leaves the same game: 12-11 as 10-9, 12-12 as 10-10) and races to at most the game's
points: the caller prices any other position with the reference (`covers`).
"""

from __future__ import annotations

from array import array
from collections.abc import MutableSequence

#: True in the compiled build (an extension module; its types in kernel.pxd), False when this
#: file runs as plain Python.
COMPILED = not __file__.endswith(".py")
Floats = MutableSequence[float]
Ints = MutableSequence[int]

# The market kinds: C constants in the compiled build, exported under their public names below.
_GAME_WINNER = 0
_GAME_TOTAL_POINTS = 1
_RACE_TO = 2
_POINT_WINNER = 3
_MATCH_WINNER = 4
_CORRECT_SCORE = 5
_TOTAL_GAMES = 6
KIND_GAME_WINNER = _GAME_WINNER
KIND_GAME_TOTAL_POINTS = _GAME_TOTAL_POINTS
KIND_RACE_TO = _RACE_TO
KIND_POINT_WINNER = _POINT_WINNER
KIND_MATCH_WINNER = _MATCH_WINNER
KIND_CORRECT_SCORE = _CORRECT_SCORE
KIND_TOTAL_GAMES = _TOTAL_GAMES

# A game table's layout (`_game_table`): home wins before the tie, P(the tie), the tie's three
# numbers, then `ended` by total points, `first_home` and `first_away` by points reached.
_HOME_WIN = 0
_TIE = 1
_TIE_WIN = 2
_TIE_SPLIT = 3
_TIE_POINT = 4  # P(home wins the point played at the tie)
_HEAD = 5
#: Added to each node's chance of playing a future game: nothing next to any chance a double can
#: tell from 0 relative to 1, and a game no node plays (void for sure) is priced as if played.
_NEVER_PLAYED = 1e-300
NEVER_PLAYED = _NEVER_PLAYED


class Score:
    """The position priced: the format (`points_to_win` a game, `games_to_win` the match: 0 when the
    format is unknown, and then no match market is asked), the games won, the current game's number
    and its points, and whether the expedite system is on (one serve each from the current rally)."""

    def __init__(
        self,
        points_to_win: int,
        games_to_win: int,
        games_home: int,
        games_away: int,
        game: int,
        home: int,
        away: int,
        expedite: bool,
    ) -> None:
        self.points_to_win = points_to_win
        self.games_to_win = games_to_win
        self.games_home = games_home
        self.games_away = games_away
        self.game = game
        self.home = home
        self.away = away
        self.expedite = expedite


class Serving:
    """One way the serve can stand at the score: whether home serves the next rally and whether home
    opened the current game. A position whose first server is not yet known has two, equally likely."""

    def __init__(self, home_next: bool, home_opened: bool) -> None:
        self.home_next = home_next
        self.home_opened = home_opened


class Posterior:
    """The strengths averaged over: `weights[i]` (summing to 1) of home winning `home_serves[i]` of
    the points home serves and away `away_serves[i]` of those away serves."""

    def __init__(self, weights: list[float], home_serves: list[float], away_serves: list[float]) -> None:
        if not len(weights) == len(home_serves) == len(away_serves):
            raise ValueError("a posterior needs as many serve strengths as weights")
        self.weights = weights
        self.home_serves = home_serves
        self.away_serves = away_serves


class MarketAsk:
    """One market to price, as the kernel takes it: its kind (`KIND_*`), the game it is about, its
    line (totals) and its number (the race's target, the point's number in its game)."""

    def __init__(self, kind: int, game: int, line: float, number: int) -> None:
        self.kind = kind
        self.game = game
        self.line = line
        self.number = number


class Prices:
    """What `price_position` answers: for each market asked, in order, its outcome probabilities."""

    def __init__(self, widths: Ints, starts: Ints, values: Floats) -> None:
        self.widths = widths  # outcomes per market: 0 when the position decides it
        self.starts = starts  # where each market's outcomes start in `values`
        self.values = values

    def outcomes(self, index: int) -> Floats:
        """The `index`-th market's outcome probabilities (empty: the position decides it)."""
        start = self.starts[index]
        return self.values[start : start + self.widths[index]]


def covers(points_to_win: int, lead: int, asks: list[MarketAsk]) -> bool:
    """True when the kernel prices games of this lead and these markets (see the module docstring)."""
    if lead != 2:
        return False
    return all(ask.kind != _RACE_TO or ask.number <= points_to_win for ask in asks)


def _past_tie(tie_at: int, home: int, away: int) -> int:
    """How many points each side is past the score before it that leaves the same game: 0 up to the
    tie; from it on, the score is that of a tie (10-10) or an advantage (10-9), shifted."""
    low = home if home < away else away
    if low < tie_at:
        return 0
    return low - tie_at if home == away else low - tie_at + 1


def _zeros(size: int) -> Floats:
    """`size` zeros: an array of doubles, which the compiled build indexes as C memory; a list in
    plain Python, where it is the faster of the two."""
    return array("d", bytes(8 * size)) if COMPILED else [0.0] * size


def _int_zeros(size: int) -> Ints:
    """`size` zeros, as `_zeros` does for integers."""
    return array("q", bytes(8 * size)) if COMPILED else [0] * size


def _game_table(
    tie_at: int,
    start_home: int,
    start_away: int,
    server_home: bool,
    expedite: bool,
    home_serve: float,
    away_serve: float,
    reach: Floats,
    table: Floats,
    zeros: Floats,
) -> None:
    """One game from `start` with home serving next iff `server_home`, into `table` (the layout above):
    the reach probability of every score up to the tie, walked forward once. `reach` is scratch of
    (tie_at + 1)**2; `zeros` as long as either: both buffers are cleared from it first."""
    on_home = home_serve  # P(home wins a point home serves)
    on_away = 1.0 - away_serve  # P(home wins a point away serves)
    on_serve = on_home if server_home else on_away
    off_serve = on_away if server_home else on_home
    played0 = start_home + start_away
    turn0 = played0 if expedite else played0 // 2  # the start is at most the tie: two points a turn
    size = tie_at + 1
    reach[:] = zeros[: size * size]
    table[:] = zeros[: _table_size(tie_at)]
    reach[start_home * size + start_away] = 1.0
    ended_at = _HEAD
    first_home_at = ended_at + 2 * tie_at + 1
    first_away_at = first_home_at + tie_at + 3
    home_win = 0.0
    for played in range(played0, 2 * tie_at):
        turn = played if expedite else played // 2
        p = on_serve if (turn - turn0) % 2 == 0 else off_serve
        low = played - tie_at if played - tie_at > start_home else start_home
        high = played - start_away if played - start_away < tie_at else tie_at
        for home in range(low, high + 1):
            away = played - home
            at = home * size + away
            r = reach[at]
            if r == 0.0:
                continue
            won = r * p
            lost = r - won
            if away <= home:
                table[first_home_at + home + 1] += won
            if home <= away:
                table[first_away_at + away + 1] += lost
            if home == tie_at:
                home_win += won
                table[ended_at + played + 1] += won
            else:
                reach[at + size] += won
            if away == tie_at:
                table[ended_at + played + 1] += lost
            else:
                reach[at + 1] += lost
    both = on_home * on_away
    neither = (1.0 - on_home) * (1.0 - on_away)
    table[_HOME_WIN] = home_win
    table[_TIE] = reach[tie_at * size + tie_at]
    table[_TIE_WIN] = 0.5 if both + neither == 0.0 else both / (both + neither)
    table[_TIE_SPLIT] = 1.0 - both - neither
    tie_turn = 2 * tie_at if expedite else tie_at
    table[_TIE_POINT] = on_serve if (tie_turn - turn0) % 2 == 0 else off_serve


def _table_size(tie_at: int) -> int:
    """The length of a game table (the layout above)."""
    return _HEAD + (2 * tie_at + 1) + 2 * (tie_at + 3)


def _home_wins(table: Floats) -> float:
    return table[_HOME_WIN] + table[_TIE] * table[_TIE_WIN]


def decided(kind: int, game: int, line: float, number: int, at_game: int, home: int, away: int) -> bool:
    """True when the position (game `at_game` at `home`-`away`) already decides a game market of
    this kind, game, line and number, or it is about a point not next. Match markets: never."""
    if kind >= _MATCH_WINNER:
        return False
    if game < at_game:
        return True
    if game > at_game:
        return kind == _POINT_WINNER
    if kind == _RACE_TO:
        return (home if home > away else away) >= number
    if kind == _GAME_TOTAL_POINTS:
        return home + away > line
    if kind == _POINT_WINNER:
        return number != home + away + 1
    return False


def price_position(score: Score, servings: list[Serving], posterior: Posterior, asks: list[MarketAsk]) -> Prices:
    """Every market's outcome probabilities at this position, averaged over the posterior's strengths
    and over the `servings` (equally likely: two when a coin toss decided the first server)."""
    tie_at = score.points_to_win - 1
    games_to_win = score.games_to_win
    games_home = score.games_home
    games_away = score.games_away
    at_game = score.game
    home = score.home
    away = score.away
    expedite = score.expedite
    past = _past_tie(tie_at, home, away)
    count = len(asks)
    kinds = _int_zeros(count)
    games = _int_zeros(count)
    lines = _zeros(count)
    numbers = _int_zeros(count)
    for index in range(count):
        ask = asks[index]
        kinds[index] = ask.kind
        games[index] = ask.game
        lines[index] = ask.line
        numbers[index] = ask.number
    width = _int_zeros(count)
    for index in range(count):
        kind = kinds[index]
        if decided(kind, games[index], lines[index], numbers[index], at_game, home, away):
            width[index] = 0
        elif kind == _RACE_TO:
            width[index] = 3
        elif kind == _CORRECT_SCORE:
            width[index] = (games_to_win - games_home) + (games_to_win - games_away)
        else:
            width[index] = 2
    starts = _int_zeros(count)
    total = 0
    for index in range(count):
        starts[index] = total
        total += width[index]
    out_array = _zeros(total)
    out = out_array  # compiled: a typed view of the array (kernel.pxd)
    wants_match = False
    wants_future = False  # a game market on a game not yet begun: priced given the game is played
    for index in range(count):
        if width[index] and kinds[index] >= _MATCH_WINNER:
            wants_match = True
        elif width[index] and games[index] > at_game and games_to_win > 0:
            wants_future = True
    side = games_to_win + 1
    finals = _zeros(side * side)
    played = _zeros(2 * games_to_win + 1)
    mass = _zeros(count)  # a future game's markets: the weight of the nodes where it is played
    table_size = _table_size(tie_at)
    zeros = _zeros(max((tie_at + 1) * (tie_at + 1), table_size))
    reach = _zeros((tie_at + 1) * (tie_at + 1))
    current = _zeros(table_size)
    opener_home_table = _zeros(table_size)
    opener_away_table = _zeros(table_size)
    share = 1.0 / len(servings)
    for node in range(len(posterior.weights)):
        weight = posterior.weights[node] * share
        home_serve = posterior.home_serves[node]
        away_serve = posterior.away_serves[node]
        _game_table(tie_at, 0, 0, True, expedite, home_serve, away_serve, reach, opener_home_table, zeros)
        _game_table(tie_at, 0, 0, False, expedite, home_serve, away_serve, reach, opener_away_table, zeros)
        for variant in range(len(servings)):
            serving = servings[variant]
            server_home = serving.home_next
            opener_home = serving.home_opened
            _game_table(
                tie_at, home - past, away - past, server_home, expedite, home_serve, away_serve, reach, current, zeros
            )
            if wants_match or wants_future:
                _game_chances(
                    finals,
                    played,
                    games_to_win,
                    games_home,
                    games_away,
                    _home_wins(current),
                    _home_wins(opener_home_table),
                    _home_wins(opener_away_table),
                    opener_home,
                )
            for index in range(count):
                if width[index] == 0 or kinds[index] >= _MATCH_WINNER:
                    continue
                kind = kinds[index]
                game = games[index]
                at = starts[index]
                scaled = weight
                if game == at_game:
                    table = current
                else:
                    if games_to_win > 0:  # given it is played: weighted by the chance it is
                        chance = played[game - at_game] if game - at_game < 2 * games_to_win else 0.0
                        scaled = weight * (chance + _NEVER_PLAYED)
                        mass[index] += scaled
                    table = opener_home_table if ((game - at_game) % 2 == 0) == opener_home else opener_away_table
                if kind == _POINT_WINNER:
                    won = home_serve if server_home else 1.0 - away_serve
                    out[at] += scaled * won
                    out[at + 1] += scaled * (1.0 - won)
                else:
                    _game_market_into(
                        out,
                        at,
                        scaled,
                        kind,
                        table,
                        tie_at,
                        lines[index] - (2 * past if game == at_game else 0),
                        numbers[index],
                    )
            if wants_match:
                _match_into(out, starts, width, kinds, lines, games_to_win, games_home, games_away, finals, weight)
    if wants_future:
        for index in range(count):
            if width[index] == 0 or kinds[index] >= _MATCH_WINNER or games[index] <= at_game:
                continue
            at = starts[index]
            for slot in range(at, at + width[index]):
                out[slot] = out[slot] / mass[index]
    return Prices(width, starts, out_array)


def _game_market_into(
    out: Floats, at: int, weight: float, kind: int, table: Floats, tie_at: int, line: float, number: int
) -> None:
    """A game market's outcome probabilities from its game's table, weighted into `out[at:]`."""
    if kind == _GAME_WINNER:
        won = _home_wins(table)
        out[at] += weight * won
        out[at + 1] += weight * (1.0 - won)
    elif kind == _GAME_TOTAL_POINTS:
        over = _total_over(table, tie_at, line)
        out[at] += weight * over
        out[at + 1] += weight * (1.0 - over)
    else:  # _RACE_TO
        _race_into(out, at, weight, table, tie_at, number)


def _total_over(table: Floats, tie_at: int, line: float) -> float:
    """P(the game's total points exceed `line`)."""
    over = 0.0
    for total in range(2 * tie_at + 1):
        if total > line:
            over += table[_HEAD + total]
    needed = int((line - 2 * tie_at) // 2) + 1  # the pairs from the tie that take the total past the line
    from_tie = 1.0 if needed <= 1 else table[_TIE_SPLIT] ** (needed - 1)
    return over + table[_TIE] * from_tie


def _race_into(out: Floats, at: int, weight: float, table: Floats, tie_at: int, target: int) -> None:
    """P(home / away first to `target`, or neither), weighted into `out[at:at + 3]`."""
    first_home_at = _HEAD + 2 * tie_at + 1
    first_away_at = first_home_at + tie_at + 3
    home = table[first_home_at + target]
    away = table[first_away_at + target]
    if target == tie_at + 1:  # from the tie, the next point's winner gets there first
        p = table[_TIE_POINT]
        home += table[_TIE] * p
        away += table[_TIE] * (1.0 - p)
    neither = 1.0 - home - away
    out[at] += weight * home
    out[at + 1] += weight * away
    out[at + 2] += weight * (neither if neither > 0.0 else 0.0)


def _game_chances(
    finals: Floats,
    played: Floats,
    games_to_win: int,
    games_home: int,
    games_away: int,
    current_home: float,
    opener_home_wins: float,
    opener_away_wins: float,
    opener_home: bool,
) -> None:
    """The final score in games (`finals[home * (games_to_win + 1) + away]`) and the chance each game
    from the current one is played (`played[offset]`, offset 0 the current game), walking the games
    from `games_home`-`games_away`: the current game won by home with `current_home`, the next ones
    with the chance of the side that opens them (alternating from the current game's opener)."""
    side = games_to_win + 1
    for at in range(side * side):
        finals[at] = 0.0
    for at in range(2 * games_to_win + 1):
        played[at] = 0.0
    layer = _zeros(side * side)
    layer[games_home * side + games_away] = 1.0
    first = games_home + games_away
    last = 2 * games_to_win - 1
    for at_played in range(first, last):
        offset = at_played - first
        if offset == 0:
            p = current_home
        elif (offset % 2 == 0) == opener_home:
            p = opener_home_wins
        else:
            p = opener_away_wins
        following = _zeros(side * side)
        reached = 0.0
        for home in range(games_home, games_to_win):
            away = at_played - home
            if away < games_away or away >= games_to_win:
                continue
            chance = layer[home * side + away]
            if chance == 0.0:
                continue
            reached += chance
            won = chance * p
            lost = chance * (1.0 - p)
            if home + 1 == games_to_win:
                finals[(home + 1) * side + away] += won
            else:
                following[(home + 1) * side + away] += won
            if away + 1 == games_to_win:
                finals[home * side + away + 1] += lost
            else:
                following[home * side + away + 1] += lost
        played[offset] = reached
        layer = following


def _match_into(
    out: Floats,
    starts: Ints,
    width: Ints,
    kinds: Ints,
    lines: Floats,
    games_to_win: int,
    games_home: int,
    games_away: int,
    finals: Floats,
    weight: float,
) -> None:
    """Match winner, correct score and total games from the distribution of the final score in
    games (`_game_chances`), weighted into `out`. The correct score's outcomes run over the final
    scores in order: (to_win, games_away), (to_win, games_away + 1), ... then (games_home, to_win), ... sorted."""
    side = games_to_win + 1
    for index in range(len(kinds)):
        kind = kinds[index]
        if width[index] == 0 or kind < _MATCH_WINNER:
            continue
        at = starts[index]
        if kind == _MATCH_WINNER:
            won = 0.0
            for away in range(games_away, games_to_win):
                won += finals[games_to_win * side + away]
            out[at] += weight * won
            out[at + 1] += weight * (1.0 - won)
        elif kind == _CORRECT_SCORE:
            slot = at
            for home in range(games_home, games_to_win + 1):
                for away in range(games_away, games_to_win + 1):
                    if (home == games_to_win) != (away == games_to_win):
                        out[slot] += weight * finals[home * side + away]
                        slot += 1
        else:  # _TOTAL_GAMES
            over = 0.0
            for home in range(games_home, games_to_win + 1):
                for away in range(games_away, games_to_win + 1):
                    if (home == games_to_win) != (away == games_to_win) and home + away > lines[index]:
                        over += finals[home * side + away]
            out[at] += weight * over
            out[at + 1] += weight * (1.0 - over)
