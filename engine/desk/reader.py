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
- `{"alive": t, "run": r}` lines say the engine lives. When none has come from the run that last
  wrote a fixture for longer than `alive_limit` seconds (the receiver's clock), the fixture is
  `producer_down`: every undecided market of its copy reads suspended (`producer_down`) until a
  snapshot arrives (UOF: recovery after producer down).
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

    def __init__(self, fixture_id: str) -> None:
        self.fixture_id = fixture_id
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

    def __init__(self, alive_limit: float = ALIVE_LIMIT) -> None:
        if not alive_limit > 0:
            raise ValueError(f"alive_limit must be positive seconds, not {alive_limit!r}")
        self.alive_limit = alive_limit
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
            copy = self.fixtures[fixture_id] = FixtureCopy(fixture_id)
        if isinstance(run, str):
            copy.run, copy.stream_seq = run, seq if isinstance(seq, int) else None
        state = item.get("state")
        if isinstance(state, Mapping):
            copy.state = state
        copy.updates += 1
        if item.get("snapshot") is True:
            copy.markets = _book(item.get("book"))
            copy.producer_down = False
            copy.snapshots += 1
        decisions = self._apply(copy, item.get("signals", []), snapshot=item.get("snapshot") is True)
        if item.get("snapshot") is True:
            copy.markets = _book(item.get("book"))  # the book is the truth; the signals were the way there
        return decisions

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

    def _apply(self, copy: FixtureCopy, signals: Iterable[Any], snapshot: bool) -> list[Decision]:
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
                if kind == "MarketSettled":
                    markets[market_id] = MarketCopy("settled", signal.get("result"))
                elif kind == "MarketVoided":
                    markets[market_id] = MarketCopy("void", reasons=(str(signal.get("reason")),))
                decision_id = signal.get("id")
                key = f"{kind}:{decision_id}"
                if decision_id is not None and key in self.taken:
                    self.repeated_decisions += 1
                    continue
                if decision_id is not None:
                    self.taken.add(key)
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
        )
    return markets
