"""Table tennis live market state engine: fold the provider's live actions feed into match state.

Live: `async with connect(fixture_id, token=...) as match: async for update in match: ...`
(see `engine.runtime`). Typical use of the pure core::

    state = MatchState.new(fixture_id, MatchFormat(best_of=5))  # or the format unknown: UNKNOWN_FORMAT
    for frame in frames:
        state, events = reduce(state, decode(frame))
    state, events = reduce(state, EndOfStream())
    state.book  # the market book; the market signals are among the events

Everything a user needs is importable from here. Names load on first use (PEP 562), so importing
the core — `import engine.core.reduce` — loads neither websockets nor hypothesis.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import _build

_build.guard()  # before any module of the engine: a stale compiled module is not used

if TYPE_CHECKING:  # what is exported and from where; at run time `_exports` reads it (`__all__` repeats the names)
    from engine.analysis.report import describe_event, describe_signal, summarize
    from engine.analysis.trace import describe_update
    from engine.core.config import DEFAULT_MARKETS, MarketConfig
    from engine.core.events import (
        ActionPending,
        Discrepancy,
        DuplicateDropped,
        EndsChanged,
        Event,
        FormatContradicted,
        GameWon,
        Gap,
        LateArrival,
        MatchWon,
        NotLiveData,
        PastAmended,
        PointStarted,
        PointWon,
        RatingsLookedUp,
        ServerChanged,
        Status,
        StatusChanged,
        StoppageEnded,
        StoppageStarted,
        UnexpectedServer,
        UnknownAction,
        event_name,
    )
    from engine.core.inputs import (
        CatchingUp,
        CaughtUp,
        CaughtUpWithFeed,
        Connected,
        Disconnected,
        EndOfStream,
        Input,
        Lagging,
        Stale,
        Unfollowed,
    )
    from engine.core.markets.book import EMPTY_BOOK, Book, MarketEntry, apply_signals, signals_between
    from engine.core.markets.catalogue import (
        FORMAT_DEPENDENT_MARKET_TYPES,
        NO_PRIOR_MARKET_TYPES,
        Market,
        MarketCatalogue,
        MarketPolicy,
        MarketType,
        parse_market,
    )
    from engine.core.markets.outcomes import Outcome, outcome
    from engine.core.markets.signals import (
        SIGNAL_TYPES,
        BetStart,
        BetStop,
        BetStopChanged,
        MarketResumed,
        MarketSettled,
        MarketStatus,
        MarketSuspended,
        MarketVoided,
        PricesChanged,
        Reason,
        Scope,
        SettlementRolledBack,
        Signal,
        StatusSignal,
        SuspensionReasonsChanged,
        VoidReason,
        VoidRolledBack,
        expand,
    )
    from engine.core.match.rules import MAX_BEST_OF, UNKNOWN_FORMAT, MatchFormat, Side
    from engine.core.pricing.game import Strengths
    from engine.core.pricing.model import (
        PRIOR,
        Position,
        Pricing,
        Prior,
        estimate,
        home_edge_for,
        match_win_at,
        posterior,
        price,
    )
    from engine.core.pricing.odds import DEFAULT_ODDS, MarginMethod, OddsPolicy, book_sum, remove_margin
    from engine.core.pricing.prices import MarketPrice, PriceBook
    from engine.core.reduce import fold, next_book, reduce
    from engine.core.state import MatchState
    from engine.core.update import Scoreline, Update, coalesce, step
    from engine.feed.catalogue import (
        DEFAULT_CATALOGUE,
        ActionCatalogue,
        ActionKind,
        ResultKind,
        SendType,
        Stoppage,
    )
    from engine.feed.wire import Action, Heartbeat, Malformed, Message, decode, decode_object
    from engine.io.client import ClientSettings, ConnectLimiter
    from engine.io.protocol import AuthRefused, FeedError, RequestRefused, RetriesExhausted, Secret
    from engine.io.server import Faults, ProviderServer
    from engine.ratings import Rating, Ratings, load_ratings, prior_for, save_ratings
    from engine.runtime.callbacks import Callbacks
    from engine.runtime.delivery import ConsumerTooSlow, Overflow
    from engine.runtime.following import Match
    from engine.runtime.sources import connect, replay


def _exports() -> dict[str, str]:
    """Exported name -> its module, read from the TYPE_CHECKING imports above (so the import paths
    are written once; `__all__` lists the same names, and a test checks the two agree)."""
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If))
    return {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module is not None
        for alias in node.names
    }


_EXPORTS = _exports()


def __getattr__(name: str) -> Any:
    """Load an exported name from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "DEFAULT_CATALOGUE",
    "DEFAULT_MARKETS",
    "DEFAULT_ODDS",
    "EMPTY_BOOK",
    "FORMAT_DEPENDENT_MARKET_TYPES",
    "MAX_BEST_OF",
    "NO_PRIOR_MARKET_TYPES",
    "PRIOR",
    "SIGNAL_TYPES",
    "UNKNOWN_FORMAT",
    "Action",
    "ActionCatalogue",
    "ActionKind",
    "ActionPending",
    "AuthRefused",
    "BetStart",
    "BetStop",
    "BetStopChanged",
    "Book",
    "Callbacks",
    "CatchingUp",
    "CaughtUp",
    "CaughtUpWithFeed",
    "ClientSettings",
    "ConnectLimiter",
    "Connected",
    "ConsumerTooSlow",
    "Disconnected",
    "Discrepancy",
    "DuplicateDropped",
    "EndOfStream",
    "EndsChanged",
    "Event",
    "Faults",
    "FeedError",
    "FormatContradicted",
    "GameWon",
    "Gap",
    "Heartbeat",
    "Input",
    "Lagging",
    "LateArrival",
    "Malformed",
    "MarginMethod",
    "Market",
    "MarketCatalogue",
    "MarketConfig",
    "MarketEntry",
    "MarketPolicy",
    "MarketPrice",
    "MarketResumed",
    "MarketSettled",
    "MarketStatus",
    "MarketSuspended",
    "MarketType",
    "MarketVoided",
    "Match",
    "MatchFormat",
    "MatchState",
    "MatchWon",
    "Message",
    "NotLiveData",
    "OddsPolicy",
    "Outcome",
    "Overflow",
    "PastAmended",
    "PointStarted",
    "PointWon",
    "Position",
    "PriceBook",
    "PricesChanged",
    "Pricing",
    "Prior",
    "ProviderServer",
    "Rating",
    "Ratings",
    "RatingsLookedUp",
    "Reason",
    "RequestRefused",
    "ResultKind",
    "RetriesExhausted",
    "Scope",
    "Scoreline",
    "Secret",
    "SendType",
    "ServerChanged",
    "SettlementRolledBack",
    "Side",
    "Signal",
    "Stale",
    "Status",
    "StatusChanged",
    "StatusSignal",
    "Stoppage",
    "StoppageEnded",
    "StoppageStarted",
    "Strengths",
    "SuspensionReasonsChanged",
    "UnexpectedServer",
    "Unfollowed",
    "UnknownAction",
    "Update",
    "VoidReason",
    "VoidRolledBack",
    "apply_signals",
    "book_sum",
    "coalesce",
    "connect",
    "decode",
    "decode_object",
    "describe_event",
    "describe_signal",
    "describe_update",
    "estimate",
    "event_name",
    "expand",
    "fold",
    "home_edge_for",
    "load_ratings",
    "match_win_at",
    "next_book",
    "outcome",
    "parse_market",
    "posterior",
    "price",
    "prior_for",
    "reduce",
    "remove_margin",
    "replay",
    "save_ratings",
    "signals_between",
    "step",
    "summarize",
]
