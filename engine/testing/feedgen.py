"""Build provider message streams from a scripted match, with the provider's running summary.

The script says what happened (who won each point of each game, who was seen serving); this
module writes the messages a provider would send for it. It keeps its own simple count of the
score (a game is won by whoever has more points when its script ends) and does not use the
engine's rules or reducer, so folding its output is an independent check of the engine.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import attrs

from engine.core.match.rules import Side
from engine.feed.catalogue import DEFAULT_CATALOGUE, ActionKind, SendType
from engine.feed.wire import Action, PeriodScore, Summary, Team

_NAMESPACE = uuid.UUID("5f0e8f49-0b1c-4a7e-9d59-7a1f2f0b6c11")

#: The provider's type ids the generator writes (FEED.md section 3).
LINEUPS, START_MATCH, END_MATCH, START_PERIOD, END_PERIOD = 3, 4, 5, 6, 7
POINT_STARTED, POINT_SCORED = 1101, 1102
STATUS_UPDATE, VIDEO_CHECK, TIMEOUT, PLAY_STOPPED, VIDEO_RESULT, INJURY, PLAY_RESUMED = 22, 51, 52, 58, 61, 62, 63
#: [ours] Not a provider id (the provider's expedite id is not public): generated streams use it, and
#: `GENERATED_CATALOGUE` (also written into recordings' meta) maps it to ActionKind.EXPEDITE.
EXPEDITE = 9901
GENERATED_CATALOGUE = DEFAULT_CATALOGUE.with_types({EXPEDITE: ActionKind.EXPEDITE})
TYPE_NAMES = {
    LINEUPS: "Lineups",
    START_MATCH: "Start Match",
    END_MATCH: "End Match",
    START_PERIOD: "Start Period",
    END_PERIOD: "End Period",
    POINT_STARTED: "Point Started",
    POINT_SCORED: "Point Scored",
    EXPEDITE: "Expedite",
}


@attrs.frozen(slots=True)
class ScriptedPoint:
    """One rally: who won it, who the feed says served it (None: not named), who really served it."""

    winner: Side
    server: Side | None = None
    true_server: Side | None = None


@attrs.frozen(slots=True)
class MatchScript:
    """A whole match, game by game, as the generator should send it."""

    fixture_id: str
    games: tuple[tuple[ScriptedPoint, ...], ...]
    home_name: str = "HOME"
    away_name: str = "AWAY"
    start_time: str = "2026-01-01T10:00:00"

    def game_scores(self) -> list[tuple[int, int]]:
        """Points per game (home, away), counted from the script."""
        scores = []
        for game in self.games:
            home = sum(1 for point in game if point.winner is Side.HOME)
            scores.append((home, len(game) - home))
        return scores

    def games_won(self) -> tuple[int, int]:
        """Games won (home, away): a game goes to whoever has more points at its end."""
        home = sum(1 for h, a in self.game_scores() if h > a)
        return home, len(self.games) - home


class StreamWriter:
    """Appends provider messages with consecutive `fixtureSeqNum`s and a running summary."""

    def __init__(self, script: MatchScript) -> None:
        self.script = script
        self.actions: list[Action] = []
        self.periods: list[list[int]] = []
        self.games = [0, 0]
        self.status = "Scheduled"
        self.collection_status = "CollectingLive"
        self.teams = {
            Side.HOME: Team(_uuid(script.fixture_id, "home"), script.home_name, True),
            Side.AWAY: Team(_uuid(script.fixture_id, "away"), script.away_name, False),
        }

    def summary(self) -> Summary:
        """The provider's summary of the match so far."""
        periods = tuple(PeriodScore(h, a, index + 1, f"Game {index + 1}") for index, (h, a) in enumerate(self.periods))
        return Summary(
            home_games=self.games[0],
            away_games=self.games[1],
            periods=periods,
            current_period=max(1, len(self.periods)),
            status=self.status,
            collection_status=self.collection_status,
            finished=self.status == "Completed",
            is_tied=self.games[0] == self.games[1],
        )

    def emit(
        self,
        type_id: int,
        side: Side | None = None,
        send_type: SendType = SendType.CONFIRMED,
        action_id: str | None = None,
        timeline: float | None = None,
        **extra: object,
    ) -> Action:
        """Append one action message (summary taken after the caller updated the score)."""
        seq = len(self.actions) + 1
        action = Action(
            fixture_id=self.script.fixture_id,
            action_id=action_id or _uuid(self.script.fixture_id, f"action-{seq}"),
            seq=seq,
            timeline=float(seq) if timeline is None else timeline,
            type_id=type_id,
            kind=GENERATED_CATALOGUE.kind_of(type_id),
            send_type=send_type,
            period=len(self.periods),
            type_name=TYPE_NAMES.get(type_id),
            team=None if side is None else self.teams[side],
            timestamp=_timestamp(self.script.start_time, seq),
            finished=self.status == "Completed",
            summary=self.summary(),
            **extra,  # type: ignore[arg-type]
        )
        self.actions.append(action)
        return action

    def point(self, point: ScriptedPoint, ends_game: bool) -> None:
        """Point Started (naming the server if scripted) then Point Scored."""
        self.emit(POINT_STARTED, point.server)
        self.periods[-1][0 if point.winner is Side.HOME else 1] += 1
        if ends_game:
            home, away = self.periods[-1]
            self.games[0 if home > away else 1] += 1
        self.emit(POINT_SCORED, point.winner)

    def play(self) -> list[Action]:
        """The whole match's messages."""
        self.emit(LINEUPS, Side.HOME)
        self.emit(LINEUPS, Side.AWAY)
        self.status = "Live"
        self.emit(START_MATCH)
        for game in self.script.games:
            self.periods.append([0, 0])
            self.emit(START_PERIOD)
            for index, point in enumerate(game):
                self.point(point, index == len(game) - 1)
            self.emit(END_PERIOD)
        self.status = "Completed"
        home, away = self.games
        self.emit(END_MATCH, Side.HOME if home > away else Side.AWAY)
        return self.actions


