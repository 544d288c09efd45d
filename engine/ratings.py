"""Player ratings (issue 29.2): a rating per player from dated results, and from it a prior for a fixture.

Glicko-1 on match results (Glickman 1999), one match at a time: a rating `mu` on the Elo scale and
its uncertainty `rd` (350 for a player never seen, falling with each match, growing again by
`RatingSystem.inflation` for each year without one). A pair in doubles is rated as the pair
(either order). Chosen by measurement over plain Elo (README "Ratings": `bench/ratings.py`).

For a fixture, `prior_for` turns the two ratings into what the pricing needs: P(home wins) before
the first point, the `home_edge` of the share of points that gives it in the fixture's format, and
the prior's strength in points, from `UNRATED_STRENGTH` (nothing known) up to `RATED_STRENGTH` as
the uncertainty falls.

Players are found by the provider's team id when the ratings have seen it (a desk that learns
remembers each side's id), else by name: `player_key` normalises case, accents, a country suffix
like ` (SVK)` and whitespace, and a doubles pair `A / B` in either order. A name with its country
is found exactly; a name without one matches every rated player of that name, and more than one is
ambiguous: reported, never guessed (`Lookup`).

Pure: no clock, no I/O, no randomness (`load_ratings` / `save_ratings` read and write the file;
`engine.analysis.results` reads result files).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs
import orjson

from engine.core.match.rules import MatchFormat
from engine.core.pricing.model import PRIOR, Prior, home_edge_table

_COUNTRY = re.compile(r"\s*\(([A-Za-z]{2,4})\)\s*$")
_Q = math.log(10) / 400


@attrs.frozen(slots=True)
class Rating:
    """One player's (or pair's) rating: `mu` (Elo scale, 1500 for the unknown), its uncertainty
    `rd`, the matches it rests on, and the year of the last one."""

    mu: float
    rd: float
    matches: int = 0
    year: int = 0


@attrs.frozen(slots=True)
class RatingSystem:
    """Glicko-1's constants: the unknown player's rating and uncertainty, the least uncertainty
    kept (a floor, so a rating keeps moving), and the uncertainty added per year without a match."""

    initial: float = 1500.0
    initial_rd: float = 350.0
    min_rd: float = 45.0
    inflation: float = 60.0

    def unknown(self) -> Rating:
        return Rating(self.initial, self.initial_rd)


DEFAULT_SYSTEM = RatingSystem()


def player_key(name: str) -> tuple[str, str | None]:
    """(the normalised name, its country or None): case, accents, whitespace and a trailing
    ` (SVK)` folded; a doubles pair `A (X) / B (Y)` as its two members sorted, joined by ` / `
    (the country then the members' countries, sorted and joined the same way)."""
    members = [part.strip() for part in name.split("/")] if "/" in name else [name]
    keyed = sorted(_member_key(member) for member in members)
    countries = [country for _, country in keyed]
    country = None if any(c is None for c in countries) else " / ".join(c for c in countries if c)
    return " / ".join(base for base, _ in keyed), country


def _member_key(name: str) -> tuple[str, str | None]:
    found = _COUNTRY.search(name)
    country = found.group(1).upper() if found else None
    base = _COUNTRY.sub("", name)
    base = "".join(ch for ch in unicodedata.normalize("NFKD", base) if not unicodedata.combining(ch))
    return " ".join(base.casefold().split()), country


def identity(name: str) -> str:
    """The key a rating is stored under: the normalised name, then `|` and the country when known."""
    base, country = player_key(name)
    return base if country is None else f"{base}|{country}"


@attrs.frozen(slots=True)
class Lookup:
    """What a name found: its rating (None: not found) and why not (`unknown`, or `ambiguous` with
    the identities it could be)."""

    name: str
    rating: Rating | None
    why: str = ""
    candidates: tuple[str, ...] = ()


@attrs.frozen(slots=True)
class Ratings:
    """Every rated player by identity (see `identity`), immutable; `with_result` gives the ratings
    after one more match."""

    players: Mapping[str, Rating] = attrs.field(factory=dict)
    system: RatingSystem = DEFAULT_SYSTEM
    #: The fixtures whose results were added as they finished (a desk learning: each once).
    learned: frozenset[str] = frozenset()
    #: The provider's team ids seen with a rated player (a desk learning): id -> identity.
    ids: Mapping[str, str] = attrs.field(factory=dict)
    _index: dict[str, list[str]] | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def lookup(self, name: str, provider_id: str | None = None) -> Lookup:
        """The rating a lineup's team refers to: by the provider's id when the ratings have seen
        it, else by name (see the module docstring)."""
        known = None if provider_id is None else self.ids.get(provider_id)
        if known is not None and known in self.players:
            return Lookup(name, self.players[known])
        base, country = player_key(name)
        if country is not None:
            found = self.players.get(f"{base}|{country}")
            return Lookup(name, found, "" if found is not None else "unknown")
        candidates = tuple(sorted(key for key in self._by_base().get(base, ())))
        if len(candidates) == 1:
            return Lookup(name, self.players[candidates[0]])
        if not candidates:
            return Lookup(name, None, "unknown")
        return Lookup(name, None, "ambiguous", candidates)

    def _by_base(self) -> dict[str, list[str]]:
        """The identities by name without the country (built once per ratings object)."""
        index = self._index
        if index is None:
            index = {}
            for key in self.players:
                index.setdefault(key.split("|", 1)[0], []).append(key)
            object.__setattr__(self, "_index", index)
        return index

    def rating(self, name: str) -> Rating:
        """The rating of `name`, the unknown player's when it is not rated (or ambiguous)."""
        found = self.lookup(name).rating
        return found if found is not None else self.system.unknown()

    def with_result(
        self,
        home: str,
        away: str,
        home_won: bool,
        year: int,
        fixture_id: str | None = None,
        ids: tuple[str | None, str | None] = (None, None),
    ) -> Ratings:
        """The ratings after `home` met `away` in `year` (names as in the results: with countries);
        `fixture_id`: the fixture it was, remembered so that it is added once; `ids`: the
        provider's team ids of the two sides, remembered to find them by id next time."""
        keys = (self._key_of(home, ids[0]), self._key_of(away, ids[1]))
        players = dict(self.players)
        apply_keyed(players, *keys, home_won, year, self.system)
        learned = self.learned if fixture_id is None else self.learned | {fixture_id}
        known = dict(self.ids)
        known.update((provider_id, key) for provider_id, key in zip(ids, keys, strict=True) if provider_id is not None)
        return Ratings(players, self.system, learned, known)

    def _key_of(self, name: str, provider_id: str | None) -> str:
        """The identity a side is rated under: the one its id or its name finds (a lineup's name
        without a country finds the one rated player of that name), else a new one from the name."""
        known = None if provider_id is None else self.ids.get(provider_id)
        if known is not None:
            return known
        base, country = player_key(name)
        if country is None:
            candidates = self._by_base().get(base, [])
            if len(candidates) == 1:
                return candidates[0]
        return identity(name)

    def __len__(self) -> int:
        return len(self.players)


def win_probability(home: Rating, away: Rating) -> float:
    """P(home wins the match): Glicko's expectation with both uncertainties."""
    spread = math.sqrt(home.rd**2 + away.rd**2)
    return 1.0 / (1.0 + 10 ** (-_g(spread) * (home.mu - away.mu) / 400))


def _g(rd: float) -> float:
    return 1.0 / math.sqrt(1.0 + 3.0 * _Q**2 * rd**2 / math.pi**2)


def rating_at(players: Mapping[str, Rating], key: str, year: int, system: RatingSystem = DEFAULT_SYSTEM) -> Rating:
    """The rating of identity `key` in `year` (the unknown player's when it has none)."""
    return _aged(players.get(key, system.unknown()), year, system)


def _aged(rating: Rating, year: int, system: RatingSystem) -> Rating:
    """The rating at `year`: its uncertainty grown by `inflation` for each year since its last match."""
    if rating.matches == 0 or year <= rating.year:
        return rating
    rd = math.sqrt(rating.rd**2 + (year - rating.year) * system.inflation**2)
    return attrs.evolve(rating, rd=min(system.initial_rd, rd))


def _updated(player: Rating, opponent: Rating, score: float, year: int, system: RatingSystem) -> Rating:
    """Glicko-1's update after one match (a rating period of one game)."""
    g = _g(opponent.rd)
    expected = 1.0 / (1.0 + 10 ** (-g * (player.mu - opponent.mu) / 400))
    d_squared = 1.0 / (_Q**2 * g**2 * expected * (1.0 - expected))
    precision = 1.0 / player.rd**2 + 1.0 / d_squared
    mu = player.mu + _Q / precision * g * (score - expected)
    rd = max(system.min_rd, math.sqrt(1.0 / precision))
    return Rating(mu, rd, player.matches + 1, max(year, player.year))


# --- a fixture's prior ---------------------------------------------------------------------------

#: [ours] The prior's strength (points of evidence) with nothing known (fitted without ratings:
#: `engine.core.pricing.model.PRIOR`) and with two ratings known exactly; between them it falls as
#: the uncertainty of the rating gap grows, half way at `HALF_STRENGTH_RD` (two players of 80 each:
#: about 100 points). Fitted on the 2019-2022 ITTF game boundaries with ratings from earlier
#: results (bench/ratings.py: log loss 0.3737, flat from 100 to 200 points; README "Ratings").
UNRATED_STRENGTH = PRIOR.strength
RATED_STRENGTH = 140.0
HALF_STRENGTH_RD = 150.0
#: The strength is rounded to this many points: one table of match prices per format and step.
STRENGTH_STEP = 5.0


@attrs.frozen(slots=True)
class FixturePrior:
    """What the ratings say about a fixture before its first point: P(home wins), the `home_edge` of
    the share of points and the `prior` (its strength) to price with, and each side's lookup."""

    home_wins: float
    home_edge: float
    prior: Prior
    home: Lookup
    away: Lookup

    @property
    def rated(self) -> bool:
        """True when both sides were found."""
        return self.home.rating is not None and self.away.rating is not None


def prior_for(
    ratings: Ratings,
    home: str,
    away: str,
    fmt: MatchFormat,
    base: Prior = PRIOR,
    ids: tuple[str | None, str | None] = (None, None),
) -> FixturePrior:
    """The prior for `home` against `away` in `fmt` (the format must be known), each found by the
    provider's team id in `ids` when the ratings know it, else by name: an unknown or ambiguous
    side counts as the unknown player (and is reported in the lookup)."""
    home_lookup, away_lookup = ratings.lookup(home, ids[0]), ratings.lookup(away, ids[1])
    unknown = ratings.system.unknown()
    found = prior_from(home_lookup.rating or unknown, away_lookup.rating or unknown, fmt, base)
    return attrs.evolve(found, home=home_lookup, away=away_lookup)


def prior_from(
    home: Rating,
    away: Rating,
    fmt: MatchFormat,
    base: Prior = PRIOR,
    rated_strength: float = RATED_STRENGTH,
    half_rd: float = HALF_STRENGTH_RD,
) -> FixturePrior:
    """The prior from two ratings: P(home wins) by Glicko, the prior's strength from
    `UNRATED_STRENGTH` to `rated_strength` as the gap's uncertainty falls (half way at `half_rd`),
    and the edge that gives that P in `fmt` at that strength."""
    if fmt.best_of is None:
        raise ValueError("a prior from ratings needs the match format (best_of)")
    p = win_probability(home, away)
    spread = math.sqrt(home.rd**2 + away.rd**2)
    certainty = 1.0 / (1.0 + (spread / half_rd) ** 2)
    strength = UNRATED_STRENGTH + (rated_strength - UNRATED_STRENGTH) * certainty
    prior = attrs.evolve(base, strength=STRENGTH_STEP * round(strength / STRENGTH_STEP))
    return FixturePrior(p, edge_for(p, fmt, prior), prior, Lookup("", home), Lookup("", away))


def edge_for(home_wins: float, fmt: MatchFormat, prior: Prior) -> float:
    """The `home_edge` whose price before the first point is `home_wins` (interpolated in the
    model's table of match prices by edge: exact at its nodes, 0.0025 of edge apart)."""
    edges, prices = home_edge_table(fmt, prior)
    p = min(prices[-1], max(prices[0], home_wins))
    low, high = 0, len(prices) - 1
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if prices[middle] <= p else (low, middle)
    span = prices[high] - prices[low]
    share = 0.0 if span <= 0 else (p - prices[low]) / span
    return edges[low] + share * (edges[high] - edges[low])


# --- results in, files out -----------------------------------------------------------------------


def build(results: Iterable[tuple[str, str, bool, int]], system: RatingSystem = DEFAULT_SYSTEM) -> Ratings:
    """The ratings after every (home, away, home won, year) in order."""
    players: dict[str, Rating] = {}
    for home, away, home_won, year in results:
        apply_result(players, home, away, home_won, year, system)
    return Ratings(players, system)


def apply_result(
    players: dict[str, Rating], home: str, away: str, home_won: bool, year: int, system: RatingSystem = DEFAULT_SYSTEM
) -> None:
    """Update `players` (by identity) in place with one match."""
    apply_keyed(players, identity(home), identity(away), home_won, year, system)


def apply_keyed(
    players: dict[str, Rating],
    home_key: str,
    away_key: str,
    home_won: bool,
    year: int,
    system: RatingSystem = DEFAULT_SYSTEM,
) -> None:
    """`apply_result` with the two sides' identities given."""
    before_home = rating_at(players, home_key, year, system)
    before_away = rating_at(players, away_key, year, system)
    players[home_key] = _updated(before_home, before_away, 1.0 if home_won else 0.0, year, system)
    players[away_key] = _updated(before_away, before_home, 0.0 if home_won else 1.0, year, system)


FILE_VERSION = 1


def dumps(ratings: Ratings) -> bytes:
    """The ratings file's bytes (JSON: version, system, players by identity: [rating, uncertainty,
    matches, last year], the fixtures learned, and the provider's team ids seen)."""
    return orjson.dumps(
        {
            "version": FILE_VERSION,
            "system": attrs.asdict(ratings.system),
            "players": {
                key: [round(r.mu, 3), round(r.rd, 3), r.matches, r.year] for key, r in sorted(ratings.players.items())
            },
            "learned": sorted(ratings.learned),
            "ids": dict(sorted(ratings.ids.items())),
        }
    )


def loads(data: bytes, source: str = "ratings") -> Ratings:
    """Ratings from a ratings file's bytes; ValueError saying what is wrong."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{source}: not JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("version") != FILE_VERSION:
        raise ValueError(f"{source}: not a ratings file of version {FILE_VERSION}")
    try:
        system = RatingSystem(**document["system"])
        players = {
            str(key): Rating(float(mu), float(rd), int(matches), int(year))
            for key, (mu, rd, matches, year) in document["players"].items()
        }
        learned = frozenset(str(fixture) for fixture in document.get("learned", []))
        ids = {str(key): str(value) for key, value in dict(document.get("ids", {})).items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{source}: a malformed ratings file ({exc})") from None
    return Ratings(players, system, learned, ids)


def load_ratings(path: Path) -> Ratings:
    """Read a ratings file (`ttengine ratings build`); ValueError naming the file when it is not one."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror or exc}") from None
    return loads(data, str(path))


def save_ratings(ratings: Ratings, path: Path) -> None:
    """Write a ratings file atomically (a temporary file renamed over it)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(dumps(ratings))
    temporary.replace(path)
