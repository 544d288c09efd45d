"""Generated matches for property tests: whole provider message streams with the truth they encode.

    from hypothesis import given
    import engine.testing

    @given(engine.testing.matches())
    def test_my_desk(match):
        state = engine.fold(engine.MatchState.new(match.fixture_id, match.format), list(match.messages))[0]
        assert state.games == match.truth.games

`matches(...)` draws a match and everything that can happen around its points (DISTURBANCES):
deuce games, timeouts (also Pending, or inserted into the past), video checks (upheld or
overturned), play stopped and injuries, Pending points later Confirmed or Cancelled, points
Updated to the other side, phantom points Deleted, points Deleted then Restored, penalty points,
expedite, heartbeats, data collected offline (`delayStatus`), collection suspended or dropped; and
the end: normal, retirement mid-game, walkover, disqualification or abandonment. Constrain it with its
arguments (`best_of=7`, `doubles=True`, `ending="retired"`, `disturbances=("timeout",)`,
`max_points=60`…). `with_noise(match)` adds what the transport does: duplicates, local
reordering and lost messages; `with_connection_trouble(match)` adds the adapter's `Stale()`,
`Disconnected()` and `Connected()` inputs.

The truth (`MatchTruth`) is computed here from the drawn points, independently of the engine: the
games and points, who served every point, the winner and result kind, and the outcome of every
market the default catalogue offers. Shrinking goes towards short plain matches.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import attrs
from hypothesis import strategies as st

from engine.core.inputs import Connected, Disconnected, Input, Stale
from engine.core.match import rules
from engine.core.match.rules import MatchFormat, Side
from engine.feed.catalogue import ActionCatalogue, SendType
from engine.feed.encode import encode_frame, heartbeat_frame
from engine.feed.wire import Action, Heartbeat
from engine.testing.feedgen import (
    END_MATCH,
    END_PERIOD,
    EXPEDITE,
    GENERATED_CATALOGUE,
    INJURY,
    LINEUPS,
    PLAY_RESUMED,
    PLAY_STOPPED,
    POINT_SCORED,
    POINT_STARTED,
    START_MATCH,
    START_PERIOD,
    STATUS_UPDATE,
    TIMEOUT,
    VIDEO_CHECK,
    VIDEO_RESULT,
    MatchScript,
    StreamWriter,
    serving_side,
)

HOME, AWAY = Side.HOME, Side.AWAY

#: Everything `matches` may do around a point; pass a subset as `disturbances` to constrain it.
DISTURBANCES = (
    "timeout",
    "video check upheld",
    "video check overturned",
    "play stopped",
    "injury",
    "pending confirmed",
    "pending cancelled",
    "updated to the other side",
    "phantom deleted",
    "deleted then restored",
    "heartbeat",
    "offline",
    "collection suspended",
    "collection dropped",
    "penalty point",
    "timeout inserted into the past",
    "pending timeout",
    "expedite",
)
_STOPPAGES_BY_A_SIDE = frozenset(
    {"timeout", "pending timeout", "play stopped", "injury", "timeout inserted into the past"}
)
ENDINGS = ("normal", "retired", "walkover", "disqualified", "abandoned")
_END_REASONS = {"retired": "Retired", "walkover": "Walkover", "disqualified": "Disqualified"}


@attrs.frozen(slots=True)
class MatchTruth:
    """What a generated match is, computed from its points, not by the engine.

    `games`/`points`: games won and points per game (home, away); `servers`: the side due to
    serve each point, game by game (a penalty point has no rally but counts in the serving order);
    `winner` (None when abandoned); `result`: "normal", "retired", "walkover", "disqualified" or
    "abandoned"; `markets`: market id -> "settled:<result>" or "void:<reason>" for every market
    the default catalogue offers; `next_point`: the market on the point that was next when play
    stopped early: an engine offers it only if it saw play stop between points (not when the last
    point and the end arrive together), so it may be missing."""

    games: tuple[int, int]
    points: tuple[tuple[int, int], ...]
    servers: tuple[tuple[Side, ...], ...]
    winner: Side | None
    result: str
    markets: dict[str, str] = attrs.field(eq=False, repr=False)
    next_point: str | None = None


@attrs.frozen(slots=True)
class GeneratedMatch:
    """A generated provider stream (`messages`, in the order they arrive) and its truth."""

    fixture_id: str
    format: MatchFormat
    messages: tuple[Input, ...]
    truth: MatchTruth
    disturbances: tuple[str, ...] = ()
    #: Decode `frames()` with this: it maps the generated expedite id (feedgen.EXPEDITE).
    catalogue: ActionCatalogue = GENERATED_CATALOGUE

    def __repr__(self) -> str:
        # Short on purpose: hypothesis prints it for a failing example; `messages` and `frames()` hold the rest.
        fmt, truth = self.format, self.truth
        return (
            f"GeneratedMatch(best_of={fmt.best_of}, doubles={fmt.doubles}, {len(self.messages)} messages, "
            f"points={truth.points}, result={truth.result!r}, disturbances={self.disturbances})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis' pretty printer would print every field of an attrs class: use the short repr."""
        printer.text(repr(self))

    def frames(self) -> list[str]:
        """The messages as the text frames a websocket would carry."""
        return [encode_frame(m) if isinstance(m, Action) else heartbeat_frame() for m in self.messages]


