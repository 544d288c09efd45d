"""The JSON summary of a state: the contract of `replay --summary` and `--trace`.

Keys are never renamed; later features only add keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

import attrs

from engine.core.events import Event, event_name
from engine.core.markets.book import Book
from engine.core.markets.signals import SIGNAL_TYPES, MarketStatus, Signal
from engine.core.match.rules import Side
from engine.core.pricing.prices import NO_PRICES, PriceBook
from engine.core.state import MatchState


def _side(side: Side | None) -> str | None:
    return None if side is None else side.value


def summarize(state: MatchState, markets: bool = True) -> dict[str, Any]:
    """The state as one JSON-ready object; `markets=False` leaves the market book out."""
    result = state.result
    summary: dict[str, Any] = {
        "fixtureId": state.fixture_id,
        "status": state.status.value,
        "games": list(state.games),
        "points": [list(score) for score in state.points],
        "server": _side(state.server),
        "winner": _side(state.winner),
        "result": None if result is None else result.value,
        "lastSeq": state.match.last_seq,
        "discrepancies": state.match.discrepancies,
        "malformed": state.match.malformed,
        "bestOf": state.format.best_of,
        "doubles": state.format.doubles,
        "currentGame": state.current_game,
        "endsSwapped": state.ends_swapped,
        "expedite": state.match.expedite,
        "rallyInProgress": state.match.rally_in_progress,
        "stoppages": sorted(stoppage.value for stoppage in state.stoppages),
        "pending": len(state.pending),
        "discrepancy": state.match.discrepancy,
        "delayed": state.match.delayed,
        "gaps": state.match.gaps,
        "duplicates": state.match.duplicates,
        "unknownActions": state.match.unknown_actions,
        "players": list(state.match.players),
        "prior": None if state.markets.pricing is None else state.markets.pricing.source,
    }
    if markets:
        summary["markets"] = summarize_book(state.book, state.prices)
    return summary


def summarize_book(book: Book, prices: PriceBook = NO_PRICES) -> dict[str, dict[str, Any]]:
    """Market id -> {"status", "result", "reasons"}: a void market's reason is its only reason; an
    undecided market the model prices also has "prices": {outcome: fair probability}."""
    out: dict[str, dict[str, Any]] = {}
    priced = prices.prices
    for market_id, entry in book.items():
        if entry.status is MarketStatus.VOID and entry.void_reason is not None:
            reasons = [entry.void_reason.value]
        else:
            reasons = [reason.value for reason in entry.reasons]
        out[market_id] = {"status": entry.status.value, "result": entry.result, "reasons": reasons}
        found = priced.get(market_id)
        if found is not None:
            out[market_id]["prices"] = dict(found.fair)
    return out


def is_signal(event: Event) -> TypeGuard[Signal]:
    """True for the market signals among the reducer's events."""
    return isinstance(event, SIGNAL_TYPES)


def describe_signal(signal: Event) -> dict[str, Any]:
    """A market signal as a JSON-ready object: {"signal": name, "market": id, ...its fields}."""
    described = describe_event(signal)
    return {"signal": described.pop("event"), **described}


def describe_event(event: Event) -> dict[str, Any]:
    """An event as a JSON-ready object: its name and its fields (enums by value)."""
    out: dict[str, Any] = {"event": event_name(event)}
    for field in attrs.fields(type(event)):
        out[field.name] = _plain(getattr(event, field.name))
    return out


def _plain(value: object) -> object:
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    enum_value = getattr(value, "value", None)
    if enum_value is not None and not isinstance(value, (int, str)):
        return enum_value
    return value
