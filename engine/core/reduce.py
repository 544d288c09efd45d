"""The reducer: `reduce(state, message) -> (state, events)`. Pure: no clock, no I/O, no randomness.

Call it once per decoded message, in arrival order, starting from `MatchState.new(...)`; at the end
of a finite stream, pass `EndOfStream()` so actions held behind a gap are not lost. The same input
always gives the same output.

How one action message is folded:
1. sequencing on `fixtureSeqNum` (duplicates dropped, early arrivals held, gaps reported);
2. the action's new version is recorded in the timeline under its `actionId`;
3. the score: a new confirmed action at the end of the timeline is one incremental `play_action`;
   anything that changes the past (an update, deletion, restoration, a late confirmation or an
   insertion between earlier actions) re-folds the whole effective timeline (a match is short);
4. reconciliation with the provider's `fixtureSummary`: on disagreement we adopt the provider's
   score, flag a discrepancy, and keep the flag until the next cleanly scored point;
5. derived views (server, ends, status) are compared before and after to emit their changes;
6. the market book is brought up to date (`engine.core.markets.book_update.advance_book`) and its
   difference from the old book is emitted as market signals, after the match events.

The adapter's view of the connection enters as inputs too: `Stale()` when nothing arrived for too
long (any later message clears it), `Disconnected()` and `Connected()`; so does the runtime's:
`Lagging()` / `CaughtUp()` (its consumer fell behind, and caught up), `CatchingUp()` /
`CaughtUpWithFeed()` (it folds a backlog, and is done) and `Unfollowed()` (it stops following the
fixture: the closing bet stop). Each only moves markets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

import attrs

from engine.core.events import (
    ActionPending,
    Discrepancy,
    DuplicateDropped,
    EndsChanged,
    Event,
    FormatContradicted,
    GameWon,
    Gap,
    MatchWon,
    NotLiveData,
    PastAmended,
    PointStarted,
    PointWon,
    RatingsLookedUp,
    ServerChanged,
    Status,
    StatusChanged,
    StoppageEnded,
    StoppageStarted,
    UnexpectedServer,
    UnknownAction,
)
from engine.core.inputs import (
    CatchingUp,
    CaughtUp,
    CaughtUpWithFeed,
    Connected,
    Disconnected,
    EndOfStream,
    Input,
    Lagging,
    Reconfigured,
    Stale,
    Unfollowed,
)
from engine.core.markets.book import Book, signals_between
from engine.core.markets.book_update import advance_book
from engine.core.markets.signals import (
    OPENING_SIGNALS,
    SettlementRolledBack,
    VoidRolledBack,
    prices_before_openings,
)
from engine.core.match import rules
from engine.core.match.inputs import Action, Heartbeat, Malformed, Summary
from engine.core.match.rules import Side
from engine.core.match.sequence import Note, Sequencer, TooFarAhead
from engine.core.match.state import Expedite, MatchFacts, PlayState, Rallies, Rally, Score
from engine.core.match.timeline import STANDING_AFTER, Entry, PlayedAction, Standing, Timeline
from engine.core.match.vocabulary import (
    FIXTURE_STATUS_ABANDONED,
    STOPPAGE_OPENED_BY,
    STOPPAGES_CLOSED_BY,
    VERIFYING_KINDS,
    ActionKind,
    ResultKind,
    Stoppage,
    end_match_winner,
    result_kind_from_text,
)
from engine.core.pricing.prices import advance_prices
from engine.core.state import MatchState, without_prior
from engine.ratings import prior_for


def reduce(state: MatchState, message: Input) -> tuple[MatchState, list[Event]]:
    """Fold one message into the state; returns the new state and what happened, in order:
    match events first, then the market signals they caused. One way: the message into the match,
    the match into the book, both into the prices."""
    after, events = _reduce(state, message)
    for event in events:
        if isinstance(event, SettlementRolledBack | VoidRolledBack):
            return _counted(after, events), events
    return after, events


def _counted(state: MatchState, events: list[Event]) -> MatchState:
    """`state` with every rollback among `events` counted (`MatchState.rollbacks`)."""
    rollbacks = dict(state.rollbacks)
    for event in events:
        if isinstance(event, SettlementRolledBack | VoidRolledBack):
            rollbacks[event.market] = rollbacks.get(event.market, 0) + 1
    return state.with_rollbacks(MappingProxyType(rollbacks))


def _reduce(state: MatchState, message: Input) -> tuple[MatchState, list[Event]]:
    match = state.match
    if isinstance(message, Malformed):
        return state.with_match(attrs.evolve(match, malformed=match.malformed + 1)), [message]
    events: list[Event] = []
    if isinstance(message, Heartbeat):
        if not match.stale and state.book.cache is not None:
            return state, []
        match = attrs.evolve(match, stale=False)
    elif isinstance(message, Stale):
        match = attrs.evolve(match, stale=True)
    elif isinstance(message, Disconnected | Connected):
        match = attrs.evolve(match, disconnected=isinstance(message, Disconnected))
    elif isinstance(message, Lagging | CaughtUp):
        match = attrs.evolve(match, lagging=isinstance(message, Lagging))
    elif isinstance(message, Unfollowed):
        match = attrs.evolve(match, unfollowed=True)
    elif isinstance(message, CatchingUp | CaughtUpWithFeed):
        match = attrs.evolve(match, catching_up=isinstance(message, CatchingUp))
    elif isinstance(message, Reconfigured):  # the new config's ratings are asked afresh
        fresh = attrs.evolve(match, ratings_asked=False, no_prior=without_prior(message.markets))
        state = attrs.evolve(state, markets=message.markets).with_match(fresh)
        return _with_book(_rated(state, events), events), events
    else:
        return _fold_message(state, message, events), events
    return _with_book(state.with_match(match), events), events


def _with_book(state: MatchState, events: list[Event]) -> MatchState:
    """The state with its market book and prices brought up to date; their changes appended as signals."""
    changed: dict[str, None] = {}
    after = _advanced(state, changed)
    if after is not state:
        events.extend(signals_between(state.book, after.book, changed))
    return _priced(after, events)


def _priced(state: MatchState, events: list[Event]) -> MatchState:
    """The state with its prices brought up to date: the price signal, when they moved, goes after
    the other signals but before every reopening (`BetStart`, `MarketResumed`), which go last, so a
    receiver never sees a market open again before its price for the new score."""
    prices, moved = advance_prices(state.match, state.book, state.markets.pricing, state.prices)
    if moved is not None or any(isinstance(event, OPENING_SIGNALS) for event in events):
        events[:] = prices_before_openings(events, moved)
    return state if prices is state.prices else state.with_prices(prices)


def _fold_message(state: MatchState, message: Action | EndOfStream, events: list[Event]) -> MatchState:
    """Sequence the message and apply what it releases, then signal the book's net change. When a
    hold releases several actions at once, the book is advanced after each of them, so the markets
    offered and decided do not depend on how the network batched the messages; the signals are the
    net change, so no market flashes open on a state already superseded."""
    match = state.match
    before = _View.of(match)
    book_before = state.book
    if match.stale:
        match = attrs.evolve(match, stale=False)
    if isinstance(message, EndOfStream):
        sequencer, released, notes = match.sequencer.flush()
    else:
        if match.fixture_id is not None and message.fixture_id != match.fixture_id:
            bad = Malformed(
                f"fixtureAction.fixtureId: action of fixture {message.fixture_id}, not {match.fixture_id}",
                "fixtureAction.fixtureId",
                seq=message.seq,
            )
            events.append(bad)
            return _with_book(state.with_match(attrs.evolve(match, malformed=match.malformed + 1)), events)
        sequencer, released, notes = match.sequencer.push(message)
    unset: Sequencer | None = None  # the common step sets the sequencer with the action's own changes
    if notes:
        match = _count_notes(attrs.evolve(match, sequencer=sequencer), notes)
        events.extend(_quarantined(note) if isinstance(note, TooFarAhead) else note for note in notes)
    elif released:
        unset = sequencer
    else:
        match = attrs.evolve(match, sequencer=sequencer)
    changed: dict[str, None] = {}
    for action in released:
        match = _apply(match, action, events, unset)
        unset = None
        if len(released) > 1:
            state = _advanced(state.with_match(match), changed)
    before.diff(_View.of(match), events)
    state = _rated(_advanced(state.with_match(match), changed), events)
    if state.book is not book_before:
        events.extend(signals_between(book_before, state.book, changed))
    return _priced(state, events)


def _rated(state: MatchState, events: list[Event]) -> MatchState:
    """Once the lineups name both sides and the format is known, a pricing without a prior asks the
    configured ratings (once): both found, the prior comes from them (`RatingsLookedUp` says so,
    or who was missing)."""
    markets = state.markets
    pricing = markets.pricing
    if markets.ratings is None or pricing is None or pricing.has_prior or state.match.ratings_asked:
        return state
    home, away = state.match.players
    fmt = state.match.play.format
    if home is None or away is None or fmt.best_of is None:
        return state
    found = prior_for(markets.ratings, home, away, fmt, pricing.prior, state.match.player_ids)
    missing = tuple(
        f"{lookup.name}: {lookup.why}" + (f" ({' | '.join(lookup.candidates)})" if lookup.candidates else "")
        for lookup in (found.home, found.away)
        if lookup.rating is None
    )
    state = state.with_match(attrs.evolve(state.match, ratings_asked=True))
    if missing:
        events.append(RatingsLookedUp(home, away, None, None, missing))
        return state
    events.append(RatingsLookedUp(home, away, found.home_wins, found.prior.strength))
    rated = attrs.evolve(markets, pricing=pricing.with_ratings(found.prior, found.home_edge))
    return attrs.evolve(state, markets=rated).with_match(attrs.evolve(state.match, no_prior=False))


def _advanced(state: MatchState, changed: dict[str, None]) -> MatchState:
    """The state with its book brought up to date; the ids of the markets that changed added to `changed`."""
    markets = state.markets
    book, ids = advance_book(state.match, markets.catalogue, markets.policy, state.book)
    if book is state.book:
        return state
    changed.update(dict.fromkeys(ids))
    return state.with_book(book)


def next_book(state: MatchState) -> Book:
    """The book for `state`'s match, built on `state.book` (the same object when nothing it depends on changed)."""
    return advance_book(state.match, state.markets.catalogue, state.markets.policy, state.book)[0]