@attrs.define
class _Point:
    winner: Side
    server: Side
    offline: bool = False


def _game_over(home: int, away: int) -> bool:
    return max(home, away) >= 11 and abs(home - away) >= 2


def _server(first: Side, game: int, played: int, expedite: tuple[int, int] | None = None) -> Side:
    """ITTF 2.13: two serves each, one each from 10-10; the first server alternates by game.
    ITTF 2.15, expedite on since point `p` of game `g` (between rallies: the builder emits it
    before a point starts): the receiver of the preceding rally serves first (2.15.2), then one
    serve each, for the rest of the match."""
    opening = first if game % 2 == 1 else first.other
    if expedite is not None and (game, played) >= expedite:
        since = expedite[1] if game == expedite[0] else 0
        start = _server(first, game, since - 1).other if since > 0 else opening
        return start if (played - since) % 2 == 0 else start.other
    return serving_side(opening, played)


class MatchBuilder:
    """Writes a match as the provider streams it, point by point, deterministically; every message's
    `fixtureSummary` is the true effective score so far. `matches()` drives one; so can a script:

        builder = MatchBuilder(fixture_id, MatchFormat(best_of=5), first_server=Side.HOME)
        builder.play(Side.HOME)
        builder.play(Side.AWAY, "video check overturned")
        ...
        match = builder.finish()          # End Match once the score decides it
    """

    def __init__(
        self, fixture_id: str, fmt: MatchFormat, first_server: Side, names: tuple[str, str] = ("HOME", "AWAY")
    ) -> None:
        self.fixture_id = fixture_id
        if fmt.best_of is None:
            raise ValueError("MatchBuilder writes a match of a known format: give best_of")
        self.format = fmt
        self.best_of: int = fmt.best_of
        self.first_server = first_server
        self.stream = StreamWriter(MatchScript(fixture_id, (), *names))
        self.messages: list[Input] = []
        self.games: list[list[_Point]] = []
        self._ended: list[list[int]] = []  # the games before the current one, counted once: they no longer change
        self.applied: list[str] = []
        self.delayed = False
        self.expedite: tuple[int, int] | None = None  # (game, points played in it) when it came on
        self.emit(LINEUPS, HOME)
        self.emit(LINEUPS, AWAY)
        self.stream.status = "Live"
        self._started = False

    # --- the score, as the provider's summary reports it

    def score(self) -> tuple[list[list[int]], list[int]]:
        """Points per game and games won, counted from the effective points."""
        periods = [*map(list, self._ended), *([list(_count(self.games[-1]))] if self.games else [])]
        won = [0, 0]
        for home, away in periods:
            if _game_over(home, away):
                won[0 if home > away else 1] += 1
        return periods, won

    @property
    def match_winner(self) -> Side | None:
        """The side that has won the match on the score, if any."""
        won = self.score()[1]
        if max(won) < rules.games_needed(self.best_of):
            return None
        return HOME if won[0] > won[1] else AWAY

    # --- writing messages

    def emit(self, type_id: int, side: Side | None = None, **kwargs: object) -> Action:
        """A new action, with the summary as it stands."""
        self.stream.periods, self.stream.games = self.score()
        kwargs.setdefault("delayed", self.delayed)
        action = self.stream.emit(type_id, side, **kwargs)  # type: ignore[arg-type]
        self.messages.append(action)
        return action

    def again(self, action: Action, **changes: object) -> Action:
        """A later version of `action` (same actionId and timeline), with the summary as it stands."""
        self.stream.periods, self.stream.games = self.score()
        version = attrs.evolve(action, seq=len(self.stream.actions) + 1, summary=self.stream.summary(), **changes)  # type: ignore[arg-type]
        self.stream.actions.append(version)
        self.messages.append(version)
        return version

    # --- playing

    def play(self, winner: Side, disturbance: str = "none", stoppage_side: Side | None = None) -> str:
        """One rally won by `winner`, with `disturbance` around it (one of DISTURBANCES, or "none").
        Returns the disturbance applied: "none" when it could not be (a wrong or phantom point must
        not end the game)."""
        if disturbance != "none" and disturbance not in DISTURBANCES:
            raise ValueError(f"unknown disturbance {disturbance!r}")
        if self.match_winner is not None:
            raise ValueError("the match is already won")
        if not self._started:
            self.emit(START_MATCH)
            self._started = True
        if not self.games or _game_over(*_count(self.games[-1])):
            if self.games:
                self.emit(END_PERIOD)
                self._ended.append(list(_count(self.games[-1])))
            self.games.append([])
            self.emit(START_PERIOD)
        if disturbance == "expedite":
            if self.expedite is None:
                self.expedite = (len(self.games), len(self.games[-1]))
                self.emit(EXPEDITE)
            else:
                disturbance = "none"  # on once, for the rest of the match
        point = _Point(winner, _server(self.first_server, len(self.games), len(self.games[-1]), self.expedite))
        applied = _play_point(self, point, disturbance, stoppage_side or winner.other)
        if applied != "none":
            self.applied.append(applied)
        return applied

    def finish(self, ending: str = "normal", winner: Side | None = None) -> GeneratedMatch:
        """End the match: "normal" once the score decides it, or a retirement, walkover or
        disqualification won by `winner`, or an abandonment. Returns the stream and its truth."""
        if ending not in ENDINGS:
            raise ValueError(f"unknown ending {ending!r}")
        decided = self.match_winner
        if ending == "normal":
            if decided is None:
                raise ValueError("a normal ending needs a match the score decides")
            winner = decided
        elif decided is not None:
            raise ValueError(f"the score already decided the match: it cannot end {ending}")
        if ending == "abandoned":
            self.stream.status = "Abandoned"
            self.emit(STATUS_UPDATE, fixture_status="Abandoned")
            winner = None
        else:
            if winner is None:
                raise ValueError(f"a {ending} ending needs its winner")
            self.stream.status = "Completed"
            reason = _END_REASONS.get(ending)
            self.emit(END_MATCH, winner, **({} if reason is None else {"subtype_name": reason, "end_reason": reason}))
        truth = _truth(self.games, self.best_of, winner, ending)
        return GeneratedMatch(self.fixture_id, self.format, tuple(self.messages), truth, tuple(self.applied))


