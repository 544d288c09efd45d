"""Format safety (issue 20.5): with the format unknown nothing is offered on a game that may not be
played; a format the feed disproves is corrected (`FormatContradicted`) and never settles what must
then be rolled back; by default what depends on the format settles on the provider's End Match."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario import with_prior

from engine import playback
from engine.analysis.report import summarize
from engine.core.config import MarketConfig
from engine.core.events import Discrepancy, FormatContradicted
from engine.core.inputs import EndOfStream
from engine.core.markets.catalogue import MarketPolicy, parse_market
from engine.core.markets.signals import (
    BetStop,
    BetStopChanged,
    MarketResumed,
    MarketSettled,
    MarketSuspended,
    Reason,
    SettlementRolledBack,
    VoidRolledBack,
    expand,
)
from engine.core.match.rules import UNKNOWN_FORMAT, MatchFormat
from engine.core.state import MatchState
from engine.core.update import Update, step
from engine.feed.catalogue import ActionKind, ResultKind
from engine.feed.wire import Action
from engine.io.recording import read_recording
from engine.testing import GeneratedMatch, matches

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures_data"
RECORDINGS = sorted(FIXTURES.glob("*.jsonl"))
KNOWN_FORMAT = [path for path in RECORDINGS if read_recording(path).meta.best_of is not None]


def _updates(path: Path, state: MatchState) -> list[tuple[object, Update]]:
    recording = read_recording(path)
    out = []
    for moment, message in playback.inputs(recording):
        state, update = step(state, message, moment)
        out.append((message, update))
    return out


def _start(path: Path, fmt: MatchFormat, markets: MarketConfig | None = None) -> MatchState:
    recording = read_recording(path)
    return MatchState.new(recording.fixture_id, fmt, markets=with_prior(markets or MarketConfig()))


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_with_the_format_unknown_no_market_is_offered_on_a_game_not_begun(path: Path) -> None:
    """Before: at the match's last point `point_winner:<next game>:1` opened, on a game never played."""
    for _, update in _updates(path, _start(path, UNKNOWN_FORMAT)):
        begun = len(update.state.points)
        for signal in update.signals:
            for single in expand(signal) if not hasattr(signal, "prices") else ():
                market = parse_market(single.market)
                if market.game and isinstance(single, MarketResumed | MarketSuspended):
                    assert market.game <= max(begun, 1), f"{single.market} offered with {begun} games begun"


def _wrong_formats(best_of: int) -> list[int]:
    return [other for other in (3, 5, 7, 9) if other != best_of]


@pytest.mark.parametrize("path", KNOWN_FORMAT, ids=lambda p: p.stem)
def test_a_wrong_format_settles_nothing_that_is_rolled_back_and_ends_like_the_right_one(path: Path) -> None:
    """Every recording replayed with every wrong best-of: the feed's contradiction corrects it, no
    settlement or voiding is rolled back that the right format does not roll back too, and every
    market both books hold ends the same."""
    right_best_of = read_recording(path).meta.best_of
    assert right_best_of is not None
    right = _updates(path, _start(path, MatchFormat(best_of=right_best_of)))
    right_rollbacks = _rollbacks(right)
    right_markets = summarize(right[-1][1].state)["markets"]
    for best_of in _wrong_formats(right_best_of):
        wrong = _updates(path, _start(path, MatchFormat(best_of=best_of)))
        assert _rollbacks(wrong) <= right_rollbacks, best_of
        final = wrong[-1][1].state
        markets = summarize(final)["markets"]
        for market_id, entry in right_markets.items():
            if market_id not in markets:
                continue  # offered under the right format only (a retirement proves no format)
            assert markets[market_id]["status"] == entry["status"], (best_of, market_id)
            assert markets[market_id]["result"] == entry["result"], (best_of, market_id)
        contradicted = [e for _, u in wrong for e in u.events if isinstance(e, FormatContradicted)]
        if final.result is ResultKind.NORMAL:  # a retirement or an abandonment proves no format
            assert contradicted, f"best of {best_of}: the feed disproved it and nobody said so"
            assert final.format.best_of == right_best_of


def _rollbacks(updates: list[tuple[object, Update]]) -> set[str]:
    return {
        signal.market
        for _, update in updates
        for signal in update.signals
        if isinstance(signal, SettlementRolledBack | VoidRolledBack)
    }


def test_bo7_told_best_of_5_waits_instead_of_settling_at_3_2() -> None:
    """Before: `replay ittf_ws_bo7_deuce_heavy_1.jsonl --best-of 5` settled match_winner at 3-2,
    rolled it back, and settled the other side, without a word."""
    path = FIXTURES / "ittf_ws_bo7_deuce_heavy_1.jsonl"
    updates = _updates(path, _start(path, MatchFormat(best_of=5)))
    at_3_2 = next(u for _, u in updates if u.score.games == (3, 2) and u.state.winner is not None)
    assert "match_winner" not in {getattr(s, "market", None) for s in at_3_2.signals}
    assert at_3_2.state.book["match_winner"].reasons == (Reason.AWAITING_END_MATCH,)
    (contradicted,) = [e for _, u in updates for e in u.events if isinstance(e, FormatContradicted)]
    assert (contradicted.previous, contradicted.corrected) == (5, 7)
    after = next(u for _, u in updates if contradicted in u.events)
    assert Reason.FORMAT_CONTRADICTED in after.state.book["match_winner"].reasons
    assert not any(isinstance(e, Discrepancy) for e in after.events)
    settled = [
        (message, s)
        for message, u in updates
        for s in u.signals
        if isinstance(s, MarketSettled) and s.market == "match_winner"
    ]
    ((message, signal),) = settled  # once, on the provider's End Match
    assert isinstance(message, Action)
    assert message.kind is ActionKind.END_MATCH
    assert signal.result == "away"


