"""How one message of the feed changes the match's facts, in order (FEED.md section 2):
1. sequencing on `fixtureSeqNum` (`receive`: duplicates dropped, early arrivals held, gaps reported);
2. the action's new version recorded in the timeline under its `actionId` (`apply_action`);
3. the score: a new confirmed action at the end of the timeline is one incremental `play_action`;
   anything that changes the past (an update, deletion, restoration, a late confirmation or an
   insertion between earlier actions) re-folds the whole effective timeline (a match is short);
4. the provider's context (statuses, delay, the players' names) and reconciliation with its
   `fixtureSummary` (`engine.core.match.reconcile`);
5. the derived facts (server, ends, status) compared before and after (`Derived`) to report changes.
"""

from __future__ import annotations

import attrs

from engine.core.match.events import (
    ActionPending,
    Discrepancy,
    DuplicateDropped,
    EndsChanged,
    Gap,
    MatchEvent,
    MatchWon,
    NotLiveData,
    PastAmended,
    ServerChanged,
    Status,
    StatusChanged,
    UnknownAction,
)
from engine.core.match.inputs import Action, Malformed
from engine.core.match.play import play_action, replay_timeline
from engine.core.match.reconcile import reconcile
from engine.core.match.rules import Side
from engine.core.match.sequence import Note, Sequencer, TooFarAhead
from engine.core.match.state import MatchFacts, PlayState
from engine.core.match.timeline import STANDING_AFTER, Entry, Standing, Timeline
from engine.core.match.vocabulary import VERIFYING_KINDS, ActionKind


def receive(match: MatchFacts, action: Action | None, events: list[MatchEvent]) -> Received:
    """Sequence one action (None: the end of the stream, which releases every action held behind
    a gap); returns the match with the sequencer's notes counted and the actions released in order.
    An action of another fixture is quarantined (`Malformed`) and releases nothing."""
    if action is None:
        sequencer, released, notes = match.sequencer.flush()
    else:
        if match.fixture_id is not None and action.fixture_id != match.fixture_id:
            events.append(
                Malformed(
                    f"fixtureAction.fixtureId: action of fixture {action.fixture_id}, not {match.fixture_id}",
                    "fixtureAction.fixtureId",
                    seq=action.seq,
                )
            )
            return Received(attrs.evolve(match, malformed=match.malformed + 1), ())
        sequencer, released, notes = match.sequencer.push(action)
    if notes:
        events.extend(_quarantined(note) if isinstance(note, TooFarAhead) else note for note in notes)
        return Received(_count_notes(attrs.evolve(match, sequencer=sequencer), notes), tuple(released))
    if released:  # the first action's own step sets the sequencer with its other changes
        return Received(match, tuple(released), sequencer)
    return Received(attrs.evolve(match, sequencer=sequencer), ())


@attrs.frozen(slots=True)
class Received:
    """What sequencing one message gave: the match, the actions it released (in order), and the
    sequencer still to set when the first of them is applied (None: set already)."""

    match: MatchFacts
    released: tuple[Action, ...]
    sequencer: Sequencer | None = None


def apply_action(
    match: MatchFacts, action: Action, events: list[MatchEvent], sequencer: Sequencer | None = None
) -> MatchFacts:
    """Record one released action and fold it; `sequencer`, if given, is set in the same step."""
    first_event = len(events)
    previous = match.timeline.get(action.action_id)
    standing = _standing(action, previous)
    timeline = match.timeline.record(action, standing)
    if action.kind is ActionKind.UNKNOWN:
        events.append(UnknownAction(action.type_id, action.type_name, action.action_id))
    if standing is Standing.PENDING:
        events.append(ActionPending(action.kind, action.action_id))
    was_effective = previous is not None and previous.standing is Standing.CONFIRMED
    now_effective = standing is Standing.CONFIRMED
    play = previous_play = match.play
    if now_effective and not was_effective and action.timeline >= match.timeline.last_timeline:
        play = play_action(play, action, events)
    elif (was_effective or now_effective) and not _same_content(previous, action, standing):
        play = _refold(match, timeline, action, previous is None, events)
    late = match.last_seq is not None and action.seq < match.last_seq
    match = match.with_action(
        timeline,
        play,
        action.seq if not late else match.last_seq,
        match.unknown_actions + (action.kind is ActionKind.UNKNOWN),
        match.sequencer if sequencer is None else sequencer,
    )
    if late:
        # A lost message that arrived after all (LateArrival): its summary and statuses are the past.
        return match
    match = _provider_context(match, action, events)
    if action.team is not None and action.team.name:
        match = _named(match, action.team.side, action.team.name, action.team.id)
    play = reconcile(match.play, previous_play, action, events)
    found = sum(1 for event in events[first_event:] if isinstance(event, Discrepancy))
    if found:
        return attrs.evolve(match, play=play, discrepancy=True, discrepancies=match.discrepancies + found)
    if (
        (match.discrepancy or match.gap_unverified)
        and now_effective
        and action.kind in VERIFYING_KINDS
        and action.summary is not None
    ):
        # The provider's summary agrees with a newly scored point (or the end): certainty is back.
        return attrs.evolve(match, discrepancy=False, gap_unverified=False)
    return match


