"""ITTF rules (Handbook 2.11-2.15; FEED.md section 5), one class per law."""

from __future__ import annotations

import pytest

from engine.core.match import rules
from engine.core.match.rules import MatchFormat, Side

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
    def test_server_of_preceding_rally_serves_then_one_point_each(self) -> None:
        # Expedite on after 5 rallies; the 5th (index 4, turn 2) was HOME's under the normal order.
        turns = [rules.service_turn(n, expedite_from=5) for n in range(3, 10)]
        assert turns == [1, 2, 2, 3, 4, 5, 6]
        assert rules.server(HOME, 1, 3, 2, expedite_from=5) is HOME  # the preceding rally's server again
        assert rules.server(HOME, 1, 3, 3, expedite_from=5) is AWAY
        assert rules.server(HOME, 1, 4, 3, expedite_from=5) is HOME

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
