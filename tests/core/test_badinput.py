"""Bad input (issue 7): nothing raises out of decode or reduce, every bad frame is quarantined with a
reason, and garbage slipped into a valid stream changes neither its final state nor its signals.

The regression tests at the top are named after the defects the fuzzing found."""

from __future__ import annotations

import random
import time
from typing import Any

import attrs
import orjson
from fuzzing import FIXTURES, Tally, clean_run, fuzz_corpus, fuzz_stream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario import HOME, Feed, run

from engine.analysis.report import summarize
from engine.core.events import Discrepancy, LateArrival, MatchWon
from engine.core.markets.signals import MarketStatus, Reason
from engine.core.match.rules import MatchFormat
from engine.core.match.sequence import Gap, Sequencer
from engine.core.reduce import reduce
from engine.core.state import MatchState
from engine.feed.encode import encode_frame
from engine.feed.wire import MAX_METADATA_DEPTH, MAX_PERIODS, Action, Heartbeat, Malformed, decode, decode_object
from engine.testing import GeneratedMatch, matches
from engine.testing.garbage import MUTATIONS, BadFrame, bad_frames, mutate, noise

#: Bad frames the bounded run feeds in CI; `--long` feeds a million.
CI_FRAMES = 20_000
LONG_FRAMES = 1_000_000
RECORDING = FIXTURES / "aicup2026_m05_female_bo7.jsonl"


def _message(frame: str) -> dict[str, Any]:
    message: dict[str, Any] = orjson.loads(frame)
    return message


def _first_rally_frames() -> tuple[Feed, list[str]]:
    feed = Feed("0b4f1e6e-3d2a-4c56-9a0e-6f1f3c2b7a11")
    feed.begin()
    feed.rally(HOME)
    return feed, [encode_frame(action) for action in feed.actions]


# --- regressions: the defects the fuzzing found ---------------------------------------------------


def test_impossible_provider_score_memory_error() -> None:
    """A summary claiming 10 million points in a game was adopted: a 10-million-entry rally tuple per
    message (seconds and 150 MiB; 2**62 points raised MemoryError out of reduce). An impossible score
    is now reported and never adopted; markets stay suspended until a point is verified again."""
    feed, frames = _first_rally_frames()
    state = MatchState.new(feed.actions[0].fixture_id)
    for frame in frames:
        state, _ = reduce(state, decode(frame))
    for periods, games in (([[2**62, 0]], [0, 0]), ([[25, 9]], [0, 0]), ([[1, 0]], [99, 0])):
        message = _message(frames[-1])
        message["fixtureSummary"]["periods"] = [
            {"homeTeamPeriodScore": home, "awayTeamPeriodScore": away} for home, away in periods
        ]
        message["fixtureSummary"]["homeTeamScore"], message["fixtureSummary"]["awayTeamScore"] = games
        message["fixtureAction"]["fixtureSeqNum"] += 1
        message["fixtureAction"]["actionId"] = "7c2253bb-790d-4cc5-9874-afa75d771e14"
        after, events = reduce(state, decode(orjson.dumps(message)))
        (discrepancy,) = [e for e in events if isinstance(e, Discrepancy)]
        assert "impossible" in discrepancy.reason
        assert after.points == ((2, 0),)  # the point it scored counts; the impossible score is not adopted
        assert not [e for e in events if isinstance(e, MatchWon)]
        assert after.match.discrepancy
        assert all(
            entry.status is MarketStatus.SUSPENDED and Reason.DISCREPANCY in entry.reasons
            for entry in after.book.values()
            if entry.status not in (MarketStatus.SETTLED, MarketStatus.VOID)
        )


def test_deep_nesting_recursion_error() -> None:
    """A status nested 900 levels deep (orjson accepts up to 1024) raised RecursionError out of
    decode while the error message took its repr. Errors now describe such values by kind, and the
    metadata an action keeps may nest at most MAX_METADATA_DEPTH levels."""
    _, frames = _first_rally_frames()
    message = _message(frames[-1])
    message["fixtureSummary"]["currentStatus"] = 424242
    text = orjson.dumps(message).decode().replace("424242", "[" * 900 + "]" * 900)
    bad = decode(text)
    assert isinstance(bad, Malformed)
    assert bad.field == "fixtureSummary.currentStatus"
    assert "array" in bad.reason
    message = _message(frames[-1])
    nested: Any = 1
    for _ in range(MAX_METADATA_DEPTH + 1):
        nested = {"deeper": nested}
    message["fixtureAction"]["metadata"] = nested
    bad = decode(orjson.dumps(message))
    assert isinstance(bad, Malformed)
    assert bad.field == "fixtureAction.metadata"
    message["fixtureAction"]["metadata"] = nested["deeper"]
    assert isinstance(decode(orjson.dumps(message)), Action)


