"""The desk's configuration file (TOML, read with the standard library's `tomllib`):

    [service]                       # every key optional; a command-line flag wins over it
    base = "wss://…"                # the provider
    token_env = "FEED_TOKEN"        # the environment variable holding the token
    http = "127.0.0.1:9100"         # serve the page, /fixtures and /metrics
    http_token_env = "DESK_TOKEN"   # the variable holding the token the HTTP side asks for
    updates = "updates.jsonl"       # every update as JSON Lines ("-": standard output)
    record_dir = "recordings"       # each fixture's raw frames, DIR/{fixtureId}.jsonl
    stale_after = 10.0              # seconds of silence before a fixture's markets suspend
    max_retries = 20                # reconnections in a row without a frame before a fixture fails
    margin = 0.05                   # one margin for every market type (a fixture's own wins)
    log_format = "json"             # or "text"
    exit_when_done = false          # exit once every fixture has ended (default: run until stopped)
    lag_limit = 1.0                 # seconds a consumer may fall behind before consumer_lagging
    alive_every = 1.0               # seconds between two {"alive": …} lines of the updates
    allow_empty = false             # true: a reload of a file without fixtures unfollows them all
    ratings = "ratings.json"        # players' ratings: the prior; each finished match is added to it

    [[fixtures]]
    id = "caeeccef-6f2c-59ba-92d3-965421d7638c"
    best_of = 7                     # odd, 1 to 9; without it the format is unknown
    doubles = false
    pre_match = [1.55, 2.45]        # a bookmaker's decimal match odds, home then away (needs best_of)
    margin = 0.06
    prices = true                   # false: no prices for this fixture

Anything else is refused with a `ConfigError` naming the file, the key and what was wanted.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs

from engine.core.config import DEFAULT_MARKETS, MarketConfig
from engine.core.match.rules import MAX_BEST_OF, UNKNOWN_FORMAT, MatchFormat
from engine.core.pricing.model import DEFAULT_PRICING
from engine.io.protocol import check_fixture_id
from engine.ratings import Ratings

T = TypeVar("T")
LOG_FORMATS = ("text", "json")


class ConfigError(ValueError):
    """The desk's configuration cannot be used; the message names the file and the key."""


@attrs.frozen(slots=True)
class FixtureEntry:
    """One fixture to follow: its format, pre-match odds and market settings."""

    fixture_id: str
    fmt: MatchFormat = UNKNOWN_FORMAT
    pre_match: tuple[float, float] | None = None
    margin: float | None = None
    prices: bool = True

    def markets(self, default_margin: float | None = None, ratings: Ratings | None = None) -> MarketConfig:
        """The fixture's market config: its pricing with the margin and pre-match odds it asks for,
        and the desk's `ratings` for its prior (ValueError, in words, when they cannot be)."""
        if not self.prices:
            return attrs.evolve(DEFAULT_MARKETS, pricing=None)
        pricing = DEFAULT_PRICING
        margin = self.margin if self.margin is not None else default_margin
        if margin is not None:
            pricing = pricing.with_margin(margin)
        if self.pre_match is not None:
            if self.fmt.best_of is None:
                raise ValueError(f"fixture {self.fixture_id}: pre-match odds need the format: give best_of")
            pricing = pricing.with_pre_match(*self.pre_match, self.fmt)
        return attrs.evolve(DEFAULT_MARKETS, pricing=pricing, ratings=ratings)


@attrs.frozen(slots=True)
class ServiceSettings:
    """The service's settings (see the module docstring); None: not set here."""

    base: str | None = None
    token_env: str | None = None
    http: str | None = None
    http_token_env: str | None = None
    updates: str | None = None
    record_dir: str | None = None
    stale_after: float | None = None
    max_retries: int | None = None
    margin: float | None = None
    log_format: str | None = None
    exit_when_done: bool | None = None
    lag_limit: float | None = None
    alive_every: float | None = None
    #: The file may list no fixture: a reload of it then unfollows every fixture it listed.
    allow_empty: bool | None = None
    #: The players' ratings file: the fixtures' prior, and each finished match's result added to it.
    ratings: str | None = None


@attrs.frozen(slots=True)
class DeskConfig:
    """A configuration file read: the service's settings and the fixtures, in the file's order."""

    service: ServiceSettings = attrs.field(factory=ServiceSettings)
    fixtures: tuple[FixtureEntry, ...] = ()