@st.composite
def matches(
    draw: st.DrawFn,
    best_of: int | None = None,
    doubles: bool | None = None,
    ending: str | None = None,
    disturbances: Sequence[str] = DISTURBANCES,
    max_points: int = 400,
) -> GeneratedMatch:
    """A whole match as the provider streams it, with its truth. Every argument constrains: a fixed
    `best_of` (else 3, 5 or 7), `doubles`, one `ending` from ENDINGS, the `disturbances` that may
    happen (none: a plain match), and `max_points` after which a match that is still going ends in
    a retirement (keeps examples small)."""
    unknown = set(disturbances) - set(DISTURBANCES)
    if unknown or (ending is not None and ending not in ENDINGS):
        raise ValueError(f"unknown disturbances {sorted(unknown)} or ending {ending!r}")
    fmt = MatchFormat(
        best_of=best_of if best_of is not None else draw(st.sampled_from([3, 5, 7])),
        doubles=doubles if doubles is not None else draw(st.booleans()),
    )
    end = ending if ending is not None else draw(st.sampled_from(ENDINGS))
    fixture_id = str(uuid.UUID(int=draw(st.integers(0, 2**64)), version=4))
    names = ("HOME A / HOME B", "AWAY A / AWAY B") if fmt.doubles else ("HOME", "AWAY")
    builder = MatchBuilder(fixture_id, fmt, draw(st.sampled_from([HOME, AWAY])), names)
    sides = st.sampled_from([HOME, AWAY])
    if end == "walkover":
        return builder.finish(end, draw(sides))
    stop_after = draw(st.integers(0, max_points)) if end in ("retired", "disqualified", "abandoned") else max_points
    choices = ["none", "none", "none", *disturbances]
    played = 0
    while builder.match_winner is None:
        if played >= stop_after:
            return builder.finish(end if end != "normal" else "retired", draw(sides))
        winner = draw(sides)
        disturbance = draw(st.sampled_from(choices)) if disturbances else "none"
        by = draw(sides) if disturbance in _STOPPAGES_BY_A_SIDE else None
        builder.play(winner, disturbance, by)
        played += 1
    return builder.finish()


