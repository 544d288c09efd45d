"""Markets: their ids, the catalogue of what is offered, the suspension policy, the book and its diff.

A market id is a stable string a user can store: `match_winner`, `correct_score`,
`total_games:4.5`, `game_winner:3`, `game_total_points:3:18.5`, `point_winner:3:14` (point 14 of
game 3), `race_to:3:7` (first to 7 points in game 3). `parse_market` turns one back into a `Market`.

The book maps market ids to `MarketEntry`s. `diff(before, after)` gives the edge-triggered signals
between two books and `apply_signals(book, signals)` folds them back: `apply_signals(before,
diff(before, after)) == after`. The book itself is computed from the match state by
`engine.core.markets`; this module knows nothing of the state.
"""

from __future__ import annotations

import enum
import re
from collections.abc import ItemsView, Iterable, Iterator, Mapping, ValuesView

import attrs

from engine.core import rules
from engine.core.rules import MatchFormat
from engine.core.signals import (
    MarketResumed,
    MarketSettled,
    MarketStatus,
    MarketSuspended,
    MarketVoided,
    Reason,
    SettlementRolledBack,
    Signal,
    SuspensionReasonsChanged,
    VoidReason,
    VoidRolledBack,
)
from engine.feed.catalogue import Stoppage


class MarketType(enum.Enum):
    """The kinds of market the engine keeps. The value is the first part of a market id."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C (Enum's is Python)

    MATCH_WINNER = "match_winner"
    CORRECT_SCORE = "correct_score"  # games, e.g. "3-1"
    TOTAL_GAMES = "total_games"  # over/under a line of games played
    GAME_WINNER = "game_winner"
    GAME_TOTAL_POINTS = "game_total_points"  # over/under a line of points in one game
    POINT_WINNER = "point_winner"  # who wins point K of game N
    RACE_TO = "race_to"  # who first reaches X points in game N ("neither" if nobody does)


@attrs.frozen(slots=True)
class Market:
    """One market: its type and what it is about. `id` is its stable string form."""

    type: MarketType
    game: int = 0  # game markets: the game (1-based)
    number: int = 0  # POINT_WINNER: the point (1-based); RACE_TO: the target
    line: float = 0.0  # TOTAL_GAMES, GAME_TOTAL_POINTS: the over/under line (a half)
    id: str = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "id", _market_id(self))


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
    return Market(
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
            markets.append(Market(MarketType.MATCH_WINNER))
        if self.correct_score:
            markets.append(Market(MarketType.CORRECT_SCORE))
        lines = self.total_games_lines
        if lines is None:  # the format unknown: every line of the usual formats (best of 3 to 7)
            best_of = fmt.best_of
            fewest, most = (2, rules.USUAL_LONGEST_BEST_OF) if best_of is None else (best_of // 2 + 1, best_of)
            lines = tuple(games + 0.5 for games in range(fewest, most))
        markets.extend(Market(MarketType.TOTAL_GAMES, line=line) for line in lines)
        return markets

    def game_markets(self, game: int) -> list[Market]:
        """The markets on one game."""
        markets = []
        if self.game_winner:
            markets.append(Market(MarketType.GAME_WINNER, game))
        markets.extend(Market(MarketType.GAME_TOTAL_POINTS, game, line=line) for line in self.game_total_points_lines)
        markets.extend(Market(MarketType.RACE_TO, game, number=target) for target in self.race_to)
        return markets

    def point_market(self, game: int, point: int) -> Market | None:
        """The market on point `point` of `game`, if point markets are offered."""
        return Market(MarketType.POINT_WINNER, game, number=point) if self.point_winner else None


# --- the suspension and settlement policy --------------------------------------------------------

ALL_MARKET_TYPES = frozenset(MarketType)

#: Which stoppage (opened and closed by the action kinds in `engine.feed.catalogue`) raises which reason.
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


def _every_reason_suspends_everything() -> dict[Reason, frozenset[MarketType]]:
    scopes = dict.fromkeys(Reason, ALL_MARKET_TYPES)
    scopes[Reason.FORMAT_UNKNOWN] = FORMAT_DEPENDENT_MARKET_TYPES
    return scopes


@attrs.frozen(slots=True)
class MarketPolicy:
    """Which reasons suspend which markets, and when settlement waits. One value, overridable:

        policy = DEFAULT_POLICY.with_scopes({Reason.TIMEOUT: set()})  # stay open through timeouts

    The action kinds that open and close stoppages are the feed's semantics and live in
    `engine.feed.catalogue` (STOPPAGE_OPENED_BY, STOPPAGES_CLOSED_BY); `stoppage_reasons` maps each
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

    def with_scopes(self, scopes: Mapping[Reason, Iterable[MarketType]]) -> MarketPolicy:
        """A copy in which each given reason suspends exactly the given market types."""
        return attrs.evolve(self, suspends={**self.suspends, **_frozen_scopes(scopes)})

    #: Market type -> every reason that suspends it (the table above, inverted once).
    suspended_by: Mapping[MarketType, frozenset[Reason]] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        inverted = {
            market_type: frozenset(reason for reason, types in self.suspends.items() if market_type in types)
            for market_type in MarketType
        }
        object.__setattr__(self, "suspended_by", inverted)

    def reasons_for(self, market_type: MarketType, held: frozenset[Reason]) -> frozenset[Reason]:
        """Of the reasons that hold for the match, those that suspend this market type."""
        return held & self.suspended_by[market_type]


