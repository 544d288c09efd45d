"""The engine's configuration of one fixture's markets: what the book offers (the catalogue), how it
is suspended and settled (the policy), and how it is priced. Above the markets and the prices, so
neither layer needs the other's settings."""

from __future__ import annotations

import attrs

from engine.core.markets.catalogue import MarketCatalogue, MarketPolicy
from engine.core.pricing.model import DEFAULT_PRICING, Pricing
from engine.ratings import Ratings


@attrs.frozen(slots=True)
class MarketConfig:
    """What the book offers, how it is suspended and settled, and how it is priced."""

    catalogue: MarketCatalogue = attrs.field(factory=MarketCatalogue)
    policy: MarketPolicy = attrs.field(factory=MarketPolicy)
    #: The fair prices and odds of every undecided market (`engine.core.pricing.prices`); None: no prices.
    pricing: Pricing | None = DEFAULT_PRICING
    #: The players' ratings: once the lineups name both sides (and the format is known), a pricing
    #: without a prior takes its prior from them (`engine.ratings.prior_for`); a pre-match price
    #: set in `pricing` wins. Left out of comparisons: a desk that learns (new ratings after each
    #: match) does not reconfigure its fixtures for it.
    ratings: Ratings | None = attrs.field(default=None, eq=False, repr=False)


DEFAULT_MARKETS = MarketConfig()
