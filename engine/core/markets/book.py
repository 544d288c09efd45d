"""The market book: market id -> entry (open, suspended with reasons, settled, void), its signals
and their inverse.

A `Book` is an immutable value. It stores once, per market type, the entry every undecided market
of that type shares while no reason of its own holds (the match-level reasons, scoped by the
policy), and an entry of its own for every other market; so a change of the match-level reasons
costs one entry per market type, not one per market. `signals_between(before, after, touched)`
gives the edge-triggered signals from one book to the next — scoped ones for the shared entries,
per-market ones for the rest — and `apply_signals(book, signals)` folds signals back into a book:
`apply_signals(before, signals_between(before, after, …)) == after`. The book is computed from the
match state by `engine.core.markets.book_update`; this module knows nothing of the state.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import attrs
import msgspec

from engine.core.markets.catalogue import Market, MarketCatalogue, MarketPolicy, parse_market
from engine.core.markets.outcomes import Context, Outcome
from engine.core.markets.signals import (
    BetStart,
    BetStop,
    BetStopChanged,
    MarketResumed,
    MarketSettled,
    MarketStatus,
    MarketSuspended,
    MarketType,
    MarketVoided,
    Reason,
    Scope,
    SettlementRolledBack,
    Signal,
    SuspensionReasonsChanged,
    VoidReason,
    VoidRolledBack,
)

# --- entries ------------------------------------------------------------------------------------


class MarketEntry(msgspec.Struct, frozen=True, gc=False):
    """One market in the book: its status, and its result (settled), void reason or suspension reasons.
    Entries are values: many markets may share one. Untracked by the cyclic collector."""

    status: MarketStatus
    result: str | None = None
    void_reason: VoidReason | None = None
    reasons: tuple[Reason, ...] = ()

    @property
    def decided(self) -> bool:
        """True when settled or void."""
        return self.status is MarketStatus.SETTLED or self.status is MarketStatus.VOID


OPEN_ENTRY = MarketEntry(MarketStatus.OPEN)


def sorted_reasons(reasons: Iterable[Reason]) -> tuple[Reason, ...]:
    """Reasons in a stable order (by value), as entries and signals carry them."""
    return tuple(sorted(reasons, key=lambda reason: reason.value))


# --- the book ------------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class BookIndex:
    """Where each market of a book stands, for the next update (`engine.core.markets.book_update`).

    `plain[type]`: the undecided markets of that type that follow the type's shared entry, in book
    order; `dependent`: the undecided markets with an entry of their own that the match-level
    reasons still change (an outcome unknown, a settlement waiting); `decided`: settled and void
    markets by group (the game, 0 for match markets); `groups`: every market by group."""

    plain: Mapping[MarketType, tuple[str, ...]] = attrs.field(factory=dict)
    dependent: tuple[str, ...] = ()
    decided: Mapping[int, tuple[str, ...]] = attrs.field(factory=dict)
    groups: Mapping[int, tuple[str, ...]] = attrs.field(factory=dict)

    @property
    def undecided(self) -> int:
        """How many markets are neither settled nor void."""
        return sum(len(ids) for ids in self.plain.values()) + len(self.dependent)


@attrs.frozen(slots=True, eq=False)
class BookCache:
    """What a book was computed from (the typed home of the update's memory): the match-level
    reasons, the outcome context, the next point's market and the config; and the outcome of every
    undecided market."""

    reasons: frozenset[Reason]
    context: Context
    point: Market | None
    catalogue: MarketCatalogue
    policy: MarketPolicy
    outcomes: Mapping[str, Outcome]


class Book(Mapping[str, MarketEntry]):
    """Market id -> entry, in the order markets were first offered. Immutable; compare with ==.

    Stores `shared[type]`, the entry of every undecided market of that type with no reason of its
    own (from the match-level `reasons`, scoped by the policy), and `own`, the entry of every other
    market; `index` says which markets follow which, and `cache` holds what the book was computed
    from (`BookCache`), so the next update looks only at what can have changed. Equality compares
    the entries only."""

    __slots__ = ("_markets", "cache", "index", "own", "reasons", "shared", "uniform")

    def __init__(
        self,
        entries: Mapping[str, MarketEntry] | None = None,
        *,
        markets: Mapping[str, Market] | None = None,
        own: Mapping[str, MarketEntry] | None = None,
        shared: Mapping[MarketType, MarketEntry] | None = None,
        uniform: MarketEntry | None = None,
        reasons: frozenset[Reason] = frozenset(),
        index: BookIndex | None = None,
        cache: BookCache | None = None,
    ) -> None:
        """`Book(entries)` is a book of those entries (every market with an entry of its own);
        the update step builds books from `markets`, `own`, `shared`, `index` and `cache`."""
        if entries is not None:
            own = dict(entries)
            markets = {market_id: parse_market(market_id) for market_id in own}
        self._markets: Mapping[str, Market] = markets or {}
        self.own: Mapping[str, MarketEntry] = own or {}
        self.shared: Mapping[MarketType, MarketEntry] = shared or {}
        #: The entry every type shares, when they all share one (the usual policy): a fast path.
        self.uniform = uniform
        self.reasons = reasons
        self.index = index if index is not None else _index(self)
        self.cache = cache

    def __getitem__(self, market_id: str) -> MarketEntry:
        entry = self.own.get(market_id)
        if entry is None:
            entry = self.shared[self._markets[market_id].type]
        return entry

    def __iter__(self) -> Iterator[str]:
        return iter(self._markets)

    def __len__(self) -> int:
        return len(self._markets)

    def __contains__(self, market_id: object) -> bool:
        return market_id in self._markets

    def market(self, market_id: str) -> Market:
        """What a market in the book is about."""
        return self._markets[market_id]

    def markets(self) -> Mapping[str, Market]:
        """Market id -> Market for every market in the book."""
        return self._markets

    def entries(self) -> dict[str, MarketEntry]:
        """Every entry, as a new dict in book order."""
        return {market_id: self[market_id] for market_id in self._markets}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self.entries() == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for entry in self.values():
            counts[entry.status.value] = counts.get(entry.status.value, 0) + 1
        return f"Book({len(self)} markets: {counts})"

    def undecided(self) -> list[str]:
        """Ids of the markets neither settled nor void, in book order."""
        return [market_id for market_id, entry in self.items() if not entry.decided]

    def with_status(self, status: MarketStatus) -> list[str]:
        """Ids of the markets in one status, in book order."""
        return [market_id for market_id, entry in self.items() if entry.status is status]


def _index(book: Book) -> BookIndex:
    """The index of a book whose entries are all its own (built from entries or signals)."""
    dependent: list[str] = []
    decided: dict[int, list[str]] = {}
    groups: dict[int, list[str]] = {}
    for market_id, entry in book.own.items():
        game = book.market(market_id).game
        groups.setdefault(game, []).append(market_id)
        if entry.decided:
            decided.setdefault(game, []).append(market_id)
        else:
            dependent.append(market_id)
    return BookIndex(
        {},
        tuple(dependent),
        {game: tuple(ids) for game, ids in decided.items()},
        {game: tuple(ids) for game, ids in groups.items()},
    )


EMPTY_BOOK = Book()


# --- signals: the difference of two books, and its inverse ---------------------------------------


def signals_between(before: Book, after: Book, touched: Iterable[str] = ()) -> list[Signal]:
    """The signals that take `before` to `after`. `touched`: every market whose own entry, or whose
    following of its type's shared entry, may differ between the two books; any other market of
    `after` follows the same shared entry in both. Scoped stops come first, then per-market signals
    (a settlement or voiding that no longer holds rolled back first), then scoped starts."""
    touched = dict.fromkeys(touched)
    stops: list[Signal] = []
    starts: list[Signal] = []
    if before.shared != after.shared:
        _scoped(before, after, touched, stops, starts)
    singles = _per_market(before, after, touched)
    return [*stops, *singles, *starts] if stops or starts else singles


def _scoped(before: Book, after: Book, touched: Mapping[str, None], stops: list[Signal], starts: list[Signal]) -> None:
    """One scoped signal per change of shared entries, for the markets that follow it in both books."""
    # Keyed by the entries' values: one signal per transition, whichever objects carry it.
    old, new = before.uniform, after.uniform
    if old is not None and new is not None:  # every type moves the same way: one signal
        touched_types = {after.market(market_id).type for market_id in touched} if touched else set()
        types: list[MarketType] = []
        markets: list[str] = []
        for market_type, ids in after.index.plain.items():
            if market_type in touched_types:
                ids = tuple(market_id for market_id in ids if market_id not in touched)
            if ids:
                types.append(market_type)
                markets.extend(ids)
        if markets:
            _emit(after, old, new, types, markets, stops, starts)
        return
    groups: dict[tuple[MarketEntry, MarketEntry], tuple[MarketEntry, MarketEntry, list[MarketType], list[str]]] = {}
    touched_types = {after.market(market_id).type for market_id in touched}
    for market_type, ids in after.index.plain.items():
        old, new = before.shared.get(market_type), after.shared[market_type]
        if old is None or old is new or not ids or old == new:
            continue
        if market_type in touched_types:
            ids = tuple(market_id for market_id in ids if market_id not in touched)
            if not ids:
                continue
        _, _, types, markets = groups.setdefault((old, new), (old, new, [], []))
        types.append(market_type)
        markets.extend(ids)
    for old, new, types, markets in groups.values():
        _emit(after, old, new, types, markets, stops, starts)


def _emit(
    after: Book,
    old: MarketEntry,
    new: MarketEntry,
    types: list[MarketType],
    markets: list[str],
    stops: list[Signal],
    starts: list[Signal],
) -> None:
    """The scoped signal that takes `markets` (of `types`) from `old` to `new`."""
    scope, named = _scope_of(after, types, len(markets))
    if new.status is MarketStatus.OPEN:
        starts.append(BetStart(scope, named, tuple(markets)))
    elif old.status is MarketStatus.OPEN:
        stops.append(BetStop(scope, named, new.reasons, tuple(markets)))
    else:
        stops.append(BetStopChanged(scope, named, new.reasons, tuple(markets)))


def _scope_of(book: Book, types: list[MarketType], count: int) -> tuple[Scope, tuple[MarketType, ...]]:
    """The scope that names `count` markets of `types` in `book`: all undecided markets, all those
    of the types, or only a list."""
    index = book.index
    if count == index.undecided:
        return Scope.ALL, ()
    of_types = sum(len(index.plain.get(market_type, ())) for market_type in types)
    of_types += sum(1 for market_id in index.dependent if book.market(market_id).type in types)
    if count == of_types:
        return Scope.TYPES, tuple(types)
    return Scope.MARKETS, ()


def _per_market(before: Book, after: Book, touched: Iterable[str]) -> list[Signal]:
    signals: list[Signal] = []
    for market_id in touched:
        entry = after[market_id]
        old = before.get(market_id)
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


def apply_signals(book: Mapping[str, MarketEntry], signals: Iterable[Signal]) -> Book:
    """The book a receiver of these signals holds: `book` with each signal applied in order."""
    entries = dict(book.items())
    for signal in signals:
        if isinstance(signal, BetStop | BetStopChanged):
            suspended = MarketEntry(MarketStatus.SUSPENDED, reasons=signal.reasons)
            entries.update(dict.fromkeys(signal.markets, suspended))
        elif isinstance(signal, BetStart):
            entries.update(dict.fromkeys(signal.markets, OPEN_ENTRY))
        elif isinstance(signal, MarketSuspended | SuspensionReasonsChanged):
            entries[signal.market] = MarketEntry(MarketStatus.SUSPENDED, reasons=signal.reasons)
        elif isinstance(signal, MarketResumed):
            entries[signal.market] = OPEN_ENTRY
        elif isinstance(signal, MarketSettled):
            entries[signal.market] = MarketEntry(MarketStatus.SETTLED, result=signal.result)
        elif isinstance(signal, MarketVoided):
            entries[signal.market] = MarketEntry(MarketStatus.VOID, void_reason=signal.reason)
        # A rollback says only that the old outcome is gone; the signal after it sets the new status.
    return Book(entries)
