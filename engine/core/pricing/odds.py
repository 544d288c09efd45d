"""The odds we offer: a pure policy over fair probabilities (`OddsPolicy.offer`).

Fair probabilities come from the model (`engine.core.pricing.model`); what a bookmaker can offer is
another matter, decided here in four steps, one market at a time:

1. **Withdraw** a market that is certain, or whose favourite's fair probability is at least
   `withdraw_at` (0.97): near the ends nobody can be offered a price that is both fair and safe.
   An outcome that cannot happen (fair probability below `IMPOSSIBLE`) is not listed.
2. **Margin**, per market type (`margins`: more on markets with many outcomes), spread by **Shin's
   method** (implied probabilities q_i = sqrt(z p_i + (1 - z) p_i**2) * sum_j sqrt(z p_j + (1 - z)
   p_j**2), z chosen so that they sum to 1 + margin): long shots carry more of the margin, where
   bettors' returns are known to be highest (the favourite-longshot bias: on our ITTF forecasts the
   model's 2-10 % sides won more often than it said), and favourites still carry a real margin.
   Measured on those forecasts (`bench/margins.py`, README): proportional leaves +7 % to a bettor on
   5-10 % sides; power charges long shots -28 to -42 % but favourites only -2.5 %; Shin keeps every
   band at -4 % or worse for the bettor, long shots -18 to -26 %.
3. **Round down onto the price ladder** (the exchange ladder: 1.01-2 by 0.01, 2-3 by 0.02, 3-4 by
   0.05, 4-6 by 0.1, 6-10 by 0.2, 10-20 by 0.5, 20-30 by 1, 30-50 by 2, 50-100 by 5, 100-1000 by
   10) and cap at `max_price` (101: the ladder's 100): rounding down only ever adds margin.
4. **Check the law**: the book of the listed outcomes sums to at least 1 + `min_margin` (a price
   below 1.01 cannot be quoted: the market is withdrawn). So no offered market gives a sure profit.

The arithmetic of steps 1-4 is `engine.core.pricing.offer.offer_prices` (compiled in the default build).
Pure: no clock, no I/O, no randomness; tested as a law over random fair books and strengths.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from types import MappingProxyType

import attrs

from engine.core.markets.signals import MarketType
from engine.core.pricing import offer


def _ladder_cents() -> tuple[int, ...]:
    """The exchange price ladder, in hundredths (101 = 1.01), from 1.01 to 1000."""
    return tuple(cents for low, high, step in offer.LADDER_BANDS for cents in range(low, high, step))


#: Every price on the ladder, in hundredths of a decimal price (101 = 1.01 … 100000 = 1000).
LADDER_CENTS = _ladder_cents()
#: [ours] A fair probability below this is an outcome that cannot happen: not listed.
IMPOSSIBLE = offer.IMPOSSIBLE


def ladder_floor(price: float) -> float | None:
    """The highest ladder price at or below `price` (None below 1.01)."""
    cents = offer.ladder_floor_cents(price)
    return None if cents == 0 else cents / 100


class MarginMethod(enum.Enum):
    """How a margin is spread over a market's outcomes (`python bench/margins.py` compares them)."""

    #: Shin's model of a book that expects a share z of insiders: q_i = sqrt(z p_i + (1 - z) p_i**2)
    #: * sum_j sqrt(z p_j + (1 - z) p_j**2). Long shots carry more, favourites keep a real margin.
    SHIN = "shin"
    #: q = p**k, one k for the market: long shots carry the most, favourites the least.
    POWER = "power"
    #: q = p * (1 + margin): every outcome alike (long shots under-loaded: a bettor's edge on them).
    PROPORTIONAL = "proportional"


#: [ours] The margin of each market type: two-way markets 5 %, totals and single points 6 %, the
#: three-way race 8 %, the correct score (up to eight outcomes) 12 %.
DEFAULT_MARGINS: Mapping[MarketType, float] = MappingProxyType(
    {
        MarketType.MATCH_WINNER: 0.05,
        MarketType.GAME_WINNER: 0.05,
        MarketType.TOTAL_GAMES: 0.06,
        MarketType.GAME_TOTAL_POINTS: 0.06,
        MarketType.POINT_WINNER: 0.06,
        MarketType.RACE_TO: 0.08,
        MarketType.CORRECT_SCORE: 0.12,
    }
)


def _margins(value: Mapping[MarketType, float] | float) -> Mapping[MarketType, float]:
    """Margins by market type; one number gives every type the same margin."""
    if isinstance(value, int | float):
        return MappingProxyType(dict.fromkeys(MarketType, float(value)))
    return MappingProxyType({**DEFAULT_MARGINS, **value})


_METHOD = {
    MarginMethod.SHIN: offer.METHOD_SHIN,
    MarginMethod.POWER: offer.METHOD_POWER,
    MarginMethod.PROPORTIONAL: offer.METHOD_PROPORTIONAL,
}