def test_bo5_told_best_of_7_settles_on_end_match_instead_of_staying_suspended() -> None:
    """Before: `replay ittf_ws_bo5_2.jsonl --best-of 7` left match_winner suspended forever."""
    path = FIXTURES / "ittf_ws_bo5_2.jsonl"
    updates = _updates(path, _start(path, MatchFormat(best_of=7)))
    final = updates[-1][1].state
    assert final.format.best_of == 5
    assert final.book["match_winner"].result == "away"
    assert final.book["correct_score"].result == "2-3"
    (contradicted,) = [e for _, u in updates for e in u.events if isinstance(e, FormatContradicted)]
    assert (contradicted.previous, contradicted.corrected) == (7, 5)
    assert final.match.discrepancies == 0


def test_by_default_what_depends_on_the_format_settles_on_end_match_and_the_switch_settles_at_the_point() -> None:
    path = FIXTURES / "aicup2026_m05_female_bo7.jsonl"
    safe = _updates(path, _start(path, MatchFormat(best_of=7)))
    eager = _updates(
        path, _start(path, MatchFormat(best_of=7), MarketConfig(policy=MarketPolicy(settle_at_deciding_point=True)))
    )

    def settled_by(updates: list[tuple[object, Update]]) -> dict[str, str]:
        """Match winner and correct score -> the kind of the input that settled them."""
        found = {}
        for message, update in updates:
            for signal in update.signals:
                if isinstance(signal, MarketSettled) and signal.market in ("match_winner", "correct_score"):
                    found[signal.market] = message.kind.name if isinstance(message, Action) else type(message).__name__
        return found

    assert settled_by(safe) == {"match_winner": "END_MATCH", "correct_score": "END_MATCH"}
    assert settled_by(eager) == {"match_winner": "POINT_SCORED", "correct_score": "POINT_SCORED"}  # the deciding point
    assert summarize(safe[-1][1].state)["markets"] == summarize(eager[-1][1].state)["markets"]
    deciding = next(u for _, u in safe if u.state.winner is not None)
    stops = [s for s in deciding.signals if isinstance(s, BetStop | BetStopChanged)]
    assert stops
    assert all(Reason.AWAITING_END_MATCH in s.reasons for s in stops)
    assert deciding.state.book["match_winner"].status.value == "suspended"


def test_an_end_match_that_cannot_be_read_as_a_shorter_format_stays_a_discrepancy() -> None:
    """An End Match at level games (2-2 of a best of 5) names no winner the games can give: no
    format is guessed, and the markets wait (fail safe)."""
    path = FIXTURES / "ittf_ws_bo5_2.jsonl"  # ends 2-3
    recording = read_recording(path)
    messages = [message for _, message in playback.inputs(recording)]
    last_game_starts = max(
        i for i, m in enumerate(messages) if isinstance(m, Action) and m.kind is ActionKind.START_PERIOD
    )
    end = next(m for m in messages if isinstance(m, Action) and m.kind is ActionKind.END_MATCH)
    state = _start(path, MatchFormat(best_of=5))
    for message in messages[:last_game_starts]:
        state, _ = step(state, message)
    cut = attrs.evolve(end, team=None, summary=None, seq=messages[last_game_starts].seq)  # type: ignore[attr-defined]
    state, update = step(state, cut)
    assert state.games == (2, 2)
    assert any(isinstance(e, Discrepancy) for e in update.events)
    assert not any(isinstance(e, FormatContradicted) for e in update.events)
    assert state.book["match_winner"].status.value != "settled"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(matches(disturbances=(), ending="normal", max_points=200), st.sampled_from([1, 3, 5, 7, 9]))
def test_generated_matches_under_any_format_never_roll_back(match: GeneratedMatch, best_of: int) -> None:
    """A plain generated match (no corrections) folded under any format, right or wrong: nothing is
    ever rolled back, and the final book equals the truth's."""
    state = MatchState.new(match.fixture_id, attrs.evolve(match.format, best_of=best_of))
    for message in match.messages:
        state, update = step(state, message)
        assert not any(isinstance(s, SettlementRolledBack | VoidRolledBack) for s in update.signals)
    state, _ = step(state, EndOfStream())
    assert state.format.best_of == match.format.best_of
    for market_id, truth in match.truth.markets.items():
        entry = state.book[market_id]
        got = f"settled:{entry.result}" if entry.result is not None else f"{entry.status.value}:{entry.void_reason}"
        if entry.void_reason is not None:
            got = f"void:{entry.void_reason.value}"
        assert got == truth, (best_of, market_id)