def _standing(action: Action, previous: Entry | None) -> Standing:
    standing = STANDING_AFTER[action.send_type]
    if previous is None:
        return standing
    # A Cancelled confirmed action is gone like a deleted one; a Deleted pending one never happened.
    if standing is Standing.CANCELLED and previous.standing is Standing.CONFIRMED:
        return Standing.DELETED
    if standing is Standing.DELETED and previous.standing is Standing.PENDING:
        return Standing.CANCELLED
    return standing


def _same_content(previous: Entry | None, action: Action, standing: Standing) -> bool:
    """True when a message repeats what the timeline already holds for that action."""
    if previous is None or previous.standing is not standing:
        return False
    old = previous.action
    return (old.kind, old.side, old.timeline, old.end_reason) == (
        action.kind,
        action.side,
        action.timeline,
        action.end_reason,
    )


def _refold(
    match: MatchFacts, timeline: Timeline, action: Action, inserted: bool, events: list[MatchEvent]
) -> PlayState:
    """Fold the whole effective timeline again; report the amendment and a changed outcome."""
    events.append(PastAmended(action.action_id, action.send_type, inserted))
    play = replay_timeline(timeline.effective(), match.configured_format)
    old = match.play
    if (play.winner, play.result) != (old.winner, old.result) and play.result is not None:
        events.append(MatchWon(play.winner, play.result, play.games))
    return play


def _named(match: MatchFacts, side: Side, name: str, team_id: str | None) -> MatchFacts:
    """The match with a side's player (or pair) named, and its team id, the first time an action names it."""
    home, away = match.players
    if (home if side is Side.HOME else away) is not None:
        return match
    home_id, away_id = match.player_ids
    if side is Side.HOME:
        return attrs.evolve(match, players=(name, away), player_ids=(team_id, away_id))
    return attrs.evolve(match, players=(home, name), player_ids=(home_id, team_id))


def _provider_context(match: MatchFacts, action: Action, events: list[MatchEvent]) -> MatchFacts:
    fixture_status = match.fixture_status
    collection_status = match.collection_status
    summary = action.summary
    if summary is not None:
        fixture_status = summary.status or fixture_status
        collection_status = summary.collection_status or collection_status
    # The action itself is the news: its metadata wins over a summary that may lag behind it.
    fixture_status = action.fixture_status or fixture_status
    collection_status = action.collection_status or collection_status
    if action.delayed != match.delayed:
        events.append(NotLiveData(action.delayed))
    if (fixture_status, collection_status, action.delayed) == (
        match.fixture_status,
        match.collection_status,
        match.delayed,
    ):
        return match
    return attrs.evolve(
        match,
        fixture_status=fixture_status,
        collection_status=collection_status,
        delayed=action.delayed,
    )


def _count_notes(match: MatchFacts, notes: list[Note]) -> MatchFacts:
    """`match` with the sequencer's notes counted (gaps, duplicates, actions refused)."""
    if not notes:
        return match
    gaps = sum(1 for note in notes if isinstance(note, Gap))
    return attrs.evolve(
        match,
        gaps=match.gaps + gaps,
        duplicates=match.duplicates + sum(1 for note in notes if isinstance(note, DuplicateDropped)),
        malformed=match.malformed + sum(1 for note in notes if isinstance(note, TooFarAhead)),
        gap_unverified=match.gap_unverified or gaps > 0,
    )


def _quarantined(note: TooFarAhead) -> Malformed:
    """The quarantine record of an action numbered implausibly far ahead."""
    return Malformed(
        f"fixtureAction.fixtureSeqNum: {note.seq} is {note.seq - note.next_seq} past the next expected "
        f"{note.next_seq}, beyond the sequencer's bound; refused",
        "fixtureAction.fixtureSeqNum",
        seq=note.seq,
    )


@attrs.frozen(slots=True)
class Derived:
    """The derived facts whose changes are reported as events."""

    server: Side | None
    ends_swapped: bool
    status: Status

    @classmethod
    def of(cls, match: MatchFacts) -> Derived:
        """The derived facts of `match`."""
        return cls(match.server, match.ends_swapped, match.status)

    def diff(self, after: Derived, events: list[MatchEvent]) -> None:
        """Append an event for each derived fact that differs in `after`."""
        if after.status != self.status:
            events.append(StatusChanged(after.status, self.status))
        if after.ends_swapped != self.ends_swapped:
            events.append(EndsChanged(after.ends_swapped))
        if after.server != self.server:
            events.append(ServerChanged(after.server, self.server))
