# cython: annotation_typing=False, boundscheck=False, wraparound=False
"""The odds offered, on plain numbers (`engine.core.pricing.odds`: the policy, the names, the
reasons): the margin put on fair probabilities (Shin, power or proportional), the exchange ladder,
and what withdraws a market. Compiled with the pricing kernel (C types in offer.pxd) when a C
compiler is at hand; the same numbers as plain Python otherwise."""

from __future__ import annotations

import math

#: True in the compiled build, False when this file runs as plain Python.
COMPILED = not __file__.endswith(".py")

METHOD_SHIN = 0
METHOD_POWER = 1
METHOD_PROPORTIONAL = 2
#: [ours] A fair probability below this is an outcome that cannot happen: not listed.
IMPOSSIBLE = 1e-9
#: The exchange ladder as (from, to, step) in hundredths of a decimal price, the last band to 1000.
LADDER_BANDS = (
    (101, 200, 1),
    (200, 300, 2),
    (300, 400, 5),
    (400, 600, 10),
    (600, 1000, 20),
    (1000, 2000, 50),
    (2000, 3000, 100),
    (3000, 5000, 200),
    (5000, 10000, 500),
    (10000, 100001, 1000),
)
_LADDER_TOP = 100000


def ladder_floor_cents(price: float) -> int:
    """The highest ladder price at or below `price`, in hundredths; 0 below 1.01."""
    cents = math.floor(price * 100.0 + 1e-9)
    if cents < 101:
        return 0
    if cents >= _LADDER_TOP:
        return _LADDER_TOP
    for low, high, step in LADDER_BANDS:
        if cents < high:
            return low + (cents - low) // step * step
    return _LADDER_TOP


def offer_prices(
    fair: list[float], margin: float, method: int, min_margin: float, cap: float, withdraw_at: float
) -> list[float]:
    """The decimal odds offered for outcomes with these fair probabilities, in order (0.0 for an
    outcome that cannot happen: not listed), or [] when the market is withdrawn: fewer than two
    possible outcomes, a favourite at `withdraw_at` or more, an outcome below 1.01, or a book under
    1 + `min_margin`. `cap`: the highest price offered (on the ladder)."""
    listed: list[float] = []
    favourite = 0.0
    for p in fair:
        if p >= IMPOSSIBLE:
            listed.append(p)
            if p > favourite:
                favourite = p
    if len(listed) < 2 or favourite >= withdraw_at:
        return []
    implied = implied_probabilities(listed, margin, method)
    prices: list[float] = []
    book = 0.0
    at = 0
    for p in fair:
        if p < IMPOSSIBLE:
            prices.append(0.0)
            continue
        cents = ladder_floor_cents(1.0 / implied[at])
        at += 1
        if cents == 0:
            return []  # an outcome priced below 1.01: nothing safe to quote
        price = cents / 100
        if price > cap:
            price = cap
        prices.append(price)
        book += 1.0 / price
    if book < 1.0 + min_margin:
        return []  # cannot happen with margins >= min_margin (rounding down only adds): the law's guard
    return prices


def implied_probabilities(fair: list[float], margin: float, method: int) -> list[float]:
    """The margin spread over outcomes with these fair probabilities (all possible) by `method`
    (`METHOD_*`): implied probabilities summing to 1 + `margin`, before the ladder. Shin's method
    tops out (z = 1) below a very large margin: the power method takes over there."""
    if method == METHOD_SHIN:
        implied = _shin(fair, margin)
    elif method == METHOD_POWER:
        implied = _power(fair, margin)
    else:
        implied = _proportional(fair, margin)
    if _sum(implied) < 1.0 + margin - 1e-9:
        return _power(fair, margin)
    return implied


def _sum(values: list[float]) -> float:
    total = 0.0
    for value in values:
        total += value
    return total


def _proportional(fair: list[float], margin: float) -> list[float]:
    total = _sum(fair)
    return [p / total * (1.0 + margin) for p in fair]


def _shin(fair: list[float], margin: float) -> list[float]:
    """Shin's implied probabilities summing to 1 + margin (at most (sum sqrt p)**2, where z = 1):
    two outcomes in closed form; more by Newton's method on z in [0, 1] kept inside a shrinking
    bracket (the sum S(z)**2 grows with z, from 1 at z = 0)."""
    total = _sum(fair)
    probabilities = [p / total for p in fair]
    target = 1.0 + margin
    if len(probabilities) == 2:
        return _shin_two(probabilities[0], probabilities[1], target)
    low = 0.0
    high = 1.0
    z = 0.0
    for _ in range(60):
        roots = [math.sqrt(z * p + (1.0 - z) * p * p) for p in probabilities]
        sum_roots = _sum(roots)
        value = sum_roots * sum_roots - target
        if abs(value) < 1e-12:
            break
        if value < 0.0:
            low = z
        else:
            high = z
        slope_sum = 0.0
        for index in range(len(probabilities)):
            if roots[index]:
                p = probabilities[index]
                slope_sum += (p - p * p) / (2.0 * roots[index])
        slope = 2.0 * sum_roots * slope_sum
        step = z - value / slope if slope > 0.0 else -1.0
        z = step if low < step < high else (low + high) / 2
    roots = [math.sqrt(z * p + (1.0 - z) * p * p) for p in probabilities]
    sum_roots = _sum(roots)
    return [root * sum_roots for root in roots]


def _shin_two(first: float, second: float, target: float) -> list[float]:
    """Shin for two outcomes in closed form: with p + q = 1, r_i**2 = p_i**2 + c where c = z p q,
    and (r_1 + r_2)**2 = target gives c = (B**2 - 4 p**2 q**2) / (4 target), B = target - p**2 - q**2."""
    squares = first * first + second * second
    b = target - squares
    c = min(first * second, max(0.0, (b * b - 4.0 * first * first * second * second) / (4.0 * target)))  # z <= 1
    r_first = math.sqrt(first * first + c)
    r_second = math.sqrt(second * second + c)
    both = r_first + r_second
    return [r_first * both, r_second * both]


def _power(fair: list[float], margin: float) -> list[float]:
    """q_i = p_i**k with sum(q) = 1 + margin (k in (0, 1]). Newton's method on k from k = 1: the sum
    falls as k grows and is convex, so the first step lands at or left of the root and the next ones
    climb to it monotonically."""
    total = _sum(fair)
    logs = [math.log(p / total) for p in fair]
    target = 1.0 + margin
    k = 1.0
    for _ in range(50):
        powered = [math.exp(k * log) for log in logs]
        value = _sum(powered) - target
        if abs(value) < 1e-12:
            break
        slope = 0.0
        for index in range(len(logs)):
            slope += powered[index] * logs[index]
        if slope == 0.0:
            break
        k = max(1e-6, k - value / slope)
    return [math.exp(k * log) for log in logs]
