"""ITTF rules (Handbook 2.11-2.15; FEED.md section 5), one class per law."""

from __future__ import annotations

import pytest

from engine.core.match import rules
from engine.core.match.rules import MatchFormat, Side
from engine.core.match.state import Expedite
from engine.testing.feedgen import POINT_STARTED as POINT_STARTED_ID

HOME, AWAY = Side.HOME, Side.AWAY


class TestLaw2_11_AGame:
    @pytest.mark.parametrize(
        ("home", "away", "winner"),
        [(11, 0, HOME), (11, 9, HOME), (10, 11, None), (11, 10, None), (12, 10, HOME), (14, 16, AWAY), (10, 10, None)],
    )
    def test_first_to_11_with_a_lead_of_2(self, home: int, away: int, winner: Side | None) -> None:
        assert rules.game_winner(home, away) is winner


class TestLaw2_12_AMatch:
    @pytest.mark.parametrize(
        ("best_of", "games", "winner"),
        [
            (3, (2, 0), HOME),
            (3, (1, 1), None),
            (5, (2, 2), None),
            (5, (1, 3), AWAY),
            (7, (3, 3), None),
            (7, (4, 2), HOME),
        ],
    )
    def test_best_of_n_is_first_to_half_plus_one(
        self, best_of: int, games: tuple[int, int], winner: Side | None
    ) -> None:
        assert rules.match_winner(*games, MatchFormat(best_of=best_of)) is winner

    @pytest.mark.parametrize("best_of", [0, 2, 4, -1])
    def test_format_must_be_odd_and_positive(self, best_of: int) -> None:
        with pytest.raises(ValueError, match="best_of"):
            MatchFormat(best_of=best_of)