def load_config(path: str | Path) -> DeskConfig:
    """Read and check a desk configuration file; ConfigError when it cannot be used."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not TOML: {exc}") from None
    return parse_config(raw, str(path))


def parse_config(raw: Mapping[str, Any], source: str = "config") -> DeskConfig:
    """A parsed TOML document as a `DeskConfig`; ConfigError names what is wrong."""
    _only(raw, {"service", "fixtures"}, source)
    service = _service(_table(raw.get("service", {}), f"{source}: [service]"), source)
    entries = raw.get("fixtures", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: fixtures must be an array of tables ([[fixtures]])")
    fixtures: list[FixtureEntry] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        where = f"{source}: fixture {number}"
        fixture = _fixture(_table(entry, where), where)
        if fixture.fixture_id in seen:
            raise ConfigError(f"{where}: fixture {fixture.fixture_id} is listed twice")
        seen.add(fixture.fixture_id)
        fixtures.append(fixture)
    return DeskConfig(service, tuple(fixtures))


def parse_fixture_argument(text: str) -> FixtureEntry:
    """A command-line fixture, `FIXTURE_ID` or `FIXTURE_ID:bestOf` (ValueError when malformed)."""
    fixture_id, _, best_of = text.partition(":")
    if not fixture_id:
        raise ValueError(f"a fixture is FIXTURE_ID or FIXTURE_ID:bestOf, not {text!r}")
    check_fixture_id(fixture_id)
    if not best_of:
        return FixtureEntry(fixture_id)
    if not best_of.isdigit() or not _is_best_of(int(best_of)):
        raise ValueError(f"{text}: the best-of must be an odd number of games from 1 to {MAX_BEST_OF}")
    return FixtureEntry(fixture_id, MatchFormat(best_of=int(best_of)))


def _is_best_of(value: int) -> bool:
    return 1 <= value <= MAX_BEST_OF and value % 2 == 1


def _service(raw: Mapping[str, Any], source: str) -> ServiceSettings:
    where = f"{source}: [service]"
    _only(raw, set(attrs.fields_dict(ServiceSettings)), where)
    log_format = _get(raw, "log_format", str, where, lambda v: v in LOG_FORMATS, "text or json")
    return ServiceSettings(
        base=_get(raw, "base", str, where),
        token_env=_get(raw, "token_env", str, where, bool, "a variable name"),
        http=_get(raw, "http", str, where),
        http_token_env=_get(raw, "http_token_env", str, where, bool, "a variable name"),
        updates=_get(raw, "updates", str, where),
        record_dir=_get(raw, "record_dir", str, where),
        stale_after=_get(raw, "stale_after", float, where, lambda v: 0 < v < math.inf, "a positive number"),
        max_retries=_get(raw, "max_retries", int, where, lambda v: v >= 0, "a whole number of 0 or more"),
        margin=_margin(raw, where),
        log_format=log_format,
        exit_when_done=_get(raw, "exit_when_done", bool, where),
        lag_limit=_get(raw, "lag_limit", float, where, lambda v: 0 < v < math.inf, "a positive number"),
        alive_every=_get(raw, "alive_every", float, where, lambda v: 0 < v < math.inf, "a positive number"),
        allow_empty=_get(raw, "allow_empty", bool, where),
        ratings=_get(raw, "ratings", str, where, bool, "a file name"),
    )


def _fixture(raw: Mapping[str, Any], where: str) -> FixtureEntry:
    _only(raw, {"id", "best_of", "doubles", "pre_match", "margin", "prices"}, where)
    fixture_id = _get(raw, "id", str, where, bool, "a fixture id")
    if fixture_id is None:
        raise ConfigError(f"{where}: id is missing")
    try:
        check_fixture_id(fixture_id)
    except ValueError as exc:
        raise ConfigError(f"{where}: id: {exc}") from None
    where = f"{where} ({fixture_id})"
    best_of = _get(raw, "best_of", int, where, _is_best_of, f"an odd number of games from 1 to {MAX_BEST_OF}")
    doubles = _get(raw, "doubles", bool, where) or False
    pre_match = raw.get("pre_match")
    odds: tuple[float, float] | None = None
    if pre_match is not None:
        if (
            not isinstance(pre_match, list)
            or len(pre_match) != 2
            or not all(_is_number(v) and 1 < v < math.inf for v in pre_match)
        ):
            raise ConfigError(f"{where}: pre_match must be two decimal odds above 1 (home, away), not {pre_match!r}")
        odds = (float(pre_match[0]), float(pre_match[1]))
    fmt = MatchFormat(best_of=best_of, doubles=doubles)
    entry = FixtureEntry(fixture_id, fmt, odds, _margin(raw, where), _get(raw, "prices", bool, where) is not False)
    if not entry.prices and (entry.margin is not None or entry.pre_match is not None):
        raise ConfigError(f"{where}: prices = false leaves nothing for margin or pre_match to change")
    try:
        entry.markets()
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return entry


def _margin(raw: Mapping[str, Any], where: str) -> float | None:
    return _get(raw, "margin", float, where, lambda v: 0 <= v < 1, "a margin from 0 up to 1 (0.05 is 5 %)")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _get(
    raw: Mapping[str, Any],
    key: str,
    kind: Callable[[Any], T],
    where: str,
    check: Callable[[T], bool] = lambda value: True,
    need: str = "",
) -> T | None:
    """`raw[key]` as `kind` (None when absent); ConfigError when it is another type or fails `check`."""
    if key not in raw:
        return None
    value = raw[key]
    wanted = need or getattr(kind, "__name__", str(kind))
    if kind is float:
        if not _is_number(value):
            raise ConfigError(f"{where}: {key} must be {wanted}, not {value!r}")
        value = float(value)
    elif kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be {wanted}, not {value!r}")
    elif not isinstance(value, kind):  # type: ignore[arg-type]  # str and bool: classes
        raise ConfigError(f"{where}: {key} must be {'true or false' if kind is bool else wanted}, not {value!r}")
    if not check(value):
        raise ConfigError(f"{where}: {key} must be {wanted}, not {value!r}")
    result: T = value
    return result


def _table(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table")
    return value


def _only(raw: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
