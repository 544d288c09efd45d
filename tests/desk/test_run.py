"""`ttengine follow` as a process (issue 23): our provider-compatible server in one process, the desk
in another, over loopback — SIGTERM and SIGINT mid-match, SIGHUP reloading the config, usage
errors, JSON logs, and the live page in headless Chromium (Debian's `chromium`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures_data"
RECORDINGS = sorted(FIXTURES.glob("aicup2026_m0[1-3]_*.jsonl"))
TOKEN = "desk-cli-token-7d2e"
ENV = {**os.environ, "DESK_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
#: Debian's chromium (`.ci/run` installs it when missing).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Generous: a loaded 2-core machine is slow to start interpreters; it only stops a real hang.
PATIENCE = 120.0
#: A fixture id of the right shape (the provider's are UUIDs) that no server serves.
ANY_ID = "00000000-0000-4000-8000-000000000000"


def _ids(recordings: list[Path]) -> list[str]:
    ids = []
    for path in recordings:
        meta = json.loads(path.open().readline())["meta"]
        ids.append(f"{meta['fixtureId']}:{meta['bestOf']}")
    return ids


def _wait_for(check: Callable[[], Any], what: str, timeout: float = PATIENCE) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """Our server serving three recordings at 10x their pace; yields its base URL."""
    yield from _served(tmp_path, ["--speed", "10"])


@pytest.fixture
def fast_server(tmp_path: Path) -> Iterator[str]:
    """The same, as fast as it can send."""
    yield from _served(tmp_path, [])


def _served(tmp_path: Path, pace: list[str]) -> Iterator[str]:
    folder = tmp_path / "served"
    folder.mkdir()
    for path in RECORDINGS:
        shutil.copy(path, folder / path.name)
    command = ["serve", str(folder), "--port", "0", "--token-env", "DESK_TOKEN", "--heartbeat", "1", *pace]
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", *command],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"ws://127\.0\.0\.1:(\d+)", line)
        assert found, line
        yield f"ws://127.0.0.1:{found[1]}"
    finally:
        process.terminate()
        process.wait(PATIENCE)


def _follow(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "engine", "follow", "--token-env", "DESK_TOKEN", *args],
        env=ENV,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    text = path.read_text()
    lines = [json.loads(line) for line in text.splitlines()[: text.count("\n")]]
    return [line for line in lines if "alive" not in line]  # the updates (issue 28: alive lines between)


def _books(lines: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Each fixture's market statuses, rebuilt from the signals of its update lines alone."""
    books: dict[str, dict[str, str]] = {}
    status_of = {
        "BetStop": "suspended",
        "BetStopChanged": "suspended",
        "MarketSuspended": "suspended",
        "SuspensionReasonsChanged": "suspended",
        "BetStart": "open",
        "MarketResumed": "open",
        "MarketSettled": "settled",
        "MarketVoided": "void",
    }
    for line in lines:
        book = books.setdefault(line["fixtureId"], {})
        for signal_ in line["signals"]:
            status = status_of.get(signal_["signal"])
            if status is not None:
                book.update(dict.fromkeys(signal_.get("markets") or [signal_["market"]], status))
    return books


def _under_way(updates: Path, count: int) -> bool:
    points: dict[str, int] = {}
    for line in _lines(updates):
        if "PointWon" in line["events"]:
            points[line["fixtureId"]] = points.get(line["fixtureId"], 0) + 1
    return len(points) == count and min(points.values()) >= 3


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_a_stop_signal_mid_match_leaves_every_market_suspended_in_the_updates(
    server: str, tmp_path: Path, stop: signal.Signals, code: int
) -> None:
    updates = tmp_path / "updates.jsonl"
    records = tmp_path / "recordings"
    ids = _ids(RECORDINGS)
    desk = _follow(["--base", server, "--updates", str(updates), "--record-dir", str(records), *ids], tmp_path)
    try:
        _wait_for(lambda: _under_way(updates, len(ids)), "every match under way")
        desk.send_signal(stop)
        _, err = desk.communicate(timeout=PATIENCE)
    finally:
        desk.kill()
    assert desk.returncode == code, err
    assert f"{stop.name}: stopped following 3 fixtures; every undecided market suspended" in err
    lines = _lines(updates)
    books = _books(lines)
    assert len(books) == 3
    for fixture_id, book in books.items():
        last = [line for line in lines if line["fixtureId"] == fixture_id][-1]
        assert last["input"] == "Unfollowed", fixture_id
        assert "open" not in book.values(), fixture_id  # a reader of --updates holds no open market
        assert "suspended" in book.values()
        recorded = (records / f"{fixture_id}.jsonl").read_text()
        assert recorded.endswith("\n")
        assert recorded.count("\n") > 10


