"""What the match state says of each market, suspension aside: the reasons that hold for the
match as a whole (`match_reasons`) and each market's outcome (`outcome`).

A market is:
- SETTLED when what has actually been played decides it (a game won, a race reached, a line
  exceeded; never a projection, so a retirement cannot undo a settlement);
- VOID when the match is over and it is undecided (FEED.md section 6), when its point was never
  played, or when its point was collected offline;
- else undecided, or UNKNOWN when it was decided by play the feed did not show us (its point's
  winner missed); `engine.core.markets.book_update` turns outcomes and reasons into the book.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable, Mapping

import attrs

from engine.core.markets.catalogue import Market, MarketPolicy, MarketType
from engine.core.markets.signals import Reason, VoidReason
from engine.core.match import rules
from engine.core.match.events import FINAL_STATUSES, Status
from engine.core.match.rules import MatchFormat, Side
from engine.core.match.state import MatchFacts, PlayState, Rallies, Score
from engine.core.match.vocabulary import COLLECTION_NOT_LIVE, FIXTURE_STATUS_SUSPENDED, ResultKind

_VOID_BY_RESULT = {
    ResultKind.NORMAL: VoidReason.NOT_PLAYED,
    ResultKind.RETIRED: VoidReason.RETIRED,
    ResultKind.WALKOVER: VoidReason.WALKOVER,
    ResultKind.DISQUALIFIED: VoidReason.DISQUALIFIED,
    ResultKind.ABANDONED: VoidReason.ABANDONED,
}


#: [ours] When each match-level reason holds — the one table of them (FEED.md sections 1, 2 and 6),
#: read as "reason: the match's condition" (the match, its status and the policy). Which markets a reason
#: suspends is the policy's (`MarketPolicy.suspends`), and which stoppage raises which reason too
#: (`MarketPolicy.stoppage_reasons`).
REASON_HOLDS: Mapping[Reason, Callable[[MatchFacts, Status, MarketPolicy], bool]] = {
    Reason.NOT_STARTED: lambda match, status, policy: status is Status.NOT_STARTED or status is Status.POSTPONED,
    Reason.BALL_IN_PLAY: lambda match, status, policy: match.play.rally is not None,
    Reason.PENDING_ACTION: lambda match, status, policy: bool(match.timeline.pending),
    Reason.COLLECTION: lambda match, status, policy: (
        match.collection_status in COLLECTION_NOT_LIVE or match.fixture_status == FIXTURE_STATUS_SUSPENDED
    ),
    Reason.NOT_LIVE_DATA: lambda match, status, policy: match.delayed,
    Reason.SEQUENCE_GAP: lambda match, status, policy: match.sequencer.waiting or match.gap_unverified,
    Reason.DISCREPANCY: lambda match, status, policy: match.discrepancy,
    Reason.STALE_FEED: lambda match, status, policy: match.stale,
    Reason.DISCONNECTED: lambda match, status, policy: match.disconnected,
    Reason.FINISHED: lambda match, status, policy: match.provider_says_finished and status not in FINAL_STATUSES,
    Reason.FORMAT_UNKNOWN: lambda match, status, policy: match.play.format.best_of is None and match.result is None,
    Reason.AWAITING_END_MATCH: lambda match, status, policy: awaits_end_match(match, policy),
    Reason.FORMAT_CONTRADICTED: lambda match, status, policy: (
        match.play.format_contradicted and not match.play.end_match
    ),
    Reason.CONSUMER_LAGGING: lambda match, status, policy: match.lagging,
    Reason.NOT_FOLLOWED: lambda match, status, policy: match.unfollowed,
    Reason.CATCHING_UP: lambda match, status, policy: match.catching_up,
    Reason.NO_PRIOR: lambda match, status, policy: match.no_prior,
}


def awaits_end_match(match: MatchFacts, policy: MarketPolicy) -> bool:
    """True when the score alone decided the match and the policy waits for the provider's End
    Match (or its fixture status "completed") before settling what depends on the format."""
    play = match.play
    return (
        play.result is ResultKind.NORMAL
        and not play.end_match
        and not match.provider_says_finished
        and not policy.settle_at_deciding_point
    )


def match_reasons(match: MatchFacts, policy: MarketPolicy) -> frozenset[Reason]:
    """Every reason to suspend that holds for the match as a whole, whatever the market (the rows
    of `REASON_HOLDS` that hold, and the reasons of the open stoppages)."""
    status = match.status
    reasons = {reason for reason, holds in REASON_HOLDS.items() if holds(match, status, policy)}
    stoppage_reasons = policy.stoppage_reasons
    reasons.update(stoppage_reasons[stoppage] for stoppage in match.play.stoppages if stoppage in stoppage_reasons)
    return frozenset(reasons)


# --- outcomes ------------------------------------------------------------------------------------


class OutcomeKind(enum.Enum):
    UNDECIDED = "undecided"
    SETTLED = "settled"
    VOID = "void"
    UNKNOWN = "unknown"  # decided by play, but the feed did not tell us how
    #: Not decided by play, but every way of playing the match out gives `result` (an over line the
    #: fewest games or points left will pass): suspended (`decided`) until play settles it.
    CERTAIN = "certain"
    #: A point market whose point is not the next to be played (a correction took the score back):
    #: suspended (`not_next_point`) until it is the next again, settled or void.
    NOT_NEXT = "not_next"


@attrs.frozen(slots=True)
class Outcome:
    """What the score says of one market: undecided, settled with a result, void, or unknown."""

    kind: OutcomeKind
    result: str | None = None
    void_reason: VoidReason | None = None


UNDECIDED = Outcome(OutcomeKind.UNDECIDED)
UNKNOWN = Outcome(OutcomeKind.UNKNOWN)
NOT_NEXT = Outcome(OutcomeKind.NOT_NEXT)


def _settled(result: str) -> Outcome:
    return Outcome(OutcomeKind.SETTLED, result)


def _void(reason: VoidReason) -> Outcome:
    return Outcome(OutcomeKind.VOID, void_reason=reason)


def _certain(result: str) -> Outcome:
    return Outcome(OutcomeKind.CERTAIN, result)


def _side_result(side: Side) -> Outcome:
    return _settled(side.value)


@attrs.frozen(slots=True)
class Context:
    """Everything a market's outcome depends on, and nothing else (a rally starting, a stoppage or
    the feed's statuses leave it equal): the score of the play state, and how the match ended.
    The last three fields are what the rules say of that score, read once here so that no
    market's outcome asks them again."""

    format: MatchFormat
    points: tuple[Score, ...]
    rallies: tuple[Rallies, ...]
    offline: frozenset[tuple[int, int]]
    games: Score
    winner: Side | None
    ended: VoidReason | None  # None while the match goes on; else the reason undecided markets are void
    winner_stands_on_retirement: bool
    # What the rules say of the score above (functions of it: left out of equality).
    won: tuple[Side | None, ...] = attrs.field(eq=False)  # each begun game's winner (None while it goes on)
    points_left: tuple[int, ...] = attrs.field(eq=False)  # the fewest points each game may still take (0: won)
    games_span: tuple[int, int] | None = attrs.field(eq=False)  # fewest and most games (None: unknown, or won)


