"""The reducer against FEED.md: the sendType lifecycle (section 2), action types (section 3),
reconciliation with fixtureSummary, and the match's shape (section 4)."""

from __future__ import annotations

import attrs
from scenario import AWAY, HOME, Feed, names, run

from engine.analysis.report import summarize
from engine.core.events import (
    ActionPending,
    Discrepancy,
    FormatContradicted,
    MatchWon,
    PastAmended,
    Status,
    StoppageEnded,
    StoppageStarted,
    UnexpectedServer,
    UnknownAction,
)
from engine.core.match.rules import MatchFormat
from engine.core.match.timeline import KeptAction, PlayedAction
from engine.core.reduce import reduce
from engine.core.state import MatchState
from engine.feed.catalogue import ActionKind, ResultKind, SendType, Stoppage
from engine.feed.wire import Malformed, Player
from engine.testing.feedgen import POINT_SCORED, POINT_STARTED


def _without_seq(state: MatchState) -> dict[str, object]:
    summary = summarize(state)
    del summary["lastSeq"]
    return summary


def _content(state: MatchState) -> list[tuple[str, ActionKind, object, float]]:
    return [(a.action_id, a.kind, a.side, a.timeline) for a in state.match.timeline.effective()]


class TestSendTypeLifecycle:
    """FEED.md section 2: sendType 1-6 keyed by actionId."""

    def test_pending_is_not_scored_until_confirmed(self) -> None:
        feed = Feed()
        feed.begin()
        feed.emit(POINT_STARTED, HOME)
        pending = feed.scored(AWAY, SendType.PENDING)
        state, _, per = run(feed.actions[:])
        assert state.points == ((0, 0),)
        assert state.pending == frozenset({pending.action_id})
        assert ActionPending(ActionKind.POINT_SCORED, pending.action_id) in per[-2]
        feed.score(AWAY)
        feed.scored(AWAY, action_id=pending.action_id, timeline=pending.timeline)
        state, events, per = run(feed.actions)
        assert state.points == ((0, 1),)
        assert state.pending == frozenset()
        assert "PastAmended" not in names(events)  # confirming the newest action is the common case
        assert state.match.discrepancies == 0

    def test_cancelled_pending_never_scores(self) -> None:
        feed = Feed()
        feed.begin()
        pending = feed.scored(AWAY, SendType.PENDING)
        feed.scored(AWAY, SendType.CANCELLED, action_id=pending.action_id, timeline=pending.timeline)
        state, _, _ = run(feed.actions)
        assert state.points == ((0, 0),)
        assert state.pending == frozenset()
        assert state.match.discrepancies == 0

    def test_deleted_point_disappears_and_restored_comes_back(self) -> None:
        feed = Feed()
        feed.begin()
        feed.rally(HOME)
        _, point = feed.rally(AWAY)
        feed.rally(AWAY)
        before, _, _ = run(feed.actions)
        feed.score(AWAY, -1)
        feed.scored(AWAY, SendType.DELETED, action_id=point.action_id, timeline=point.timeline)
        deleted, _events, per = run(feed.actions)
        assert deleted.points == ((1, 1),)
        assert PastAmended(point.action_id, SendType.DELETED, False) in per[-2]
        feed.score(AWAY)
        feed.scored(AWAY, SendType.RESTORED, action_id=point.action_id, timeline=point.timeline)
        restored, _, _ = run(feed.actions)
        assert restored.points == ((1, 2),)
        assert _without_seq(restored) == _without_seq(before)
        assert _content(restored) == _content(before)
        assert restored.match.discrepancies == 0

    def test_updated_gives_the_point_to_the_other_side(self) -> None:
        feed = Feed()
        feed.begin()
        _, point = feed.rally(HOME)
        feed.rally(HOME)
        feed.score(HOME, -1)
        feed.score(AWAY)
        feed.scored(AWAY, SendType.UPDATED, action_id=point.action_id, timeline=point.timeline)
        state, _, per = run(feed.actions)
        assert state.points == ((1, 1),)
        assert any(isinstance(e, PastAmended) for e in per[-2])
        assert state.match.discrepancies == 0

    def test_updated_can_change_the_type(self) -> None:
        feed = Feed()
        feed.begin()
        _, point = feed.rally(HOME)
        feed.score(HOME, -1)
        feed.emit(52, HOME, send_type=SendType.UPDATED, action_id=point.action_id, timeline=point.timeline)
        state, _, _ = run(feed.actions)
        assert state.points == ((0, 0),)
        assert state.stoppages == frozenset({Stoppage.TIMEOUT})
        assert state.match.discrepancies == 0

    def test_an_action_inserted_into_the_past_is_folded_in_timeline_order(self) -> None:
        feed = Feed()
        feed.begin()
        first_started, first = feed.rally(HOME, server=HOME)
        _, second = feed.rally(HOME)
        feed.score(AWAY)
        late = feed.scored(AWAY, timeline=(first.timeline + first_started.timeline) / 2 + 0.25)
        state, _, per = run(feed.actions)
        assert state.points == ((2, 1),)
        assert PastAmended(late.action_id, SendType.CONFIRMED, True) in per[-2]
        assert state.server is AWAY  # three points played: the second serve turn
        assert state.match.discrepancies == 0
        assert second.timeline > late.timeline


