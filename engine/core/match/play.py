"""The fold of one effective action into the play state: the rally, the game, the match, the
stoppages, and what the provider's own end of the match says. Pure; tables where they are tables
(`PLAY_BY_KIND`, and the vocabulary's `STOPPAGE_OPENED_BY` / `STOPPAGES_CLOSED_BY`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import attrs

from engine.core.match import rules
from engine.core.match.events import (
    Discrepancy,
    FormatContradicted,
    GameWon,
    MatchEvent,
    MatchWon,
    PointStarted,
    PointWon,
    StoppageEnded,
    StoppageStarted,
    UnexpectedServer,
)
from engine.core.match.rules import Side
from engine.core.match.state import Expedite, PlayState, Rally, Score
from engine.core.match.timeline import PlayedAction
from engine.core.match.vocabulary import (
    FIXTURE_STATUS_ABANDONED,
    STOPPAGE_OPENED_BY,
    STOPPAGES_CLOSED_BY,
    ActionKind,
    ResultKind,
    Stoppage,
    end_match_winner,
    result_kind_from_text,
)


def replay_timeline(actions: Sequence[PlayedAction], fmt: rules.MatchFormat) -> PlayState:
    """The play state that folding these effective actions from the start gives (no events)."""
    play = PlayState(format=fmt)
    sink: list[MatchEvent] = []
    for action in actions:
        play = play_action(play, action, sink)
        sink.clear()
    return play


def play_action(play: PlayState, action: PlayedAction, events: list[MatchEvent]) -> PlayState:
    """Apply one confirmed action at the end of the timeline to the play state; append its events.
    A rally's start and end first (the common case); else the stoppage tables of the vocabulary (an
    action that opens a stoppage does only that), then what its kind does (`PLAY_BY_KIND`)."""
    kind = action.kind
    if kind is ActionKind.POINT_SCORED:
        return _point_scored(play, action, events)
    if kind is ActionKind.POINT_STARTED:
        return _point_started(play, action, events)
    opened = STOPPAGE_OPENED_BY.get(kind)
    if opened is not None and opened not in play.stoppages:
        events.append(StoppageStarted(opened, action.action_id))
        return attrs.evolve(play, stoppages=play.stoppages | {opened})
    closes = STOPPAGES_CLOSED_BY.get(kind)
    if closes is not None:
        play = _close_stoppages(play, closes, action, events)
    played = PLAY_BY_KIND.get(kind)
    return play if played is None else played(play, action, events)


def _expedite(play: PlayState, action: PlayedAction, events: list[MatchEvent]) -> PlayState:
    if play.expedite is not None:
        return play  # on for the rest of the match already
    game, home, away = play.next_rally_position()
    # [ours] The ball is in play when a rally is under way (Point Started, not yet scored): the
    # feed says nothing else about the interrupted rally (FEED.md).
    return attrs.evolve(play, expedite=Expedite(game, home + away, interrupted=play.rally is not None))


def _status_updated(play: PlayState, action: PlayedAction, events: list[MatchEvent]) -> PlayState:
    if action.fixture_status in FIXTURE_STATUS_ABANDONED:
        return finish(play, None, ResultKind.ABANDONED, events)
    return play


#: What an action of each kind does to the play state, besides the stoppages it opens or closes
#: (kinds not listed change nothing; a rally's start and end are `_point_started`/`_point_scored`).
PLAY_BY_KIND: Mapping[ActionKind, Callable[[PlayState, PlayedAction, list[MatchEvent]], PlayState]] = {
    ActionKind.START_MATCH: lambda play, action, events: attrs.evolve(play, started=True),
    ActionKind.START_PERIOD: lambda play, action, events: _open_game_if_due(play, events),
    ActionKind.END_MATCH: lambda play, action, events: _end_match(play, action, events),
    ActionKind.LET: lambda play, action, events: attrs.evolve(play, rally=None),
    ActionKind.EXPEDITE: _expedite,
    ActionKind.STATUS_UPDATED: _status_updated,
}


def _close_stoppages(
    play: PlayState, closes: frozenset[Stoppage], action: PlayedAction, events: list[MatchEvent]
) -> PlayState:
    ended = play.stoppages & closes
    if not ended:
        return play
    for stoppage in sorted(ended, key=lambda s: s.value):
        events.append(StoppageEnded(stoppage, action.action_id))
    return attrs.evolve(play, stoppages=play.stoppages - ended)


def _open_game_if_due(play: PlayState, events: list[MatchEvent]) -> PlayState:
    """Begin the next game if the current one is decided. Play after the match was won means the
    format was longer than configured: the feed wins (`FormatContradicted`, and the format grows)."""
    if not play.game_decided():
        return play if play.started else attrs.evolve(play, started=True)
    fmt = play.format
    contradicted = play.format_contradicted
    if play.winner is not None or play.result is not None:
        while fmt.best_of is not None and rules.match_winner(*play.games, fmt) is not None:
            fmt = attrs.evolve(fmt, best_of=fmt.best_of + 2)
        if fmt.best_of != play.format.best_of:  # the score had decided it: the format was too short
            longer = f"now treated as best of {fmt.best_of}"
            events.append(
                FormatContradicted(
                    f"play went on after the match was over at {play.games[0]}-{play.games[1]} in best of"
                    f" {play.format.best_of}; {longer}",
                    play.format.best_of,
                    fmt.best_of,
                )
            )
            contradicted = True
        else:  # over without the score deciding it (End Match, a retirement…), and play went on
            events.append(Discrepancy("play went on after the match was over"))
    return attrs.evolve(
        play,
        format=fmt,
        points=(*play.points, (0, 0)),
        rallies=(*play.rallies, ()),
        started=True,
        winner=None,
        result=None,
        end_match=False,
        format_contradicted=contradicted,
    )


def _point_started(play: PlayState, action: PlayedAction, events: list[MatchEvent]) -> PlayState:
    play = _open_game_if_due(play, events)
    play = _close_stoppages(play, STOPPAGES_CLOSED_BY[ActionKind.POINT_STARTED], action, events)
    expected = play.expected_server()
    observed = action.side
    first_server = play.first_server
    if observed is not None:
        if first_server is None:
            game, home, away = play.next_rally_position()
            expedite = None if play.expedite is None else play.expedite.from_point_in(game)
            interrupted = play.expedite is not None and play.expedite.interrupted_in(game)
            first_server = rules.infer_first_server_of_match(
                observed, game, home, away, expedite, play.format, interrupted
            )
        elif expected is not None and observed is not expected:
            events.append(UnexpectedServer(play.current_game, expected, observed, action.action_id))
    serving = observed if observed is not None else expected
    player = None if action.player is None else action.player.id
    events.append(PointStarted(play.current_game, serving, action.action_id))
    return play.with_rally(Rally(action.action_id, serving, player), first_server)


def _point_scored(play: PlayState, action: PlayedAction, events: list[MatchEvent]) -> PlayState:
    side = action.side
    if side is None:
        events.append(Discrepancy("Point Scored without a team: no point given"))
        return attrs.evolve(play, rally=None)
    play = _open_game_if_due(play, events)
    home, away = play.points[-1]
    score: Score = (home + 1, away) if side is Side.HOME else (home, away + 1)
    game = play.current_game
    events.append(PointWon(game, side, score, action.action_id))
    offline = play.offline | {(game, home + away + 1)} if action.delayed else play.offline
    play = play.with_point((*play.points[:-1], score), (*play.rallies[:-1], (*play.rallies[-1], side)), offline)
    game_side = rules.game_winner(*score, play.format)
    if game_side is None:
        return play
    home_games, away_games = play.games
    games = (home_games + 1, away_games) if game_side is Side.HOME else (home_games, away_games + 1)
    events.append(GameWon(game, game_side, score, games))
    play = attrs.evolve(play, games=games)
    match_side = rules.match_winner(*games, play.format)
    if match_side is None:
        return play
    return finish(play, match_side, ResultKind.NORMAL, events)


def finish(play: PlayState, winner: Side | None, result: ResultKind, events: list[MatchEvent]) -> PlayState:
    if play.result is not None:
        return play
    events.append(MatchWon(winner, result, play.games))
    return attrs.evolve(play, winner=winner, result=result, rally=None)


def _end_match(play: PlayState, action: PlayedAction, events: list[MatchEvent]) -> PlayState:
    """The provider ends the match. Short of the games the format needs, a side ahead on games is
    the winner of a shorter format than we were told (`FormatContradicted`, the format corrected);
    a match that cannot be read that way is a `Discrepancy`."""
    if play.result is not None:
        return play if play.end_match else attrs.evolve(play, end_match=True)
    play = attrs.evolve(play, end_match=True)
    result = result_kind_from_text(action.end_reason)
    if result is ResultKind.ABANDONED:
        return finish(play, None, result, events)
    if result is not ResultKind.NORMAL:
        return finish(play, end_match_winner(action.side), result, events)
    home_games, away_games = play.games
    leader = Side.HOME if home_games > away_games else Side.AWAY if away_games > home_games else None
    winner = end_match_winner(action.side) or leader
    best_of = play.format.best_of
    if best_of is not None:
        won = max(home_games, away_games) if winner is leader and winner is not None else 0
        if won >= 2:  # best of 3 or longer: a 1-0 "normal" end reads as no format we know
            corrected = 2 * won - 1
            events.append(
                FormatContradicted(
                    f"the provider ended the match at {home_games}-{away_games} games, short of best of"
                    f" {best_of}; now treated as best of {corrected}",
                    best_of,
                    corrected,
                )
            )
            play = attrs.evolve(play, format=attrs.evolve(play.format, best_of=corrected), format_contradicted=True)
        else:
            events.append(
                Discrepancy(f"the match ended at {home_games}-{away_games} games, short of best of {best_of}")
            )
    return finish(play, winner, result, events)
