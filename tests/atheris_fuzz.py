"""Coverage-guided fuzzing of decode + reduce with atheris (libFuzzer), run by hand, not by pytest.

    pip install atheris
    python tests/atheris_fuzz.py --seed-corpus /tmp/tt-corpus     # writes the real frames there once
    python tests/atheris_fuzz.py /tmp/tt-corpus -atheris_runs=2000000 -max_len=4096

libFuzzer mutates the real frames of `fixtures_data/` (and what it finds interesting) and every
input is decoded, then reduced on a state in the middle of a real match. Any exception out of
either is a crash libFuzzer reports with the input that caused it; so is a quarantine record
without a reason or a malformed count that disagrees with the records.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from engine import playback
from engine.core.reduce import reduce
from engine.core.state import MatchState
from engine.feed.wire import Malformed, decode
from engine.io.recording import Frame, read_recording, recorded_inputs

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures_data"
RECORDING = FIXTURES / "aicup2026_m05_female_bo7.jsonl"


def _mid_match() -> MatchState:
    recording = read_recording(RECORDING)
    state = playback.start_state(recording, None, False)
    for index, (_, message) in enumerate(recorded_inputs(recording)):
        if index == 150:
            break
        state, _ = reduce(state, message)
    return state


STATE = _mid_match()


def check(data: bytes) -> None:
    """One fuzz input: decode and reduce must not raise, and every refusal must say why."""
    message = decode(data)
    after, events = reduce(STATE, message)
    refused = [event for event in events if isinstance(event, Malformed)]
    if after.match.malformed - STATE.match.malformed != len(refused) or not all(event.reason for event in refused):
        raise AssertionError(f"a bad frame was not accounted for: {refused}")


def write_seed_corpus(folder: Path) -> None:
    """Every frame of the corpus, one file each, for libFuzzer to start from."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted(FIXTURES.glob("*.jsonl")):
        for frame in read_recording(path).frames:
            if isinstance(frame, Frame):
                (folder / f"{path.stem}-{count:05d}.json").write_text(frame.text)
                count += 1
    print(f"{count} frames written to {folder}")


def main() -> None:
    if sys.argv[1:2] == ["--seed-corpus"]:
        write_seed_corpus(Path(sys.argv[2]))
        return
    atheris = importlib.import_module("atheris")  # by hand only: not a dependency

    atheris.instrument_all()
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
