"""The `--trace` line: an update as one JSON-ready object (a contract: keys are only ever added).

Above the core (it formats times for people); `engine.analysis.report` holds the summary it embeds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.analysis.report import describe_signal, summarize
from engine.core.events import event_name
from engine.core.update import Update


def describe_update(update: Update, refused: str | None = None) -> dict[str, Any]:
    """An update as one JSON-ready object: the `replay --trace` line. Keys: `seq`, `input`, `recv`
    (our receive time, RFC 3339 UTC, when known), `events` (names), `signals` (described, prices
    before reopenings), `state` (the summary without markets), and `fixtureId`, `timestamp` (the
    provider's), `coalesced` (when the update stands for several inputs); `refused` names why a
    frame was refused (`Malformed`)."""
    line: dict[str, Any] = {
        "seq": update.seq,
        "input": update.input,
        "events": [event_name(event) for event in update.events],
        "signals": [describe_signal(signal) for signal in update.signals],
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
    return line


def rfc3339(moment: float) -> str:
    """POSIX seconds as an RFC 3339 UTC time to the millisecond (`2026-03-01T10:00:00.250Z`)."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
