"""The desk at scale: N fixtures from our provider-compatible server (another process) in one desk,
its update latency as `/metrics` reports it, the HTTP side's cost, and the live page in Chromium.

    python bench/desk.py [--fixtures 100] [--seconds 30] [--rate 2] [--no-page]

The server (bench/latency.py's child) serves N copies of a real best-of-7 recording with their own
fixture ids, paced at `--rate` messages per second per fixture. This process runs `engine.desk`:
`Desk` following every fixture, `DeskMetrics`, and `DeskWeb` serving the page, `/fixtures` and
`/metrics` on loopback. Once every fixture has received a frame it measures, over `--seconds`:
- update latency (a frame's arrival to its update handed over: the histogram of `/metrics`), p50,
  p99 and max, from the desk's own observations, and the p99 `/metrics` itself reports;
- the time to answer `/metrics` and `/fixtures` (median of 20 requests, made from a thread);
- the share of a core the desk and the server used;
- with the page (a child process drives Debian's chromium through playwright): the time to the
  first contentful paint, and each update's lag from the desk folding it to the page showing it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from latency import TOKEN, cpu_seconds, served_base, write_recordings
from prometheus_client.parser import text_string_to_metric_families

from engine.core.match.rules import MatchFormat
from engine.desk import Desk, DeskMetrics, DeskWeb
from engine.io.client import ClientSettings, ConnectLimiter

CHROMIUM = "/usr/bin/chromium"


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1e3:7.3f}  p99 {p99 * 1e3:7.3f}  max {ordered[-1] * 1e3:8.3f} ms"


def _timed_get(url: str, times: int = 20) -> float:
    took = []
    for _ in range(times):
        began = time.perf_counter()
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
        took.append(time.perf_counter() - began)
    return statistics.median(took)


def page_child(url: str, seconds: float) -> None:
    """Open the page in headless chromium, watch it for `seconds`, print what it measured as JSON."""
    from playwright.sync_api import sync_playwright

    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*flags, "--disable-sync", "--no-first-run"]
        )
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        began = time.perf_counter()
        page.goto(url)
        page.wait_for_function("window.__desk.firstRender !== null")
        loaded = time.perf_counter() - began
        time.sleep(seconds)
        found = page.evaluate(
            "({paint: performance.getEntriesByName('first-contentful-paint')[0].startTime,"
            " render: window.__desk.firstRender, lags: window.__desk.lags, messages: window.__desk.messages,"
            " cards: document.querySelectorAll('section.card').length})"
        )
        found["loaded"] = loaded
        page.screenshot(path=str(Path(tempfile.gettempdir()) / "desk_bench.png"))
        browser.close()
    print(json.dumps(found))


async def measure(
    count: int, seconds: float, rate: float, page: bool, base: str, ids: list[str], server_pid: int
) -> None:
    desk = Desk(
        TOKEN, settings=ClientSettings(base=base, stale_after=15.0, reconnect_after=60.0), limiter=ConnectLimiter(200)
    )
    metrics = DeskMetrics(desk)
    async with desk, DeskWeb(desk, metrics) as web:
        for fixture_id in ids:
            desk.follow(fixture_id, fmt=MatchFormat(best_of=7))
        while sum(1 for fixture in desk if fixture.watch.frames) < count:
            await asyncio.sleep(0.1)
        metrics.recent.clear()
        child = None
        if page:
            child = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--page-child", web.url, str(seconds * 0.8), stdout=asyncio.subprocess.PIPE
            )
        desk_before, server_before, began = cpu_seconds(os.getpid()), cpu_seconds(server_pid), time.monotonic()
        await asyncio.sleep(seconds)
        wall = time.monotonic() - began
        desk_cpu = (cpu_seconds(os.getpid()) - desk_before) / wall
        server_cpu = (cpu_seconds(server_pid) - server_before) / wall
        latencies = list(metrics.recent)
        text = await asyncio.to_thread(lambda: urllib.request.urlopen(web.url + "metrics", timeout=30).read().decode())
        reported = {
            sample.labels["quantile"]: sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "ttengine_update_latency_recent_seconds"
            for sample in family.samples
        }
        metrics_took = await asyncio.to_thread(_timed_get, web.url + "metrics")
        fixtures_took = await asyncio.to_thread(_timed_get, web.url + "fixtures")
        seen = None
        if child is not None:
            out, _ = await child.communicate()
            seen = json.loads(out)
    print(f"{count} fixtures, {rate:g} msg/s each, {seconds:g} s window ({len(latencies)} updates of frames)")
    print(f"  update latency (arrival -> handed over)  {_ms(latencies)}")
    print(f"  /metrics reports p50 {reported['0.5'] * 1e3:.3f} ms, p99 {reported['0.99'] * 1e3:.3f} ms")
    print(f"  GET /metrics {metrics_took * 1e3:.1f} ms, GET /fixtures {fixtures_took * 1e3:.1f} ms (medians of 20)")
    print(f"  CPU: desk {desk_cpu:.2f} core, server {server_cpu:.2f} core")
    if seen is not None:
        lags = seen["lags"]
        print(
            f"  page: first contentful paint {seen['paint']:.0f} ms, first render {seen['render']:.0f} ms,"
            f" {seen['cards']} cards, {seen['messages']} pushes; update lag (fold -> shown) {_ms(lags)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=2.0, help="messages per second per fixture")
    parser.add_argument("--no-page", dest="page", action="store_false", help="leave the browser out")
    parser.add_argument("--page-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.page_child:
        page_child(args.page_child[0], float(args.page_child[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ids = write_recordings(folder, args.fixtures, args.rate)
        port_file = folder / "port"
        latency = Path(__file__).resolve().parent / "latency.py"
        child = subprocess.Popen([sys.executable, str(latency), "--serve-child", str(folder), str(port_file)])
        try:
            base = served_base(port_file)
            asyncio.run(measure(args.fixtures, args.seconds, args.rate, args.page, base, ids, child.pid))
        finally:
            child.terminate()
            child.wait()


if __name__ == "__main__":
    main()