def _play_point(builder: MatchBuilder, point: _Point, disturbance: str, stoppage_side: Side) -> str:
    """One rally with what happens around it (the true winner is `point.winner`); returns the
    disturbance applied ("none" when it could not be: a wrong point must not end the game)."""
    winner = point.winner
    game = builder.games[-1]
    if disturbance in ("updated to the other side", "video check overturned", "phantom deleted"):
        home, away = _count(game)
        if _game_over(home + (winner.other is HOME), away + (winner.other is AWAY)):
            disturbance = "none"
    if disturbance == "timeout":
        builder.emit(TIMEOUT, stoppage_side)
        builder.emit(PLAY_RESUMED)
    elif disturbance == "pending timeout":  # a Pending action outside a rally, later confirmed
        pending = builder.emit(TIMEOUT, stoppage_side, send_type=SendType.PENDING)
        builder.again(pending, send_type=SendType.CONFIRMED)
        builder.emit(PLAY_RESUMED)
    elif disturbance in ("play stopped", "injury"):
        builder.emit(PLAY_STOPPED if disturbance == "play stopped" else INJURY, stoppage_side)
        builder.emit(PLAY_RESUMED)
    elif disturbance == "offline":
        builder.delayed = True
        point.offline = True
    elif disturbance in ("collection suspended", "collection dropped"):
        builder.stream.collection_status = (
            "CollectionSuspended" if disturbance == "collection suspended" else "CollectionDropped"
        )
        builder.emit(STATUS_UPDATE)
        builder.stream.collection_status = "CollectingLive"
        builder.emit(STATUS_UPDATE)
    started = None if disturbance == "penalty point" else builder.emit(POINT_STARTED, point.server)
    if disturbance == "pending confirmed":
        pending = builder.emit(POINT_SCORED, winner, send_type=SendType.PENDING)
        game.append(point)
        builder.again(pending, send_type=SendType.CONFIRMED)
    elif disturbance == "pending cancelled":
        pending = builder.emit(POINT_SCORED, winner.other, send_type=SendType.PENDING)
        builder.again(pending, send_type=SendType.CANCELLED)
        game.append(point)
        builder.emit(POINT_SCORED, winner)
    elif disturbance in ("updated to the other side", "video check overturned"):
        game.append(_Point(winner.other, point.server, point.offline))
        wrong = builder.emit(POINT_SCORED, winner.other)
        if disturbance == "video check overturned":
            builder.emit(VIDEO_CHECK)
            builder.emit(VIDEO_RESULT)
        game[-1] = point
        builder.again(wrong, send_type=SendType.UPDATED, team=builder.stream.teams[winner])
    elif disturbance == "phantom deleted":
        game.append(_Point(winner.other, point.server))
        phantom = builder.emit(POINT_SCORED, winner.other)
        game.pop()
        builder.again(phantom, send_type=SendType.DELETED)
        game.append(point)
        builder.emit(POINT_SCORED, winner)
    elif disturbance == "deleted then restored":
        game.append(point)
        scored = builder.emit(POINT_SCORED, winner)
        game.pop()
        builder.again(scored, send_type=SendType.DELETED)
        game.append(point)
        builder.again(scored, send_type=SendType.RESTORED)
    else:
        game.append(point)
        scored = builder.emit(POINT_SCORED, winner)
        if disturbance == "video check upheld":
            builder.emit(VIDEO_CHECK)
            builder.emit(VIDEO_RESULT)
        if disturbance == "timeout inserted into the past" and started is not None:
            # The provider adds a timeout it missed, taken before this rally: between the actions
            # already sent, by `timelineSequence`.
            before = started.timeline
            builder.emit(TIMEOUT, stoppage_side, timeline=before - 0.5)
            builder.emit(PLAY_RESUMED, timeline=before - 0.25)
    if disturbance == "heartbeat":
        builder.messages.append(Heartbeat())
    if disturbance == "offline":
        builder.delayed = False
        builder.emit(STATUS_UPDATE)
    return disturbance


