"""Prices on the book (issue 15): the fair probabilities and decimal odds of every undecided market.

`advance_prices(match, book, pricing, previous)` gives the prices of the book's undecided markets
at the match's score (built on the previous prices) and the one `PricesChanged` signal that takes a
receiver from the old prices to the new, or None. The prices are a function of the score and of
which markets are undecided: a frame that changes neither (a rally started, a stoppage, a
heartbeat) costs one comparison. `prices_of(match, book, pricing)` computes them from scratch, the
reference the kept prices are tested against.

The prices average over the posterior of the strengths (`engine.core.pricing.model.posterior`: the
points played, the configured prior and pre-match edge); who serves next comes from the rules.
Before the feed has shown who serves first, each side is equally likely to (a coin decides): the
prices are the average of the two. With the
format unknown the match-level markets have no price (they wait for it anyway).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import NamedTuple

import msgspec

from engine.core.markets.book import Book
from engine.core.markets.catalogue import Market
from engine.core.markets.signals import PricesChanged
from engine.core.match import rules
from engine.core.match.rules import MatchFormat, Side
from engine.core.match.state import Expedite, MatchFacts, Score
from engine.core.match.vocabulary import ResultKind
from engine.core.pricing.model import MATCH_TYPES, Position, PriceRow, Pricing, posterior_nodes, price_rows


class MarketPrice(msgspec.Struct, frozen=True, gc=False):
    """One market's price: the fair probability of each outcome and the decimal odds offered
    (`engine.core.pricing.odds`: margin, ladder, cap; none while the market is withdrawn — near-certain —
    and impossible outcomes left out). Stored as flat tuples, untracked by the cyclic collector
    (bench/collector.py); `fair` and `odds` are read-only mappings made on each access."""

    outcomes: tuple[str, ...]
    fair_values: tuple[float, ...]
    #: Aligned with `outcomes`; 0.0 where the outcome is not offered (impossible, or withdrawn).
    odds_values: tuple[float, ...]

    @property
    def fair(self) -> Mapping[str, float]:
        """Outcome -> fair probability (read-only)."""
        return MappingProxyType(dict(zip(self.outcomes, self.fair_values, strict=True)))

    @property
    def odds(self) -> Mapping[str, float]:
        """Outcome -> decimal odds offered (read-only; empty while the market is withdrawn)."""
        return MappingProxyType(
            {outcome: price for outcome, price in zip(self.outcomes, self.odds_values, strict=True) if price}
        )


class PriceBook(Mapping[str, MarketPrice]):
    """Market id -> `MarketPrice` for every undecided market the model prices, in book order: a
    read-only mapping (`"match_winner" in prices`, `prices["match_winner"].odds`, iteration). `key`
    is what they were computed from (the next input with the same key keeps them). Immutable;
    equality compares the prices only."""

    __slots__ = ("key", "prices")

    def __init__(self, prices: Mapping[str, MarketPrice] | None = None, key: PriceKey | None = None) -> None:
        self.prices: Mapping[str, MarketPrice] = prices if prices is not None else {}
        self.key = key

    def __getitem__(self, market_id: str) -> MarketPrice:
        return self.prices[market_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.prices)

    def __len__(self) -> int:
        return len(self.prices)

    def __contains__(self, market_id: object) -> bool:
        return market_id in self.prices

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PriceBook):
            return dict(self.prices) == dict(other.prices)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PriceBook({len(self.prices)} markets)"

    def fair(self) -> dict[str, dict[str, float]]:
        """Market id -> outcome -> probability (a new dict)."""
        return {market_id: dict(found.fair) for market_id, found in self.prices.items()}


NO_PRICES = PriceBook()


class PriceKey(NamedTuple):
    """What the prices depend on: the score, who serves first, the expedite system, the format, how
    the match ended, which markets are undecided (counted: the set changes only with them), the config."""

    points: tuple[Score, ...]
    games: Score
    first_server: Side | None
    expedite: Expedite | None
    format: MatchFormat
    winner: Side | None
    result: ResultKind | None
    markets: int
    undecided: int
    pricing: Pricing


def _key(match: MatchFacts, book: Book, pricing: Pricing) -> PriceKey:
    """The prices' key at this match and book."""
    play = match.play
    return PriceKey(
        play.points,
        play.games,
        play.first_server,
        play.expedite,
        play.format,
        play.winner,
        play.result,
        len(book),
        book.index.undecided,
        pricing,
    )