def test_sighup_reloads_the_config_following_new_fixtures_and_closing_removed_ones(server: str, tmp_path: Path) -> None:
    first, second, third = (entry.split(":") for entry in _ids(RECORDINGS))
    config = tmp_path / "desk.toml"

    def write(*fixtures: list[str]) -> None:
        entries = "".join(
            f'[[fixtures]]\nid = "{fixture_id}"\nbest_of = {best_of}\n' for fixture_id, best_of in fixtures
        )
        config.write_text(f'[service]\nbase = "{server}"\nupdates = "updates.jsonl"\nhttp = "127.0.0.1:0"\n{entries}')

    write(first, second)
    desk = _follow(["--config", str(config), "--log-format", "json"], tmp_path)
    assert desk.stderr is not None
    try:
        line = desk.stderr.readline()
        page = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert page, line

        def followed() -> set[str]:
            with urllib.request.urlopen(page[0] + "fixtures", timeout=10) as response:
                return {view["fixtureId"] for view in json.loads(response.read())["fixtures"]}

        assert followed() == {first[0], second[0]}
        _wait_for(lambda: _under_way(tmp_path / "updates.jsonl", 2), "both matches under way")
        write(second, third)
        desk.send_signal(signal.SIGHUP)
        _wait_for(lambda: followed() == {second[0], third[0]}, "the reload")
        _wait_for(lambda: any(line["fixtureId"] == third[0] for line in _lines(tmp_path / "updates.jsonl")), "its line")
        assert desk.poll() is None  # with --config, the desk runs until it is stopped
        desk.send_signal(signal.SIGTERM)
        _, err = desk.communicate(timeout=PATIENCE)
    finally:
        desk.kill()
    assert desk.returncode == 0, err
    logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any("SIGHUP: reloaded" in log["message"] and log["level"] == "WARNING" for log in logs), err
    assert all({"time", "level", "logger", "message"} <= set(log) for log in logs)
    lines = _lines(tmp_path / "updates.jsonl")
    removed = [line for line in lines if line["fixtureId"] == first[0]]
    assert removed[-1]["input"] == "Unfollowed"  # its closing bet stop
    assert any(line["fixtureId"] == third[0] for line in lines)
    books = _books(lines)
    assert all("open" not in book.values() for book in books.values())


def test_without_a_config_follow_exits_once_every_fixture_has_ended_and_says_which_failed(
    fast_server: str, tmp_path: Path
) -> None:
    updates = tmp_path / "updates.jsonl"
    missing = "00000000-0000-4000-8000-00000000dead"
    desk = _follow(["--base", fast_server, "--updates", str(updates), *_ids(RECORDINGS), f"{missing}:5"], tmp_path)
    _, err = desk.communicate(timeout=PATIENCE)
    assert desk.returncode == 3, err  # the provider refused a request (HTTP 404 for the missing fixture)
    assert f"fixture {missing}: refused" in err
    assert "HTTP 404" in err
    lines = _lines(updates)
    for fixture_id in (entry.split(":")[0] for entry in _ids(RECORDINGS)):
        last = [line for line in lines if line["fixtureId"] == fixture_id][-1]
        assert last["state"]["status"] == "finished"  # the others went on to the end
    assert all("open" not in book.values() for book in _books(lines).values())


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        ([f"{ANY_ID}:5"], {}, "environment variable DESK_UNSET is not set or empty"),
        ([], {"DESK_UNSET": "t"}, "nothing to follow"),
        ([f"{ANY_ID}:4"], {"DESK_UNSET": "t"}, "odd number of games"),
        ([ANY_ID, ANY_ID], {"DESK_UNSET": "t"}, "given twice"),
        ([ANY_ID, "--http", "localhost"], {"DESK_UNSET": "t"}, "HOST:PORT"),
        (["x:5"], {"DESK_UNSET": "t"}, "UUID"),
        (["--config", "missing.toml"], {"DESK_UNSET": "t"}, "cannot read"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    args: list[str], env: dict[str, str], says: str, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.cli import main

    monkeypatch.delenv("DESK_UNSET", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["follow", "--token-env", "DESK_UNSET", *args]) == 2
    err = capfd.readouterr().err
    assert says in err, err
    assert err.count("\n") == 1, err


def test_the_live_page_in_headless_chromium_shows_every_score_moving_then_the_closing_bet_stops(
    server: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "the browser test needs Debian's chromium (apt-get install chromium; .ci/run does)"
    ids = [entry.split(":")[0] for entry in _ids(RECORDINGS)]
    desk = _follow(["--base", server, "--http", "127.0.0.1:0", *_ids(RECORDINGS)], tmp_path)
    assert desk.stderr is not None
    try:
        found = re.search(r"http://127\.0\.0\.1:\d+/", desk.stderr.readline())
        assert found
        with sync_playwright() as playwright:
            # headless, in a fresh empty profile of its own (playwright makes one per launch)
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS[1:])
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(found[0])
            page.wait_for_function(f"document.querySelectorAll('section.card').length === {len(ids)}")

            def scores() -> dict[str, str]:
                return {fixture_id: page.inner_text(f"#fx-{fixture_id} .score") for fixture_id in ids}

            before = scores()
            _wait_for(lambda: all(now != before[key] for key, now in scores().items()), "every score moving", 60)
            _wait_for(lambda: page.evaluate("window.__desk.lags.length") >= 20, "twenty updates shown", 60)
            paint = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
            lags = page.evaluate("window.__desk.lags")
            page.screenshot(path=str(tmp_path / "desk.png"))
            names = page.inner_text("main")
            desk.send_signal(signal.SIGTERM)  # the page sees the closing bet stops, then loses the desk
            _wait_for(
                lambda: all("not followed" in page.inner_text(f"#fx-{fixture_id}") for fixture_id in ids),
                "every card showing its closing bet stop",
            )
            _wait_for(lambda: "disconnected from the desk" in page.inner_text("#link"), "the page saying so")
            greyed = page.evaluate("document.querySelectorAll('.odds.off').length")  # every match price, both sides
            down = page.evaluate("document.body.classList.contains('down')")  # the whole page greyed
            browser.close()
        desk.communicate(timeout=PATIENCE)
    finally:
        desk.kill()
    assert desk.returncode == 0
    assert "AICUP player" in names  # the players from the lineups
    assert paint < 5_000, paint  # milliseconds to the first contentful paint
    lags.sort()
    assert len(lags) >= 20
    assert lags[len(lags) // 2] < 1.0, lags  # the page shows an update within a second
    assert greyed == 2 * len(ids)
    assert down
    image = (tmp_path / "desk.png").read_bytes()
    assert image.startswith(b"\x89PNG")
    assert len(image) > 20_000