@attrs.frozen(slots=True)
class MarketConfig:
    """What the book offers and how it is suspended and settled."""

    catalogue: MarketCatalogue = MarketCatalogue()
    policy: MarketPolicy = MarketPolicy()


DEFAULT_MARKETS = MarketConfig()


# --- the book ------------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class MarketEntry:
    """One market in the book: its status, and its result (settled), void reason or suspension reasons.
    Entries are values: many markets may share one."""

    status: MarketStatus
    result: str | None = None
    void_reason: VoidReason | None = None
    reasons: tuple[Reason, ...] = ()


OPEN_ENTRY = MarketEntry(MarketStatus.OPEN)


def sorted_reasons(reasons: Iterable[Reason]) -> tuple[Reason, ...]:
    """Reasons in a stable order (by value), as entries and signals carry them."""
    return tuple(sorted(reasons, key=lambda reason: reason.value))


_TERMINAL = frozenset({MarketStatus.SETTLED, MarketStatus.VOID})


BookIndex = tuple[tuple[str, ...], Mapping[int, tuple[str, ...]]]


class Book(Mapping[str, MarketEntry]):
    """Market id -> entry, in the order markets were first offered. Immutable; compare with ==.

    Besides the entries it keeps each market's `Market` (`market(id)`), an index of the undecided
    markets (`live`) and of the decided ones by game (`decided`, 0 for match markets), and what it
    was computed from (`key`, `outcomes`, `interned`): together they let `engine.core.markets` look only at what
    can have changed. Equality compares the entries only."""

    __slots__ = ("_entries", "_markets", "decided", "interned", "key", "live", "outcomes")

    def __init__(
        self,
        entries: Mapping[str, MarketEntry] | None = None,
        *,
        markets: Mapping[str, Market] | None = None,
        key: object = None,
        index: BookIndex | None = None,
        outcomes: Mapping[str, object] | None = None,
        interned: Mapping[frozenset[Reason], MarketEntry] | None = None,
    ) -> None:
        self._entries: dict[str, MarketEntry] = dict(entries or {})
        if markets is None:
            markets = {market_id: parse_market(market_id) for market_id in self._entries}
        self._markets: Mapping[str, Market] = markets
        self.key = key
        self.outcomes: Mapping[str, object] = outcomes or {}
        #: One suspended entry per set of reasons, shared by the books that follow, so an unchanged
        #: market keeps the very same entry object and is recognised without comparing fields.
        self.interned: Mapping[frozenset[Reason], MarketEntry] = interned or {}
        if index is None:
            index = _index(self._entries, markets)
        self.live, self.decided = index

    def __getitem__(self, market_id: str) -> MarketEntry:
        return self._entries[market_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, market_id: object) -> bool:
        return market_id in self._entries

    def get(self, market_id: str, default: MarketEntry | None = None) -> MarketEntry | None:  # type: ignore[override]
        """The entry of a market, or `default` when the book does not hold it."""
        return self._entries.get(market_id, default)

    def items(self) -> ItemsView[str, MarketEntry]:
        """(market id, entry) pairs in book order."""
        return self._entries.items()

    def values(self) -> ValuesView[MarketEntry]:
        """Entries in book order."""
        return self._entries.values()

    def market(self, market_id: str) -> Market:
        """What a market in the book is about."""
        return self._markets[market_id]

    def markets(self) -> Mapping[str, Market]:
        """Market id -> Market for every market in the book."""
        return self._markets

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Book):
            return self._entries == other._entries
        if isinstance(other, Mapping):
            return self._entries == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for entry in self._entries.values():
            counts[entry.status.value] = counts.get(entry.status.value, 0) + 1
        return f"Book({len(self)} markets: {counts})"

    def entries(self) -> dict[str, MarketEntry]:
        """A new dict of every entry (the cheap way to start the next book from this one)."""
        return self._entries.copy()

    def with_status(self, status: MarketStatus) -> list[str]:
        """Ids of the markets in one status, in book order."""
        return [market_id for market_id, entry in self._entries.items() if entry.status is status]