def test_lost_message_arriving_late_was_dropped_as_a_duplicate() -> None:
    """A message displaced further than the sequencer holds was given up as lost, and when it came
    after all it was dropped as a duplicate: a valid action lost. It is now applied when it comes."""
    feed = Feed()
    feed.begin()
    for _ in range(6):
        feed.rally(HOME)
    actions = feed.actions
    late = actions[5]  # the first Point Scored
    reordered = [a for a in actions if a is not late] + [late]
    clean, _, _ = run(actions)
    state, events, _ = run(reordered)
    assert Gap(late.seq, late.seq + 1) in events
    assert LateArrival(late.seq) in events
    assert state.points == clean.points == ((6, 0),)
    assert state.match.duplicates == 0
    twice, events, _ = run([*reordered, late])  # and once applied, a repeat is a duplicate again
    assert twice.match.duplicates == 1
    assert twice.points == clean.points


def test_far_ahead_sequence_number_kept_markets_suspended_for_the_rest_of_the_match() -> None:
    """One action numbered a billion ahead was held waiting for the numbers before it, so the
    sequence-gap reason held every market suspended until the end. It is now quarantined."""
    feed = Feed()
    feed.begin()
    feed.rally(HOME)
    bogus = attrs.evolve(feed.actions[-1], seq=10**9)
    feed.rally(HOME)
    clean, _, _ = run(feed.actions)
    state = MatchState.new("fx")
    for action in [*feed.actions[:6], bogus, *feed.actions[6:]]:
        state, events = reduce(state, action)
        if action is bogus:
            (record,) = [e for e in events if isinstance(e, Malformed)]
            assert record.field == "fixtureAction.fixtureSeqNum"
    assert not state.match.sequencer.waiting
    assert state.match.malformed == 1
    assert state.points == clean.points == ((2, 0),)
    assert any(entry.status is MarketStatus.OPEN for entry in state.book.values())


def test_sequencer_keeps_a_bounded_memory_of_lost_ranges() -> None:
    sequencer = Sequencer(max_held=0)
    feed = Feed()
    feed.begin()
    for _ in range(60):
        feed.rally(HOME)
    for action in feed.actions[1::2]:  # every other one lost
        sequencer, _, _ = sequencer.push(action)
    assert 0 < len(sequencer.lost) <= 32


def test_ids_that_are_not_uuids_and_too_many_games_are_malformed() -> None:
    _, frames = _first_rally_frames()
    for key in ("actionId", "fixtureId"):
        message = _message(frames[-1])
        message["fixtureAction"][key] = "not-a-uuid"
        bad = decode(orjson.dumps(message))
        assert isinstance(bad, Malformed)
        assert bad.field == f"fixtureAction.{key}"
    message = _message(frames[-1])
    message["fixtureSummary"]["periods"] = [{"homeTeamPeriodScore": 0, "awayTeamPeriodScore": 0}] * (MAX_PERIODS + 1)
    bad = decode(orjson.dumps(message))
    assert isinstance(bad, Malformed)
    assert bad.field == "fixtureSummary.periods"


# --- properties ------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=30,
)
ACTION_KEYS = st.sampled_from(
    ["fixtureAction", "fixtureSummary", "fixtureId", "actionId", "fixtureSeqNum", "sendTypeId", "periods", "team"]
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(frame: bytes) -> None:
    assert isinstance(decode(frame), Action | Heartbeat | Malformed)


@settings(max_examples=300, deadline=None)
@given(JSON, st.dictionaries(ACTION_KEYS, JSON, max_size=6))
def test_random_json_never_raises(value: object, action: dict[str, Any]) -> None:
    for candidate in (value, {"fixtureAction": action, "fixtureSummary": value}, {"fixtureAction": value}):
        decoded = decode_object(candidate)
        assert isinstance(decoded, Action | Heartbeat | Malformed)
        if isinstance(decoded, Malformed):
            assert decoded.reason
        state, events = reduce(MatchState.new(None), decoded)
        assert state.match.malformed == sum(1 for e in events if isinstance(e, Malformed))


_CLEAN = clean_run(RECORDING)
_VALID = [text for text, message in _CLEAN.inputs if text is not None and isinstance(message, Action | Heartbeat)]


def _states_before_each_frame() -> list[MatchState]:
    state = MatchState.new(_CLEAN.summary["fixtureId"], MatchFormat(best_of=_CLEAN.summary["bestOf"]))
    states = []
    for text in _VALID:
        states.append(state)
        state, _ = reduce(state, decode(text))
    return states


_STATES = _states_before_each_frame()


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(_VALID) - 1), st.sampled_from(sorted(MUTATIONS)), st.randoms(use_true_random=False))
def test_a_mutated_message_never_raises_and_is_counted(position: int, kind: str, rng: random.Random) -> None:
    """The message about to arrive, damaged, reduced on the state it would have met."""
    bad = mutate(rng, _message(_VALID[position]), kind)
    decoded = decode(bad.frame)
    state = _STATES[position]
    after, events = reduce(state, decoded)
    refused = [event for event in events if isinstance(event, Malformed)]
    assert after.match.malformed - state.match.malformed == len(refused)
    assert all(event.reason for event in refused)
    if kind in ("truncated", "not_utf8", "nan"):
        assert isinstance(decoded, Malformed)
    if kind == "impossible_summary" and isinstance(decoded, Action):
        assert after.points == reduce(state, attrs.evolve(decoded, summary=None))[0].points  # never adopted


