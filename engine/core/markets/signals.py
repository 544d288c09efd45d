"""Market signals: what a trading desk acts on, named by stable market ids (`game_winner:3`).

Signals are edge-triggered differences between the market book before and after one input
(`engine.core.markets.book_update`): a market already suspended is not suspended again, a settled market
is not settled again with the same result. Folding the signals alone from an empty book
(`engine.core.markets.book.apply_signals`) gives exactly the engine's book.

Suspension for reasons that hold for the whole match (ball in play, a stoppage, a gap, a stale
feed…) is scoped: one `BetStop`, `BetStopChanged` or `BetStart` names its scope (every undecided
market of the fixture, the markets of some types, or a list of ids), its reasons, and every market
id it applies to (`markets`); `expand(signal)` gives the per-market view. Everything that belongs
to one market is per market: `MarketSettled`, `MarketVoided`, the rollbacks, a market newly offered
(`MarketSuspended` or `MarketResumed`) and reasons of its own (its point's outcome unknown, its
settlement waiting) — `MarketSuspended`, `SuspensionReasonsChanged`, `MarketResumed`.

In the vocabulary of the Sportradar Unified Odds SDK: `BetStop` (and a per-market
`MarketSuspended`) is a bet_stop, `MarketSettled` a bet_settlement, `MarketVoided` a bet_cancel,
`SettlementRolledBack` a rollback_bet_settlement and `VoidRolledBack` a rollback_bet_cancel;
`BetStart` and `MarketResumed` correspond to markets becoming active again in odds_change.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Mapping

import attrs

SignalT = typing.TypeVar("SignalT")


class Reason(enum.Enum):
    """Why a market is suspended. A market is open only when no reason holds for it."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C (Enum's is Python)

    NOT_STARTED = "not_started"  # the match has not begun (or was postponed)
    BALL_IN_PLAY = "ball_in_play"  # between Point Started and its Point Scored
    PENDING_ACTION = "pending_action"  # an action arrived Pending: it may change the score
    VIDEO_CHECK = "video_check"
    TIMEOUT = "timeout"
    PLAY_STOPPED = "play_stopped"  # play stopped, or the start delayed
    INJURY = "injury"
    COLLECTION = "collection"  # the provider's collection is suspended or dropped
    NOT_LIVE_DATA = "not_live_data"  # packets collected offline (delayStatus)
    SEQUENCE_GAP = "sequence_gap"  # messages missing: held behind a gap, or lost and not yet verified
    DISCREPANCY = "discrepancy"  # our score disagreed with the provider's; not yet verified again
    OUTCOME_UNKNOWN = "outcome_unknown"  # the market's point was played but we do not know who won it
    STALE_FEED = "stale_feed"  # nothing arrived for longer than the stale timeout
    DISCONNECTED = "disconnected"
    FINISHED = "finished"  # the provider says the match is over but the score does not decide it
    FORMAT_UNKNOWN = "format_unknown"  # the number of games is not known: markets that depend on it wait
    AWAITING_END_MATCH = "awaiting_end_match"  # the score decided the match: what depends on the format waits
    FORMAT_CONTRADICTED = "format_contradicted"  # the feed disproved the format: match markets wait for End Match
    CONSUMER_LAGGING = "consumer_lagging"  # the consumer of the updates fell behind: they are coalesced
    NOT_FOLLOWED = "not_followed"  # the engine stopped following the fixture before the match was over
    CATCHING_UP = "catching_up"  # the engine folds a backlog (a late start, a reconnection, a restart)
    DECIDED = "decided"  # the score makes the outcome certain if the match is played out; not yet settled
    NOT_NEXT_POINT = "not_next_point"  # a point market whose point is not the next (a correction took it back)
    #: Nothing is known of the players before the first point (no ratings, no pre-match price): the
    #: match-level and game-winner markets are not offered, whatever the score
    #: ([ours]: `NO_PRIOR_MARKET_TYPES`, bench/bettor.py, README "Ratings").
    NO_PRIOR = "no_prior"


class VoidReason(enum.Enum):
    """Why a market was voided: its outcome cannot be decided."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C (Enum's is Python)

    NOT_PLAYED = "not_played"  # its game or point was never played
    NO_WINNER = "no_winner"  # the match ended without a winner the market can use
    RETIRED = "retired"
    WALKOVER = "walkover"
    DISQUALIFIED = "disqualified"
    ABANDONED = "abandoned"
    CANCELLED = "cancelled"
    NOT_LIVE_DATA = "not_live_data"  # a point market whose point was collected offline (FEED.md 6)
    OUTCOME_UNKNOWN = "outcome_unknown"  # the point was played but who won it is not known


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


class Scope(enum.Enum):
    """Which markets a scoped signal names: every undecided market of the fixture, every undecided
    market of the signal's `types`, or a list of markets (`markets` always lists every id)."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C (Enum's is Python)

    ALL = "all"
    TYPES = "types"
    MARKETS = "markets"