# --- the truth ------------------------------------------------------------------------------------


def _truth(games: list[list[_Point]], best_of: int, winner: Side | None, result: str) -> MatchTruth:
    markets = _market_truth(games, best_of, winner, result)
    next_point = None
    if result != "normal":
        game, number = _next_point(games)
        next_point = f"point_winner:{game}:{number}"
        markets[next_point] = f"void:{result}"
    points = tuple((sum(p.winner is HOME for p in g), sum(p.winner is AWAY for p in g)) for g in games)
    won = (
        sum(1 for h, a in points if _game_over(h, a) and h > a),
        sum(1 for h, a in points if _game_over(h, a) and a > h),
    )
    return MatchTruth(
        games=won,
        points=tuple(_count(game) for game in games),
        servers=tuple(tuple(p.server for p in g) for g in games),
        winner=winner,
        result=result,
        markets=markets,
        next_point=next_point,
    )


def _market_truth(games: list[list[_Point]], best_of: int, winner: Side | None, result: str) -> dict[str, str]:
    """The outcome of every default market (FEED.md 6: decided markets stand, the rest are void)."""
    won = _games_won(games)
    normal = result == "normal"
    undecided = "void:not_played" if normal else f"void:{result}"
    out: dict[str, str] = {}
    out["match_winner"] = f"settled:{winner.value}" if normal and winner is not None else undecided
    out["correct_score"] = f"settled:{won[0]}-{won[1]}" if normal else undecided
    for games_line in range(rules.games_needed(best_of), best_of):
        line = games_line + 0.5
        played = sum(won)
        out[f"total_games:{line}"] = "settled:over" if played > line else "settled:under" if normal else undecided
    for number in range(1, best_of + 1):
        rallies = [p.winner for p in games[number - 1]] if number <= len(games) else []
        home, away = rallies.count(HOME), rallies.count(AWAY)
        complete = _game_over(home, away)
        out[f"game_winner:{number}"] = f"settled:{(HOME if home > away else AWAY).value}" if complete else undecided
        total = home + away
        out[f"game_total_points:{number}:18.5"] = (
            "settled:over" if total > 18.5 else "settled:under" if complete else undecided
        )
        for target in (5, 7, 9):
            out[f"race_to:{number}:{target}"] = _race(rallies, target, complete, undecided)
        for index, point in enumerate(games[number - 1] if number <= len(games) else [], start=1):
            out[f"point_winner:{number}:{index}"] = (
                "void:not_live_data" if point.offline else f"settled:{point.winner.value}"
            )
    return out


