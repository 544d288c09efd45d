"""A scoreboard for people: what `demo` and `connect` print while they follow a match.

`Scoreboard(out)` is a step observer (`connect(..., on_input=Scoreboard(out))`): per input it
prints one line per point scored (match clock, game, points, games, who serves next), one
`BET STOP` line when markets stop (however many, with the reasons), one `BET START` line when
they reopen, and one line per settlement, void or rollback. `final_table()` sums the match up:
the score by game, the winner, the markets settled and void, and each suspension reason with how
often it began and how long it held (by the actions' timestamps).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

from engine.analysis.review import SuspensionWindows
from engine.core.events import Event, GameWon, MatchWon, PointWon
from engine.core.inputs import Input
from engine.core.markets.signals import (
    BetStart,
    BetStop,
    BetStopChanged,
    MarketResumed,
    MarketSettled,
    MarketSignal,
    MarketStatus,
    MarketSuspended,
    MarketVoided,
    PricesChanged,
    Reason,
    Scope,
    SettlementRolledBack,
    Signal,
    SuspensionReasonsChanged,
    VoidRolledBack,
    expand,
)
from engine.core.match.rules import Side
from engine.core.state import MatchState
from engine.core.update import Update
from engine.feed.wire import Action
from engine.io.recording import posix_seconds
from engine.runtime.following import Match


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:02d}:{rest:02d}"


def _reasons(reasons: tuple[Reason, ...] | frozenset[Reason]) -> str:
    return ", ".join(sorted(reason.value for reason in reasons))


class Scoreboard:
    """Prints a match as it is followed (see the module docstring); `every_signal` prints each
    market's suspension and resumption on a line of its own instead of one line per step."""

    def __init__(self, out: IO[str], every_signal: bool = False) -> None:
        self.out = out
        self.every_signal = every_signal
        self.names: dict[Side, str] = {}
        self.started: float | None = None  # the first action's timestamp
        self.now: float | None = None  # the latest action's timestamp
        self.suspensions = SuspensionWindows()  # when each match-level reason held, by action time

    def name(self, side: Side | None) -> str:
        """A side's player (or pair) name from the lineups, else the side."""
        return "-" if side is None else self.names.get(side, side.value)

    def __call__(self, match: Match, message: Input, update: Update) -> None:
        events = list(update.items())
        lines = []
        if isinstance(message, Action):
            known = len(self.names)
            self.names = match.state.match.names()
            self._clock_at(message)
            if known < len(self.names) == len(Side):
                lines.append(f"{self.name(Side.HOME)} (home) v {self.name(Side.AWAY)} (away)")
        self.suspensions.update(match.state.book.reasons, self.now)  # the reasons the book was computed with
        if any(isinstance(event, PointWon) for event in events):
            lines.append(self._score_line(match.state, events))
        lines.extend(self._signal_lines([event for event in events if isinstance(event, Signal)]))
        if lines:
            self.out.write("".join(line + "\n" for line in lines))
            self.out.flush()

    def _clock_at(self, action: Action) -> None:
        moment = posix_seconds(action.timestamp)  # an RFC 3339 time, read the same way
        if moment is not None:
            self.started = moment if self.started is None else self.started
            self.now = moment if self.now is None else max(self.now, moment)

    def _time(self) -> str:
        if self.now is None or self.started is None:
            return "  -  "
        return _clock(self.now - self.started)

    def _score_line(self, state: MatchState, events: list[Event]) -> str:
        won = next((event for event in events if isinstance(event, MatchWon)), None) or next(
            (event for event in events if isinstance(event, GameWon)), None
        )
        home, away = state.points[-1] if state.points else (0, 0)
        games = f"games {state.games[0]}-{state.games[1]}"
        if isinstance(won, MatchWon):
            note = f"game {state.current_game} and the MATCH to {self.name(won.side)}"
        elif isinstance(won, GameWon):
            note = f"game {won.game} to {self.name(won.side)}"
        else:
            note = f"{self.name(state.server)} to serve"
        match = state.prices.get("match_winner")
        if match is not None:
            offered = f"@ {match.odds['home']:.2f}" if match.odds else "(not offered)"
            if state.match.no_prior:  # never opened: the price is the model's, not an offer
                offered = "(not offered: no prior)"
            note += f"   (match: {self.name(Side.HOME)} {match.fair['home']:.0%} {offered})"
        return f"{self._time()}  game {state.current_game}  {home:>2}-{away:<2}  {games}   {note}"

    def _signal_lines(self, signals: list[Signal]) -> list[str]:
        """Scoped stops first, then per-market signals (one line per kind and reasons for the
        suspensions and resumptions of single markets, markets newly open joining the step's bet
        start), then scoped starts."""
        if self.every_signal:
            return [f"        {_signal_line(single)}" for signal in signals for single in expand(signal)]
        lines, starts = [], []
        grouped: dict[str, list[str]] = {}
        # A rally's stop or start also changes the reasons of markets suspended for their own
        # (no_prior, decided): said on the same line, not on one of its own.
        opening_or_stop = any(isinstance(signal, BetStop | BetStart) for signal in signals)
        riders = [signal for signal in signals if isinstance(signal, BetStopChanged)] if opening_or_stop else []
        for signal in signals:
            if isinstance(signal, BetStart):
                starts.append(signal)
            elif isinstance(signal, PricesChanged):
                continue  # the score line shows the match price
            elif isinstance(signal, BetStopChanged) and riders:
                continue
            elif isinstance(signal, BetStop):
                lines.append(f"        {_scoped_line(signal)}{_riding(riders, 'already suspended', signal.reasons)}")
                riders = []
            elif isinstance(signal, BetStopChanged):
                lines.append(f"        {_scoped_line(signal)}")
            elif isinstance(signal, MarketSuspended):
                grouped.setdefault(f"suspended ({_reasons(signal.reasons)})", []).append(signal.market)
            elif isinstance(signal, SuspensionReasonsChanged):
                grouped.setdefault(f"still suspended, now ({_reasons(signal.reasons)})", []).append(signal.market)
            elif isinstance(signal, MarketResumed):
                grouped.setdefault("open", []).append(signal.market)
            else:
                lines.append(f"        {_signal_line(signal)}")
        opened = grouped.pop("open", []) if starts else []
        for label, markets in grouped.items():
            lines.append(f"        {label}: {_some(markets)}")
        for start in starts:
            also = f", and {_some(opened)}" if opened and start is starts[-1] else ""
            rest = _riding(riders, "stay suspended") if start is starts[-1] else ""
            lines.append(f"        {_scoped_line(start)}{also}{rest}")
        return lines

    def final_table(self, state: MatchState) -> str:
        """The match summed up in a few lines (see the module docstring)."""
        self.suspensions.close(self.now)
        held = self.suspensions.totals()
        width = max((len(self.name(side)) for side in Side), default=4)
        games = range(1, len(state.points) + 1)
        header = f"{'':{width}}  " + " ".join(f"G{game:<3}" for game in games) + " games"
        rows = [header]
        for index, side in enumerate(Side):
            points = " ".join(f"{score[index]:<4}" for score in state.points)
            rows.append(f"{self.name(side):{width}}  {points} {state.games[index]}")
        how = f"result {state.result.value}" if state.result is not None else f"status {state.status.value}"
        won = state.winner
        winner = f"winner: {self.name(won)} ({won.value}), {how}" if won is not None else f"no winner, {how}"
        counts = dict.fromkeys(MarketStatus, 0)
        for entry in state.book.values():
            counts[entry.status] += 1
        markets = ", ".join(f"{count} {status.value}" for status, count in counts.items() if count)
        stops = ", ".join(
            f"{reason.value} {count}x {_clock(seconds)}"
            for reason, (count, seconds) in sorted(held.items(), key=lambda item: -item[1][1])
        )
        return "\n".join([*rows, winner, f"markets: {markets}", f"suspensions (count, time): {stops}"]) + "\n"


