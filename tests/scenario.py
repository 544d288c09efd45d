"""A small builder of provider streams for reducer tests: the test says what the provider sends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from engine.core.config import MarketConfig
from engine.core.events import Event
from engine.core.inputs import EndOfStream, Input
from engine.core.markets.signals import SIGNAL_TYPES, STATUS_SIGNAL_TYPES, StatusSignal
from engine.core.match.rules import MatchFormat, Side
from engine.core.pricing.model import DEFAULT_PRICING
from engine.core.reduce import reduce
from engine.core.state import MatchState
from engine.feed.catalogue import SendType
from engine.feed.wire import Action
from engine.testing.feedgen import (
    END_MATCH,
    LINEUPS,
    POINT_SCORED,
    POINT_STARTED,
    START_MATCH,
    START_PERIOD,
    MatchScript,
    StreamWriter,
)

HOME, AWAY = Side.HOME, Side.AWAY

#: Markets priced with a prior (an even pre-match price), as a desk with ratings prices them: the
#: tests of suspension and settlement are not about the prior. Without one the match-level and
#: game-winner markets stay suspended (`no_prior`; tests/test_ratings.py).
PRIORED = MarketConfig(pricing=attrs.evolve(DEFAULT_PRICING, source="pre-match"))


def with_prior(config: MarketConfig) -> MarketConfig:
    """`config` priced with an even prior (unchanged without pricing, or with a prior already)."""
    pricing = config.pricing
    if pricing is None or pricing.has_prior:
        return config
    return attrs.evolve(config, pricing=attrs.evolve(pricing, source="pre-match"))


class Feed:
    """Writes messages with the provider's running summary, which the test keeps via `score`."""

    def __init__(self, fixture_id: str = "fx") -> None:
        self.writer = StreamWriter(MatchScript(fixture_id, ()))

    @property
    def actions(self) -> list[Action]:
        return self.writer.actions

    def emit(self, type_id: int, side: Side | None = None, **kwargs: Any) -> Action:
        return self.writer.emit(type_id, side, **kwargs)

    def begin(self) -> None:
        """Lineups, Start Match, Start Period 1."""
        self.emit(LINEUPS, HOME)
        self.emit(LINEUPS, AWAY)
        self.writer.status = "Live"
        self.emit(START_MATCH)
        self.new_game()

    def new_game(self) -> None:
        self.writer.periods.append([0, 0])
        self.emit(START_PERIOD)

    def score(self, side: Side, delta: int = 1) -> None:
        """Change the provider's count (the summary the next message carries)."""
        game = self.writer.periods[-1]
        won_before = game_won(*game)
        game[0 if side is HOME else 1] += delta
        won_after = game_won(*game)
        if won_before is not None:
            self.writer.games[0 if won_before is HOME else 1] -= 1
        if won_after is not None:
            self.writer.games[0 if won_after is HOME else 1] += 1

    def rally(self, winner: Side, server: Side | None = None) -> tuple[Action, Action]:
        """A confirmed Point Started then Point Scored."""
        started = self.emit(POINT_STARTED, server)
        self.score(winner)
        return started, self.emit(POINT_SCORED, winner)

    def game(self, home: int, away: int, last: Side | None = None) -> None:
        """Rallies to reach home-away in the current game (the `last` side scores last)."""
        winner = last or (HOME if home > away else AWAY)
        loser = winner.other
        need = {HOME: home, AWAY: away}
        for _ in range(need[loser]):
            self.rally(loser)
        for _ in range(need[winner]):
            self.rally(winner)

    def scored(self, side: Side, send_type: SendType = SendType.CONFIRMED, **kwargs: Any) -> Action:
        return self.emit(POINT_SCORED, side, send_type=send_type, **kwargs)

    def end(self, side: Side | None, **kwargs: Any) -> Action:
        self.writer.status = "Completed"
        return self.emit(END_MATCH, side, **kwargs)


def script_format(script: MatchScript) -> MatchFormat:
    """The format a completed scripted match was drawn in (its winner took the last needed game)."""
    return MatchFormat(best_of=2 * max(script.games_won()) - 1)


def game_won(home: int, away: int) -> Side | None:
    """Who has won a game at this score (11 with a lead of 2), counted here for the test feeds."""
    if home >= 11 and home - away >= 2:
        return HOME
    if away >= 11 and away - home >= 2:
        return AWAY
    return None


def run(
    messages: Sequence[Input], fmt: MatchFormat | None = None, fixture_id: str | None = "fx"
) -> tuple[MatchState, list[Event], list[list[Event]]]:
    """Fold messages then EndOfStream: final state, all events, and the events of each message."""
    state = MatchState.new(fixture_id, fmt or MatchFormat(), markets=PRIORED)
    per_message: list[list[Event]] = []
    for message in [*messages, EndOfStream()]:
        state, events = reduce(state, message)
        per_message.append(events)
    return state, [e for events in per_message for e in events], per_message


def names(events: list[Event]) -> list[str]:
    return [type(event).__name__ for event in events]


def match_events(events: list[Event]) -> list[Event]:
    """The events that are not market signals."""
    return [event for event in events if not isinstance(event, SIGNAL_TYPES)]


def signals_of(events: list[Event]) -> list[StatusSignal]:
    """The market status signals among events, in order (the price signals left out)."""
    return [event for event in events if isinstance(event, STATUS_SIGNAL_TYPES)]  # type: ignore[misc]
