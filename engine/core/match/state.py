"""The match state: immutable values. Stores what cannot be derived; derives the rest on demand.

`PlayState` is the fold of the effective timeline (points, games, first server, expedite, rally,
stoppages, result). `MatchFacts` adds what is about the feed rather than the match's history:
sequencing, the pending set, the provider's current statuses, counters and the discrepancy flag.
Who serves, which ends, whether the match is between games: derived by `engine.core.match.rules`.
Nothing here knows of markets or prices (`engine.core.state.MatchState` holds them beside a `MatchFacts`).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from engine.core.match import rules
from engine.core.match.events import Status
from engine.core.match.rules import DEFAULT_FORMAT, UNKNOWN_FORMAT, MatchFormat, Side
from engine.core.match.sequence import Sequencer
from engine.core.match.timeline import Timeline
from engine.core.match.vocabulary import (
    COLLECTION_NOT_LIVE,
    FIXTURE_STATUS_ABANDONED,
    FIXTURE_STATUS_CANCELLED,
    FIXTURE_STATUS_COMPLETED,
    FIXTURE_STATUS_LIVE,
    FIXTURE_STATUS_POSTPONED,
    ResultKind,
    Stoppage,
)

#: [ours] Provider fixture statuses (FEED.md section 2) that decide the match status while the
#: match has no result: the status table's provider rows.
STATUS_FROM_PROVIDER: Mapping[str | None, Status] = {
    FIXTURE_STATUS_POSTPONED: Status.POSTPONED,
    FIXTURE_STATUS_CANCELLED: Status.CANCELLED,
}

Score = tuple[int, int]
#: Who won each point of a game, in order; None where the point counts but its winner is unknown
#: (the provider's score was adopted after we missed it).
Rallies = tuple[Side | None, ...]


@attrs.frozen(slots=True)
class Rally:
    """A rally under way: from Point Started until Point Scored (or a let)."""

    action_id: str
    server: Side | None
    server_player: str | None = None


@attrs.frozen(slots=True)
class Expedite:
    """The expedite system came on in `game` after `points_played` points of it (ITTF 2.15),
    `interrupted`: with the ball in play (a rally under way: it is played again by its server;
    otherwise the receiver of the preceding rally serves first, 2.15.2)."""

    game: int
    points_played: int
    interrupted: bool = False

    def interrupted_in(self, game: int) -> bool:
        """`interrupted` for `rules.server` in `game` (only the game it came on in)."""
        return self.interrupted and game == self.game

    def from_point_in(self, game: int) -> int | None:
        """`expedite_from` for `rules.server` in `game`: None before it, 0 in later games."""
        if game < self.game:
            return None
        return self.points_played if game == self.game else 0


@attrs.frozen(slots=True)
class PlayState:
    """The match as the effective timeline tells it."""

    format: MatchFormat = DEFAULT_FORMAT
    points: tuple[Score, ...] = ()  # one entry per game begun, the current game last
    rallies: tuple[Rallies, ...] = ()  # parallel to points: each game's point winners, in order
    offline: frozenset[tuple[int, int]] = frozenset()  # (game, point) scored while delayStatus was on
    games: Score = (0, 0)  # games won; kept, not derived, because an adopted provider score may say so
    first_server: Side | None = None  # who served first in game 1, as anchored by the feed
    expedite: Expedite | None = None
    rally: Rally | None = None
    stoppages: frozenset[Stoppage] = frozenset()
    started: bool = False
    winner: Side | None = None
    result: ResultKind | None = None
    end_match: bool = False  # the provider's End Match is in the timeline
    #: The feed disproved the format (play after the match was over by it, or an End Match short of
    #: it): the format was corrected, and the markets that depend on it wait for End Match.
    format_contradicted: bool = False

    @property
    def current_game(self) -> int:
        """The number (1-based) of the game in play or last played; 0 before the first."""
        return len(self.points)

    def game_decided(self) -> bool:
        """True when the current game has a winner (or none has begun)."""
        if not self.points:
            return True
        home, away = self.points[-1]
        return rules.game_winner(home, away, self.format) is not None

    def next_rally_position(self) -> tuple[int, int, int]:
        """(game, home, away) of the next rally to be played: a new game once the current is decided."""
        if self.game_decided() and self.winner is None:
            return self.current_game + 1, 0, 0
        home, away = self.points[-1]
        return self.current_game, home, away

    def expected_server(self) -> Side | None:
        """The side the rules say serves the next rally, if the first server is known."""
        if self.first_server is None or self.winner is not None or self.result is not None:
            return None
        game, home, away = self.next_rally_position()
        if self.expedite is None:
            return rules.server(self.first_server, game, home, away, None, self.format)
        expedite = self.expedite
        return rules.server(
            self.first_server,
            game,
            home,
            away,
            expedite.from_point_in(game),
            self.format,
            expedite.interrupted_in(game),
        )

    def server(self) -> Side | None:
        """Who serves: the rally's server while one is under way, else the rules' next server."""
        if self.rally is not None:
            return self.rally.server
        return self.expected_server()

    # --- the hot path's copies: direct construction, about three times faster than attrs.evolve
    # (tests/core/test_state.py checks each equals the evolve it stands for)

    def with_rally(self, rally: Rally | None, first_server: Side | None) -> PlayState:
        """This play state with `rally` under way (None: none) and `first_server`."""
        return PlayState(
            self.format,
            self.points,
            self.rallies,
            self.offline,
            self.games,
            first_server,
            self.expedite,
            rally,
            self.stoppages,
            self.started,
            self.winner,
            self.result,
            self.end_match,
            self.format_contradicted,
        )

    def with_point(
        self, points: tuple[Score, ...], rallies: tuple[Rallies, ...], offline: frozenset[tuple[int, int]]
    ) -> PlayState:
        """This play state after a point scored: the new score, no rally under way."""
        return PlayState(
            self.format,
            points,
            rallies,
            offline,
            self.games,
            self.first_server,
            self.expedite,
            None,
            self.stoppages,
            self.started,
            self.winner,
            self.result,
            self.end_match,
            self.format_contradicted,
        )

    def ends_swapped(self) -> bool:
        """True when each side is at the end the other started the match at."""
        if not self.points:
            return False
        if self.winner is not None or self.result is not None:
            game, (home, away) = self.current_game, self.points[-1]
        else:
            game, home, away = self.next_rally_position()
        return rules.ends_swapped(game, home, away, self.format)


@attrs.frozen(slots=True)
class MatchFacts:
    """Everything the engine knows about one fixture's match and feed (`engine.core.state.MatchState`
    holds it beside the book and the prices; not the runtime's `engine.Match`, the handle of a
    followed fixture)."""

    fixture_id: str | None = None
    configured_format: MatchFormat = DEFAULT_FORMAT
    play: PlayState = PlayState()
    timeline: Timeline = attrs.field(factory=Timeline)
    sequencer: Sequencer = attrs.field(factory=Sequencer)
    last_seq: int | None = None
    discrepancy: bool = False
    delayed: bool = False
    fixture_status: str | None = None
    collection_status: str | None = None
    discrepancies: int = 0
    malformed: int = 0
    gaps: int = 0
    duplicates: int = 0
    unknown_actions: int = 0
    gap_unverified: bool = False  # messages were given up as lost; cleared like a discrepancy
    stale: bool = False  # the adapter said nothing arrived for too long; cleared by any message
    disconnected: bool = False
    lagging: bool = False  # the runtime's consumer fell behind (`Lagging` / `CaughtUp`)
    unfollowed: bool = False  # the runtime stopped following the fixture (`Unfollowed`): for good
    catching_up: bool = False  # the runtime folds a backlog (`CatchingUp` / `CaughtUpWithFeed`)
    #: The home and away player (or pair) as first named: the lineups, else any action's team
    #: (None: not yet named).
    players: tuple[str | None, str | None] = (None, None)
    #: The provider's team ids of the two sides, as first named with them (None: not given).
    player_ids: tuple[str | None, str | None] = (None, None)
    ratings_asked: bool = False  # the configured ratings were asked for the prior (`RatingsLookedUp`)
    #: Priced with nothing known of the players (no ratings found, no pre-match price): the
    #: match-level markets stay suspended (`Reason.NO_PRIOR`).
    no_prior: bool = False

    @classmethod
    def new(
        cls, fixture_id: str | None = None, fmt: MatchFormat = UNKNOWN_FORMAT, max_held: int | None = None
    ) -> MatchFacts:
        """The match before any message (the format by default unknown, singles)."""
        sequencer = Sequencer() if max_held is None else Sequencer(max_held=max_held)
        return cls(fixture_id=fixture_id, configured_format=fmt, play=PlayState(format=fmt), sequencer=sequencer)

    # --- the hot path's copy: direct construction, about three times faster than attrs.evolve
    # (tests/core/test_state.py checks it equals the evolve it stands for)

    def with_action(
        self, timeline: Timeline, play: PlayState, last_seq: int | None, unknown_actions: int, sequencer: Sequencer
    ) -> MatchFacts:
        """This match with one more action recorded and folded (what `reduce` changes per action)."""
        return MatchFacts(
            self.fixture_id,
            self.configured_format,
            play,
            timeline,
            sequencer,
            last_seq,
            self.discrepancy,
            self.delayed,
            self.fixture_status,
            self.collection_status,
            self.discrepancies,
            self.malformed,
            self.gaps,
            self.duplicates,
            unknown_actions,
            self.gap_unverified,
            self.stale,
            self.disconnected,
            self.lagging,
            self.unfollowed,
            self.catching_up,
            self.players,
            self.player_ids,
            self.ratings_asked,
            self.no_prior,
        )

    # --- derived views -------------------------------------------------------------------------

    def names(self) -> dict[Side, str]:
        """The sides the lineups (or any action) named so far, and their player (or pair)."""
        home, away = self.players
        named = {Side.HOME: home, Side.AWAY: away}
        return {side: name for side, name in named.items() if name is not None}

    @property
    def format(self) -> MatchFormat:
        """The format in force: the configured one, lengthened if the feed played on past its end."""
        return self.play.format

    @property
    def games(self) -> Score:
        """Games won (home, away)."""
        return self.play.games

    @property
    def points(self) -> tuple[Score, ...]:
        """Points of every game begun (home, away), the current game last."""
        return self.play.points

    @property
    def current_game(self) -> int:
        """The game in play or last played (1-based); 0 before the first."""
        return self.play.current_game

    @property
    def server(self) -> Side | None:
        """The side serving the rally under way, or due to serve the next one."""
        return self.play.server()

    @property
    def server_player(self) -> str | None:
        """The serving player's id, when the feed named one on the rally under way (doubles)."""
        return None if self.play.rally is None else self.play.rally.server_player

    @property
    def ends_swapped(self) -> bool:
        """True when each side plays from the end the other started the match at."""
        return self.play.ends_swapped()

    @property
    def expedite(self) -> bool:
        """True once the expedite system is on (for the rest of the match)."""
        return self.play.expedite is not None

    @property
    def rally_in_progress(self) -> bool:
        """True between Point Started and its Point Scored: the ball is in play."""
        return self.play.rally is not None

    @property
    def stoppages(self) -> frozenset[Stoppage]:
        """Open stoppages: timeout, video check, play stopped, injury, delayed start."""
        return self.play.stoppages

    @property
    def pending(self) -> frozenset[str]:
        """Ids of actions that are Pending: possibly happened, not yet in the score."""
        return self.timeline.pending

    @property
    def winner(self) -> Side | None:
        """The match winner, once there is one."""
        return self.play.winner

    @property
    def result(self) -> ResultKind | None:
        """How the match ended (None while it goes on)."""
        if self.play.result is None and self.fixture_status in FIXTURE_STATUS_ABANDONED:
            return ResultKind.ABANDONED
        return self.play.result

    @property
    def provider_says_finished(self) -> bool:
        """True when the provider's fixture status says the match is completed."""
        return self.fixture_status == FIXTURE_STATUS_COMPLETED

    @property
    def status(self) -> Status:
        """Where the match stands: by how it ended, else the provider's fixture status when
        `STATUS_FROM_PROVIDER` maps it, else collection trouble, else the play."""
        result = self.result
        if result is ResultKind.ABANDONED:
            return Status.ABANDONED
        if result is not None:
            return Status.FINISHED
        from_provider = STATUS_FROM_PROVIDER.get(self.fixture_status)
        if from_provider is not None:
            return from_provider
        if self.collection_status in COLLECTION_NOT_LIVE:
            return Status.SUSPENDED
        if not self.play.started and self.fixture_status != FIXTURE_STATUS_LIVE:
            return Status.NOT_STARTED
        if self.play.points and self.play.game_decided():
            return Status.BETWEEN_GAMES
        return Status.LIVE