class TestLaw2_13_ServiceOrder:
    def test_two_points_each_then_one_each_from_10_all(self) -> None:
        servers = [rules.server(HOME, 1, n, 0) for n in range(8)]
        assert servers == [HOME, HOME, AWAY, AWAY, HOME, HOME, AWAY, AWAY]
        at_deuce = [rules.server(HOME, 1, 10 + k // 2 + k % 2, 10 + k // 2) for k in range(6)]
        # 10-10 (20 points): turn 10 -> HOME; then one point each
        assert at_deuce == [HOME, AWAY, HOME, AWAY, HOME, AWAY]

    def test_first_receiver_of_a_game_serves_first_in_the_next(self) -> None:
        assert [rules.first_server_of_game(AWAY, g) for g in range(1, 6)] == [AWAY, HOME, AWAY, HOME, AWAY]
        assert rules.server(AWAY, 2, 0, 0) is HOME

    def test_inferring_the_first_server_inverts_the_rule(self) -> None:
        for first in (HOME, AWAY):
            for game in (1, 2, 5):
                for home, away in [(0, 0), (3, 2), (7, 9), (10, 10), (12, 11)]:
                    seen = rules.server(first, game, home, away)
                    assert rules.infer_first_server_of_match(seen, game, home, away) is first


class TestLaw2_15_Expedite:
    def test_out_of_play_the_receiver_of_the_preceding_rally_serves_then_one_point_each(self) -> None:
        # Expedite on after 5 rallies, between rallies; the 5th (index 4, turn 2) was HOME's: AWAY received it.
        turns = [rules.service_turn(n, expedite_from=5) for n in range(3, 10)]
        assert turns == [1, 2, 3, 4, 5, 6, 7]
        assert rules.server(HOME, 1, 3, 2, expedite_from=5) is AWAY  # the preceding rally's receiver
        assert rules.server(HOME, 1, 3, 3, expedite_from=5) is HOME
        assert rules.server(HOME, 1, 4, 3, expedite_from=5) is AWAY

    def test_in_play_the_interrupted_rally_s_server_serves_it_again(self) -> None:
        # The 6th rally (index 5, turn 2: HOME's) was under way when the system came on.
        assert rules.server(HOME, 1, 3, 2, expedite_from=5, interrupted=True) is HOME
        assert rules.server(HOME, 1, 3, 3, expedite_from=5, interrupted=True) is AWAY

    @pytest.mark.parametrize("interrupted", [False, True])
    def test_at_every_start_of_the_system(self, interrupted: bool) -> None:
        """ITTF 2.15.2 at every point of a game the system can start at (deuce included), both
        first servers, games 1 and 2: the first server under it is the interrupted rally's server
        (ball in play) or the preceding rally's receiver (not in play); then one serve each; the
        points before it keep the normal order."""
        for first in (HOME, AWAY):
            for game in (1, 2):
                normal = [rules.server(first, game, played, 0) for played in range(30)]
                for since in range(1, 28):
                    starts = normal[since] if interrupted else normal[since - 1].other
                    for played in range(30):
                        expected = (
                            normal[played] if played < since else starts if (played - since) % 2 == 0 else starts.other
                        )
                        got = rules.server(first, game, played, 0, expedite_from=since, interrupted=interrupted)
                        assert got is expected, (first, game, since, played)
                        back = rules.infer_first_server_of_match(got, game, played, 0, since, interrupted=interrupted)
                        assert back is first

    def test_expedite_from_the_start_of_a_game_alternates_every_point(self) -> None:
        assert [rules.server(HOME, 3, n, 0, expedite_from=0) for n in range(4)] == [HOME, AWAY, HOME, AWAY]


class TestLaw2_13_6_Ends:
    def test_ends_change_after_each_game(self) -> None:
        assert [rules.ends_swapped(g, 0, 0) for g in range(1, 5)] == [False, True, False, True]

    def test_ends_change_at_5_in_the_last_possible_game(self) -> None:
        assert rules.ends_swapped(5, 4, 4) is False
        assert rules.ends_swapped(5, 5, 0) is True
        assert rules.ends_swapped(5, 3, 5) is True
        assert rules.ends_swapped(7, 5, 2, MatchFormat(best_of=7)) is True
        assert rules.ends_swapped(5, 5, 2, MatchFormat(best_of=7)) is False  # not the last game of a bo7


class TestExpediteInTheReducer:
    """What the feed says about the interrupted rally (FEED.md): a rally under way when the
    Expedite action comes (Point Started, not yet scored) was interrupted with the ball in play."""

    @staticmethod
    def _after(ball_in_play: bool) -> tuple[object, Side | None, float | None]:
        from scenario import Feed, run

        from engine.testing.feedgen import EXPEDITE

        feed = Feed()
        feed.begin()
        servers = (HOME, HOME, AWAY, AWAY, HOME)  # HOME first; rally index 5 is HOME's too (turn 2)
        for winner, server in zip((HOME, HOME, AWAY, AWAY, HOME), servers, strict=True):
            feed.rally(winner, server)
        if ball_in_play:
            feed.emit(POINT_STARTED_ID, HOME)  # the 6th rally under way ...
            feed.emit(EXPEDITE)  # ... when the system comes on
        else:
            feed.emit(EXPEDITE)
        state, _, _ = run(feed.actions, MatchFormat(best_of=5))
        priced = state.prices["point_winner:1:6"].fair["home"] if "point_winner:1:6" in state.prices else None
        return state.match.play.expedite, state.match.play.expected_server(), priced

    def test_between_rallies_the_receiver_of_the_preceding_rally_serves(self) -> None:
        expedite, serving, home_wins_next = self._after(ball_in_play=False)
        assert expedite == Expedite(1, 5, interrupted=False)
        assert serving is AWAY  # HOME served rally 5 (index 4): AWAY received it
        assert home_wins_next is not None
        assert home_wins_next < 0.5

    def test_with_the_ball_in_play_the_interrupted_rally_s_server_serves_again(self) -> None:
        expedite, serving, home_wins_next = self._after(ball_in_play=True)
        assert expedite == Expedite(1, 5, interrupted=True)
        assert serving is HOME
        assert home_wins_next is not None
        assert home_wins_next > 0.5
