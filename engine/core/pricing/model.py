"""Fair prices of the table tennis markets: an exact Markov model of the rules, and the in-play estimate.

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

import functools
import math
from collections.abc import Callable, Sequence
from typing import Literal

import attrs

from engine.core.markets.catalogue import Market
from engine.core.markets.signals import MarketType
from engine.core.match.rules import MatchFormat, Side, service_turn
from engine.core.match.state import PlayState
from engine.core.pricing import kernel
from engine.core.pricing.game import GameChain, Strengths
from engine.core.pricing.odds import DEFAULT_ODDS, OddsPolicy, remove_margin


@attrs.frozen(slots=True)
class Position:
    """Where the match stands for pricing: games won, the points of the current game (`game`,
    1-based; 0-0 when it is about to start), who serves the next point, and the expedite system:
    `expedite` once it is on, `expedite_from` the points of the current game played when it came on
    (None with `expedite`: from the start of this game) — the service order before it was the
    normal one, which says who opened the game and so who opens the next ones — and
    `expedite_interrupted` whether it came on with the ball in play (`rules.service_turn`)."""

    format: MatchFormat
    games: tuple[int, int]
    game: int
    points: tuple[int, int]
    server: Side
    expedite: bool = False
    expedite_from: int | None = None
    #: The expedite system came on in this game with the ball in play (`rules.service_turn`).
    expedite_interrupted: bool = False

    def __attrs_post_init__(self) -> None:
        if self.expedite_from is not None and not (self.expedite and 0 <= self.expedite_from <= sum(self.points)):
            raise ValueError(
                f"expedite_from is the points played in this game when the expedite system came on (at most"
                f" {sum(self.points)}, with expedite=True), not {self.expedite_from}"
            )
        if self.expedite_interrupted and not self.expedite_from:
            raise ValueError(
                "expedite_interrupted is about a start of the expedite system in this game (expedite_from > 0)"
            )


def _check_nodes(_: object, __: object, value: int) -> None:
    if value not in GAUSS_HERMITE:
        raise ValueError(f"the posterior is averaged over {sorted(GAUSS_HERMITE)} points, not {value}")


@attrs.frozen(slots=True)
class Prior:
    """What the model believes before a point is played: `serve`, P(the server wins a point)
    between two equal sides, and a Beta prior on home's share of all points, centred on one half
    (plus a pre-match edge) and worth `strength` points of evidence. Prices average over the
    posterior of the share at `nodes` points (Gauss-Hermite on its normal approximation; 1: its
    mean alone, the plug-in)."""

    serve: float
    strength: float
    nodes: int = attrs.field(default=5, validator=_check_nodes)


#: Gauss-Hermite nodes and weights (probabilists', weights summing to 1) by number of points.
GAUSS_HERMITE: dict[int, tuple[tuple[float, float], ...]] = {
    1: ((0.0, 1.0),),
    3: ((-math.sqrt(3.0), 1.0 / 6.0), (0.0, 2.0 / 3.0), (math.sqrt(3.0), 1.0 / 6.0)),
    5: (
        (-2.856970013872806, 0.011257411327720691),
        (-1.355626179974266, 0.22207592200561266),
        (0.0, 0.5333333333333333),
        (1.355626179974266, 0.22207592200561266),
        (2.856970013872806, 0.011257411327720691),
    ),
}


#: `serve`: the server's share of the 514 observed AI CUP 2026 points (281, 0.547; fixtures_data/realdata).
#: `strength`: fitted on the 13,856 clean ITTF matches of 2014-2022 by the least log loss of the
#: in-play match-winner forecasts averaged over the posterior (`engine.analysis.calibration.fit_strength`:
#: 21.8; the Beta-binomial maximum-likelihood fit of the point shares alone gives 23, so the two
#: agree once the prices average over the posterior). Later years are kept to evaluate it (README).
PRIOR = Prior(serve=0.547, strength=22.0)


PriorSource = Literal["none", "pre-match", "ratings"]


def _check_edge(_: object, __: object, value: float) -> None:
    if not -0.5 < value < 0.5:
        raise ValueError(f"home's edge on its share of the points is between -0.5 and 0.5, not {value}")


@attrs.frozen(slots=True)
class Pricing:
    """How the book prices its markets (`MarketConfig.pricing`; None switches pricing off): the
    model's `prior`, home's pre-match `home_edge` on its share of the points (0: the sides even;
    `with_pre_match` sets it from a bookmaker's pre-match odds), and the `odds` policy that turns
    fair prices into the odds offered (margins, ladder, cap, withdrawal)."""

    prior: Prior = PRIOR
    home_edge: float = attrs.field(default=0.0, validator=_check_edge)
    odds: OddsPolicy = DEFAULT_ODDS
    #: Where the prior's centre and strength come from: `none` (the sides even, nothing known),
    #: `pre-match` (a bookmaker's odds, `with_pre_match`) or `ratings` (`engine.ratings`).
    source: PriorSource = "none"

    def with_margin(self, margin: float) -> Pricing:
        """This pricing with one margin for every market type."""
        return attrs.evolve(self, odds=attrs.evolve(self.odds, margins=margin))

    def with_pre_match(self, home_odds: float, away_odds: float, fmt: MatchFormat) -> Pricing:
        """This pricing with the pre-match edge implied by a bookmaker's match odds (their margin
        removed by the odds policy's method); the format must be known."""
        fair = remove_margin({"home": home_odds, "away": away_odds}, self.odds.method)
        return attrs.evolve(self, home_edge=home_edge_for(fair["home"], fmt, self.prior), source="pre-match")

    def with_ratings(self, prior: Prior, home_edge: float) -> Pricing:
        """This pricing with a prior from the players' ratings (`engine.ratings.prior_for`)."""
        return attrs.evolve(self, prior=prior, home_edge=home_edge, source="ratings")

    @property
    def has_prior(self) -> bool:
        """True when something is known of the players before the first point."""
        return self.source != "none"


DEFAULT_PRICING = Pricing()


#: Strengths with their weights (summing to 1): what the prices average over.
Weighted = tuple[tuple[float, Strengths], ...]


def posterior(home: int, away: int, prior: Prior = PRIOR, home_edge: float = 0.0) -> Weighted:
    """The strengths the prices average over, with their weights (summing to 1), after home won
    `home` points and away `away`: home's share of the points is Beta((1/2 + home_edge) S + home,
    (1/2 - home_edge) S + away) with S = `prior.strength`; its `prior.nodes` Gauss-Hermite points
    (on the normal with the Beta's mean and variance) each give strengths as `strengths_for_share`.
    Averaging over it, rather than plugging in its mean, prices what the points have not yet told
    apart: early in a match the prices stay nearer the middle."""
    nodes = posterior_nodes(home, away, prior, home_edge)
    return _weighted(nodes)


def posterior_nodes(home: int, away: int, prior: Prior = PRIOR, home_edge: float = 0.0) -> kernel.Posterior:
    """`posterior` as the kernel takes it: the weights, home's and away's serve strengths."""
    alpha = (0.5 + home_edge) * prior.strength + home
    beta = (0.5 - home_edge) * prior.strength + away
    mean = alpha / (alpha + beta)
    spread = math.sqrt(mean * (1.0 - mean) / (alpha + beta + 1.0))
    weights: list[float] = []
    home_serves: list[float] = []
    away_serves: list[float] = []
    for node, weight in GAUSS_HERMITE[prior.nodes]:
        edge = min(1.0, max(0.0, mean + node * spread)) - 0.5  # as `strengths_for_share`
        weights.append(weight)
        home_serves.append(min(1.0, max(0.0, prior.serve + edge)))
        away_serves.append(min(1.0, max(0.0, prior.serve - edge)))
    return kernel.Posterior(weights, home_serves, away_serves)


def strengths_for_share(share: float, prior: Prior = PRIOR) -> Strengths:
    """The strengths of a side that wins `share` of all points: the server adds `prior.serve - 1/2`."""
    edge = share - 0.5
    return Strengths(min(1.0, max(0.0, prior.serve + edge)), min(1.0, max(0.0, prior.serve - edge)))


def estimate(play: PlayState, prior: Prior = PRIOR, home_edge: float = 0.0) -> Strengths:
    """Each side's P(winning a point it serves) given the points played: one strength with a serve
    edge. Home's share of the points is a Beta posterior (prior mean 0.5 + `home_edge`, e.g. from a
    pre-match price, worth `prior.strength` points) updated by every point scored; the serve adds
    `prior.serve - 0.5` to whoever serves: home serves with serve + (share - 0.5), away with
    serve - (share - 0.5). Who served each point is not needed (each side serves about half the
    points). Pure: the same play state gives the same strengths."""
    home = sum(score[0] for score in play.points)
    away = sum(score[1] for score in play.points)
    return strengths_from(home, away, prior, home_edge)


def match_win_at(
    fmt: MatchFormat, games: tuple[int, int], points: tuple[int, int], prior: Prior = PRIOR, home_edge: float = 0.0
) -> float:
    """P(home wins the match) before the next game, at `games`, after home won `points[0]` points
    and away `points[1]`: averaged over the strengths' posterior (what the live prices do)."""
    return sum(
        weight * match_win_before_game(fmt, games, strengths)
        for weight, strengths in posterior(*points, prior, home_edge)
    )


def match_win_before_game(fmt: MatchFormat, games: tuple[int, int], strengths: Strengths) -> float:
    """P(home wins the match) before the next game starts at `games`, whoever opens it (each side
    with probability 1/2: a coin toss before the match, unknown in results without servers)."""

    match = [Market(MarketType.MATCH_WINNER)]
    game = sum(games) + 1
    total = sum(
        price(Position(fmt, games, game, (0, 0), first), strengths, match)["match_winner"]["home"] for first in Side
    )
    return total / 2


def home_edge_for(home_wins: float, fmt: MatchFormat, prior: Prior = PRIOR) -> float:
    """The `home_edge` whose prices before the first point give home the match with probability
    `home_wins` (a pre-match price turned into point strengths; the first server a coin toss)."""
    if fmt.best_of is None:
        raise ValueError("a pre-match price needs the match format (best_of)")
    if not 0.0 < home_wins < 1.0:
        raise ValueError(f"a pre-match probability is strictly between 0 and 1, not {home_wins}")
    low, high = -0.499, 0.499
    for _ in range(50):  # bisection: the match price grows with the edge
        middle = (low + high) / 2
        at_middle = match_win_at(fmt, (0, 0), (0, 0), prior, middle)
        low, high = (middle, high) if at_middle < home_wins else (low, middle)
    return (low + high) / 2


@functools.lru_cache(maxsize=256)
def home_edge_table(fmt: MatchFormat, prior: Prior = PRIOR) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The edges from -0.3 to 0.3 (0.0025 apart) and P(home wins) before the first point at each
    (`match_win_at`), increasing: what `engine.ratings` inverts to turn a win probability into an
    edge without a bisection per fixture."""
    if fmt.best_of is None:
        raise ValueError("a pre-match price needs the match format (best_of)")
    edges = tuple(round(-0.3 + 0.0025 * step, 4) for step in range(241))
    return edges, tuple(match_win_at(fmt, (0, 0), (0, 0), prior, edge) for edge in edges)


def strengths_from(home: int, away: int, prior: Prior = PRIOR, home_edge: float = 0.0) -> Strengths:
    """The strengths of the posterior mean after home won `home` points and away `away` (see `estimate`)."""
    share = ((0.5 + home_edge) * prior.strength + home) / (prior.strength + home + away)
    return strengths_for_share(share, prior)


def price(position: Position, strengths: Strengths, markets: Sequence[Market]) -> dict[str, dict[str, float]]:
    """Market id -> {outcome: probability} for each market the position leaves undecided (a decided
    one — a past game or point, a race reached, a line exceeded — has no price and is left out), in
    the order asked: by the kernel (`price_reference` is the plain recursion it is tested against)."""
    return price_weighted(position, ((1.0, strengths),), markets)


def price_reference(position: Position, strengths: Strengths, markets: Sequence[Market]) -> dict[str, dict[str, float]]:
    """`price` by the plain recursion over each game's points (`GameChain.walk`): the reference. With
    one strength a game's outcome does not depend on whether it is played (who opens it is known),
    so a future game's prices are its prices given that it is played."""
    return _price_and_chances(position, strengths, markets)[0]


def _price_and_chances(
    position: Position, strengths: Strengths, markets: Sequence[Market]
) -> tuple[dict[str, dict[str, float]], dict[int, float]]:
    """`price_reference`'s prices and the chance each game from the current one is played (empty
    when the format is unknown)."""
    fmt = position.format
    opening = _opening_server(position)
    current = GameChain(fmt, position.points, position.server, position.expedite, strengths)
    openers: dict[Side, GameChain] = {}
    if position.points == (0, 0):
        openers[position.server] = current  # the game about to start is one of the fresh ones

    def fresh(game: int) -> GameChain:
        """A game not yet begun: one model per first server, shared by the games it opens."""
        first = opening if (game - position.game) % 2 == 0 else opening.other
        model = openers.get(first)
        if model is None:
            model = openers[first] = GameChain(fmt, (0, 0), first, position.expedite, strengths)
        return model

    def game_model(game: int) -> GameChain:
        return current if game == position.game else fresh(game)

    out: dict[str, dict[str, float]] = {}
    match_wanted = [m for m in markets if m.type in MATCH_TYPES]
    for market in markets:
        if market.type in MATCH_TYPES or _decided(market, position):
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
            home = strengths.home_wins_point(position.server)
            out[market.id] = {"home": home, "away": 1.0 - home}
    played: dict[int, float] = {}
    if fmt.games_to_win is not None:
        finals, played = _game_chances(position, current.home_wins(), lambda game: fresh(game).home_wins())
        out.update(_match_prices(position.games, fmt.games_to_win, finals, match_wanted))
    elif match_wanted:
        raise ValueError("match-level markets need the match format (best_of)")
    return {market.id: out[market.id] for market in markets if market.id in out}, played  # in the order asked


def price_weighted(position: Position, weighted: Weighted, markets: Sequence[Market]) -> dict[str, dict[str, float]]:
    """`price` averaged over strengths with their weights (the posterior: `posterior(...)`): by the
    kernel (`engine.core.pricing.kernel`) where it covers the position, else by the reference."""
    nodes = kernel.Posterior(
        [weight for weight, _ in weighted],
        [strengths.home_serve for _, strengths in weighted],
        [strengths.away_serve for _, strengths in weighted],
    )
    rows = price_rows([position], nodes, markets)
    return {market.id: dict(zip(names, values, strict=True)) for market, names, values in rows}


#: One priced market: the market, its outcome names and their probabilities, in the same order.
PriceRow = tuple[Market, tuple[str, ...], tuple[float, ...]]


def price_rows(positions: Sequence[Position], nodes: kernel.Posterior, markets: Sequence[Market]) -> list[PriceRow]:
    """The undecided markets' prices averaged over the posterior's strengths (`nodes`) and over
    `positions` alike (the same score with different servers: each equally likely), in the order
    asked. The kernel where it covers them, else the reference."""
    position = positions[0]
    fmt = position.format
    asks = [market_ask(market) for market in markets]
    if not kernel.covers(fmt.points_to_win, fmt.lead, asks):
        return _reference_rows(positions, _weighted(nodes), markets)
    home, away = position.points
    to_win = fmt.games_to_win or 0
    score = kernel.Score(
        fmt.points_to_win, to_win, position.games[0], position.games[1], position.game, home, away, position.expedite
    )
    servings = [kernel.Serving(each.server is Side.HOME, _opening_server(each) is Side.HOME) for each in positions]
    prices = kernel.price_position(score, servings, nodes, asks)
    rows: list[PriceRow] = []
    for index, market in enumerate(markets):
        outcomes = prices.outcomes(index)
        if outcomes:
            rows.append((market, _outcome_names(market.type, position.games, to_win), tuple(outcomes)))
    return rows


def _weighted(nodes: kernel.Posterior) -> Weighted:
    """The posterior's nodes as (weight, strengths) pairs."""
    return tuple(
        (weight, Strengths(home_serve, away_serve))
        for weight, home_serve, away_serve in zip(nodes.weights, nodes.home_serves, nodes.away_serves, strict=True)
    )


def _reference_rows(positions: Sequence[Position], weighted: Weighted, markets: Sequence[Market]) -> list[PriceRow]:
    """`price_rows` by the reference model."""
    averaged = _combined_reference(positions, weighted, markets)
    return [
        (market, tuple(averaged[market.id]), tuple(averaged[market.id].values()))
        for market in markets
        if market.id in averaged
    ]


def price_weighted_reference(
    position: Position, weighted: Weighted, markets: Sequence[Market]
) -> dict[str, dict[str, float]]:
    """`price` averaged over strengths with their weights, by `price_reference`: the reference."""
    return _combined_reference([position], weighted, markets)


def _combined_reference(
    positions: Sequence[Position], weighted: Weighted, markets: Sequence[Market]
) -> dict[str, dict[str, float]]:
    """The prices of one joint distribution over the strengths (`weighted`) and `positions` (each
    equally likely): a market on a game not yet begun is priced given that game is played, so each
    strength counts by its weight times its chance of playing that game (plus `kernel.NEVER_PLAYED`:
    a game no strength plays, void for sure, is priced as if played). Everything else is the plain
    weighted average."""
    future = {market.id: market.game for market in markets if market.type not in MATCH_TYPES}
    summed: dict[str, dict[str, float]] = {}
    mass: dict[str, float] = {}
    for position in positions:
        for weight, strengths in weighted:
            share = weight / len(positions)
            prices, played = _price_and_chances(position, strengths, markets)
            for market_id, outcomes in prices.items():
                scaled = share
                game = future.get(market_id, position.game)
                if game > position.game and played:
                    scaled = share * (played.get(game, 0.0) + kernel.NEVER_PLAYED)
                    mass[market_id] = mass.get(market_id, 0.0) + scaled
                into = summed.setdefault(market_id, {})
                for outcome, p in outcomes.items():
                    into[outcome] = into.get(outcome, 0.0) + scaled * p
    for market_id, total in mass.items():
        summed[market_id] = {outcome: p / total for outcome, p in summed[market_id].items()}
    return summed


_KIND: dict[MarketType, int] = {
    MarketType.GAME_WINNER: kernel.KIND_GAME_WINNER,
    MarketType.GAME_TOTAL_POINTS: kernel.KIND_GAME_TOTAL_POINTS,
    MarketType.RACE_TO: kernel.KIND_RACE_TO,
    MarketType.POINT_WINNER: kernel.KIND_POINT_WINNER,
    MarketType.MATCH_WINNER: kernel.KIND_MATCH_WINNER,
    MarketType.CORRECT_SCORE: kernel.KIND_CORRECT_SCORE,
    MarketType.TOTAL_GAMES: kernel.KIND_TOTAL_GAMES,
}
_TWO_WAY = ("home", "away")
_OVER_UNDER = ("over", "under")
_THREE_WAY = ("home", "away", "neither")


def market_ask(market: Market) -> kernel.MarketAsk:
    """The market as the kernel takes it."""
    return kernel.MarketAsk(_KIND[market.type], market.game, market.line, market.number)


@functools.cache
def _outcome_names(market_type: MarketType, games: tuple[int, int], games_to_win: int) -> tuple[str, ...]:
    """A market's outcome names in the kernel's order (the correct score's: the final scores
    reachable from `games`, sorted)."""
    if market_type is MarketType.CORRECT_SCORE:
        home, away = games
        finals = [(h, games_to_win) for h in range(home, games_to_win)]
        finals += [(games_to_win, a) for a in range(away, games_to_win)]
        return tuple(f"{h}-{a}" for h, a in sorted(finals))
    if market_type is MarketType.RACE_TO:
        return _THREE_WAY
    if market_type in (MarketType.GAME_TOTAL_POINTS, MarketType.TOTAL_GAMES):
        return _OVER_UNDER
    return _TWO_WAY


def _decided(market: Market, position: Position) -> bool:
    """True when the position already decides a game market (or it is about a point not next)."""
    home, away = position.points
    return kernel.decided(_KIND[market.type], market.game, market.line, market.number, position.game, home, away)


MATCH_TYPES = frozenset({MarketType.MATCH_WINNER, MarketType.CORRECT_SCORE, MarketType.TOTAL_GAMES})


def _opening_server(position: Position) -> Side:
    """Who served (or serves) first in the current game, from who serves at its score: the service
    turns before the expedite system came on were the normal ones (two serves each)."""
    played = sum(position.points)
    expedite_from = (position.expedite_from or 0) if position.expedite else None
    turn = service_turn(played, expedite_from, position.format, position.expedite_interrupted)
    return position.server if turn % 2 == 0 else position.server.other


def _game_chances(
    position: Position, current_home: float, fresh_home: Callable[[int], float]
) -> tuple[dict[tuple[int, int], float], dict[int, float]]:
    """The final score in games and the chance each game from the current one is played, game by
    game from the position (a side reaching the games to win stops there): the current game won by
    home with `current_home`, a later one with `fresh_home(game)`."""
    to_win = position.format.games_to_win
    assert to_win is not None
    finals: dict[tuple[int, int], float] = {}
    played: dict[int, float] = {}
    layer = {position.games: 1.0}
    game = position.game
    while layer:
        played[game] = sum(layer.values())
        p = current_home if game == position.game else fresh_home(game)
        following: dict[tuple[int, int], float] = {}
        for (home, away), weight in layer.items():
            for score, chance in (((home + 1, away), weight * p), ((home, away + 1), weight * (1 - p))):
                target = finals if to_win in score else following
                target[score] = target.get(score, 0.0) + chance
        layer = following
        game += 1
    return finals, played


def _match_prices(
    games: tuple[int, int], to_win: int, finals: dict[tuple[int, int], float], markets: list[Market]
) -> dict[str, dict[str, float]]:
    """Match winner, correct score and total games from the final-score distribution."""
    out: dict[str, dict[str, float]] = {}
    for market in markets:
        if market.type is MarketType.MATCH_WINNER:
            won = sum(weight for (h, a), weight in finals.items() if h > a)
            out[market.id] = {"home": won, "away": 1.0 - won}
        elif market.type is MarketType.CORRECT_SCORE:
            out[market.id] = {f"{h}-{a}": weight for (h, a), weight in sorted(finals.items())}
        else:
            over = sum(weight for (h, a), weight in finals.items() if h + a > market.line)
            out[market.id] = {"over": over, "under": 1.0 - over}
    return out
