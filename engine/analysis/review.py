"""Match review (issue 16): a recording replayed into what is asked after a match — when were the
markets closed, why and for how long, what was settled when, where did the provider correct itself —
as one value (`review`), one table row (`Review.row`), and a picture (`engine.analysis.review_plot`).

Times are the frames' receive times; a recording without them falls back to the actions'
timestamps, and one with neither to the input's position (then "seconds" count inputs).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from engine import playback
from engine.analysis.report import summarize
from engine.core.config import DEFAULT_MARKETS, MarketConfig
from engine.core.events import Discrepancy, Event, GameWon, MatchWon, PastAmended, PointWon
from engine.core.markets.signals import (
    MarketSettled,
    MarketVoided,
    Reason,
    SettlementRolledBack,
    VoidRolledBack,
)
from engine.core.match.rules import Side
from engine.core.state import MatchState
from engine.feed.wire import Action
from engine.io.recording import Recording, posix_seconds, read_recording


@attrs.frozen(slots=True)
class ScoredPoint:
    """A point as the review saw it: when, in which game, the game's score after it, who served and who won."""

    moment: float
    game: int
    score: tuple[int, int]
    server: Side | None
    winner: Side


@attrs.frozen(slots=True)
class Window:
    """A match-level reason held from `start` to `end` (seconds): every market it scopes was suspended."""

    reason: Reason
    start: float
    end: float


class SuspensionWindows:
    """The windows in which each match-level reason held, from the book's reasons after each input
    and that input's time (None: not known yet, the window starts at the next known time)."""

    def __init__(self) -> None:
        self.held: dict[Reason, float | None] = {}
        self.windows: list[Window] = []

    def update(self, reasons: frozenset[Reason], moment: float | None) -> None:
        """The reasons holding after an input at `moment` (one that began before any moment was
        known is counted from the first one)."""
        for reason in reasons - self.held.keys():
            self.held[reason] = moment
        if moment is not None:
            for reason, since in self.held.items():
                if since is None:
                    self.held[reason] = moment
        for reason in self.held.keys() - reasons:
            self._close(reason, moment)

    def close(self, moment: float | None) -> None:
        """The end of the match: every reason still holding ends at `moment`."""
        for reason in list(self.held):
            self._close(reason, moment)
        self.windows.sort(key=lambda window: (window.start, window.reason.value))

    def _close(self, reason: Reason, moment: float | None) -> None:
        since = self.held.pop(reason)
        start = since if since is not None else moment
        if start is None or moment is None:
            start = moment = 0.0
        self.windows.append(Window(reason, start, moment))

    def totals(self) -> dict[Reason, tuple[int, float]]:
        """Reason -> (how often it began, seconds it held), over the windows closed so far."""
        return totals(self.windows)


def totals(windows: Iterable[Window]) -> dict[Reason, tuple[int, float]]:
    """Reason -> (how many windows, their seconds)."""
    out: dict[Reason, tuple[int, float]] = {}
    for window in windows:
        count, seconds = out.get(window.reason, (0, 0.0))
        out[window.reason] = (count + 1, seconds + window.end - window.start)
    return out


@attrs.frozen(slots=True)
class Mark:
    """Something to point at: `kind` is settled, voided, rolled back, correction, discrepancy or ended."""

    moment: float
    kind: str
    label: str


@attrs.frozen(slots=True)
class GameEnd:
    """Game `game` ended at `moment` with `score`; `games` won after it."""

    moment: float
    game: int
    score: tuple[int, int]
    games: tuple[int, int]


@attrs.frozen(slots=True)
class Review:
    """One recording, replayed: its final state, names, points, suspension windows, marks and prices."""

    source: str
    state: MatchState
    names: dict[Side, str]
    start: float
    end: float
    timed_by: str  # "receive times", "action timestamps" or "input order"
    points: tuple[ScoredPoint, ...]
    games: tuple[GameEnd, ...]
    windows: tuple[Window, ...]
    marks: tuple[Mark, ...]
    match_price: tuple[tuple[float, float], ...]  # (moment, P(home wins the match)) after each change

    def name(self, side: Side) -> str:
        """The side's player (or pair) from the lineups, else home/away."""
        return self.names.get(side, side.value)

    def suspended(self) -> dict[Reason, tuple[int, float]]:
        """Reason -> (how often it began, seconds it held), over the match."""
        return totals(self.windows)

    def row(self) -> dict[str, Any]:
        """The table row: the summary's scalar keys (games and points as text), names, duration,
        suspensions by reason (`<reason>_count`, `<reason>_seconds`, every reason), and counts of
        settlements, voidings, rollbacks and provider corrections."""
        summary = summarize(self.state, markets=False)
        row: dict[str, Any] = {
            "source": self.source,
            "fixtureId": summary["fixtureId"],
            "home": self.name(Side.HOME),
            "away": self.name(Side.AWAY),
            "bestOf": summary["bestOf"],
            "doubles": summary["doubles"],
            "status": summary["status"],
            "result": summary["result"],
            "winner": summary["winner"],
            "games": "-".join(str(games) for games in summary["games"]),
            "points": " ".join(f"{home}-{away}" for home, away in summary["points"]),
            "durationSeconds": round(self.end - self.start, 3),
            "timedBy": self.timed_by,
            "lastSeq": summary["lastSeq"],
            "discrepancies": summary["discrepancies"],
            "malformed": summary["malformed"],
            "gaps": summary["gaps"],
            "duplicates": summary["duplicates"],
            "unknownActions": summary["unknownActions"],
        }
        kinds = [mark.kind for mark in self.marks]
        row.update(
            settlements=kinds.count("settled"),
            voids=kinds.count("voided"),
            rollbacks=kinds.count("rolled back"),
            corrections=kinds.count("correction"),
        )
        held = self.suspended()
        for reason in Reason:
            count, seconds = held.get(reason, (0, 0.0))
            row[f"{reason.value}_count"] = count
            row[f"{reason.value}_seconds"] = round(seconds, 3)
        return row


