"""Reconciliation with the provider's own score summary (FEED.md section 2, [ours]): on
disagreement the provider's score is adopted and a `Discrepancy` reported; an impossible one is
reported and never adopted."""

from __future__ import annotations

import attrs

from engine.core.match import rules
from engine.core.match.events import Discrepancy, MatchEvent
from engine.core.match.inputs import Action, Summary
from engine.core.match.play import finish
from engine.core.match.rules import Side
from engine.core.match.state import PlayState, Rallies, Score
from engine.core.match.vocabulary import ResultKind


def _trimmed(points: tuple[Score, ...]) -> tuple[Score, ...]:
    end = len(points)
    while end and points[end - 1] == (0, 0):
        end -= 1
    return points[:end]


def _provider_points(summary: Summary) -> tuple[Score, ...]:
    return tuple((period.home_points, period.away_points) for period in summary.periods)


def reconcile(play: PlayState, before: PlayState, action: Action, events: list[MatchEvent]) -> PlayState:
    """The play state after checking it against the provider's summary: adopted on disagreement.
    `before` is the play state before this action, whose point order was checked by the last summary."""
    summary = action.summary
    if summary is None:
        return play
    provider_games = (summary.home_games, summary.away_games)
    provider = _trimmed(_provider_points(summary))
    derived = _trimmed(play.points)
    if provider_games == play.games and provider == derived:
        return play
    impossible = rules.impossible_score(provider_games, provider, play.format)
    if impossible is not None:
        # Never adopted: it would settle markets on nonsense (and a huge claimed score costs huge work).
        events.append(
            Discrepancy(f"the provider's score is impossible ({impossible}); keeping ours", derived, provider)
        )
        return play
    events.append(
        Discrepancy(
            f"provider score {provider_games[0]}-{provider_games[1]} {list(provider)} "
            f"differs from ours {play.games[0]}-{play.games[1]} {list(derived)}; adopting the provider's",
            derived,
            provider,
        )
    )
    padding = max(0, len(play.points) - len(provider))
    points = provider + ((0, 0),) * padding
    rallies = tuple(
        _at(play.rallies, game)
        if game < len(play.points) and score == play.points[game]
        else _adopted_rallies(score, _at(play.rallies, game), _at(before.rallies, game))
        for game, score in enumerate(points)
    )
    adopted = attrs.evolve(play, points=points, rallies=rallies, games=provider_games)
    winner = rules.match_winner(*provider_games, adopted.format)
    if adopted.result is None and winner is not None:
        return finish(adopted, winner, ResultKind.NORMAL, events)
    if adopted.result is ResultKind.NORMAL and winner is None:
        return attrs.evolve(adopted, winner=None, result=None)
    return adopted


def _at(rallies: tuple[Rallies, ...], game: int) -> Rallies:
    return rallies[game] if game < len(rallies) else ()


def _adopted_rallies(score: Score, ours: Rallies, verified: Rallies) -> Rallies:
    """A game's point order under an adopted score: what the last summary checked is kept as far as
    it still fits the score; the rest of the points count with unknown winners (None)."""
    keep = 0
    home = away = 0
    for mine, checked in zip(ours, verified, strict=False):
        if mine is None or mine is not checked:
            break
        home, away = (home + 1, away) if mine is Side.HOME else (home, away + 1)
        if home > score[0] or away > score[1]:
            break
        keep += 1
    return (*ours[:keep], *(None,) * (sum(score) - keep))