@attrs.frozen(slots=True)
class OddsPolicy:
    """What we offer over fair prices (see the module docstring). `margins`: market type -> margin
    (a number: the same for every type); `min_margin`: the least any offered book carries (the law);
    `max_price`: the highest price offered; `withdraw_at`: a market whose favourite is at least this
    likely is not offered."""

    margins: Mapping[MarketType, float] = attrs.field(default=DEFAULT_MARGINS, converter=_margins)
    method: MarginMethod = MarginMethod.SHIN
    min_margin: float = 0.02
    max_price: float = 101.0
    withdraw_at: float = 0.97
    #: Derived: the highest ladder price offered (`max_price` floored onto the ladder), and the
    #: kernel's code of each market type's margin and of the method.
    cap: float = attrs.field(init=False, eq=False, repr=False)
    method_code: int = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if not 0.0 <= self.min_margin < 1.0:
            raise ValueError(f"the minimum margin is a fraction from 0 up to 1, not {self.min_margin}")
        for market_type, margin in self.margins.items():
            if not self.min_margin <= margin < 1.0:
                raise ValueError(
                    f"the margin of {market_type.value} must be from the minimum margin {self.min_margin} up to 1,"
                    f" not {margin}"
                )
        if ladder_floor(self.max_price) is None or self.max_price > LADDER_CENTS[-1] / 100:
            raise ValueError(f"the maximum price must be within 1.01-1000, not {self.max_price}")
        if not 0.5 < self.withdraw_at <= 1.0:
            raise ValueError(f"withdraw_at is a probability above 0.5 and at most 1, not {self.withdraw_at}")
        object.__setattr__(self, "cap", ladder_floor(self.max_price))
        object.__setattr__(self, "method_code", _METHOD[self.method])

    def offer(self, fair: Mapping[str, float], market_type: MarketType) -> dict[str, float]:
        """The decimal odds offered for each possible outcome of a market with these fair
        probabilities; an empty dict when the market is withdrawn (near-certain, or no safe book)."""
        prices = self.offer_values(tuple(fair.values()), market_type)
        return {outcome: price for outcome, price in zip(fair, prices, strict=True) if price}

    def offer_values(self, fair: tuple[float, ...], market_type: MarketType) -> tuple[float, ...]:
        """`offer` on the probabilities alone: the odds in the same order, 0.0 where an outcome is not
        offered (impossible; every outcome while the market is withdrawn)."""
        prices = offer.offer_prices(
            list(fair), self.margins[market_type], self.method_code, self.min_margin, self.cap, self.withdraw_at
        )
        return tuple(prices) if prices else (0.0,) * len(fair)


def book_sum(odds: Mapping[str, float]) -> float:
    """Sum of 1/odds over a market's outcomes: 1 + the margin a bettor pays (below 1: a sure profit)."""
    return sum(1.0 / price for price in odds.values())


def remove_margin(odds: Mapping[str, float], method: MarginMethod = MarginMethod.SHIN) -> dict[str, float]:
    """Fair probabilities from a bookmaker's decimal odds, the margin taken out by `method` (the
    inverse of how we put it on): Shin finds the insiders' share z that makes the probabilities
    sum to 1; power finds k with sum((1/odds)**(1/k)) = 1; proportional divides by the sum."""
    for outcome, price in odds.items():
        if not price > 1.0:
            raise ValueError(f"decimal odds are above 1, not {price} ({outcome})")
    implied = {outcome: 1.0 / price for outcome, price in odds.items()}
    total = sum(implied.values())
    if method is MarginMethod.PROPORTIONAL or abs(total - 1.0) < 1e-12:
        return {outcome: q / total for outcome, q in implied.items()}
    if total < 1.0:
        raise ValueError(f"these odds sum to {total:.4f} < 1 (a sure profit): not a bookmaker's book")
    if method is MarginMethod.SHIN:
        return _shin_fair(implied, total)
    low, high = 1.0, 50.0  # sum(q**e) falls from `total` toward 0 as e grows past 1
    for _ in range(100):
        middle = (low + high) / 2
        if sum(q**middle for q in implied.values()) > 1.0:
            low = middle
        else:
            high = middle
    exponent = (low + high) / 2
    fair = {outcome: q**exponent for outcome, q in implied.items()}
    norm = sum(fair.values())
    return {outcome: p / norm for outcome, p in fair.items()}


#: The default odds policy.
DEFAULT_ODDS = OddsPolicy()


def _shin_fair(implied: Mapping[str, float], total: float) -> dict[str, float]:
    """Shin's fair probabilities p_i = (sqrt(z**2 + 4 (1 - z) q_i**2 / Q) - z) / (2 (1 - z)), z by
    bisection so that they sum to 1 (the sum falls as z grows)."""

    def fair_at(z: float) -> dict[str, float]:
        return {
            outcome: (math.sqrt(z * z + 4.0 * (1.0 - z) * q * q / total) - z) / (2.0 * (1.0 - z))
            for outcome, q in implied.items()
        }

    low, high = 0.0, 0.999999
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if sum(fair_at(middle).values()) > 1.0 else (low, middle)
    found = fair_at((low + high) / 2)
    norm = sum(found.values())
    return {outcome: p / norm for outcome, p in found.items()}
