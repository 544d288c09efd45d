"""The live page's rules, in headless Chromium (Debian's), against a scripted desk.

The page is loaded from the package, and its `/updates` websocket is answered by this test
(playwright's `route_web_socket`) with views built by `engine.desk.views` from a real desk and
then set to each kind of trouble: the page must put the fixtures with a problem first, grey the odds
that cannot be taken, name the current game, show a walkover as one, name blocking handlers, say
which fixtures have no prior, and grey everything when the desk goes quiet.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.core.match.rules import MatchFormat
from engine.desk import Desk
from engine.desk.views import desk_view, fixture_view
from engine.desk.web import PAGE

CHROMIUM = "/usr/bin/chromium"
URL = "http://desk.test/"


def _views() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Six fixtures: the shape from a real desk's views, the states set by hand."""
    desk = Desk("page-token")
    ids = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(6)]
    for fixture_id in ids:
        desk.follow(fixture_id, fmt=MatchFormat(best_of=5))
    base = [fixture_view(desk.fixtures[fixture_id]) for fixture_id in ids]
    price = {"fair": {"home": 0.6, "away": 0.4}, "odds": {"home": 1.58, "away": 2.37}}
    live = {"status": "live", "games": [1, 1], "points": [[11, 7], [9, 11], [4, 3]], "game": 3, "server": "home"}
    live |= {"matchPrice": price, "home": "Home Player", "away": "Away Player", "updatedAt": time.time()}
    states: list[dict[str, Any]] = [
        {**live, "health": "connected", "matchOpen": True, "prior": "ratings"},
        {**live, "health": "stale", "matchOpen": False},  # "prior": "none", as a desk without ratings says
        {"health": "failed", "error": "HTTP 503", "retryIn": 12.0},
        {"health": "finished", "status": "finished", "winner": "away", "result": "walkover"}
        | {"home": "Absent Player", "away": "Present Player"},
        {**live, "health": "lagging", "matchOpen": False, "lags": 3},
        {**live, "health": "connected", "matchOpen": False},  # the match market suspended (a rally)
    ]
    views = [copy.deepcopy(view) | state for view, state in zip(base, states, strict=True)]
    info = desk_view(desk)
    info["callbacks"] |= {"slow": 4, "blocking": 4, "blockedSeconds": 2.4, "slowest": "my_plain_handler"}
    return views, info


def test_the_page_shows_problems_first_greys_what_cannot_be_taken_and_a_walkover() -> None:
    from playwright.sync_api import WebSocketRoute, sync_playwright

    assert Path(CHROMIUM).exists(), "the browser test needs Debian's chromium (apt-get install chromium; .ci/run does)"
    views, info = _views()
    sockets: list[WebSocketRoute] = []

    def desk_socket(socket: WebSocketRoute) -> None:
        sockets.append(socket)
        message = {"type": "snapshot", "now": time.time(), "desk": info, "fixtures": views}
        socket.send(orjson.dumps(message).decode())

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.route(URL, lambda route: route.fulfill(body=PAGE.read_bytes(), content_type="text/html"))
        page.route_web_socket("ws://desk.test/updates", desk_socket)
        page.goto(URL)
        page.wait_for_function(f"document.querySelectorAll('section.card').length === {len(views)}")
        shown = page.evaluate(
            """[...document.querySelectorAll('section.card')]
                 .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top
                                 || a.getBoundingClientRect().left - b.getBoundingClientRect().left)
                 .map((card) => card.dataset.fixture)"""
        )
        off = {view["fixtureId"]: page.locator(f"#fx-{view['fixtureId']} .odds.off").count() for view in views}
        text = {view["fixtureId"]: page.inner_text(f"#fx-{view['fixtureId']}") for view in views}
        header = page.inner_text("header")
        assert not page.evaluate("document.body.classList.contains('down')")
        page.wait_for_function("document.body.classList.contains('down')", timeout=6_000)  # no word for 2.5 s
        quiet = page.inner_text("#link")
        sockets[0].send(orjson.dumps({"type": "alive", "now": time.time(), "desk": info}).decode())
        page.wait_for_function("!document.body.classList.contains('down')", timeout=2_000)
        browser.close()

    ids = [view["fixtureId"] for view in views]
    connected, stale, failed, walkover, lagging, rally = ids
    assert shown == [failed, stale, lagging, connected, rally, walkover]  # problems first, then as followed
    assert off == {connected: 0, stale: 2, failed: 2, walkover: 2, lagging: 2, rally: 2}
    assert "game 3" in text[connected].lower()
    assert "· rated" in text[connected]
    assert "· no prior" in text[stale]  # nothing known of the players: said on the card
    assert "walkover: Present Player wins without playing" in text[walkover]
    assert "consumer lagged 3×" in text[lagging]
    assert "following it again in 0:12" in text[failed]
    assert "4 blocking handler calls" in header
    assert "my_plain_handler" in header
    assert "no word from the desk" in quiet


@pytest.mark.parametrize("health", ["catching_up", "lagging", "stale", "reconnecting", "failed"])
def test_every_problem_health_has_a_rank_and_a_colour_on_the_page(health: str) -> None:
    page = PAGE.read_text()
    assert f"{health}:" in page.split("const RANK")[1].split("};")[0]
    assert f".{health}" in page.split("<style>")[1].split("</style>")[0]