def _riding(changed: Sequence[BetStopChanged], how: str, besides: Sequence[Reason] = ()) -> str:
    """The markets whose reasons a step's stop or start changed, said after its line (with their
    own reasons, `besides` the stop's)."""
    return "".join(
        f"; {len(signal.markets)} {how} ({_reasons(tuple(r for r in signal.reasons if r not in besides))})"
        for signal in changed
    )


def _some(items: Sequence[str]) -> str:
    """At most three items, and how many more."""
    return ", ".join(items[:3]) + (f", … {len(items) - 3} more" if len(items) > 3 else "")


def _scoped_line(signal: BetStop | BetStopChanged | BetStart) -> str:
    """A scoped signal on one line: how many markets, why, and the scope when not all."""
    count = len(signal.markets)
    if signal.scope is Scope.ALL or (signal.scope is Scope.TYPES and len(signal.types) > 2):
        scope = ""  # all, or nearly all, markets: the count says enough
    elif signal.scope is Scope.TYPES:
        scope = f" [types: {_some([market_type.value for market_type in signal.types])}]"
    else:
        scope = f" [markets: {_some(signal.markets)}]"
    if isinstance(signal, BetStop):
        return f"BET STOP  {count:>3} markets ({_reasons(signal.reasons)}){scope}"
    if isinstance(signal, BetStopChanged):
        return f"stopped   {count:>3} markets, now for {_reasons(signal.reasons)}{scope}"
    return f"BET START {count:>3} markets{scope}"


def _price_line(signal: PricesChanged) -> str:
    """A price signal on one line: how many markets moved, and the match winner's price when it did."""
    line = f"PRICES    {len(signal.prices):>3} markets moved"
    match = signal.prices.get("match_winner")
    if match is not None:
        odds = signal.odds["match_winner"]
        home, away = (
            f"{match[side]:.0%} " + (f"@ {odds[side]:.2f}" if odds else "(not offered)") for side in ("home", "away")
        )
        line += f"; match winner home {home}, away {away}"
    if signal.withdrawn:
        line += f"; {len(signal.withdrawn)} withdrawn"
    return line


def _signal_line(signal: MarketSignal | PricesChanged) -> str:
    """One per-market signal, on one line."""
    if isinstance(signal, PricesChanged):
        return _price_line(signal)
    if isinstance(signal, MarketSettled):
        return f"SETTLED   {signal.market} = {signal.result}"
    if isinstance(signal, MarketVoided):
        return f"VOID      {signal.market} ({signal.reason.value})"
    if isinstance(signal, SettlementRolledBack):
        return f"ROLLBACK  {signal.market} (was {signal.previous})"
    if isinstance(signal, VoidRolledBack):
        return f"UNVOID    {signal.market} (was {signal.previous.value})"
    if isinstance(signal, MarketSuspended | SuspensionReasonsChanged):
        return f"SUSPENDED {signal.market} ({_reasons(signal.reasons)})"
    return f"RESUMED   {signal.market}"
