"""The market book as a function of the match state, kept up to date step by step.

`advance_book(match, catalogue, policy, previous)` gives the book for the match, built on the
previous book (a market once offered
stays until settled or void, so a correction can never make one vanish), and the ids of the
markets touched; the reducer emits `signals_between(before, after, touched)` as signals.

A market is SETTLED or VOID when its outcome (`engine.core.markets.outcomes`) says so, else
SUSPENDED while any reason the policy scopes to its type holds, OPEN when none does. A new
settlement or voiding waits while a reason in `policy.settlement_waits_for` holds (a pending action,
a gap, a discrepancy, collection trouble); a market already settled keeps its result until the
score itself changes it.

Incremental: the match-level reasons decide, per market type, one entry shared by every undecided
market with no reason of its own, so a step that only changes reasons (a rally starts or ends, a
stoppage, the feed goes stale) costs one entry per market type. A step that changes the score
recomputes the outcomes of the markets of the game it changed (and the match markets when the
games changed); a correction of the past recomputes every group it touched. `derive_book`
recomputes everything from the outcomes, the reference the incremental book is tested against.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

import attrs

from engine.core.markets.book import OPEN_ENTRY, Book, BookCache, BookIndex, MarketEntry, sorted_reasons
from engine.core.markets.catalogue import (
    Market,
    MarketCatalogue,
    MarketPolicy,
    MarketType,
    market_for,
    point_market_id,
)
from engine.core.markets.outcomes import Context, Outcome, OutcomeKind, outcomes_in, situation
from engine.core.markets.signals import MarketStatus, Reason, VoidReason
from engine.core.match.events import FINAL_STATUSES
from engine.core.match.rules import MatchFormat
from engine.core.match.state import MatchFacts


@attrs.frozen(slots=True)
class _Shared:
    """For one set of match-level reasons: those that suspend each type, the entry each type's
    undecided markets share, and that entry when every type shares the same one."""

    scoped: Mapping[MarketType, frozenset[Reason]]
    shared: Mapping[MarketType, MarketEntry]
    uniform: MarketEntry | None


# The entries and what a set of match-level reasons means for the types: pure functions of their
# arguments, memoised process-wide (reasons come back all the time: a rally starts, a rally ends), so
# the fixtures share one object per entry rather than each keeping tables of its own (the collector
# walks what a fixture keeps: bench/collector.py). Nothing downstream depends on which object it
# gets: entries are compared by value.


#: The reason of its own an undecided market is suspended for, by its outcome's kind (with the
#: match's reasons but the ball in play: a market that opens on no rally need not hear of each).
_EVERY_RALLY = frozenset({Reason.BALL_IN_PLAY})
_OWN_REASON = {
    OutcomeKind.CERTAIN: Reason.DECIDED,
    OutcomeKind.NOT_NEXT: Reason.NOT_NEXT_POINT,
}


@functools.lru_cache(maxsize=1024)
def _held_entry(held: frozenset[Reason]) -> MarketEntry:
    """The entry of a market suspended for `held` (open for none)."""
    return MarketEntry(MarketStatus.SUSPENDED, reasons=sorted_reasons(held)) if held else OPEN_ENTRY


@functools.lru_cache(maxsize=1024)
def _decided_entry(status: MarketStatus, result: str | None, void_reason: VoidReason | None) -> MarketEntry:
    """A settled or void entry (a finished match has ~130 markets with a few of them)."""
    return MarketEntry(status, result, void_reason)


@functools.lru_cache(maxsize=1024)
def _shared_for(suspension_key: tuple[frozenset[Reason], ...], reasons: frozenset[Reason]) -> _Shared:
    """What the match-level `reasons` mean for each market type under a policy whose
    `suspension_key` (the reasons that suspend each type, in `MarketType` order) is given."""
    scoped = {market_type: reasons & by for market_type, by in zip(MarketType, suspension_key, strict=True)}
    shared = {market_type: _held_entry(held) for market_type, held in scoped.items()}
    first = shared[MarketType.MATCH_WINNER]
    return _Shared(scoped, shared, first if all(entry == first for entry in shared.values()) else None)


# --- what is offered ------------------------------------------------------------------------------------


def offered_markets(match: MatchFacts, catalogue: MarketCatalogue) -> list[Market]:
    """The markets the catalogue offers in this match (the book also keeps earlier ones)."""
    markets = _standing_markets(match, catalogue)
    point = _next_point_market(match, catalogue)
    return markets if point is None else [*markets, point]


def _standing_markets(match: MatchFacts, catalogue: MarketCatalogue) -> list[Market]:
    """The match markets and the markets on every game of the format (the format unknown: on every
    game begun)."""
    play = match.play
    markets = catalogue.match_markets(play.format)
    for game in range(1, _games_offered(play.format, len(play.points)) + 1):
        markets.extend(catalogue.game_markets(game))
    return markets


def _games_offered(fmt: MatchFormat, begun: int) -> int:
    """How many games carry game markets: the format's, or when it is unknown the `begun` games (a
    game that may never be played is not offered)."""
    return begun if fmt.best_of is None else fmt.best_of


def _next_point_market(match: MatchFacts, catalogue: MarketCatalogue, known: Market | None = None) -> Market | None:
    """The market on the next point to be played, while the match goes on (`known`, when it is
    that market already); with the format unknown, none between games (only once a game begins)."""
    play = match.play
    if not catalogue.point_winner or play.result is not None or match.status in FINAL_STATUSES:
        return None
    if play.format.best_of is None and play.points and play.game_decided():
        return None  # the format unknown: the next game may never be played; offered once it begins
    game, home, away = play.next_rally_position()
    if known is not None and known.game == game and known.number == home + away + 1:
        return known
    return catalogue.point_market(game, home + away + 1)


def _changed_groups(before: Context, after: Context) -> set[int] | None:
    """The groups (games, 0 for the match) whose markets' outcomes may differ between the two
    contexts; None when all may (the match ended or resumed, the format or offline data changed)."""
    if (before.ended, before.format, before.offline) != (after.ended, after.format, after.offline):
        return None
    changed = set()
    if (before.games, before.winner) != (after.games, after.winner):
        changed.add(0)
    if before.points != after.points or before.rallies != after.rallies:
        for index in range(max(len(before.points), len(after.points))):
            if (before.points[index : index + 1], before.rallies[index : index + 1]) != (
                after.points[index : index + 1],
                after.rallies[index : index + 1],
            ):
                changed.add(index + 1)
                if _won(before, index) != _won(after, index):
                    changed.add(index + 2)  # whether the next game's first point is the next to play
    return changed


def _won(ctx: Context, index: int) -> bool:
    """True when game `index + 1` has been played and won in `ctx`."""
    return index < len(ctx.won) and ctx.won[index] is not None


def _only_appended(group: int, before: Context, after: Context) -> bool:
    """True when game `group` only gained points at its end (the common step: a point scored):
    then every market of that game decided before stays decided the same way (a game won, a race
    reached or an over line exceeded cannot be undone by later points; earlier points keep their
    winners)."""
    if group == 0 or before.ended != after.ended:
        return False
    old, new = before, after
    if old.format != new.format or not old.offline <= new.offline:
        return False
    index = group - 1
    if index >= len(old.rallies) or index >= len(new.rallies):
        return False
    kept, grown = old.rallies[index], new.rallies[index]
    if len(grown) < len(kept) or grown[: len(kept)] != kept:
        return False
    # A point already played that became offline would void its market: not an append.
    return all(game != group or number > len(kept) for game, number in new.offline - old.offline)


def _played_point_markets(
    match: MatchFacts,
    catalogue: MarketCatalogue,
    before: Context | None,
    games: Iterable[int] | None,
    book: Mapping[str, Market],
) -> list[Market]:
    """Markets on points whose winner is known and that the book lacks, in `games` (None: all): so
    the book does not depend on how messages were batched (several points released together after
    a gap still get theirs). Of a game that only gained points since `before`, only those are seen."""
    if not catalogue.point_winner:
        return []
    every_game = match.play.rallies
    markets = []
    for game in range(1, len(every_game) + 1) if games is None else sorted(games):
        if not 1 <= game <= len(every_game):
            continue
        rallies = every_game[game - 1]
        kept = () if before is None or game > len(before.rallies) else before.rallies[game - 1]
        start = len(kept) if rallies[: len(kept)] == kept else 0
        for number in range(start + 1, len(rallies) + 1):
            if rallies[number - 1] is not None and point_market_id(game, number) not in book:
                markets.append(market_for(MarketType.POINT_WINNER, game, number=number))
    return markets


def advance_book(
    match: MatchFacts, catalogue: MarketCatalogue, policy: MarketPolicy, previous: Book
) -> tuple[Book, list[str]]:
    """The book for `match`, built on `previous` (the same object when nothing it depends on
    changed), and the ids of the markets whose own entry, or whose following of their type's shared
    entry, changed (`signals_between` needs them)."""
    cache = previous.cache
    reasons, ctx = situation(match, policy, None if cache is None else cache.context)
    point = _next_point_market(match, catalogue, None if cache is None else cache.point)
    if cache is not None and (cache.catalogue, cache.policy) != (catalogue, policy):
        cache = None  # another config: everything is looked at again
    if cache is not None and cache.point == point and cache.reasons == reasons and cache.context == ctx:
        return previous, []
    step = _Step(match, catalogue, policy, previous, cache, reasons, ctx)
    if cache is None:
        step.look_at_every_market()
        step.offer(point, None)
    elif cache.context != ctx:
        changed = _changed_groups(cache.context, ctx)
        step.look_at_changed_groups(cache.context, changed)
        step.offer(point, changed)
    else:
        step.look_at_dependent()
        step.offer(point, set())
    step.settle(outcomes_in(step.asked, ctx))  # every outcome the step needs, asked at once
    return step.book(point), step.touched


def derive_book(match: MatchFacts, catalogue: MarketCatalogue, policy: MarketPolicy, previous: Book) -> Book:
    """The book recomputed from scratch for the markets of `previous` (no cache): what the
    incremental `advance_book` must equal after every input."""
    uncached = Book(markets=previous.markets(), own=previous.own, shared=previous.shared, index=previous.index)
    return advance_book(match, catalogue, policy, uncached)[0]


class _Step:
    """The work of one `advance_book`: the new book's parts, copied on first change, and the
    markets touched."""

    def __init__(
        self,
        match: MatchFacts,
        catalogue: MarketCatalogue,
        policy: MarketPolicy,
        previous: Book,
        cache: BookCache | None,
        reasons: frozenset[Reason],
        ctx: Context,
    ) -> None:
        self.match = match
        self.catalogue = catalogue
        self.policy = policy
        self.previous = previous
        self.reasons = reasons
        self.ctx = ctx
        self.before = None if cache is None else cache.context
        self.waiting = reasons & policy.settlement_waits_for
        known = _shared_for(policy.suspension_key, reasons)
        self.scoped, self.shared, self.uniform = known.scoped, known.shared, known.uniform
        # The previous book's mappings, shared until the first change copies them.
        self.outcomes: Mapping[str, Outcome] = {} if cache is None else cache.outcomes
        self.markets: Mapping[str, Market] = previous.markets()
        self.own: Mapping[str, MarketEntry] = previous.own
        self.copied: set[str] = set()
        index = previous.index
        self.plain: dict[MarketType, tuple[str, ...]] = dict(index.plain)
        self.dependent: dict[str, None] = dict.fromkeys(index.dependent)
        self.decided: dict[int, tuple[str, ...]] = dict(index.decided)
        self.groups: dict[int, tuple[str, ...]] = dict(index.groups)
        self.touched: list[str] = []
        # What the step will look at, chosen before any outcome is computed: the markets looked at
        # afresh (`again`) and those newly offered (`new`), whose outcomes are asked in that order
        # (`asked`), and those looked at again with the outcome they had (`kept`).
        self.asked: list[Market] = []
        self.again: list[str] = []
        self.kept: list[str] = []
        self.new: list[Market] = []

    # --- which markets to look at

    def look_at_every_market(self) -> None:
        """Every market's outcome and entry, afresh (no cache to trust)."""
        for market_id, market in self.markets.items():
            self.again.append(market_id)
            self.asked.append(market)

    def look_at_changed_groups(self, before: Context, changed: set[int] | None) -> None:
        """The markets of the groups that changed (None: every group), afresh, except decided
        markets of a game that only gained points (they stay decided the same way); and every
        market whose own entry the reasons change, with the outcome it had."""
        markets, ctx, index = self.markets, self.ctx, self.previous.index
        for group in index.groups if changed is None else sorted(changed):
            appended: bool | None = None
            for market_id in index.groups.get(group, ()):
                entry = self.own.get(market_id)
                if entry is not None and entry.decided:
                    if appended is None:
                        appended = _only_appended(group, before, ctx)
                    if appended:
                        continue
                self.again.append(market_id)
                self.asked.append(markets[market_id])
        if changed is not None:
            self.kept.extend(market_id for market_id in index.dependent if markets[market_id].game not in changed)

    def look_at_dependent(self) -> None:
        """Only the reasons changed: the markets with an entry of their own, with the outcome they had."""
        self.kept.extend(self.previous.index.dependent)

    def offer(self, point: Market | None, changed: set[int] | None) -> None:
        """The markets newly offered: every standing market the first time and when the games
        offered change, points played in the `changed` games (None: all) that the book lacks, and
        the next point's market."""
        before, match, ctx = self.before, self.match, self.ctx
        offered = (
            _standing_markets(match, self.catalogue)
            if before is None
            or before.format != ctx.format
            or _games_offered(before.format, len(before.points)) != _games_offered(ctx.format, len(ctx.points))
            else []
        )
        if changed is None or changed:
            offered.extend(_played_point_markets(match, self.catalogue, before, changed, self.markets))
        if point is not None:
            offered.append(point)
        seen: set[str] = set()
        for market in offered:
            if market.id not in self.markets and market.id not in seen:
                seen.add(market.id)
                self.new.append(market)
                self.asked.append(market)

    def settle(self, found: list[Outcome]) -> None:
        """Set the entries from the outcomes asked (`found`, in the order of `asked`): the markets
        looked at again, then those kept with their outcome, then the new ones."""
        markets = self.markets
        for market_id, outcome in zip(self.again, found, strict=False):
            self.refresh(market_id, markets[market_id], outcome)
        for market_id in self.kept:
            self.refresh(market_id, markets[market_id], self.outcomes[market_id])
        for market, outcome in zip(self.new, found[len(self.again) :], strict=True):
            self.add(market, outcome)

    # --- one market

    def refresh(self, market_id: str, market: Market, found: Outcome) -> None:
        """Set a market's entry from its outcome; move it between plain, dependent and decided."""
        old = self.own.get(market_id)
        entry = self._entry(market.type, found, old)
        if entry is None or not entry.decided:
            self._remember(market_id, found)
        if entry is old:
            return
        self._move(market_id, market, old, entry)

    def _writable(self, name: str) -> dict[str, object]:
        """The step's own copy of one of the previous book's mappings (`outcomes`, `markets`, `own`)."""
        if name not in self.copied:
            setattr(self, name, dict(getattr(self, name)))
            self.copied.add(name)
        writable: dict[str, object] = getattr(self, name)
        return writable

    def add(self, market: Market, found: Outcome) -> None:
        """A market newly offered, with its outcome."""
        self._writable("markets")[market.id] = market
        self.groups[market.game] = (*self.groups.get(market.game, ()), market.id)
        entry = self._entry(market.type, found, None)
        if entry is None or not entry.decided:
            self._remember(market.id, found)
        self._place(market.id, market, entry)
        self.touched.append(market.id)

    def _entry(self, market_type: MarketType, found: Outcome, old: MarketEntry | None) -> MarketEntry | None:
        """A market's own entry; None when it follows its type's shared entry (undecided, no reason
        of its own). An old entry equal to the new one is returned as is."""
        kind = found.kind
        if kind is OutcomeKind.UNDECIDED:
            return None
        if kind is OutcomeKind.SETTLED or kind is OutcomeKind.VOID:
            status = MarketStatus.SETTLED if kind is OutcomeKind.SETTLED else MarketStatus.VOID
            if (
                old is not None
                and old.status is status
                and (old.result, old.void_reason)
                == (
                    found.result,
                    found.void_reason,
                )
            ):
                return old  # decided before: it stands
            if not self.waiting:
                return _decided_entry(status, found.result, found.void_reason)
            held = self.waiting | self.scoped[market_type]  # the settlement waits
        elif kind is OutcomeKind.UNKNOWN:  # decided by play the feed did not show us
            held = self.scoped[market_type] | {Reason.OUTCOME_UNKNOWN}
        else:  # certain, or not the next point: not told of every rally (it opens for none)
            held = (self.scoped[market_type] - _EVERY_RALLY) | {_OWN_REASON[kind]}
        entry = _held_entry(held)
        return old if old is not None and old == entry else entry

    def _remember(self, market_id: str, found: Outcome) -> None:
        if self.outcomes.get(market_id) is not found:
            self._writable("outcomes")[market_id] = found

    def _move(self, market_id: str, market: Market, old: MarketEntry | None, entry: MarketEntry | None) -> None:
        if old is None:  # it followed its type's shared entry
            self.plain[market.type] = tuple(other for other in self.plain[market.type] if other != market_id)
        elif old.decided:
            group = self.decided[market.game]
            self.decided[market.game] = tuple(other for other in group if other != market_id)
        else:
            del self.dependent[market_id]
        if entry is not None and entry.decided and market_id in self.outcomes:
            del self._writable("outcomes")[market_id]  # decided: its entry says it all
        self._place(market_id, market, entry)
        self.touched.append(market_id)

    def _place(self, market_id: str, market: Market, entry: MarketEntry | None) -> None:
        own = self._writable("own")
        if entry is None:
            own.pop(market_id, None)
            self.plain[market.type] = (*self.plain.get(market.type, ()), market_id)
        else:
            own[market_id] = entry
            if entry.decided:
                self.decided[market.game] = (*self.decided.get(market.game, ()), market_id)
            else:
                self.dependent[market_id] = None

    def book(self, point: Market | None) -> Book:
        """The new book."""
        cache = BookCache(
            self.reasons,
            self.ctx,
            point,
            self.catalogue,
            self.policy,
            self.outcomes,
        )
        index = BookIndex(self.plain, tuple(self.dependent), self.decided, self.groups)
        return Book(
            markets=self.markets,
            own=self.own,
            shared=self.shared,
            uniform=self.uniform,
            reasons=self.reasons,
            index=index,
            cache=cache,
        )
