"""Match results for the ratings (`ttengine ratings build`): from ITTF results files and from our recordings.

A result is (home, away, home won, year), the names as the source gives them (with a country
suffix where it has one). ITTF results files (CSV, gzip or plain, the columns of
`realdata/ittf_results_matches_2014_2026.csv.gz`) give their clean best-of-5 and best-of-7 matches
(`engine.analysis.ittf_results.read_results`; the year from the event's name when its column is
empty), in the order they were played as far as the file says (year, event, round). A recording
(`.jsonl`, or a folder of them) gives its match when the lineups name both sides and the match
was won; its year is its first action's.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from engine import playback
from engine.analysis.ittf_results import read_results
from engine.core.match.inputs import Action
from engine.core.match.rules import Side
from engine.core.reduce import reduce
from engine.io.recording import posix_seconds, read_recording

#: (home, away, home won, year)
MatchResult = tuple[str, str, bool, int]


def read_match_results(paths: Sequence[Path]) -> tuple[list[MatchResult], Counter[str]]:
    """Every result of `paths` (files or folders of recordings), the results files' in the order
    played, then the recordings' by year; and why anything was left out (counted)."""
    dated: list[tuple[tuple[int, str, tuple[int, int], int], MatchResult]] = []
    skipped: Counter[str] = Counter()
    for path in paths:
        if not path.exists():
            raise ValueError(f"{path}: no such file or folder")
        if path.is_dir():
            recordings = sorted(path.glob("*.jsonl"))
            if not recordings:
                raise ValueError(f"{path}: a folder without recordings (*.jsonl)")
            for recording in recordings:
                _add_recording(recording, dated, skipped)
        elif path.suffix == ".jsonl":
            _add_recording(path, dated, skipped)
        else:
            results, left_out = read_results(path)
            if not results:
                raise ValueError(f"{path}: no match results read (is it an ITTF results CSV?)")
            skipped.update(left_out)
            for number, result in enumerate(results):
                key = (result.year, result.event, result.order, number)
                dated.append((key, (result.home, result.away, result.home_won, result.year)))
    dated.sort(key=lambda item: item[0])
    return [result for _, result in dated], skipped


def _add_recording(
    path: Path, dated: list[tuple[tuple[int, str, tuple[int, int], int], MatchResult]], skipped: Counter[str]
) -> None:
    found = recording_result(path)
    if found is None:
        skipped["recording without both names or a winner"] += 1
    else:
        dated.append(((found[3], "~recordings", (9, 0), len(dated)), found))


def recording_result(path: Path) -> MatchResult | None:
    """A recording's result: both sides named by the lineups and a winner (else None)."""
    recording = read_recording(path)
    state = playback.start_state(recording)
    year: int | None = None
    for _, message in playback.inputs(recording):
        state, _ = reduce(state, message)
        if year is None and isinstance(message, Action):
            moment = posix_seconds(message.timestamp)
            if moment is not None:
                year = datetime.datetime.fromtimestamp(moment, datetime.UTC).year
    home, away = state.match.players
    winner = state.match.play.winner
    if home is None or away is None or winner is None or year is None:
        return None
    return home, away, winner is Side.HOME, year
