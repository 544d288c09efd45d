"""What `/fixtures` and the live page show of a fixture: one JSON-ready object (keys only added).

    {"fixtureId", "home", "away", "bestOf", "doubles", "status", "games": [h, a],
     "points": [[h, a], …], "game": n, "server": "home"|"away"|null, "winner",
     "result": "normal"|"retired"|"walkover"|"disqualified"|"abandoned"|null, "lastSeq",
     "health": "connecting"|"connected"|"stale"|"reconnecting"|"catching_up"|"lagging"|"finished"
               |"stopped"|"failed",
     "error", "retryIn", "lags",
     "frames", "updates", "reconnects", "lastFrameAt", "feedAge", "lag", "updatedAt",
     "matchPrice": {"fair": {"home": p, "away": q}, "odds": {…}} | null,
     "matchOpen": true when the match winner market is open (its odds may be taken),
     "prior": "ratings"|"pre-match"|"none"|null (what is known of the players before the first
              point; "none": the match-level markets stay suspended, no_prior; null: no prices),
     "markets": {"open": n, "suspended": n, "settled": n, "void": n},
     "suspended": [{"reasons": [...], "markets": n, "types": [...], "since": t}, …]}

and the desk as a whole (`desk_view`):

    {"run", "callbacks": {"failures", "slow", "blocking", "blockedSeconds", "slowest"}}

Times are POSIX seconds (`since`, `lastFrameAt`, `updatedAt`), ages and lags seconds.
"""

from __future__ import annotations

from typing import Any

from engine.core.markets.signals import MarketStatus, MarketType
from engine.core.match.rules import Side
from engine.desk.health import status_counts
from engine.desk.service import Desk, DeskFixture

MATCH_WINNER_ID = MarketType.MATCH_WINNER.value


def fixture_view(fixture: DeskFixture) -> dict[str, Any]:
    """One fixture as `/fixtures` and the page show it."""
    state = fixture.state
    reading = fixture.health()
    book = state.book
    price = state.prices.get(MATCH_WINNER_ID)
    names = state.match.names()
    return {
        "fixtureId": fixture.fixture_id,
        "home": names.get(Side.HOME),
        "away": names.get(Side.AWAY),
        "bestOf": state.format.best_of,
        "doubles": state.format.doubles,
        "status": state.status.value,
        "games": list(state.games),
        "points": [list(score) for score in state.points],
        "game": state.current_game,
        "server": None if state.server is None else state.server.value,
        "winner": None if state.winner is None else state.winner.value,
        "result": None if state.result is None else state.result.value,
        "lastSeq": state.match.last_seq,
        "health": reading.health.value,
        "error": reading.error,
        "retryIn": reading.retry_in,
        "lags": fixture.match.lags,
        "frames": reading.frames,
        "updates": reading.updates,
        "reconnects": reading.reconnects,
        "lastFrameAt": fixture.watch.last_frame,
        "feedAge": reading.feed_age,
        "lag": reading.lag,
        "updatedAt": fixture.watch.updated_at,
        "matchPrice": None if price is None else {"fair": dict(price.fair), "odds": dict(price.odds)},
        "matchOpen": MATCH_WINNER_ID in book and book[MATCH_WINNER_ID].status is MarketStatus.OPEN,
        "prior": None if state.markets.pricing is None else state.markets.pricing.source,
        "markets": {status.value: count for status, count in status_counts(book).items()},
        "suspended": [
            {
                "reasons": [reason.value for reason in group.reasons],
                "markets": len(group.markets),
                "types": sorted({book.market(market_id).type.value for market_id in group.markets}),
                "since": group.since,
            }
            for group in reading.suspended
        ],
    }


def desk_view(desk: Desk) -> dict[str, Any]:
    """The desk itself: its stream's run, and its callbacks' failures and slow calls (a plain one
    that is slow blocks every fixture)."""
    callbacks = desk.callbacks
    return {
        "run": desk.stream.run,
        "callbacks": {
            "failures": callbacks.failures,
            "slow": callbacks.slow,
            "blocking": callbacks.blocking,
            "blockedSeconds": callbacks.blocked_seconds,
            "slowest": callbacks.slowest,
        },
    }