def match_stream(script: MatchScript) -> list[Action]:
    """Every message of a scripted match, in order, with consecutive sequence numbers."""
    return StreamWriter(script).play()


def points_from_scores(
    scores: Sequence[tuple[int, int]], first_server: Side | None = None
) -> tuple[tuple[ScriptedPoint, ...], ...]:
    """A plausible point order for known game scores (winner's last point last; deuce alternates).

    With `first_server`, each point names its server from a plain serve counter (two each, one
    each from 10-10, the first receiver of a game serves first in the next).
    """
    games = []
    opening = first_server
    for home, away in scores:
        winner = Side.HOME if home > away else Side.AWAY
        win, lose = max(home, away), min(home, away)
        # True: the game winner takes the point. Nobody reaches a winning score early.
        if lose <= 9:
            order = [*_interleave(win - 1, lose), True]
        else:
            order = _interleave(10, 10) + [True, False] * (lose - 10) + [True, True]
        points = []
        for index, winner_takes in enumerate(order):
            side = winner if winner_takes else winner.other
            serving = None if opening is None else serving_side(opening, index)
            points.append(ScriptedPoint(side, serving))
        games.append(tuple(points))
        opening = None if opening is None else opening.other
    return tuple(games)


def serving_side(opening: Side, played: int) -> Side:
    """Who serves after `played` points of a game `opening` served first (ITTF 2.13: two serves
    each, one each from 10-10). Written here, not taken from the engine's rules, so generated
    streams check them independently."""
    turn = played // 2 if played < 20 else 10 + (played - 20)
    return opening if turn % 2 == 0 else opening.other


def _interleave(wins: int, losses: int) -> list[bool]:
    """`wins` Trues and `losses` Falses spread evenly (deterministic)."""
    out: list[bool] = []
    w = l_ = 0
    total = wins + losses
    for index in range(total):
        # take a win when wins are behind their share of the points so far
        if l_ >= losses or (w < wins and w * total <= index * wins):
            out.append(True)
            w += 1
        else:
            out.append(False)
            l_ += 1
    return out


def _uuid(fixture_id: str, name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{fixture_id}/{name}"))


def _timestamp(start: str, seq: int) -> str:
    seconds = seq * 7
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    base_h = int(start[11:13])
    return f"{start[:11]}{base_h + hours:02d}:{minutes:02d}:{secs:02d}.000Z"
