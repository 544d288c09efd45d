"""The `--trace` line: an update as one JSON-ready object (a contract: keys are only ever added).

Above the core (it formats times for people); `engine.analysis.report` holds the summary it embeds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.analysis.report import describe_signal, summarize, summarize_book
from engine.core.events import event_name
from engine.core.state import decision_id
from engine.core.update import Update


def describe_update(update: Update, refused: str | None = None) -> dict[str, Any]:
    """An update as one JSON-ready object: the `replay --trace` line. Keys: `seq`, `input`, `recv`
    (our receive time, RFC 3339 UTC, when known), `events` (names), `signals` (described, prices
    before reopenings), `state` (the summary without markets), and `fixtureId`, `timestamp` (the
    provider's), `coalesced` (when the update stands for several inputs); `refused` names why a
    frame was refused (`Malformed`), `why` why the engine stopped following (`Unfollowed`). A
    settlement, voiding or rollback carries its stable `id`. From the runtime: `run` and
    `streamSeq` (the engine run and the line's place in its stream) and, for a snapshot,
    `"snapshot": true` and `book` (every market with its prices: `snapshot_book`)."""
    signals = [describe_signal(signal) for signal in update.signals]
    for described, decision in zip(signals, update.decision_ids(), strict=True):
        if decision is not None:
            described["id"] = decision
    line: dict[str, Any] = {
        "seq": update.seq,
        "input": update.input,
        "events": [event_name(event) for event in update.events],
        "signals": signals,
        "state": summarize(update.state, markets=False),
        "fixtureId": update.fixture_id,
        "timestamp": update.timestamp,
    }
    if update.received is not None:
        line["recv"] = rfc3339(update.received)
    if update.coalesced:
        line["coalesced"] = update.coalesced
    if refused is not None:
        line["refused"] = refused
    if update.detail is not None:
        line["why"] = update.detail
    if update.run is not None:
        line["run"] = update.run
        line["streamSeq"] = update.stream_seq
    if update.snapshot:
        line["snapshot"] = True
        line["book"] = snapshot_book(update)
    return line


def snapshot_book(update: Update) -> dict[str, dict[str, Any]]:
    """Every market of the update's fixture: its status, result or reasons, its fair prices and the
    odds offered (`"odds": {}` while withdrawn), for a decided market the id of its decision, and for
    a market whose decisions were rolled back their ids (`rolledBack`, oldest first)."""
    state = update.state
    book = summarize_book(state.book, state.prices)
    rollbacks = state.rollbacks
    for market_id, market in book.items():
        found = state.prices.get(market_id)
        if found is not None:
            market["odds"] = dict(found.odds)
        taken_back = rollbacks.get(market_id, 0)
        if market["status"] in ("settled", "void"):
            market["id"] = decision_id(update.fixture_id, market_id, taken_back + 1)
        if taken_back:
            market["rolledBack"] = [decision_id(update.fixture_id, market_id, n) for n in range(1, taken_back + 1)]
    return book


def rfc3339(moment: float) -> str:
    """POSIX seconds as an RFC 3339 UTC time to the millisecond (`2026-03-01T10:00:00.250Z`)."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