def situation(
    match: MatchFacts, policy: MarketPolicy, previous: Context | None = None
) -> tuple[frozenset[Reason], Context]:
    """The match-level reasons that hold (`match_reasons`) and the context the outcomes are read
    from (`context`, given the `previous` one): what the book asks first, in one call."""
    return match_reasons(match, policy), context(match, policy, previous)


def context(match: MatchFacts, policy: MarketPolicy, previous: Context | None = None) -> Context:
    """What the markets' outcomes are read from: the score, how the match ended, the policy's rule.
    What the rules say of the score is taken from `previous` (the last step's context) when the
    score is the same object: most inputs score no point."""
    result = match.result
    ended: VoidReason | None = None
    if result is not None and awaits_end_match(match, policy):
        ended = None  # decided by the score, not yet ended by the provider: what is open waits
    elif result is not None:
        ended = _VOID_BY_RESULT[result]
    elif match.status is Status.CANCELLED:
        ended = VoidReason.CANCELLED
    play = match.play
    if previous is not None and previous.format is not play.format:
        previous = None  # another format: nothing to reuse
    if previous is not None and previous.points is play.points:
        won, points_left = previous.won, previous.points_left
    else:
        won, points_left = _games_decided(play.points, play.format)
    if previous is not None and previous.games is play.games and previous.winner is play.winner:
        span = previous.games_span
    else:
        span = _games_span(play)
    return Context(
        play.format,
        play.points,
        play.rallies,
        play.offline,
        play.games,
        play.winner,
        ended,
        policy.match_winner_stands_on_retirement,
        won,
        points_left,
        span,
    )


def _games_span(play: PlayState) -> tuple[int, int] | None:
    return rules.games_range(*play.games, play.format) if play.winner is None else None


@functools.lru_cache(maxsize=4096)
def _games_decided(points: tuple[Score, ...], fmt: MatchFormat) -> tuple[tuple[Side | None, ...], tuple[int, ...]]:
    """Each game's winner and the fewest points it may still take (memoised: the score of every
    fixture comes back at each of its inputs that did not score a point)."""
    won = tuple(rules.game_winner(home, away, fmt) for home, away in points)
    return won, tuple(rules.fewest_points_left(home, away, fmt) for home, away in points)


