"""The consumer's side of the update stream (`ttengine follow --updates`): a receiver's copy of every
fixture's book and prices, rebuilt from the lines alone, with UOF's rules across discontinuities.

    reader = StreamReader(alive_limit=2.0)
    for line in lines:                                  # JSON lines, as written
        for decision in reader.feed(line, now=time.time()):
            pay_or_cancel(decision)                     # each settlement/voiding/rollback once
    reader.check(time.time())                           # no alive line for too long: producer down
    reader.fixtures[fixture_id].book                    # market -> MarketCopy (status, result, reasons, prices, odds)

- An update line applies its signals in order (prices before reopenings, as sent); a snapshot line
  (`"snapshot": true`) replaces the fixture's copy by its `book`.
- A line already taken — the same `run` and a `streamSeq` not above the last one taken from that run
  — is dropped; a settlement, voiding or rollback whose `id` was taken before is applied to the book
  but not reported again, so a consumer that pays on what `feed` returns never pays twice.
- A snapshot reports what its book decided that the receiver was not told (a settlement made while
  the engine was down, or before the receiver joined: by its id), and the rollback of a decision
  the receiver took that its book lists as rolled back, so a consumer that pays on `feed` misses none.
- `{"alive": t, "run": r}` lines say the engine lives. When none has come from the run that last
  wrote a fixture for longer than `alive_limit` seconds (the receiver's clock), the fixture is
  `producer_down`: every undecided market of its copy reads suspended (`producer_down`) until a
  snapshot arrives (UOF: recovery after producer down).
- `require_snapshot` (a reader that joins a stream under way: the bus's `Mirror`): a fixture's copy
  reads suspended (`not_synced`) until its first snapshot, and once synced, a line of another run
  that is not a snapshot is dropped (`foreign`): a new engine of the fixture starts with a snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import orjson

#: [ours] UOF's rule: a producer whose alive messages stop for this long (seconds) is down.
ALIVE_LIMIT = 2.0
#: The reason a market of a down producer's fixture reads suspended in the receiver's copy.
PRODUCER_DOWN = "producer_down"
#: The reason every market of a fixture reads suspended before its first snapshot (`require_snapshot`).
NOT_SYNCED = "not_synced"


class StreamError(ValueError):
    """A line that is not a line of the update stream (not JSON, not an object, a bad field)."""


@attrs.frozen(slots=True)
class MarketCopy:
    """One market as the receiver holds it: `status` (open, suspended, settled, void), the result
    of a settled market, the reasons of a suspended one (a void one's reason), its fair prices and
    the odds offered (empty when none)."""

    status: str
    result: str | None = None
    reasons: tuple[str, ...] = ()
    prices: Mapping[str, float] = attrs.field(factory=dict)
    odds: Mapping[str, float] = attrs.field(factory=dict)
    #: A decided market's decision id (the settlement's or voiding's).
    id: str | None = None

    @property
    def decided(self) -> bool:
        """True once settled or void."""
        return self.status in ("settled", "void")


@attrs.frozen(slots=True)
class Decision:
    """A settlement, voiding or rollback taken for the first time: act on it once."""

    fixture_id: str
    market: str
    signal: str  # MarketSettled, MarketVoided, SettlementRolledBack, VoidRolledBack
    id: str | None
    result: str | None = None


class FixtureCopy:
    """The receiver's copy of one fixture: its markets, the run that last wrote it, and whether its
    producer is down."""

    def __init__(self, fixture_id: str, synced: bool = True) -> None:
        self.fixture_id = fixture_id
        self.synced = synced  # False until a snapshot, when the reader requires one
        self.markets: dict[str, MarketCopy] = {}
        self.run: str | None = None
        self.stream_seq: int | None = None
        self.producer_down = False
        self.snapshots = 0
        self.updates = 0
        self.state: Mapping[str, Any] = {}

    def __repr__(self) -> str:
        down = ", producer down" if self.producer_down else ""
        return f"FixtureCopy({self.fixture_id!r}, {len(self.markets)} markets{down})"

    @property
    def book(self) -> dict[str, MarketCopy]:
        """Every market as a trader may act on it: while the producer is down, every undecided
        market reads suspended (`producer_down`)."""
        if not self.synced:
            return {
                market_id: attrs.evolve(market, status="suspended", reasons=(NOT_SYNCED,))
                for market_id, market in self.markets.items()
            }
        if not self.producer_down:
            return dict(self.markets)
        return {
            market_id: market if market.decided else attrs.evolve(market, status="suspended", reasons=(PRODUCER_DOWN,))
            for market_id, market in self.markets.items()
        }

    def open_markets(self) -> list[str]:
        """The markets open in the copy now."""
        return [market_id for market_id, market in self.book.items() if market.status == "open"]


class StreamReader:
    """Rebuilds every fixture of an update stream (see the module docstring)."""

    def __init__(self, alive_limit: float = ALIVE_LIMIT, require_snapshot: bool = False) -> None:
        if not alive_limit > 0:
            raise ValueError(f"alive_limit must be positive seconds, not {alive_limit!r}")
        self.alive_limit = alive_limit
        self.require_snapshot = require_snapshot
        self.foreign = 0  # lines dropped: not a snapshot, from a run other than the one the copy follows
        self.fixtures: dict[str, FixtureCopy] = {}
        self.alive: dict[str, float] = {}  # run -> when its last alive line was read (receiver's clock)
        self.last_seq: dict[str, int] = {}  # run -> the last streamSeq taken
        self.taken: set[str] = set()  # decision ids acted on
        self.dropped = 0  # lines dropped as repeats
        self.repeated_decisions = 0  # decisions applied again without being reported

    def __repr__(self) -> str:
        return f"StreamReader({len(self.fixtures)} fixtures)"

    def feed(self, line: str | bytes | Mapping[str, Any], now: float) -> list[Decision]:
        """Take one line read at `now` (the receiver's clock, seconds); the decisions it brings for
        the first time. StreamError for a line that is not one of the stream."""
        item = _parsed(line)
        if "alive" in item:
            run = item.get("run")
            if not isinstance(run, str):
                raise StreamError("an alive line names its run")
            self.alive[run] = now
            return []
        fixture_id = item.get("fixtureId")
        if not isinstance(fixture_id, str):
            raise StreamError("an update line names its fixtureId")
        run, seq = item.get("run"), item.get("streamSeq")
        if isinstance(run, str) and isinstance(seq, int):
            if seq <= self.last_seq.get(run, 0):
                self.dropped += 1
                return []
            self.last_seq[run] = seq
            self.alive.setdefault(run, now)
        copy = self.fixtures.get(fixture_id)
        if copy is None:
            copy = self.fixtures[fixture_id] = FixtureCopy(fixture_id, synced=not self.require_snapshot)
        snapshot = item.get("snapshot") is True
        if self.require_snapshot and copy.synced and not snapshot and run != copy.run:
            self.foreign += 1  # an engine that lost the fixture: its new engine starts with a snapshot
            return []
        if isinstance(run, str):
            copy.run, copy.stream_seq = run, seq if isinstance(seq, int) else None
        state = item.get("state")
        if isinstance(state, Mapping):
            copy.state = state
        copy.updates += 1
        decisions = self._apply(copy, item.get("signals", []))
        if snapshot:  # the book is the truth; the signals were the way there
            copy.markets = _book(item.get("book"))
            copy.producer_down = False
            copy.synced = True
            copy.snapshots += 1
            decisions += self._decided_in(copy, item["book"])
        return decisions

    def _decided_in(self, copy: FixtureCopy, book: Mapping[str, Any]) -> list[Decision]:
        """What a snapshot's book decided that the receiver has not been told: a settlement or a
        voiding whose id it has not taken (made while the receiver was away, or before it joined),
        and the rollback of a decision it took that the book lists as rolled back (`rolledBack`)."""
        decisions = []
        for market_id, market in copy.markets.items():
            if market.decided and market.id is not None:
                kind = "MarketSettled" if market.status == "settled" else "MarketVoided"
                if self._first(f"{kind}:{market.id}", restated=True):
                    decisions.append(Decision(copy.fixture_id, market_id, kind, market.id, market.result))
            rolled_back = book[market_id].get("rolledBack", [])
            if not isinstance(rolled_back, list) or not all(isinstance(each, str) for each in rolled_back):
                raise StreamError(f"snapshot book: {market_id}: rolledBack is a list of decision ids")
            for taken_back in rolled_back:
                for decided, kind in (("MarketSettled", "SettlementRolledBack"), ("MarketVoided", "VoidRolledBack")):
                    if f"{decided}:{taken_back}" in self.taken and self._first(f"{kind}:{taken_back}", restated=True):
                        decisions.append(Decision(copy.fixture_id, market_id, kind, taken_back))
        return decisions

    def _first(self, key: str, restated: bool = False) -> bool:
        """True the first time a decision is met (it is then taken); else False, counted repeated
        unless a snapshot's book merely restates it."""
        if key in self.taken:
            self.repeated_decisions += 0 if restated else 1
            return False
        self.taken.add(key)
        return True

    def check(self, now: float) -> list[str]:
        """Mark `producer_down` every fixture whose run has sent no alive line for longer than
        `alive_limit` at `now`; the fixtures newly marked."""
        down = []
        for copy in self.fixtures.values():
            if copy.producer_down or copy.run is None:
                continue
            heard = self.alive.get(copy.run)
            if heard is None or now - heard > self.alive_limit:
                copy.producer_down = True
                down.append(copy.fixture_id)
        return down

    def _apply(self, copy: FixtureCopy, signals: Iterable[Any]) -> list[Decision]:
        markets = copy.markets
        decisions: list[Decision] = []
        for signal in signals:
            if not isinstance(signal, Mapping):
                raise StreamError("a signal is a JSON object")
            kind = signal.get("signal")
            if kind == "PricesChanged":
                _prices(markets, signal)
                continue
            ids = signal.get("markets") if "markets" in signal else [signal.get("market")]
            if not isinstance(ids, list) or not all(isinstance(market_id, str) for market_id in ids):
                raise StreamError(f"{kind}: its markets are ids")
            if kind in ("BetStop", "BetStopChanged", "MarketSuspended", "SuspensionReasonsChanged"):
                reasons = tuple(signal.get("reasons", ()))
                for market_id in ids:
                    markets[market_id] = _with(markets.get(market_id), status="suspended", result=None, reasons=reasons)
            elif kind in ("BetStart", "MarketResumed"):
                for market_id in ids:
                    markets[market_id] = _with(markets.get(market_id), status="open", result=None, reasons=())
            elif kind in ("MarketSettled", "MarketVoided", "SettlementRolledBack", "VoidRolledBack"):
                market_id = ids[0]
                decision_id = signal.get("id")
                if kind == "MarketSettled":
                    markets[market_id] = MarketCopy("settled", signal.get("result"), id=decision_id)
                elif kind == "MarketVoided":
                    markets[market_id] = MarketCopy("void", reasons=(str(signal.get("reason")),), id=decision_id)
                if decision_id is not None and not self._first(f"{kind}:{decision_id}"):
                    continue
                decisions.append(Decision(copy.fixture_id, market_id, kind, decision_id, signal.get("result")))
        return decisions


def _parsed(line: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(line, Mapping):
        return line
    try:
        item = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise StreamError(f"not JSON: {exc}") from None
    if not isinstance(item, dict):
        raise StreamError("a line of the stream is a JSON object")
    return item


def _with(market: MarketCopy | None, **changes: Any) -> MarketCopy:
    return MarketCopy(**changes) if market is None else attrs.evolve(market, **changes)


def _prices(markets: dict[str, MarketCopy], signal: Mapping[str, Any]) -> None:
    odds = signal.get("odds", {})
    for market_id, fair in signal.get("prices", {}).items():
        known = markets.get(market_id)
        market = known if known is not None else MarketCopy("suspended")
        markets[market_id] = attrs.evolve(market, prices=dict(fair), odds=dict(odds.get(market_id, {})))
    for market_id in signal.get("withdrawn", ()):
        gone = markets.get(market_id)
        if gone is not None:
            markets[market_id] = attrs.evolve(gone, prices={}, odds={})


def _book(value: object) -> dict[str, MarketCopy]:
    if not isinstance(value, Mapping):
        raise StreamError("a snapshot carries its book")
    markets = {}
    for market_id, entry in value.items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("status"), str):
            raise StreamError(f"snapshot book: {market_id}: no status")
        markets[market_id] = MarketCopy(
            entry["status"],
            entry.get("result"),
            tuple(entry.get("reasons", ())),
            dict(entry.get("prices", {})),
            dict(entry.get("odds", {})),
            entry.get("id"),
        )
    return markets