def fold(state: MatchState, messages: list[Input]) -> tuple[MatchState, list[Event]]:
    """Reduce many messages; returns the final state and all events in order."""
    events: list[Event] = []
    for message in messages:
        state, new = reduce(state, message)
        events.extend(new)
    return state, events


def _count_notes(match: MatchFacts, notes: list[Note]) -> MatchFacts:
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
class _View:
    """The derived facts whose changes are reported as events."""

    server: Side | None
    ends_swapped: bool
    status: Status

    @classmethod
    def of(cls, match: MatchFacts) -> _View:
        return cls(match.server, match.ends_swapped, match.status)

    def diff(self, after: _View, events: list[Event]) -> None:
        if after.status != self.status:
            events.append(StatusChanged(after.status, self.status))
        if after.ends_swapped != self.ends_swapped:
            events.append(EndsChanged(after.ends_swapped))
        if after.server != self.server:
            events.append(ServerChanged(after.server, self.server))


# --- one released action -------------------------------------------------------------------------


def _apply(match: MatchFacts, action: Action, events: list[Event], sequencer: Sequencer | None = None) -> MatchFacts:
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
    play = _reconcile(match.play, previous_play, action, events)
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


def _refold(match: MatchFacts, timeline: Timeline, action: Action, inserted: bool, events: list[Event]) -> PlayState:
    """Fold the whole effective timeline again; report the amendment and a changed outcome."""
    events.append(PastAmended(action.action_id, action.send_type, inserted))
    play = replay_timeline(timeline.effective(), match.configured_format)
    old = match.play
    if (play.winner, play.result) != (old.winner, old.result) and play.result is not None:
        events.append(MatchWon(play.winner, play.result, play.games))
    return play