class TestReconciliation:
    """FEED.md section 2 [ours]: the summary is the provider's authority on the score."""

    def test_disagreement_adopts_the_provider_score_until_the_next_clean_point(self) -> None:
        feed = Feed()
        feed.begin()
        feed.rally(HOME)
        feed.score(HOME)  # the provider counts a point we never saw
        feed.emit(63)  # any action carries the summary
        state, _, per = run(feed.actions)
        assert state.points == ((2, 0),)
        assert state.match.discrepancy
        assert state.match.discrepancies == 1
        discrepancy = next(e for e in per[-2] if isinstance(e, Discrepancy))
        assert discrepancy.derived == ((1, 0),)
        assert discrepancy.provider == ((2, 0),)
        feed.emit(POINT_STARTED)
        still, _, _ = run(feed.actions)
        assert still.match.discrepancy  # only a cleanly scored point clears it
        feed.score(AWAY)
        feed.emit(POINT_SCORED, AWAY)
        clean, _, _ = run(feed.actions)
        assert clean.points == ((2, 1),)
        assert not clean.match.discrepancy
        assert clean.match.discrepancies == 1

    def test_play_after_the_configured_end_follows_the_feed(self) -> None:
        feed = Feed()
        feed.begin()
        feed.game(11, 3)
        feed.new_game()
        feed.game(11, 4)  # 2-0: a best of 3 is over...
        feed.new_game()  # ...but the provider plays a third game
        feed.game(11, 5)
        state, events, _ = run(feed.actions, MatchFormat(best_of=3))
        assert state.games == (3, 0)
        assert state.format.best_of == 5
        assert state.winner is HOME
        assert any(isinstance(e, FormatContradicted) and e.corrected == 5 and "best of 5" in e.reason for e in events)
        assert not any(isinstance(e, Discrepancy) for e in events)
        assert [e for e in events if isinstance(e, MatchWon)] == [
            MatchWon(HOME, ResultKind.NORMAL, (2, 0)),
            MatchWon(HOME, ResultKind.NORMAL, (3, 0)),
        ]


class TestServe:
    """FEED.md section 3 [ours]: Point Started's team is the server; the feed wins."""

    def test_a_point_served_out_of_turn_is_accepted_and_reported(self) -> None:
        feed = Feed()
        feed.begin()
        feed.rally(HOME, server=HOME)
        wrong = feed.emit(POINT_STARTED, AWAY)  # HOME's second serve by the rules
        state, _, per = run(feed.actions)
        assert state.server is AWAY  # the rally is served as the feed says
        assert UnexpectedServer(1, HOME, AWAY, wrong.action_id) in per[-2]
        feed.score(AWAY)
        feed.scored(AWAY)
        after, _, _ = run(feed.actions)
        assert after.server is AWAY  # two points played: by the rules' order, AWAY's turn

    def test_without_any_named_server_the_server_is_unknown(self) -> None:
        feed = Feed()
        feed.begin()
        feed.rally(HOME)
        state, _, _ = run(feed.actions)
        assert state.server is None


