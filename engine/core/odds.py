"""The odds we offer: a pure policy over fair probabilities (`OddsPolicy.offer`).

Fair probabilities come from the model (`engine.core.pricing`); what a bookmaker can offer is
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

Pure: no clock, no I/O, no randomness; tested as a law over random fair books and strengths.
"""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Mapping
from types import MappingProxyType

import attrs

from engine.core.signals import MarketType


def _ladder_cents() -> tuple[int, ...]:
    """The exchange price ladder, in hundredths (101 = 1.01), from 1.01 to 1000."""
    steps: list[tuple[int, int, int]] = [(101, 200, 1), (200, 300, 2), (300, 400, 5), (400, 600, 10)]
    steps += [(600, 1000, 20), (1000, 2000, 50), (2000, 3000, 100), (3000, 5000, 200), (5000, 10000, 500)]
    steps += [(10000, 100001, 1000)]
    return tuple(cents for low, high, step in steps for cents in range(low, high, step))


#: Every price on the ladder, in hundredths of a decimal price (101 = 1.01 … 100000 = 1000).
LADDER_CENTS = _ladder_cents()
#: The lowest price that can be quoted.
MIN_PRICE = LADDER_CENTS[0] / 100
#: [ours] A fair probability below this is an outcome that cannot happen: not listed.
IMPOSSIBLE = 1e-9


def ladder_floor(price: float) -> float | None:
    """The highest ladder price at or below `price` (None below 1.01)."""
    cents = math.floor(price * 100 + 1e-9)
    index = bisect.bisect_right(LADDER_CENTS, cents) - 1
    return None if index < 0 else LADDER_CENTS[index] / 100


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

    def offer(self, fair: Mapping[str, float], market_type: MarketType) -> dict[str, float]:
        """The decimal odds offered for each possible outcome of a market with these fair
        probabilities; an empty dict when the market is withdrawn (near-certain, or no safe book)."""
        listed = {outcome: p for outcome, p in fair.items() if p >= IMPOSSIBLE}
        if len(listed) < 2 or max(listed.values()) >= self.withdraw_at:
            return {}
        margin = self.margins[market_type]
        implied = _IMPLIED[self.method](listed, margin)
        if sum(implied.values()) < 1.0 + margin - 1e-9:  # Shin tops out (z = 1) below a very large margin
            implied = _power(listed, margin)
        cap = ladder_floor(self.max_price)
        assert cap is not None  # checked at construction
        odds: dict[str, float] = {}
        for outcome, q in implied.items():
            price = ladder_floor(1.0 / q)
            if price is None:
                return {}  # an outcome priced below 1.01: nothing safe to quote
            odds[outcome] = min(price, cap)
        if sum(1.0 / price for price in odds.values()) < 1.0 + self.min_margin:
            return {}  # cannot happen with margins >= min_margin (rounding down only adds): kept as the law's guard
        return odds


def book_sum(odds: Mapping[str, float]) -> float:
    """Sum of 1/odds over a market's outcomes: 1 + the margin a bettor pays (below 1: a sure profit)."""
    return sum(1.0 / price for price in odds.values())


def _proportional(fair: Mapping[str, float], margin: float) -> dict[str, float]:
    total = sum(fair.values())
    return {outcome: p / total * (1.0 + margin) for outcome, p in fair.items()}


def _shin(fair: Mapping[str, float], margin: float) -> dict[str, float]:
    """Shin's implied probabilities summing to 1 + margin (at most (sum sqrt p)**2, where z = 1):
    two outcomes in closed form; more by Newton's method on z in [0, 1] kept inside a shrinking
    bracket (the sum S(z)**2 grows with z, from 1 at z = 0)."""
    total = sum(fair.values())
    probabilities = [p / total for p in fair.values()]
    target = 1.0 + margin
    if len(probabilities) == 2:
        return dict(zip(fair, _shin_two(probabilities[0], probabilities[1], target), strict=True))
    low, high = 0.0, 1.0
    z = 0.0
    for _ in range(60):
        roots = [math.sqrt(z * p + (1.0 - z) * p * p) for p in probabilities]
        sum_roots = sum(roots)
        value = sum_roots * sum_roots - target
        if abs(value) < 1e-12:
            break
        if value < 0.0:
            low = z
        else:
            high = z
        slope = 2.0 * sum_roots * sum((p - p * p) / (2.0 * r) for p, r in zip(probabilities, roots, strict=True) if r)
        step = z - value / slope if slope > 0.0 else -1.0
        z = step if low < step < high else (low + high) / 2
    roots = [math.sqrt(z * p + (1.0 - z) * p * p) for p in probabilities]
    sum_roots = sum(roots)
    return {outcome: root * sum_roots for outcome, root in zip(fair, roots, strict=True)}


def _shin_two(first: float, second: float, target: float) -> tuple[float, float]:
    """Shin for two outcomes in closed form: with p + q = 1, r_i**2 = p_i**2 + c where c = z p q,
    and (r_1 + r_2)**2 = target gives c = (B**2 - 4 p**2 q**2) / (4 target), B = target - p**2 - q**2."""
    squares = first * first + second * second
    b = target - squares
    c = min(first * second, max(0.0, (b * b - 4.0 * first * first * second * second) / (4.0 * target)))  # z <= 1
    r_first, r_second = math.sqrt(first * first + c), math.sqrt(second * second + c)
    both = r_first + r_second
    return r_first * both, r_second * both


def _power(fair: Mapping[str, float], margin: float) -> dict[str, float]:
    """q_i = p_i**k with sum(q) = 1 + margin (k in (0, 1]). Newton's method on k from k = 1: the sum
    falls as k grows and is convex, so the first step lands at or left of the root and the next ones
    climb to it monotonically."""
    total = sum(fair.values())
    probabilities = [p / total for p in fair.values()]
    logs = [math.log(p) for p in probabilities]
    target = 1.0 + margin
    k = 1.0
    for _ in range(50):
        powered = [math.exp(k * log) for log in logs]
        value = sum(powered) - target
        if abs(value) < 1e-12:
            break
        slope = sum(q * log for q, log in zip(powered, logs, strict=True))
        if slope == 0.0:
            break
        k = max(1e-6, k - value / slope)
    return {outcome: math.exp(k * log) for outcome, log in zip(fair, logs, strict=True)}


_IMPLIED = {MarginMethod.SHIN: _shin, MarginMethod.POWER: _power, MarginMethod.PROPORTIONAL: _proportional}


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