def _next_point(games: list[list[_Point]]) -> tuple[int, int]:
    """(game, point number) of the point that would have come next."""
    if not games:
        return 1, 1
    if _game_over(*_count(games[-1])):
        return len(games) + 1, 1
    return len(games), len(games[-1]) + 1


def _games_won(games: list[list[_Point]]) -> tuple[int, int]:
    scores = [_count(game) for game in games]
    return (
        sum(1 for h, a in scores if _game_over(h, a) and h > a),
        sum(1 for h, a in scores if _game_over(h, a) and a > h),
    )


def _count(points: list[_Point]) -> tuple[int, int]:
    home = sum(p.winner is HOME for p in points)
    return home, len(points) - home


def _race(rallies: list[Side], target: int, complete: bool, undecided: str) -> str:
    counts = {HOME: 0, AWAY: 0}
    for side in rallies:
        counts[side] += 1
        if counts[side] == target:
            return f"settled:{side.value}"
    return "settled:neither" if complete else undecided


# --- what the transport does ------------------------------------------------------------------------


@st.composite
def with_noise(draw: st.DrawFn, match: GeneratedMatch, lose: bool = True) -> GeneratedMatch:
    """`match` as a flaky transport delivers it: some messages twice, some swapped with a
    neighbour, and (with `lose`) one message lost. The truth is unchanged: the engine must still
    reach it (a lost message is made good by the provider's later summaries)."""
    messages = list(match.messages)
    for _ in range(draw(st.integers(0, 6))):
        index = draw(st.integers(0, len(messages) - 2))
        messages[index], messages[index + 1] = messages[index + 1], messages[index]
    for _ in range(draw(st.integers(0, 6))):
        index = draw(st.integers(0, len(messages) - 1))
        messages.insert(min(len(messages), index + draw(st.integers(0, 3))), messages[index])
    if lose and draw(st.booleans()):
        candidates = [i for i, m in enumerate(messages) if isinstance(m, Action) and m.type_id == POINT_STARTED]
        if candidates:
            del messages[draw(st.sampled_from(candidates))]
    return attrs.evolve(match, messages=tuple(messages))


@st.composite
def with_connection_trouble(draw: st.DrawFn, match: GeneratedMatch) -> GeneratedMatch:
    """`match` with what the adapter reports about the connection mixed in: `Stale()` (sometimes
    followed by a heartbeat) and `Disconnected()` … `Connected()` spans. These inputs only move
    markets, so the truth is unchanged; while they hold, no market may be open."""
    messages = list(match.messages)
    for _ in range(draw(st.integers(0, 4))):
        index = draw(st.integers(0, len(messages)))
        messages[index:index] = [Stale(), Heartbeat()] if draw(st.booleans()) else [Stale()]
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, len(messages)))
        end = draw(st.integers(start, min(len(messages), start + 10)))
        messages[end:end] = [Connected()]
        messages[start:start] = [Disconnected()]
    return attrs.evolve(match, messages=tuple(messages))