class MarketStatus(enum.Enum):
    """Where a market stands."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C (Enum's is Python)

    OPEN = "open"
    SUSPENDED = "suspended"
    SETTLED = "settled"
    VOID = "void"


@attrs.frozen(slots=True)
class MarketSuspended:
    """Stop accepting bets on `market`: it is now suspended, for `reasons`."""

    market: str
    reasons: tuple[Reason, ...]


@attrs.frozen(slots=True)
class SuspensionReasonsChanged:
    """`market` stays suspended, now for `reasons` (informational: no trading action needed)."""

    market: str
    reasons: tuple[Reason, ...]


@attrs.frozen(slots=True)
class MarketResumed:
    """`market` is open: no reason to suspend it holds (sent also when an open market first appears)."""

    market: str


@attrs.frozen(slots=True)
class MarketSettled:
    """`market` is decided: settle bets on it with `result` ("home", "away", "over", "3-1"…)."""

    market: str
    result: str


@attrs.frozen(slots=True)
class MarketVoided:
    """`market` cannot be decided: cancel its bets."""

    market: str
    reason: VoidReason


@attrs.frozen(slots=True)
class SettlementRolledBack:
    """The provider corrected the past: the settlement of `market` with `previous` no longer holds.
    The signal that follows it for the same market says where the market stands now."""

    market: str
    previous: str


@attrs.frozen(slots=True)
class VoidRolledBack:
    """The voiding of `market` (for `previous`) no longer holds; the next signal for it says why."""

    market: str
    previous: VoidReason


@attrs.frozen(slots=True)
class BetStop:
    """Stop accepting bets on every market in `markets` (open until now): suspended for `reasons`.
    `scope` (and `types` for `Scope.TYPES`) says which markets these are, in a desk's terms."""

    scope: Scope
    types: tuple[MarketType, ...]
    reasons: tuple[Reason, ...]
    markets: tuple[str, ...]


@attrs.frozen(slots=True)
class BetStopChanged:
    """The markets in `markets` stay suspended, now for `reasons` (informational: no trading action)."""

    scope: Scope
    types: tuple[MarketType, ...]
    reasons: tuple[Reason, ...]
    markets: tuple[str, ...]


@attrs.frozen(slots=True)
class BetStart:
    """Every market in `markets` is open again: no reason to suspend it holds."""

    scope: Scope
    types: tuple[MarketType, ...]
    markets: tuple[str, ...]


@attrs.frozen(slots=True)
class PricesChanged:
    """The fair prices moved (one signal per input, for every market they moved): market id ->
    outcome -> probability in `prices`, the decimal odds with the margin in `odds`; `withdrawn`
    names the markets that had a price and have none now (decided, or the match over). The
    mappings are read-only (the state shares them)."""

    prices: Mapping[str, Mapping[str, float]]
    odds: Mapping[str, Mapping[str, float]]
    withdrawn: tuple[str, ...] = ()


ScopedSignal = BetStop | BetStopChanged | BetStart
MarketSignal = (
    MarketSuspended
    | SuspensionReasonsChanged
    | MarketResumed
    | MarketSettled
    | MarketVoided
    | SettlementRolledBack
    | VoidRolledBack
)


@typing.overload
def expand(signal: StatusSignal) -> list[MarketSignal]: ...
@typing.overload
def expand(signal: PricesChanged) -> list[PricesChanged]: ...
@typing.overload
def expand(signal: Signal) -> list[MarketSignal | PricesChanged]: ...


def expand(signal: Signal) -> list[typing.Any]:
    """A signal as per-market signals: a scoped one as one per market it names, in order (a price
    signal stays one)."""
    if isinstance(signal, BetStop):
        return [MarketSuspended(market, signal.reasons) for market in signal.markets]
    if isinstance(signal, BetStopChanged):
        return [SuspensionReasonsChanged(market, signal.reasons) for market in signal.markets]
    if isinstance(signal, BetStart):
        return [MarketResumed(market) for market in signal.markets]
    return [signal]


#: The signals about markets' status (open, suspended, settled, void): every signal but the prices.
StatusSignal = ScopedSignal | MarketSignal
Signal = StatusSignal | PricesChanged

#: Every signal class, for isinstance checks.
SIGNAL_TYPES: tuple[type, ...] = typing.get_args(Signal)
#: The signals that open markets again: they come last in an input's signals, after its prices.
OPENING_SIGNALS: tuple[type, ...] = (BetStart, MarketResumed)


def prices_before_openings(signals: list[SignalT], prices: PricesChanged | None) -> list[SignalT | PricesChanged]:
    """`signals` with `prices` (if any) after every other signal and before the reopenings
    (`BetStart`, `MarketResumed`), which go last in their order: a receiver that applies them in
    turn never sees a market open again before its price."""
    openings = [signal for signal in signals if isinstance(signal, OPENING_SIGNALS)]
    ordered: list[SignalT | PricesChanged] = (
        [signal for signal in signals if not isinstance(signal, OPENING_SIGNALS)] if openings else list(signals)
    )
    if prices is not None:
        ordered.append(prices)
    ordered.extend(openings)
    return ordered


STATUS_SIGNAL_TYPES: tuple[type, ...] = typing.get_args(StatusSignal)
