"""FEED.md section 2: fixtureSeqNum orders a connection's feed; timelines are persistent values."""

from __future__ import annotations

import attrs
import pytest
from scenario import HOME, Feed, match_events, run

from engine.core.markets.signals import Reason
from engine.core.match.sequence import DuplicateDropped, Gap, Sequencer
from engine.core.match.timeline import Standing, Timeline
from engine.core.reduce import reduce
from engine.core.state import MatchState


def _feed(rallies: int) -> Feed:
    feed = Feed()
    feed.begin()
    for _ in range(rallies):
        feed.rally(HOME)
    return feed


def test_duplicates_are_dropped_and_change_nothing() -> None:
    actions = _feed(3).actions
    clean, _, _ = run(actions)
    doubled, events, _ = run([a for action in actions for a in (action, action)])
    assert doubled.points == clean.points
    assert doubled.match.duplicates == len(actions)
    assert DuplicateDropped(1) in events


def test_early_arrivals_are_held_until_the_missing_one_arrives() -> None:
    actions = _feed(2).actions
    swapped = [actions[0], actions[2], actions[1], *actions[3:]]
    state = MatchState.new("fx")
    state, events = reduce(state, swapped[0])
    state, events = reduce(state, swapped[1])
    assert match_events(events) == []
    assert all(Reason.SEQUENCE_GAP in entry.reasons for entry in state.book.values())
    assert state.match.last_seq == 1
    assert state.match.sequencer.waiting
    state, events = reduce(state, swapped[2])
    assert state.match.last_seq == 3
    assert not state.match.sequencer.waiting


@pytest.mark.parametrize(("lost_index", "discrepancies"), [(6, 0), (5, 1)])
def test_a_gap_open_past_the_bound_is_reported_and_processing_goes_on(lost_index: int, discrepancies: int) -> None:
    feed = _feed(8)
    actions = feed.actions
    lost = actions[lost_index]  # 6: a Point Started, 5: a Point Scored
    state = MatchState.new("fx", max_held=3)
    events_seen = []
    for action in actions:
        if action is not lost:
            state, events = reduce(state, action)
            events_seen.extend(events)
    assert Gap(lost.seq, lost.seq + 1) in events_seen
    assert state.match.gaps == 1
    assert state.match.last_seq == actions[-1].seq
    # A lost point is recovered from the provider's summary, as a discrepancy.
    assert state.points == ((8, 0),)
    assert state.match.discrepancies == discrepancies


def test_end_of_stream_releases_held_actions() -> None:
    actions = _feed(2).actions
    without_one = actions[:3] + actions[4:]
    state, events, _ = run(without_one)
    assert state.match.last_seq == actions[-1].seq
    assert Gap(4, 5) in events


def test_sequencer_values_are_not_changed_by_push() -> None:
    actions = _feed(1).actions
    start = Sequencer()
    held, _, _ = start.push(actions[2])
    assert not start.held
    assert [seq for seq, _ in held.held] == [3]


def test_timeline_versions_are_persistent_across_forks() -> None:
    actions = _feed(2).actions
    base = Timeline()
    for action in actions[:3]:
        base = base.record(action, Standing.CONFIRMED)
    a = base.record(actions[3], Standing.CONFIRMED)  # extends the shared log in place
    b = base.record(actions[4], Standing.PENDING)  # a fork: copies, leaves `a` alone
    assert len(base) == 3
    assert len(a) == len(b) == 4
    assert a.get(actions[4].action_id) is None
    assert b.get(actions[3].action_id) is None
    assert b.pending == frozenset({actions[4].action_id})
    deleted = a.record(attrs.evolve(actions[3]), Standing.DELETED)
    assert a.get(actions[3].action_id).standing is Standing.CONFIRMED  # type: ignore[union-attr]
    assert [x.action_id for x in deleted.effective()] == [x.action_id for x in actions[:3]]
