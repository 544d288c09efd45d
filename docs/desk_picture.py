"""Draw docs/desk.png: the desk's live page in headless Chromium, with a fixture in each kind of trouble.

    python docs/desk_picture.py [--out docs/desk.png] [--seconds 25]

Our server (in this process) serves, at 6x, three AI CUP matches, a doubles match, an ITTF walkover
and the stale-feed scenario; a ninth fixture it does not have (HTTP 404: failed, retried with
backoff). A desk follows them all, with ratings from the ITTF results (the AI CUP players are not
rated: no prior), `stale_after` 3 s and one slow consumer: an `async def`
handler that takes 1.5 s per update of one fixture only, so that fixture's consumer lags (`lag_limit`
1 s). Heartbeats every 60 s: the stale-feed scenario goes silent for 7 s (44 s at 1x) from about 20 s in. After
`--seconds`, Debian's chromium (driven by playwright, from the `test` extra) loads the
page at 1280x900 and the screenshot is written. Needs chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from pathlib import Path

import attrs

from engine.analysis.ittf_results import read_results
from engine.core.config import DEFAULT_MARKETS
from engine.core.match.rules import MatchFormat
from engine.core.update import Update
from engine.desk import Desk, DeskMetrics, DeskWeb, FixtureRetry
from engine.io.client import ClientSettings, ConnectLimiter
from engine.io.protocol import Secret
from engine.io.recording import read_recording
from engine.io.server import ProviderServer, load_fixtures
from engine.ratings import Ratings, build
from engine.runtime.following import Match

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "fixtures_data"
SERVED = [
    "aicup2026_m05_female_bo7",
    "aicup2026_m02_male_bo5",
    "aicup2026_m03_female_bo5",
    "ittf_wd_bo5_doubles",
    "ittf_ws_walkover_1",
    "scenario_stale_feed",
]
SLOW = "aicup2026_m03_female_bo5"  # its consumer takes 1.5 s per update: it lags
MISSING = "00000000-0000-4000-8000-00000000dead"  # not served: HTTP 404, failed
TOKEN = "picture-token"
CHROMIUM = "/usr/bin/chromium"


async def follow(seconds: float, out: Path) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        for name in SERVED:
            shutil.copy(DATA / f"{name}.jsonl", folder / f"{name}.jsonl")
        served = load_fixtures(folder)
        formats = {}
        for name in SERVED:
            recording = read_recording(DATA / f"{name}.jsonl")
            assert recording.fixture_id is not None
            formats[recording.fixture_id] = (name, recording.meta.format())
        slow_id = next(key for key, (name, _) in formats.items() if name == SLOW)
        async with ProviderServer(served, Secret(TOKEN), speed=6.0, heartbeat=60.0) as server:
            settings = attrs.evolve(ClientSettings(base=server.base), stale_after=3.0)
            desk = Desk(TOKEN, settings=settings, limiter=ConnectLimiter(rate=100), retry=FixtureRetry(initial=30.0))

            @desk.on(Update)
            async def slow_consumer(match: Match, update: Update) -> None:
                if match.fixture_id == slow_id:
                    await asyncio.sleep(1.5)

            markets = attrs.evolve(DEFAULT_MARKETS, ratings=ratings())
            async with desk, DeskWeb(desk, DeskMetrics(desk)) as web:
                for fixture_id, (_, fmt) in formats.items():
                    desk.follow(fixture_id, fmt=fmt, markets=markets)
                desk.follow(MISSING, fmt=MatchFormat(best_of=5))
                await asyncio.sleep(seconds)
                await asyncio.to_thread(screenshot, web.url, out)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def ratings() -> Ratings:
    """Every player of the ITTF results rated (the AI CUP players are not: their fixtures have no prior)."""
    results, _ = read_results(DATA / "realdata" / "ittf_results_matches_2014_2026.csv.gz")
    return build((result.home, result.away, result.home_won, result.year) for result in results)


def screenshot(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.wait_for_function("document.querySelectorAll('section.card').length === 7")
        page.wait_for_timeout(600)
        page.screenshot(path=str(out))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "desk.png")
    parser.add_argument("--seconds", type=float, default=25.0, help="seconds of play before the screenshot")
    args = parser.parse_args()
    asyncio.run(follow(args.seconds, args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