def advance_prices(
    match: MatchFacts, book: Book, pricing: Pricing | None, previous: PriceBook
) -> tuple[PriceBook, PricesChanged | None]:
    """The prices of `book` at `match`'s score (None `pricing`: none), built on `previous`, and the
    signal of what moved (None: nothing)."""
    if pricing is None:
        if not previous.prices:
            return previous, None
        return NO_PRICES, PricesChanged(MappingProxyType({}), MappingProxyType({}), tuple(previous.prices))
    key = _key(match, book, pricing)
    if previous.key == key:
        return previous, None
    old = previous.prices
    prices: dict[str, MarketPrice] = {}
    policy = pricing.odds
    same_odds = previous.key is not None and previous.key.pricing.odds == policy  # else every offer anew
    for market, names, values in _price_rows(match, book, pricing):
        before = old.get(market.id)
        if same_odds and before is not None and before.fair_values == values and before.outcomes == names:
            prices[market.id] = before  # the same object: price_change passes it by identity
        else:
            prices[market.id] = MarketPrice(names, values, policy.offer_values(values, market.type))
    return PriceBook(prices, key), price_change(old, prices)


def price_change(before: Mapping[str, MarketPrice], after: Mapping[str, MarketPrice]) -> PricesChanged | None:
    """The price signal that takes a receiver holding `before` to `after` (None: the same prices):
    every market whose price is new or differs, and the markets no longer priced."""
    moved: dict[str, Mapping[str, float]] = {}
    odds: dict[str, Mapping[str, float]] = {}
    for market_id, found in after.items():
        old = before.get(market_id)
        if old is not found and (old is None or old != found):
            moved[market_id] = found.fair
            odds[market_id] = found.odds
    withdrawn = tuple(market_id for market_id in before if market_id not in after)
    if not moved and not withdrawn:
        return None
    return PricesChanged(MappingProxyType(moved), MappingProxyType(odds), withdrawn)


def prices_of(match: MatchFacts, book: Book, pricing: Pricing | None) -> dict[str, dict[str, float]]:
    """Market id -> outcome -> fair probability for every undecided market of `book` the model
    prices at `match`'s score, computed from scratch."""
    if pricing is None:
        return {}
    rows = _price_rows(match, book, pricing)
    return {market.id: dict(zip(names, values, strict=True)) for market, names, values in rows}


def _price_rows(match: MatchFacts, book: Book, pricing: Pricing) -> list[PriceRow]:
    """The fair prices of every undecided market of `book` the model prices, in book order."""
    play = match.play
    if play.winner is not None or play.result is not None or match.result is not None:
        return []
    fmt = play.format
    index = book.index
    undecided = {market_id for ids in index.plain.values() for market_id in ids}.union(index.dependent)
    markets: list[Market] = [
        market
        for market_id, market in book.markets().items()
        if market_id in undecided and (fmt.best_of is not None or market.type not in MATCH_TYPES)
    ]
    if not markets:
        return []
    game, home, away = play.next_rally_position()
    expedite_from = None if play.expedite is None else play.expedite.from_point_in(game)
    if expedite_from is not None:
        # A correction can take points away after the expedite system came on: it stays on, from
        # no later than the points now played (never a position the model refuses).
        expedite_from = min(expedite_from, home + away)
    interrupted = play.expedite is not None and play.expedite.interrupted_in(game)
    points_home = sum(score[0] for score in play.points)
    points_away = sum(score[1] for score in play.points)
    # Before the feed shows who serves first, a coin toss decides it: both, equally likely.
    firsts = [play.first_server] if play.first_server is not None else [Side.HOME, Side.AWAY]
    positions = [
        Position(
            fmt,
            play.games,
            game,
            (home, away),
            rules.server(first, game, home, away, expedite_from, fmt, interrupted),
            expedite_from is not None,
            expedite_from,
            interrupted,
        )
        for first in firsts
    ]
    nodes = posterior_nodes(points_home, points_away, pricing.prior, pricing.home_edge)
    rows = price_rows(positions, nodes, markets)
    return [row if _tidy(row[2]) else (row[0], row[1], tidy_probabilities(row[2])) for row in rows]


#: [ours] A fair probability closer than this to 0 or 1 is float noise of the model's sums: it is 0 or 1.
PROBABILITY_NOISE = 1e-15


def _tidy(values: tuple[float, ...]) -> bool:
    """True when `values` need no tidying: each inside [noise, 1 - noise] and summing to 1."""
    return min(values) >= PROBABILITY_NOISE and max(values) <= 1.0 - PROBABILITY_NOISE and sum(values) == 1.0


def tidy_probabilities(values: tuple[float, ...]) -> tuple[float, ...]:
    """Fair probabilities without float noise: each clamped to [0, 1], noise next to 0 or 1 made 0
    or 1, and the largest taking up what the others leave, so they sum to 1 (to one rounding)."""
    top = 1.0 - PROBABILITY_NOISE
    clean = [0.0 if value < PROBABILITY_NOISE else 1.0 if value > top else value for value in values]
    largest = max(range(len(clean)), key=clean.__getitem__)
    rest = sum(value for index, value in enumerate(clean) if index != largest)
    clean[largest] = min(1.0, max(0.0, 1.0 - rest))
    return tuple(clean)
