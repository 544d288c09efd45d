"""Throughput of the core pipeline against bare JSON parsing, on the same frames, in one run.

    python bench/throughput.py [--repeat 7]

Pipeline = decode (orjson + typed Action) -> sequence -> reduce (which includes the market book
and its signals), over every recording in fixtures_data/, with pricing off; the same with the
prices (the default config) and with a catalogue that offers no market give what the prices and
the book add per frame. Bare parsers are timed on exactly the
same frames. Reports medians of `--repeat` runs, frames per second, and the ratio to bare orjson.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import attrs
import orjson

from engine import playback
from engine.analysis.report import is_signal
from engine.core.config import MarketConfig
from engine.core.inputs import EndOfStream
from engine.core.markets.catalogue import MarketCatalogue
from engine.core.reduce import reduce
from engine.core.state import MatchState
from engine.feed.wire import decode
from engine.io.recording import Frame, read_recording

Matches = list[tuple[MatchState, list[str]]]
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures_data"


def _parses(text: str) -> bool:
    """Only well-formed frames, so the bare parsers time the same input as the pipeline."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def load() -> Matches:
    matches = []
    for path in sorted(FIXTURES.glob("*.jsonl")):
        recording = read_recording(path)
        texts = [f.text for f in recording.frames if isinstance(f, Frame) and _parses(f.text)]
        matches.append((playback.start_state(recording, None, False), texts))
    return matches


def pipeline(matches: Matches) -> None:
    for start, texts in matches:
        state = start
        for text in texts:
            state, _ = reduce(state, decode(text))
        reduce(state, EndOfStream())


NO_MARKETS = MarketConfig(
    catalogue=MarketCatalogue(
        match_winner=False,
        correct_score=False,
        total_games_lines=(),
        game_winner=False,
        game_total_points_lines=(),
        point_winner=False,
        race_to=(),
    )
)


def without_markets(matches: Matches) -> Matches:
    """The same matches with an empty market catalogue: the pipeline without the book's work."""
    return [(attrs.evolve(start, markets=NO_MARKETS), texts) for start, texts in matches]


def without_prices(matches: Matches) -> Matches:
    """The same matches with pricing switched off (`MarketConfig.pricing=None`)."""
    return [(attrs.evolve(start, markets=attrs.evolve(start.markets, pricing=None)), texts) for start, texts in matches]


def signal_counts(matches: Matches) -> tuple[int, int, int]:
    """(inputs, signal objects, the most signal objects in one match) over the pipeline."""
    inputs = signals = most = 0
    for start, texts in matches:
        state, in_match = start, 0
        for text in [*texts, None]:
            state, events = reduce(state, decode(text) if text is not None else EndOfStream())
            in_match += sum(1 for event in events if is_signal(event))
            inputs += 1
        signals += in_match
        most = max(most, in_match)
    return inputs, signals, most


def bare(loads: Callable[[str], object]) -> Callable[[Matches], None]:
    def run(matches: Matches) -> None:
        for _, texts in matches:
            for text in texts:
                loads(text)

    return run


def decode_only(matches: Matches) -> None:
    for _, texts in matches:
        for text in texts:
            decode(text)


def median_seconds(fn: Callable[[Matches], None], matches: Matches, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(matches)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    matches = load()
    frames = sum(len(texts) for _, texts in matches)
    contenders: dict[str, Callable[[Matches], None]] = {
        "json.loads (stdlib)": bare(json.loads),
        "orjson.loads": bare(orjson.loads),
    }
    try:  # optional: compared when installed (`pip install msgspec`), not a dependency
        msgspec = importlib.import_module("msgspec")
        contenders["msgspec.json.decode (untyped)"] = bare(msgspec.json.decode)
    except ImportError:
        print("msgspec is not installed: not compared")
    contenders["decode (msgspec typed, orjson fallback)"] = decode_only
    bookless = without_markets(matches)
    contenders["pipeline without markets"] = lambda _: pipeline(bookless)
    unpriced = without_prices(matches)
    contenders["pipeline: decode+sequence+reduce+book"] = lambda _: pipeline(unpriced)
    contenders["pipeline + prices (the default)"] = pipeline
    results = {name: median_seconds(fn, matches, args.repeat) for name, fn in contenders.items()}
    print(f"{frames} frames from {len(matches)} recordings; median of {args.repeat}; {platform.python_version()}")
    print(f"{'':38} {'frames/s':>12} {'us/frame':>9} {'x orjson':>9}")
    for name, seconds in results.items():
        ratio = seconds / results["orjson.loads"]
        print(f"{name:38} {frames / seconds:12,.0f} {seconds / frames * 1e6:9.2f} {ratio:9.2f}")
    book = results["pipeline: decode+sequence+reduce+book"] - results["pipeline without markets"]
    print(f"the market book adds {book / frames * 1e6:.2f} us/frame on average")
    priced = results["pipeline + prices (the default)"] - results["pipeline: decode+sequence+reduce+book"]
    print(f"the prices add {priced / frames * 1e6:.2f} us/frame on average")
    inputs, signals, most = signal_counts(unpriced)
    print(
        f"signal objects: {signals / inputs:.2f} per input ({signals:,} over {inputs:,} inputs; {most:,} in one match)"
    )
    inputs, signals, most = signal_counts(matches)
    print(f"with prices: {signals / inputs:.2f} per input ({signals:,}; {most:,} in one match)")


if __name__ == "__main__":
    main()