def review(
    recording: Recording,
    source: str = "",
    markets: MarketConfig = DEFAULT_MARKETS,
    best_of: int | None = None,
    doubles: bool = False,
) -> Review:
    """Replay `recording` (through `engine.playback`, like `replay`: `best_of` and `doubles`
    override its format) and collect its review."""
    start = playback.start_state(recording, best_of, doubles, markets)
    steps = list(playback.steps(recording, start))
    moments, timed_by = _moments(steps)
    points: list[ScoredPoint] = []
    games: list[GameEnd] = []
    marks: list[Mark] = []
    prices: list[tuple[float, float]] = []
    windows = SuspensionWindows()
    previous: MatchState | None = None
    for moment, (_, _, state, events) in zip(moments, steps, strict=True):
        for event in events:
            _collect(event, moment, previous, points, games, marks)
        windows.update(state.book.reasons, moment)
        found = state.prices.get("match_winner")
        if found is not None and (not prices or prices[-1][1] != found.fair["home"]):
            prices.append((moment, found.fair["home"]))
        previous = state
    first, end = (moments[0], moments[-1]) if moments else (0.0, 0.0)
    windows.close(end)
    final = steps[-1][2] if steps else start
    return Review(
        source,
        final,
        final.match.names(),
        first,
        end,
        timed_by,
        tuple(points),
        tuple(games),
        tuple(windows.windows),
        tuple(marks),
        tuple(prices),
    )


def _collect(
    event: Event,
    moment: float,
    before: MatchState | None,
    points: list[ScoredPoint],
    games: list[GameEnd],
    marks: list[Mark],
) -> None:
    if isinstance(event, PointWon):
        server = None if before is None else before.server
        points.append(ScoredPoint(moment, event.game, event.score, server, event.side))
    elif isinstance(event, GameWon):
        games.append(GameEnd(moment, event.game, event.score, event.games))
    elif isinstance(event, MatchWon):
        marks.append(Mark(moment, "ended", f"match over: {event.result.value}"))
    elif isinstance(event, MarketSettled):
        marks.append(Mark(moment, "settled", f"{event.market} = {event.result}"))
    elif isinstance(event, MarketVoided):
        marks.append(Mark(moment, "voided", f"{event.market} ({event.reason.value})"))
    elif isinstance(event, SettlementRolledBack | VoidRolledBack):
        was = event.previous if isinstance(event.previous, str) else event.previous.value
        marks.append(Mark(moment, "rolled back", f"{event.market} (was {was})"))
    elif isinstance(event, PastAmended):
        what = "inserted" if event.inserted else event.send_type.value
        marks.append(Mark(moment, "correction", f"action {event.action_id} {what}"))
    elif isinstance(event, Discrepancy):
        marks.append(Mark(moment, "discrepancy", event.reason))


def _moments(steps: list[Any]) -> tuple[list[float], str]:
    """Each step's time in seconds from the first: receive times, else action timestamps (carried
    forward to inputs without one), else the input's position."""
    received = [moment for moment, _, _, _ in steps]
    if steps and all(moment is not None for moment in received):
        first = received[0]
        return [moment - first for moment in received], "receive times"
    stamped: list[float | None] = [
        posix_seconds(message.timestamp) if isinstance(message, Action) else None for _, message, _, _ in steps
    ]
    known = [moment for moment in stamped if moment is not None]
    if known:
        first, last = known[0], known[0]
        out = []
        for moment in stamped:
            last = max(last, moment) if moment is not None else last
            out.append(last - first)
        return out, "action timestamps"
    return [float(index) for index in range(len(steps))], "input order"


def review_file(
    path: Path, markets: MarketConfig = DEFAULT_MARKETS, best_of: int | None = None, doubles: bool = False
) -> Review:
    """Read and review one recording (raises `RecordingError` or ValueError for what cannot be read)."""
    recording = read_recording(path)
    unreadable = recording.without_actions()
    if unreadable is not None:
        raise ValueError(unreadable)
    return review(recording, str(path), markets, best_of, doubles)