def test_every_mutation_changes_the_message_and_noise_is_never_an_action() -> None:
    rng = random.Random(7)
    original = _VALID[60]
    message = _message(original)
    for kind in MUTATIONS:
        frames = [mutate(rng, message, kind).frame for _ in range(30)]
        assert any(frame != original for frame in frames), kind
        assert _message(original) == message  # the input is left untouched
    assert not any(isinstance(decode(noise(rng).frame), Action) for _ in range(500))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(matches(best_of=3), st.lists(st.tuples(st.integers(0, 10_000), bad_frames(_VALID)), max_size=30))
def test_garbage_in_a_generated_match_changes_nothing(
    match: GeneratedMatch, garbage: list[tuple[int, BadFrame]]
) -> None:
    frames: list[str | bytes] = list(match.frames())
    clean, clean_events, _ = run([decode(frame, match.catalogue) for frame in frames], match.format, match.fixture_id)
    inserted = 0
    for position, bad in garbage:
        if isinstance(decode(bad.frame, match.catalogue), Malformed):
            frames.insert(position % (len(frames) + 1), bad.frame)
            inserted += 1
    state, events, _ = run([decode(frame, match.catalogue) for frame in frames], match.format, match.fixture_id)
    assert state.match.malformed == clean.match.malformed + inserted
    assert [e for e in events if not isinstance(e, Malformed)] == clean_events
    expected, got = summarize(clean), summarize(state)
    got["malformed"] = expected["malformed"]
    assert got == expected


def test_fuzzed_corpus(long_run: bool) -> None:
    """Bad frames slipped into every recording of the corpus (a million under `--long`)."""
    began = time.perf_counter()
    tally = fuzz_corpus(LONG_FRAMES if long_run else CI_FRAMES, seed=20261126)
    print(f"\nfuzzed corpus in {time.perf_counter() - began:.0f} s: {tally.line()}")
    assert tally.bad >= (LONG_FRAMES if long_run else CI_FRAMES)
    assert set(tally.kinds) >= set(MUTATIONS)
    assert tally.quarantined > tally.bad / 2
    assert tally.actions > 0  # renumbered and impossibly scored actions went through the reducer too
    assert tally.discrepancies > 0


def test_one_stream_with_garbage_between_every_message() -> None:
    tally = Tally()
    fuzz_stream(_CLEAN, random.Random(3), tally, per_message=3.0)
    assert tally.bad > 2 * tally.valid
    assert tally.quarantined > 0


def test_expedite_from_beyond_the_points_played_crashed_the_pricing() -> None:
    """Found by the long fuzz run: a correction took game 2 back to 0-0 after the expedite system
    had come on at its 5th point; the price book built a Position the model refuses (ValueError out
    of reduce). The expedite system stays on, from no later than the points now played."""
    import attrs

    from engine.core.match.rules import MatchFormat, Side
    from engine.core.match.state import Expedite, PlayState
    from engine.core.pricing.prices import prices_of
    from engine.core.state import MatchState

    play = PlayState(
        format=MatchFormat(best_of=5),
        points=((11, 5), (0, 0)),
        rallies=((Side.HOME,) * 11 + (Side.AWAY,) * 5, ()),
        games=(1, 0),
        first_server=Side.HOME,
        expedite=Expedite(game=2, points_played=5),
        started=True,
    )
    state = MatchState.new("f", MatchFormat(best_of=5))
    state, _ = reduce(state, Heartbeat())  # the book, offered
    prices = prices_of(attrs.evolve(state.match, play=play), state.book, state.markets.pricing)
    assert abs(sum(prices["match_winner"].values()) - 1.0) < 1e-9
