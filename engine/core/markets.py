"""The market book as a function of the match state: which markets exist, their status and outcome.

`next_book(state)` gives the book for a state, starting from the book it held before (a market
once offered stays until settled or void, so a correction can never make one vanish). The reducer
calls it after every input and emits `book.diff(before, after)` as signals.

A market is:
- SETTLED when what has actually been played decides it (a game won, a race reached, a line
  exceeded; never a projection, so a retirement cannot undo a settlement);
- VOID when the match is over and it is undecided (FEED.md section 6), when its point was never
  played, or when its point was collected offline;
- else SUSPENDED while any reason the policy scopes to it holds, OPEN when none does.
A new settlement or voiding waits while a reason in `policy.settlement_waits_for` holds (a pending
action, a gap, a discrepancy, collection trouble); a market already settled keeps its result until
the score itself changes it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from engine.core import rules
from engine.core.book import OPEN_ENTRY, Book, Market, MarketEntry, MarketType, point_market_id, sorted_reasons
from engine.core.events import Status
from engine.core.rules import Side
from engine.core.signals import MarketStatus, Reason, VoidReason
from engine.core.state import MatchState, PlayState, Rallies
from engine.feed.catalogue import COLLECTION_NOT_LIVE, FIXTURE_STATUS_SUSPENDED, ResultKind

_VOID_BY_RESULT = {
    ResultKind.NORMAL: VoidReason.NOT_PLAYED,
    ResultKind.RETIRED: VoidReason.RETIRED,
    ResultKind.WALKOVER: VoidReason.WALKOVER,
    ResultKind.DISQUALIFIED: VoidReason.DISQUALIFIED,
    ResultKind.ABANDONED: VoidReason.ABANDONED,
}

_ENDED = frozenset({Status.FINISHED, Status.ABANDONED, Status.CANCELLED})
_TERMINAL = frozenset({MarketStatus.SETTLED, MarketStatus.VOID})


def match_reasons(state: MatchState) -> frozenset[Reason]:
    """Every reason to suspend that holds for the match as a whole, whatever the market."""
    reasons: set[Reason] = set()
    status = state.status
    if status in (Status.NOT_STARTED, Status.POSTPONED):
        reasons.add(Reason.NOT_STARTED)
    if state.rally_in_progress:
        reasons.add(Reason.BALL_IN_PLAY)
    if state.pending:
        reasons.add(Reason.PENDING_ACTION)
    stoppage_reasons = state.markets.policy.stoppage_reasons
    reasons.update(stoppage_reasons[stoppage] for stoppage in state.stoppages if stoppage in stoppage_reasons)
    if state.collection_status in COLLECTION_NOT_LIVE or state.fixture_status == FIXTURE_STATUS_SUSPENDED:
        reasons.add(Reason.COLLECTION)
    if state.delayed:
        reasons.add(Reason.NOT_LIVE_DATA)
    if state.sequencer.waiting or state.gap_unverified:
        reasons.add(Reason.SEQUENCE_GAP)
    if state.discrepancy:
        reasons.add(Reason.DISCREPANCY)
    if state.stale:
        reasons.add(Reason.STALE_FEED)
    if state.disconnected:
        reasons.add(Reason.DISCONNECTED)
    if state.provider_says_finished and status not in _ENDED:
        reasons.add(Reason.FINISHED)
    if state.play.format.best_of is None and state.result is None:
        reasons.add(Reason.FORMAT_UNKNOWN)
    return frozenset(reasons)


# --- outcomes ------------------------------------------------------------------------------------


class _Kind(enum.Enum):
    UNDECIDED = "undecided"
    SETTLED = "settled"
    VOID = "void"
    UNKNOWN = "unknown"  # decided by play, but the feed did not tell us how


@attrs.frozen(slots=True)
class Outcome:
    """What the score says of one market: undecided, settled with a result, void, or unknown."""

    kind: _Kind
    result: str | None = None
    void_reason: VoidReason | None = None


UNDECIDED = Outcome(_Kind.UNDECIDED)
UNKNOWN = Outcome(_Kind.UNKNOWN)


def _settled(result: str) -> Outcome:
    return Outcome(_Kind.SETTLED, result)


def _void(reason: VoidReason) -> Outcome:
    return Outcome(_Kind.VOID, void_reason=reason)


def _side_result(side: Side) -> Outcome:
    return _settled(side.value)


@attrs.frozen(slots=True)
class _Context:
    """What the outcome of every market depends on besides its own game."""

    play: PlayState
    ended: VoidReason | None  # None while the match goes on; else the reason undecided markets are void
    winner_stands_on_retirement: bool


def _context(state: MatchState) -> _Context:
    result = state.result
    if result is not None:
        ended: VoidReason | None = _VOID_BY_RESULT[result]
    elif state.status is Status.CANCELLED:
        ended = VoidReason.CANCELLED
    else:
        ended = None
    return _Context(state.play, ended, state.markets.policy.match_winner_stands_on_retirement)


def outcome(market: Market, state: MatchState) -> Outcome:
    """What the state says of `market`, ignoring suspension."""
    return _outcome(market, _context(state))


def _outcome(market: Market, ctx: _Context) -> Outcome:
    kind = market.type
    if kind is MarketType.MATCH_WINNER:
        return _match_winner(ctx)
    if kind is MarketType.CORRECT_SCORE:
        return _correct_score(ctx)
    if kind is MarketType.TOTAL_GAMES:
        return _total_games(market.line, ctx)
    if market.game > len(ctx.play.points):  # a game not begun
        return UNDECIDED if ctx.ended is None else _void(ctx.ended)
    home, away = ctx.play.points[market.game - 1]
    rallies = ctx.play.rallies[market.game - 1]
    decided = rules.game_winner(home, away, ctx.play.format)
    if kind is MarketType.GAME_WINNER:
        found = None if decided is None else _side_result(decided)
    elif kind is MarketType.GAME_TOTAL_POINTS:
        found = _game_total(market.line, home + away, decided is not None)
    elif kind is MarketType.RACE_TO:
        found = _race(market.number, home, away, rallies, decided is not None)
    else:
        found = _point(market, rallies, ctx.play.offline, decided is not None)
    if found is None:
        return UNDECIDED if ctx.ended is None else _void(ctx.ended)
    if found.kind is _Kind.UNKNOWN and ctx.ended is not None:
        return _void(VoidReason.OUTCOME_UNKNOWN)
    return found


def _match_winner(ctx: _Context) -> Outcome:
    if ctx.ended is None:
        return UNDECIDED
    winner = ctx.play.winner
    if winner is None:
        return _void(VoidReason.NO_WINNER if ctx.ended is VoidReason.NOT_PLAYED else ctx.ended)
    if ctx.ended is VoidReason.NOT_PLAYED or ctx.winner_stands_on_retirement:
        return _side_result(winner)
    return _void(ctx.ended)


def _correct_score(ctx: _Context) -> Outcome:
    if ctx.ended is None:
        return UNDECIDED
    if ctx.ended is VoidReason.NOT_PLAYED and ctx.play.winner is not None:
        home, away = ctx.play.games
        return _settled(f"{home}-{away}")
    return _void(VoidReason.NO_WINNER if ctx.ended is VoidReason.NOT_PLAYED else ctx.ended)


def _total_games(line: float, ctx: _Context) -> Outcome:
    played = sum(ctx.play.games)
    if ctx.ended is None and ctx.play.format.best_of is None:
        return UNDECIDED  # the format unknown: settled only when the provider ends the match
    if played > line:
        return _settled("over")
    if ctx.ended is None:
        return UNDECIDED
    if ctx.ended is VoidReason.NOT_PLAYED and ctx.play.winner is not None:
        return _settled("under")
    return _void(VoidReason.NO_WINNER if ctx.ended is VoidReason.NOT_PLAYED else ctx.ended)


def _game_total(line: float, total: int, decided: bool) -> Outcome | None:
    if total > line:
        return _settled("over")
    return _settled("under") if decided else None


def _race(target: int, home: int, away: int, rallies: Rallies, decided: bool) -> Outcome | None:
    """First to `target` points: from the point order, else from the score when that tells."""
    counts = {Side.HOME: 0, Side.AWAY: 0}
    for side in rallies:
        if side is None:
            break
        counts[side] += 1
        if counts[side] == target:
            return _side_result(side)
    else:
        return _settled("neither") if decided else None
    # The order is broken by points whose winner we do not know: the score may still tell.
    if home >= target > away:
        return _side_result(Side.HOME)
    if away >= target > home:
        return _side_result(Side.AWAY)
    if home >= target and away >= target:
        return UNKNOWN
    return _settled("neither") if decided else None


def _point(market: Market, rallies: Rallies, offline: frozenset[tuple[int, int]], decided: bool) -> Outcome | None:
    number = market.number
    if number <= len(rallies):
        if (market.game, number) in offline:
            return _void(VoidReason.NOT_LIVE_DATA)
        side = rallies[number - 1]
        return UNKNOWN if side is None else _side_result(side)
    return _void(VoidReason.NOT_PLAYED) if decided else None


# --- the book ------------------------------------------------------------------------------------


def offered_markets(state: MatchState) -> list[Market]:
    """The markets the catalogue offers in this state (the book also keeps earlier ones)."""
    markets = _standing_markets(state)
    point = _next_point_market(state)
    return markets if point is None else [*markets, point]


def _standing_markets(state: MatchState) -> list[Market]:
    """The match markets and the markets on every game of the format (the format unknown: on every
    game begun)."""
    catalogue = state.markets.catalogue
    play = state.play
    markets = catalogue.match_markets(play.format)
    for game in range(1, _games_offered(play) + 1):
        markets.extend(catalogue.game_markets(game))
    return markets


def _games_offered(play: PlayState) -> int:
    """How many games carry game markets: the format's, or when it is unknown the games begun (a
    game that may never be played is not offered)."""
    return len(play.points) if play.format.best_of is None else play.format.best_of


def _next_point_market(state: MatchState) -> Market | None:
    """The market on the next point to be played, while the match goes on."""
    play = state.play
    if play.result is not None or state.status in _ENDED:
        return None
    game, home, away = play.next_rally_position()
    return state.markets.catalogue.point_market(game, home + away + 1)


def _unchanged_group(group: int, before: _Context, after: _Context) -> bool:
    """True when nothing the outcomes of a group's markets depend on (game `group`, or the
    match for 0) differs between the two contexts."""
    old, new = before.play, after.play
    if (before.ended, old.format, old.offline) != (after.ended, new.format, new.offline):
        return False
    if group == 0:
        return (old.games, old.winner) == (new.games, new.winner)
    index = group - 1
    return (old.points[index : index + 1], old.rallies[index : index + 1]) == (
        new.points[index : index + 1],
        new.rallies[index : index + 1],
    )


def _only_appended(group: int, before: _Context, after: _Context) -> bool:
    """True when game `group` only gained points at its end (the common step: a point scored):
    then every market of that game decided before stays decided the same way (a game won, a race
    reached or an over line exceeded cannot be undone by later points; earlier points keep their
    winners)."""
    if group == 0 or before.ended != after.ended:
        return False
    old, new = before.play, after.play
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


def next_book(state: MatchState) -> Book:
    """The book for `state`, built on `state.book` (the same object when nothing it depends on changed)."""
    return advance_book(state)[0]


def advance_book(state: MatchState) -> tuple[Book, list[str]]:
    """The book for `state`, built on `state.book`, and the ids of the markets whose entries changed.

    Only what can have changed is looked at: undecided markets (their outcome recomputed only if
    their game's score changed), decided ones whose game's score changed, and markets newly offered."""
    previous = state.book
    reasons = match_reasons(state)
    ctx = _context(state)
    key = (reasons, ctx, _next_point_market(state), state.markets)
    old_key = previous.key
    if old_key == key:
        return previous, []
    before: _Context | None = None
    if isinstance(old_key, tuple) and old_key[3] == state.markets:
        before = old_key[1]
    step = _Step(state, reasons, ctx, before, previous)
    step.refresh_live(previous.live)
    for group, ids in previous.decided.items():
        if before is None or not (_unchanged_group(group, before, ctx) or _only_appended(group, before, ctx)):
            for market_id in ids:
                step.refresh(market_id, previous.market(market_id))
    offered = (
        _standing_markets(state)
        if before is None
        or before.play.format != ctx.play.format
        or _games_offered(before.play) != _games_offered(ctx.play)
        else []
    )
    offered.extend(_played_point_markets(state, before, step.entries))
    point = key[2]
    if point is not None:
        offered.append(point)
    for market in offered:
        if market.id not in step.entries:
            step.add(market)
    return step.book(key), step.changed


def _played_point_markets(state: MatchState, before: _Context | None, book: Mapping[str, object]) -> list[Market]:
    """Markets on points whose winner is known and that the book lacks: so the book does not depend
    on how messages were batched (several points released together after a gap still get theirs)."""
    catalogue = state.markets.catalogue
    if not catalogue.point_winner:
        return []
    play = state.play
    markets = []
    for index, rallies in enumerate(play.rallies):
        game = index + 1
        if before is not None and before.play.rallies[index : index + 1] == (rallies,):
            continue
        for number, side in enumerate(rallies, start=1):
            if side is not None and point_market_id(game, number) not in book:
                markets.append(Market(MarketType.POINT_WINNER, game, number=number))
    return markets


class _Step:
    """The work of one `advance_book`: new entries, and what changed."""

    def __init__(
        self,
        state: MatchState,
        reasons: frozenset[Reason],
        ctx: _Context,
        before: _Context | None,
        previous: Book,
    ) -> None:
        policy = state.markets.policy
        self.ctx = ctx
        self.before = before
        self.previous = previous
        self.waiting = reasons & policy.settlement_waits_for
        self.scoped = {market_type: policy.reasons_for(market_type, reasons) for market_type in MarketType}
        self.entries = previous.entries()
        self.markets: dict[str, Market] | None = None  # copied on the first new market
        self.outcomes: dict[str, Outcome] = {}
        self.changed: list[str] = []
        self.reopened = False  # a decided market became undecided: the index is rebuilt
        self.newly_decided: list[str] = []
        self.added_live: list[str] = []
        self.group_unchanged: dict[int, bool] = {}
        self.shared: Mapping[frozenset[Reason], MarketEntry] = previous.interned  # copied on the first addition
        self.undecided: dict[MarketType, MarketEntry] = {}

    def _outcome(self, market_id: str, market: Market) -> Outcome:
        cached = self.previous.outcomes.get(market_id)
        if isinstance(cached, Outcome) and self.before is not None:
            unchanged = self.group_unchanged.get(market.game)
            if unchanged is None:
                unchanged = self.group_unchanged[market.game] = _unchanged_group(market.game, self.before, self.ctx)
            if unchanged:
                return cached
        return _outcome(market, self.ctx)

    def refresh_live(self, market_ids: tuple[str, ...]) -> None:
        """`refresh` of every undecided market, the common case inline: an outcome still undecided
        because its game's score did not change, so only the reasons that suspend it matter."""
        previous, before, entries, outcomes = self.previous, self.before, self.entries, self.outcomes
        cached_outcomes, markets = previous.outcomes, previous.markets()
        undecided = self.undecided
        for market_id in market_ids:
            market = markets[market_id]
            if before is None or cached_outcomes.get(market_id) is not UNDECIDED:
                self.refresh(market_id, market)
                continue
            unchanged = self.group_unchanged.get(market.game)
            if unchanged is None:
                unchanged = self.group_unchanged[market.game] = _unchanged_group(market.game, before, self.ctx)
            if not unchanged:
                self.refresh(market_id, market)
                continue
            entry = undecided.get(market.type)
            if entry is None:
                entry = undecided[market.type] = self._entry(UNDECIDED, self.scoped[market.type], None)
            outcomes[market_id] = UNDECIDED
            old = entries[market_id]
            if entry is not old:  # interned entries: a different object is a change (diff re-checks)
                entries[market_id] = entry
                self.changed.append(market_id)

    def refresh(self, market_id: str, market: Market) -> None:
        old = self.entries[market_id]
        found = self._outcome(market_id, market)
        if found is UNDECIDED:  # the common case: one entry per market type
            entry = self.undecided.get(market.type)
            if entry is None:
                entry = self.undecided[market.type] = self._entry(found, self.scoped[market.type], None)
            if entry is not old and entry == old:
                entry = old
        else:
            entry = self._entry(found, self.scoped[market.type], old)
        if entry.status is not MarketStatus.SETTLED and entry.status is not MarketStatus.VOID:
            self.outcomes[market_id] = found
        if entry is not old:
            self.entries[market_id] = entry
            self.changed.append(market_id)
            was_decided, is_decided = old.status in _TERMINAL, entry.status in _TERMINAL
            if was_decided and not is_decided:
                self.reopened = True
            elif is_decided and not was_decided:
                self.newly_decided.append(market_id)

    def add(self, market: Market) -> None:
        if self.markets is None:
            self.markets = dict(self.previous.markets())
        self.markets[market.id] = market
        found = _outcome(market, self.ctx)
        entry = self._entry(found, self.scoped[market.type], None)
        if entry.status in _TERMINAL:
            self.newly_decided.append(market.id)
        else:
            self.outcomes[market.id] = found
            self.added_live.append(market.id)
        self.entries[market.id] = entry
        self.changed.append(market.id)

    def _entry(self, found: Outcome, reasons: frozenset[Reason], previous: MarketEntry | None) -> MarketEntry:
        """A market's entry: `reasons` are those that suspend it."""
        if found.kind is _Kind.SETTLED or found.kind is _Kind.VOID:
            status = MarketStatus.SETTLED if found.kind is _Kind.SETTLED else MarketStatus.VOID
            if (
                previous is not None
                and previous.status is status
                and (previous.result, previous.void_reason) == (found.result, found.void_reason)
            ):
                return previous  # decided before: it stands
            if not self.waiting:
                return MarketEntry(status, found.result, found.void_reason)
            held = self.waiting | reasons
        elif found.kind is _Kind.UNKNOWN:
            held = reasons | {Reason.OUTCOME_UNKNOWN}
        elif not reasons:
            return OPEN_ENTRY
        else:
            held = reasons
        entry = self.shared.get(held)
        if entry is None:
            entry = MarketEntry(MarketStatus.SUSPENDED, reasons=sorted_reasons(held))
            self.shared = {**self.shared, held: entry}
        return previous if previous is not None and (previous is entry or previous == entry) else entry

    def book(self, key: object) -> Book:
        """The new book, its index updated by what moved."""
        previous = self.previous
        markets = previous.markets() if self.markets is None else self.markets
        if self.reopened:
            return Book(self.entries, markets=markets, key=key, outcomes=self.outcomes, interned=self.shared)
        live = previous.live
        decided = previous.decided
        if self.newly_decided:
            gone = set(self.newly_decided)
            live = tuple(market_id for market_id in live if market_id not in gone)
            grouped = dict(decided)
            for market_id in self.newly_decided:
                group = markets[market_id].game
                grouped[group] = (*grouped.get(group, ()), market_id)
            decided = grouped
        if self.added_live:
            live = (*live, *self.added_live)
        return Book(
            self.entries, markets=markets, key=key, index=(live, decided), outcomes=self.outcomes, interned=self.shared
        )