class TestStoppagesAndStatus:
    """FEED.md sections 3-4: interruptions, collection, liveness, how matches end."""

    def test_timeout_until_play_resumed_and_video_check_until_its_result(self) -> None:
        feed = Feed()
        feed.begin()
        timeout = feed.emit(52, HOME)
        check = feed.emit(51)
        state, events, _ = run(feed.actions)
        assert state.stoppages == frozenset({Stoppage.TIMEOUT, Stoppage.VIDEO_CHECK})
        assert StoppageStarted(Stoppage.TIMEOUT, timeout.action_id) in events
        resumed = feed.emit(63)
        result = feed.emit(61)
        state, events, _ = run(feed.actions)
        assert state.stoppages == frozenset()
        assert StoppageEnded(Stoppage.TIMEOUT, resumed.action_id) in events
        assert StoppageEnded(Stoppage.VIDEO_CHECK, result.action_id) in events
        assert check.action_id != result.action_id

    def test_collection_suspended_and_delayed_data(self) -> None:
        feed = Feed()
        feed.begin()
        feed.emit(22, metadata={}, collection_status="CollectionSuspended")
        state, _, _ = run(feed.actions)
        assert state.status is Status.SUSPENDED
        feed.emit(22, collection_status="CollectingLive", delayed=True)
        state, events, _ = run(feed.actions)
        assert state.status is Status.LIVE
        assert state.match.delayed
        assert "NotLiveData" in names(events)

    def test_retirement_mid_game(self) -> None:
        feed = Feed()
        feed.begin()
        feed.game(11, 7)
        feed.new_game()
        feed.game(3, 5)
        feed.end(AWAY, subtype_name="Retired", end_reason="Retired")
        state, events, _ = run(feed.actions)
        assert state.status is Status.FINISHED
        assert state.result is ResultKind.RETIRED
        assert state.winner is AWAY
        assert state.points == ((11, 7), (3, 5))
        assert MatchWon(AWAY, ResultKind.RETIRED, (1, 0)) in events

    def test_abandonment_by_status_update(self) -> None:
        feed = Feed()
        feed.begin()
        feed.rally(HOME)
        feed.emit(22, fixture_status="Abandoned")
        state, events, _ = run(feed.actions)
        assert state.status is Status.ABANDONED
        assert state.result is ResultKind.ABANDONED
        assert state.winner is None
        assert MatchWon(None, ResultKind.ABANDONED, (0, 0)) in events

    def test_between_games_and_ends(self) -> None:
        feed = Feed()
        feed.begin()
        feed.game(11, 2)
        state, _, _ = run(feed.actions)
        assert state.status is Status.BETWEEN_GAMES
        assert state.ends_swapped
        feed.new_game()
        state, _, _ = run(feed.actions)
        assert state.status is Status.LIVE
        assert state.current_game == 2

    def test_unknown_types_are_reported_and_change_no_score(self) -> None:
        feed = Feed()
        feed.begin()
        feed.rally(HOME)
        unknown = feed.emit(1299, HOME)
        state, events, _ = run(feed.actions)
        assert state.points == ((1, 0),)
        assert UnknownAction(1299, None, unknown.action_id) in events
        assert state.match.unknown_actions == 1


def test_an_action_of_another_fixture_is_refused() -> None:
    feed = Feed("other")
    feed.begin()
    state, events = reduce(MatchState.new("fx"), feed.actions[0])
    assert state.match.malformed == 1
    assert isinstance(events[0], Malformed)
    assert "other" in events[0].reason


def test_reduce_is_pure_the_same_input_gives_the_same_output() -> None:
    feed = Feed()
    feed.begin()
    feed.game(11, 9)
    start = MatchState.new("fx")
    a = run(feed.actions)
    b = run(feed.actions)
    assert a[1] == b[1]
    assert summarize(a[0]) == summarize(b[0])
    state, _ = reduce(start, feed.actions[0])
    assert start == MatchState.new("fx")  # the input state is untouched
    assert attrs.evolve(state) == state


def test_the_timeline_keeps_every_field_a_refold_reads() -> None:
    """`KeptAction` is the slim copy the timeline holds: every `PlayedAction` field must survive it."""
    full = attrs.evolve(
        Feed().emit(POINT_SCORED, HOME),
        player=Player("p1", "A Player"),
        end_reason="Retired",
        fixture_status="Live",
        delayed=True,
    )
    kept = KeptAction.of(full)
    members = [name for name in vars(PlayedAction) if not name.startswith("_")]
    assert len(members) == 8
    for name in members:
        assert getattr(kept, name) == getattr(full, name), name
    assert kept.seq == full.seq
