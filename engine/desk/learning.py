"""A desk that learns (issue 29.2): each finished fixture's result joins the ratings, and the file.

`RatingsLearner` is a desk observer (`desk.observe(learner)`): when a fixture's match is won
normally (`MatchWon`, not a retirement or walkover) and its lineups named both sides, the result is
added to the ratings once per fixture (the ratings file remembers the fixtures it learned, so a
restart that replays a finished match adds nothing), each side under the rated player its team id
or its name finds (and its team id remembered, to find it by id from then on), and the file is
rewritten (atomically). The
fixtures followed from then on are priced with the new ratings.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.core.events import MatchWon
from engine.core.match.rules import Side
from engine.core.match.vocabulary import ResultKind
from engine.core.update import Update
from engine.desk.service import DeskObserver
from engine.io.recording import posix_seconds
from engine.ratings import Ratings, save_ratings

log = logging.getLogger("engine.desk")


class RatingsLearner(DeskObserver):
    """The desk's ratings, kept up to date with every fixture it sees finish (see the module docstring)."""

    def __init__(self, ratings: Ratings, path: Path | None = None) -> None:
        self.ratings = ratings
        self.path = path
        self.learned = 0  # results added by this run

    def sent(self, fixture: Any, update: Update) -> None:
        won = next((event for event in update.events if isinstance(event, MatchWon)), None)
        if won is None or won.side is None or won.result is not ResultKind.NORMAL:
            return
        fixture_id = update.fixture_id or ""
        home, away = update.state.match.players
        if home is None or away is None or fixture_id in self.ratings.learned:
            return
        moment = posix_seconds(update.timestamp)
        year = datetime.fromtimestamp(moment, UTC).year if moment is not None else datetime.now(UTC).year
        ids = update.state.match.player_ids
        self.ratings = self.ratings.with_result(home, away, won.side is Side.HOME, year, fixture_id, ids)
        self.learned += 1
        log.info("fixture %s: %s v %s joins the ratings (%s won)", fixture_id, home, away, won.side.value)
        if self.path is not None:
            try:
                save_ratings(self.ratings, self.path)
            except OSError as exc:  # the desk goes on; the next finished match tries again
                log.error("cannot write the ratings to %s: %s", self.path, exc.strerror or exc)