def _index(entries: Mapping[str, MarketEntry], markets: Mapping[str, Market]) -> BookIndex:
    live: list[str] = []
    decided: dict[int, list[str]] = {}
    for market_id, entry in entries.items():
        if entry.status in _TERMINAL:
            decided.setdefault(markets[market_id].game, []).append(market_id)
        else:
            live.append(market_id)
    return tuple(live), {game: tuple(ids) for game, ids in decided.items()}


EMPTY_BOOK = Book()


def diff(
    before: Mapping[str, MarketEntry], after: Mapping[str, MarketEntry], only: Iterable[str] | None = None
) -> list[Signal]:
    """The signals that take `before` to `after`, market by market in `after`'s order (or in the
    order of `only`, when the caller knows that no other market changed).

    Edge-triggered: a market whose entry did not change gets no signal. A settlement or voiding
    that no longer holds is rolled back first, then the market's new status is signalled."""
    signals: list[Signal] = []
    after_entries, before_entries = _plain(after), _plain(before)
    for market_id in after_entries if only is None else only:
        entry = after_entries[market_id]
        old = before_entries.get(market_id)
        if old is entry or old == entry:
            continue
        if old is not None and old.status is MarketStatus.SETTLED and old.result is not None:
            signals.append(SettlementRolledBack(market_id, old.result))
            old = None
        elif old is not None and old.status is MarketStatus.VOID and old.void_reason is not None:
            signals.append(VoidRolledBack(market_id, old.void_reason))
            old = None
        status = entry.status
        if status is MarketStatus.OPEN:
            signals.append(MarketResumed(market_id))
        elif status is MarketStatus.SUSPENDED:
            if old is not None and old.status is MarketStatus.SUSPENDED:
                signals.append(SuspensionReasonsChanged(market_id, entry.reasons))
            else:
                signals.append(MarketSuspended(market_id, entry.reasons))
        elif status is MarketStatus.SETTLED:
            signals.append(MarketSettled(market_id, entry.result or ""))
        elif entry.void_reason is not None:
            signals.append(MarketVoided(market_id, entry.void_reason))
    return signals


def _plain(book: Mapping[str, MarketEntry]) -> Mapping[str, MarketEntry]:
    """The dict behind a Book (its lookups are then C calls), or the mapping itself."""
    return book._entries if isinstance(book, Book) else book


def apply_signals(book: Mapping[str, MarketEntry], signals: Iterable[Signal]) -> Book:
    """The book a receiver of these signals holds: `before` with each signal applied in order."""
    entries = dict(book)
    for signal in signals:
        market_id = signal.market
        if isinstance(signal, MarketSuspended | SuspensionReasonsChanged):
            entries[market_id] = MarketEntry(MarketStatus.SUSPENDED, reasons=signal.reasons)
        elif isinstance(signal, MarketResumed):
            entries[market_id] = OPEN_ENTRY
        elif isinstance(signal, MarketSettled):
            entries[market_id] = MarketEntry(MarketStatus.SETTLED, result=signal.result)
        elif isinstance(signal, MarketVoided):
            entries[market_id] = MarketEntry(MarketStatus.VOID, void_reason=signal.reason)
        # A rollback says only that the old outcome is gone; the signal after it sets the new status.
    return Book(entries)