def outcome(market: Market, match: MatchFacts, policy: MarketPolicy) -> Outcome:
    """What the match says of `market` under `policy`, ignoring suspension."""
    return outcome_in(market, context(match, policy))


def outcomes_in(markets: Iterable[Market], ctx: Context) -> list[Outcome]:
    """What `ctx` says of each of `markets`, in order, ignoring suspension."""
    return [outcome_in(market, ctx) for market in markets]


def outcome_in(market: Market, ctx: Context) -> Outcome:
    """What `ctx` says of `market`, ignoring suspension."""
    kind = market.type
    if kind is MarketType.MATCH_WINNER:
        return _match_winner(ctx)
    if kind is MarketType.CORRECT_SCORE:
        return _correct_score(ctx)
    if kind is MarketType.TOTAL_GAMES:
        return _total_games(market.line, ctx)
    if market.game > len(ctx.points):  # a game not begun
        if ctx.ended is None and kind is MarketType.POINT_WINNER and not _is_next_point(market, ctx):
            return NOT_NEXT
        return UNDECIDED if ctx.ended is None else _void(ctx.ended)
    index = market.game - 1
    home, away = ctx.points[index]
    rallies = ctx.rallies[index]
    decided = ctx.won[index]
    if kind is MarketType.GAME_WINNER:
        found = None if decided is None else _side_result(decided)
    elif kind is MarketType.GAME_TOTAL_POINTS:
        found = _game_total(market.line, home + away, ctx.points_left[index], decided is not None)
    elif kind is MarketType.RACE_TO:
        found = _race(market.number, home, away, rallies, decided is not None)
    else:
        found = _point(market, rallies, ctx.offline, decided is not None)
        if found is None and not _is_next_point(market, ctx):
            found = NOT_NEXT
    if found is not None and ctx.ended is not None and found.kind in _NOT_YET:
        found = None  # the match is over: what play did not decide is void
    if found is None:
        return UNDECIDED if ctx.ended is None else _void(ctx.ended)
    if found.kind is OutcomeKind.UNKNOWN and ctx.ended is not None:
        return _void(VoidReason.OUTCOME_UNKNOWN)
    return found


def _match_winner(ctx: Context) -> Outcome:
    if ctx.ended is None:
        return UNDECIDED
    winner = ctx.winner
    if winner is None:
        return _void(VoidReason.NO_WINNER if ctx.ended is VoidReason.NOT_PLAYED else ctx.ended)
    if ctx.ended is VoidReason.NOT_PLAYED or ctx.winner_stands_on_retirement:
        return _side_result(winner)
    return _void(ctx.ended)


def _correct_score(ctx: Context) -> Outcome:
    if ctx.ended is None:
        return UNDECIDED
    if ctx.ended is VoidReason.NOT_PLAYED and ctx.winner is not None:
        home, away = ctx.games
        return _settled(f"{home}-{away}")
    return _void(VoidReason.NO_WINNER if ctx.ended is VoidReason.NOT_PLAYED else ctx.ended)


def _is_next_point(market: Market, ctx: Context) -> bool:
    """True when `market`'s point is the next to be played: the next of the last game begun, or
    the first of the next game once the last one is won."""
    if not ctx.points:
        return (market.game, market.number) == (1, 1)
    game = len(ctx.points)
    home, away = ctx.points[-1]
    if ctx.won[-1] is not None:
        return (market.game, market.number) == (game + 1, 1)
    return (market.game, market.number) == (game, home + away + 1)


#: Outcomes that only stand while the match goes on.
_NOT_YET = frozenset({OutcomeKind.CERTAIN, OutcomeKind.NOT_NEXT})


def _total_games(line: float, ctx: Context) -> Outcome:
    played = sum(ctx.games)
    if ctx.ended is None and ctx.format.best_of is None:
        return UNDECIDED  # the format unknown: settled only when the provider ends the match
    if played > line:
        return _settled("over")
    if ctx.ended is None:
        span = ctx.games_span
        if span is not None and span[0] > line:
            return _certain("over")
        if span is not None and span[1] < line:
            return _certain("under")
        return UNDECIDED
    if ctx.ended is VoidReason.NOT_PLAYED and ctx.winner is not None:
        return _settled("under")
    return _void(VoidReason.NO_WINNER if ctx.ended is VoidReason.NOT_PLAYED else ctx.ended)


def _game_total(line: float, total: int, fewest_left: int, decided: bool) -> Outcome | None:
    if total > line:
        return _settled("over")
    if decided:
        return _settled("under")
    return _certain("over") if total + fewest_left > line else None


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
