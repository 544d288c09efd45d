"""The engine's state of one fixture: the match (`engine.core.match.state.MatchFacts`), the market config,
the book and the prices, each kept by its own layer. `reduce(state, input)` steps it one way: fold
the input into the match, advance the book from the match, advance the prices from both.

The match's fields and views read through (`state.points`, `state.server`, `state.status`,
`state.gaps`, ...), so the state carries everything a receiver asks of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

from engine.core.config import DEFAULT_MARKETS, MarketConfig
from engine.core.markets.book import EMPTY_BOOK, Book
from engine.core.match.events import Status
from engine.core.match.rules import UNKNOWN_FORMAT, MatchFormat, Side
from engine.core.match.state import MatchFacts, Score
from engine.core.match.vocabulary import ResultKind, Stoppage
from engine.core.pricing.prices import NO_PRICES, PriceBook

#: No decision rolled back yet.
NO_ROLLBACKS: Mapping[str, int] = MappingProxyType({})


def decision_id(fixture_id: str | None, market_id: str, number: int) -> str:
    """The stable id of a market's `number`-th settlement or voiding (1-based) in a fixture; a
    rollback carries the id of the decision it takes back."""
    return f"{fixture_id}/{market_id}/{number}"


@attrs.frozen(slots=True)
class MatchState:
    """Everything the engine knows about one fixture. Fold messages into it with `reduce`.

    Read the score from it directly (`games`, `points`, `server`, `status`, `winner`, …, below);
    everything else the match knows — the timeline, the sequencer, the counts of discrepancies,
    gaps and refused frames, the connection's flags — is on `match` (`MatchFacts`)."""

    match: MatchFacts = attrs.field(factory=MatchFacts)
    markets: MarketConfig = DEFAULT_MARKETS
    book: Book = EMPTY_BOOK  # the market book as of the last input (engine.core.markets.book_update)
    #: The prices of the undecided markets as of the last input (`engine.core.pricing.prices.PriceBook`).
    prices: PriceBook = NO_PRICES
    #: Market id -> how many of its settlements and voidings were rolled back so far (only markets
    #: that had one): its next decision is number `rollbacks + 1`, the same in every run that folds
    #: the same feed (`decision_id`).
    rollbacks: Mapping[str, int] = NO_ROLLBACKS

    @classmethod
    def new(
        cls,
        fixture_id: str | None = None,
        fmt: MatchFormat = UNKNOWN_FORMAT,
        max_held: int | None = None,
        markets: MarketConfig = DEFAULT_MARKETS,
    ) -> MatchState:
        """The state before any message: pass the match format (by default unknown, singles: then the
        markets that depend on the number of games wait for the provider's End Match) and,
        optionally, which markets to keep and how (`MarketConfig`). The book starts empty; the first
        input fills it and signals every market."""
        match = MatchFacts.new(fixture_id, fmt, max_held)
        return cls(attrs.evolve(match, no_prior=without_prior(markets)), markets)

    # --- a copy by direct construction (about three times faster than attrs.evolve): a refused frame's step

    def with_match(self, match: MatchFacts) -> MatchState:
        """This state with its match replaced."""
        return MatchState(match, self.markets, self.book, self.prices, self.rollbacks)

    # --- the match's fields and views, read through --------------------------------------------

    @property
    def fixture_id(self) -> str | None:
        """The fixture followed."""
        return self.match.fixture_id

    @property
    def format(self) -> MatchFormat:
        """The format in force: the configured one, lengthened if the feed played on past its end."""
        return self.match.format

    @property
    def games(self) -> Score:
        """Games won (home, away)."""
        return self.match.games

    @property
    def points(self) -> tuple[Score, ...]:
        """Points of every game begun (home, away), the current game last."""
        return self.match.points

    @property
    def current_game(self) -> int:
        """The game in play or last played (1-based); 0 before the first."""
        return self.match.current_game

    @property
    def server(self) -> Side | None:
        """The side serving the rally under way, or due to serve the next one."""
        return self.match.server

    @property
    def server_player(self) -> str | None:
        """The serving player's id, when the feed named one on the rally under way (doubles)."""
        return self.match.server_player

    @property
    def ends_swapped(self) -> bool:
        """True when each side plays from the end the other started the match at."""
        return self.match.ends_swapped

    @property
    def stoppages(self) -> frozenset[Stoppage]:
        """Open stoppages: timeout, video check, play stopped, injury, delayed start."""
        return self.match.stoppages

    @property
    def pending(self) -> frozenset[str]:
        """Ids of actions that are Pending: possibly happened, not yet in the score."""
        return self.match.pending

    @property
    def winner(self) -> Side | None:
        """The match winner, once there is one."""
        return self.match.winner

    @property
    def result(self) -> ResultKind | None:
        """How the match ended (None while it goes on)."""
        return self.match.result

    @property
    def status(self) -> Status:
        """Where the match stands (`engine.core.match.state.MatchFacts.status`)."""
        return self.match.status


def without_prior(markets: MarketConfig) -> bool:
    """True when `markets` price with nothing known of the players (`Reason.NO_PRIOR`)."""
    return markets.pricing is not None and not markets.pricing.has_prior
