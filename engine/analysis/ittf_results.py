"""The ITTF official results (`fixtures_data/realdata`): one `Result` per match, in the order played."""

from __future__ import annotations

import csv
import gzip
import re
from collections import Counter
from pathlib import Path

import attrs

from engine.core.match.rules import MatchFormat, Side, game_winner, match_winner

_YEAR = re.compile(r"\b(20\d\d)\b")


@attrs.frozen(slots=True)
class Result:
    """One finished match of the results: its year, format and game scores (home = side A)."""

    year: int
    format: MatchFormat
    games: tuple[tuple[int, int], ...]
    home_won: bool
    home: str = ""  # the players as the results name them (with their country)
    away: str = ""
    event: str = ""
    #: Where the match stands in its event: (stage, -draw size); a smaller one was played earlier,
    #: equal ones in an unknown order (the results have no dates).
    order: tuple[int, int] = (0, 0)


def read_results(path: Path) -> tuple[list[Result], Counter[str]]:
    """The clean best-of-5 and best-of-7 matches of an ITTF results CSV (gzip or plain), and why
    each other row was left out."""
    with open(path, "rb") as head:
        compressed = head.read(2) == b"\x1f\x8b"
    results: list[Result] = []
    skipped: Counter[str] = Counter()
    with gzip.open(path, "rt", newline="") if compressed else open(path, newline="") as source:
        for row in csv.DictReader(source):
            reason, result = _result(row)
            if result is None:
                skipped[reason] += 1
            else:
                results.append(result)
    return results, skipped


def _result(row: dict[str, str]) -> tuple[str, Result | None]:
    if row.get("flags"):
        return "flagged: " + row["flags"].split()[0], None
    to_win = {"3": 3, "4": 4}.get(row.get("games_won_winner", ""))
    if to_win is None:
        return "not best of 5 or 7", None
    year = _year(row)
    if year is None:
        return "no year", None
    fmt = MatchFormat(best_of=2 * to_win - 1, doubles="/" in row.get("side_a", ""))
    try:
        games = tuple((int(home), int(away)) for home, away in (game.split(":") for game in row["games"].split()))
    except ValueError:
        return "unreadable games", None
    won = [0, 0]
    for home, away in games:
        winner = game_winner(home, away, fmt)
        if winner is None or match_winner(won[0], won[1], fmt) is not None:
            return "games do not make a match", None
        won[0 if winner is Side.HOME else 1] += 1
    decided = match_winner(won[0], won[1], fmt)
    if decided is None or decided.value != {"A": "home", "B": "away"}.get(row.get("winner_side", "")):
        return "games do not make a match", None
    side_a, side_b, event = row.get("side_a", ""), row.get("side_b", ""), row.get("event", "")
    return "", Result(year, fmt, games, decided is Side.HOME, side_a, side_b, event, _order(row))


#: [ours] Stages in the order an event plays them (qualification first); any other stage counts as
#: the main draw's (its order against it unknown).
_STAGES = (("qualif", 0), ("group", 0))
_ROUND_SIZE = re.compile(r"(\d+)$")
_NAMED_ROUNDS = {"quarterfinal": 8, "semifinal": 4, "final": 2}


def _order(row: dict[str, str]) -> tuple[int, int]:
    """(stage, -draw size) of a result's round: qualification before the main draw, a round of 32
    before a round of 16; a round without a size (groups) first in its stage."""
    stage_name = row.get("stage", "").casefold()
    stage = next((rank for word, rank in _STAGES if word in stage_name), 1)
    name = row.get("round", "").casefold()
    size = _NAMED_ROUNDS.get(name)
    if size is None:
        found = _ROUND_SIZE.search(name)
        size = int(found.group(1)) if found else 1_000_000
    return stage, -size


def _year(row: dict[str, str]) -> int | None:
    if row.get("year", "").isdigit():
        return int(row["year"])
    found = _YEAR.search(row.get("event", ""))
    return None if found is None else int(found.group(1))