def replay_timeline(actions: Sequence[PlayedAction], fmt: rules.MatchFormat) -> PlayState:
    """The play state that folding these effective actions from the start gives (no events)."""
    play = PlayState(format=fmt)
    sink: list[Event] = []
    for action in actions:
        play = play_action(play, action, sink)
        sink.clear()
    return play


# --- the fold of one effective action ------------------------------------------------------------


def play_action(play: PlayState, action: PlayedAction, events: list[Event]) -> PlayState:
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


def _expedite(play: PlayState, action: PlayedAction, events: list[Event]) -> PlayState:
    if play.expedite is not None:
        return play  # on for the rest of the match already
    game, home, away = play.next_rally_position()
    # [ours] The ball is in play when a rally is under way (Point Started, not yet scored): the
    # feed says nothing else about the interrupted rally (FEED.md).
    return attrs.evolve(play, expedite=Expedite(game, home + away, interrupted=play.rally is not None))


def _status_updated(play: PlayState, action: PlayedAction, events: list[Event]) -> PlayState:
    if action.fixture_status in FIXTURE_STATUS_ABANDONED:
        return _finish(play, None, ResultKind.ABANDONED, events)
    return play


#: What an action of each kind does to the play state, besides the stoppages it opens or closes
#: (kinds not listed change nothing; a rally's start and end are `_point_started`/`_point_scored`).
PLAY_BY_KIND: Mapping[ActionKind, Callable[[PlayState, PlayedAction, list[Event]], PlayState]] = {
    ActionKind.START_MATCH: lambda play, action, events: attrs.evolve(play, started=True),
    ActionKind.START_PERIOD: lambda play, action, events: _open_game_if_due(play, events),
    ActionKind.END_MATCH: lambda play, action, events: _end_match(play, action, events),
    ActionKind.LET: lambda play, action, events: attrs.evolve(play, rally=None),
    ActionKind.EXPEDITE: _expedite,
    ActionKind.STATUS_UPDATED: _status_updated,
}


