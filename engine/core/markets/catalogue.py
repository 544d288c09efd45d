"""What markets exist and how they are treated: market ids, the catalogue of what is offered, and
the suspension and settlement policy (`engine.core.config.MarketConfig` holds both, and the pricing).

A market id is a stable string a user can store: `match_winner`, `correct_score`,
`total_games:4.5`, `game_winner:3`, `game_total_points:3:18.5`, `point_winner:3:14` (point 14 of
game 3), `race_to:3:7` (first to 7 points in game 3). `parse_market` turns one back into a `Market`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping

import attrs
import msgspec

from engine.core.markets.signals import MarketType, Reason
from engine.core.match import rules
from engine.core.match.rules import MatchFormat
from engine.core.match.vocabulary import Stoppage

__all__ = [  # MarketType is defined with the signals (a scoped signal names types); it is at home here too
    "ALL_MARKET_TYPES",
    "DEFAULT_SETTLEMENT_WAITS_FOR",
    "DEFAULT_STOPPAGE_REASONS",
    "FORMAT_DEPENDENT_MARKET_TYPES",
    "NO_PRIOR_MARKET_TYPES",
    "Market",
    "MarketCatalogue",
    "MarketPolicy",
    "MarketType",
    "market_for",
    "parse_market",
    "point_market_id",
]


class Market(msgspec.Struct, frozen=True, gc=False):
    """One market: its type and what it is about. `id` is its stable string form (derived: whatever
    is passed for it is replaced). Untracked by the cyclic collector (atoms and an enum): a book
    holds a hundred of them."""

    type: MarketType
    game: int = 0  # game markets: the game (1-based)
    number: int = 0  # POINT_WINNER: the point (1-based); RACE_TO: the target
    line: float = 0.0  # TOTAL_GAMES, GAME_TOTAL_POINTS: the over/under line (a half)
    id: str = ""

    def __post_init__(self) -> None:
        msgspec.structs.force_setattr(self, "id", _market_id(self))


def market_for(market_type: MarketType, game: int = 0, number: int = 0, line: float = 0.0) -> Market:
    """The `Market` of this type, game, number and line: one object per market for the whole process
    (a pure memo of an immutable value), so the fixtures' books share their markets and ids rather
    than each holding ~130 of its own (bench/memory.py)."""
    return _shared_market(market_type, game, number, float(line))


@functools.lru_cache(maxsize=4096)
def _shared_market(market_type: MarketType, game: int, number: int, line: float) -> Market:
    return Market(market_type, game, number, line)


def point_market_id(game: int, number: int) -> str:
    """The id of the market on point `number` of `game`."""
    return f"{MarketType.POINT_WINNER.value}:{game}:{number}"


def _line(value: float) -> str:
    return repr(float(value))


def _market_id(market: Market) -> str:
    kind = market.type
    name: str = kind.value
    if kind in (MarketType.MATCH_WINNER, MarketType.CORRECT_SCORE):
        return name
    if kind is MarketType.TOTAL_GAMES:
        return f"{name}:{_line(market.line)}"
    if kind is MarketType.GAME_WINNER:
        return f"{name}:{market.game}"
    if kind is MarketType.GAME_TOTAL_POINTS:
        return f"{name}:{market.game}:{_line(market.line)}"
    return f"{name}:{market.game}:{market.number}"


_ID_SHAPES: Mapping[MarketType, re.Pattern[str]] = {
    MarketType.MATCH_WINNER: re.compile(r""),
    MarketType.CORRECT_SCORE: re.compile(r""),
    MarketType.TOTAL_GAMES: re.compile(r":(?P<line>\d+\.5)"),
    MarketType.GAME_WINNER: re.compile(r":(?P<game>[1-9]\d*)"),
    MarketType.GAME_TOTAL_POINTS: re.compile(r":(?P<game>[1-9]\d*):(?P<line>\d+\.5)"),
    MarketType.POINT_WINNER: re.compile(r":(?P<game>[1-9]\d*):(?P<number>[1-9]\d*)"),
    MarketType.RACE_TO: re.compile(r":(?P<game>[1-9]\d*):(?P<number>[1-9]\d*)"),
}


def parse_market(market_id: str) -> Market:
    """The market a stored id names; ValueError for a string that is not a market id."""
    kind_text, _, rest = market_id.partition(":")
    try:
        kind = MarketType(kind_text)
    except ValueError:
        raise ValueError(f"not a market id: {market_id!r} (unknown market type {kind_text!r})") from None
    found = _ID_SHAPES[kind].fullmatch(f":{rest}" if rest else "")
    if found is None:
        raise ValueError(f"not a market id: {market_id!r}")
    parts = found.groupdict()
    return market_for(
        kind,
        game=int(parts.get("game") or 0),
        number=int(parts.get("number") or 0),
        line=float(parts.get("line") or 0.0),
    )


# --- what is offered ------------------------------------------------------------------------------


def _half_lines(lines: Iterable[float]) -> tuple[float, ...]:
    out = tuple(float(line) for line in lines)
    for line in out:
        if line < 0 or line % 1 != 0.5:
            raise ValueError(f"an over/under line must be a non-negative half (like 18.5), not {line}")
    return out


def _targets(targets: Iterable[int]) -> tuple[int, ...]:
    out = tuple(targets)
    for target in out:
        if isinstance(target, bool) or not isinstance(target, int) or target < 1:
            raise ValueError(f"a race target must be a positive number of points, not {target!r}")
    return out


def _optional_half_lines(lines: Iterable[float] | None) -> tuple[float, ...] | None:
    return None if lines is None else _half_lines(lines)


@attrs.frozen(slots=True)
class MarketCatalogue:
    """Which markets the book offers. Game markets are offered for every game of the format; the
    point market for the next point to be played. A market once offered stays in the book until it
    is settled or void."""

    match_winner: bool = True
    correct_score: bool = True
    #: None: every half line between the fewest and the most games the format allows.
    total_games_lines: tuple[float, ...] | None = attrs.field(default=None, converter=_optional_half_lines)
    game_winner: bool = True
    game_total_points_lines: tuple[float, ...] = attrs.field(default=(18.5,), converter=_half_lines)
    point_winner: bool = True
    race_to: tuple[int, ...] = attrs.field(default=(5, 7, 9), converter=_targets)

    def match_markets(self, fmt: MatchFormat) -> list[Market]:
        """The match-level markets for a format."""
        markets = []
        if self.match_winner:
            markets.append(market_for(MarketType.MATCH_WINNER))
        if self.correct_score:
            markets.append(market_for(MarketType.CORRECT_SCORE))
        lines = self.total_games_lines
        if lines is None:  # the format unknown: every line of the usual formats (best of 3 to 7)
            best_of = fmt.best_of
            fewest, most = (
                (2, rules.USUAL_LONGEST_BEST_OF) if best_of is None else (rules.games_needed(best_of), best_of)
            )
            lines = tuple(games + 0.5 for games in range(fewest, most))
        markets.extend(market_for(MarketType.TOTAL_GAMES, line=line) for line in lines)
        return markets

    def game_markets(self, game: int) -> list[Market]:
        """The markets on one game."""
        markets = []
        if self.game_winner:
            markets.append(market_for(MarketType.GAME_WINNER, game))
        markets.extend(
            market_for(MarketType.GAME_TOTAL_POINTS, game, line=line) for line in self.game_total_points_lines
        )
        markets.extend(market_for(MarketType.RACE_TO, game, number=target) for target in self.race_to)
        return markets

    def point_market(self, game: int, point: int) -> Market | None:
        """The market on point `point` of `game`, if point markets are offered."""
        return market_for(MarketType.POINT_WINNER, game, number=point) if self.point_winner else None


# --- the suspension and settlement policy --------------------------------------------------------

ALL_MARKET_TYPES = frozenset(MarketType)

#: Which stoppage (opened and closed by the action kinds in `engine.core.match.vocabulary`) raises which reason.
DEFAULT_STOPPAGE_REASONS: Mapping[Stoppage, Reason] = {
    Stoppage.TIMEOUT: Reason.TIMEOUT,
    Stoppage.VIDEO_CHECK: Reason.VIDEO_CHECK,
    Stoppage.PLAY_STOPPED: Reason.PLAY_STOPPED,
    Stoppage.INJURY: Reason.INJURY,
    Stoppage.START_DELAYED: Reason.PLAY_STOPPED,
}

#: While one of these holds, nothing is settled or voided anew: the outcome may still change.
DEFAULT_SETTLEMENT_WAITS_FOR = frozenset(
    {Reason.PENDING_ACTION, Reason.SEQUENCE_GAP, Reason.DISCREPANCY, Reason.COLLECTION}
)


def _frozen_scopes(scopes: Mapping[Reason, Iterable[MarketType]]) -> dict[Reason, frozenset[MarketType]]:
    return {reason: frozenset(types) for reason, types in scopes.items()}


#: The market types whose outcome depends on the number of games: while the format is unknown they
#: are suspended (`Reason.FORMAT_UNKNOWN`) and settle only when the provider ends the match.
FORMAT_DEPENDENT_MARKET_TYPES = frozenset({MarketType.MATCH_WINNER, MarketType.CORRECT_SCORE, MarketType.TOTAL_GAMES})


#: [ours] What a fixture priced with nothing known of the players does not offer (`Reason.NO_PRIOR`):
#: a bettor with a rating list made +35 % on our match winner and +17 % on the game winners without
#: a prior (2023+ ITTF matches, bench/bettor.py and README "Ratings"); no margin up to 60 % made the
#: match winner safe at the opening.
NO_PRIOR_MARKET_TYPES = FORMAT_DEPENDENT_MARKET_TYPES | {MarketType.GAME_WINNER}


def _every_reason_suspends_everything() -> dict[Reason, frozenset[MarketType]]:
    scopes = dict.fromkeys(Reason, ALL_MARKET_TYPES)
    scopes[Reason.FORMAT_UNKNOWN] = FORMAT_DEPENDENT_MARKET_TYPES
    scopes[Reason.FORMAT_CONTRADICTED] = FORMAT_DEPENDENT_MARKET_TYPES
    scopes[Reason.NO_PRIOR] = NO_PRIOR_MARKET_TYPES
    return scopes


@attrs.frozen(slots=True)
class MarketPolicy:
    """Which reasons suspend which markets, and when settlement waits. One value, overridable:

        policy = MarketPolicy().with_scopes({Reason.TIMEOUT: set()})  # stay open through timeouts

    The action kinds that open and close stoppages are the feed's semantics and live in
    `engine.core.match.vocabulary` (STOPPAGE_OPENED_BY, STOPPAGES_CLOSED_BY); `stoppage_reasons` maps each
    stoppage to a reason. Reasons missing from `suspends` suspend nothing.
    """

    suspends: Mapping[Reason, frozenset[MarketType]] = attrs.field(
        factory=_every_reason_suspends_everything, converter=_frozen_scopes
    )
    stoppage_reasons: Mapping[Stoppage, Reason] = attrs.field(factory=lambda: dict(DEFAULT_STOPPAGE_REASONS))
    settlement_waits_for: frozenset[Reason] = attrs.field(default=DEFAULT_SETTLEMENT_WAITS_FOR, converter=frozenset)
    #: FEED.md 6: on retirement, walkover or disqualification undecided markets are void; the match
    #: winner is undecided unless a desk's rules say it goes to the side that went through.
    match_winner_stands_on_retirement: bool = False
    #: When the score decides the match (a side won the games the format needs), what still depends
    #: on the format — the match winner, the correct score, total-games lines not yet passed, the
    #: markets of games that will not be played — is settled or voided: False (the default, safe)
    #: suspends them (`awaiting_end_match`) until the provider's End Match confirms the end, so a
    #: wrong format settles nothing that must be rolled back; True settles at the deciding point.
    settle_at_deciding_point: bool = False

    def with_scopes(self, scopes: Mapping[Reason, Iterable[MarketType]]) -> MarketPolicy:
        """A copy in which each given reason suspends exactly the given market types."""
        return attrs.evolve(self, suspends={**self.suspends, **_frozen_scopes(scopes)})

    #: Market type -> every reason that suspends it (the table above, inverted once).
    suspended_by: Mapping[MarketType, frozenset[Reason]] = attrs.field(init=False, eq=False, repr=False)
    #: The same, as a hashable value: each type's reasons in `MarketType` order.
    suspension_key: tuple[frozenset[Reason], ...] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        inverted = {
            market_type: frozenset(reason for reason, types in self.suspends.items() if market_type in types)
            for market_type in MarketType
        }
        object.__setattr__(self, "suspended_by", inverted)
        object.__setattr__(self, "suspension_key", tuple(inverted[market_type] for market_type in MarketType))