def _close_stoppages(
    play: PlayState, closes: frozenset[Stoppage], action: PlayedAction, events: list[Event]
) -> PlayState:
    ended = play.stoppages & closes
    if not ended:
        return play
    for stoppage in sorted(ended, key=lambda s: s.value):
        events.append(StoppageEnded(stoppage, action.action_id))
    return attrs.evolve(play, stoppages=play.stoppages - ended)


def _open_game_if_due(play: PlayState, events: list[Event]) -> PlayState:
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


def _point_started(play: PlayState, action: PlayedAction, events: list[Event]) -> PlayState:
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


def _point_scored(play: PlayState, action: PlayedAction, events: list[Event]) -> PlayState:
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
    return _finish(play, match_side, ResultKind.NORMAL, events)


def _finish(play: PlayState, winner: Side | None, result: ResultKind, events: list[Event]) -> PlayState:
    if play.result is not None:
        return play
    events.append(MatchWon(winner, result, play.games))
    return attrs.evolve(play, winner=winner, result=result, rally=None)


def _end_match(play: PlayState, action: PlayedAction, events: list[Event]) -> PlayState:
    """The provider ends the match. Short of the games the format needs, a side ahead on games is
    the winner of a shorter format than we were told (`FormatContradicted`, the format corrected);
    a match that cannot be read that way is a `Discrepancy`."""
    if play.result is not None:
        return play if play.end_match else attrs.evolve(play, end_match=True)
    play = attrs.evolve(play, end_match=True)
    result = result_kind_from_text(action.end_reason)
    if result is ResultKind.ABANDONED:
        return _finish(play, None, result, events)
    if result is not ResultKind.NORMAL:
        return _finish(play, end_match_winner(action.side), result, events)
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
    return _finish(play, winner, result, events)


# --- the feed's present: liveness and provider statuses ------------------------------------------


def _named(match: MatchFacts, side: Side, name: str, team_id: str | None) -> MatchFacts:
    """The match with a side's player (or pair) named, and its team id, the first time an action names it."""
    home, away = match.players
    if (home if side is Side.HOME else away) is not None:
        return match
    home_id, away_id = match.player_ids
    if side is Side.HOME:
        return attrs.evolve(match, players=(name, away), player_ids=(team_id, away_id))
    return attrs.evolve(match, players=(home, name), player_ids=(home_id, team_id))


def _provider_context(match: MatchFacts, action: Action, events: list[Event]) -> MatchFacts:
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


# --- reconciliation with the provider's summary (FEED.md section 2, [ours]) -----------------------


def _trimmed(points: tuple[Score, ...]) -> tuple[Score, ...]:
    end = len(points)
    while end and points[end - 1] == (0, 0):
        end -= 1
    return points[:end]


def _provider_points(summary: Summary) -> tuple[Score, ...]:
    return tuple((period.home_points, period.away_points) for period in summary.periods)


def _reconcile(play: PlayState, before: PlayState, action: Action, events: list[Event]) -> PlayState:
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
        return _finish(adopted, winner, ResultKind.NORMAL, events)
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
