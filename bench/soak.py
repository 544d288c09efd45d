"""Memory and the collector over a long run of `ttengine follow`, with the network cut now and then.

    python bench/soak.py [--fixtures 100] [--minutes 62] [--rate 0.3] [--cut-every 600] [--cut-for 5]

`ttengine follow --config` (a child process, as an operator runs it) follows `--fixtures` live
copies of the recorded best-of-7 at a time, served by `ttengine serve --live` (another child) at
`--rate` messages per second per fixture (0.3: a match of its 265 frames lasts about 15 minutes).
A new generation of `--fixtures` matches begins every `--period` seconds; the config is rewritten
to list the generations under way (a minute either side) and the desk reloads it (SIGHUP), as an
operator's desk takes the day's fixtures. Every `--cut-every` seconds the server is killed and
started again `--cut-for` seconds later on the same port, its matches' clocks where they were
(`--started-ago`): every fixture loses its connection, reconnects and catches up (a backlog folded
under suspension). The desk freezes what lives every second and sweeps the frozen objects hourly
(`engine.desk.collector`): a cycle among frozen objects waits for the sweep, so memory that grows
between sweeps and falls at one is what the freeze costs.

Every `--sample-every` seconds it reads the desk's resident memory (/proc) and its /metrics (frozen
objects, sweeps and what they found, the full collections, reconnections, frames), and prints a
line; at the end, the growth of resident memory from the first cut on, per hour.
"""

from __future__ import annotations

import argparse
import datetime
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson
from latency import SOURCE, TOKEN
from prometheus_client.parser import text_string_to_metric_families

from engine.io.protocol import HEARTBEAT_TEXT
from engine.io.recording import Frame, read_recording
from engine.testing.broker import free_port

ENGINE = [sys.executable, "-m", "engine"]
GC_GAUGES = ("ttengine_gc_frozen_objects", "ttengine_gc_sweeps_total", "ttengine_gc_swept_objects_total")


START = datetime.datetime(2026, 1, 1, 10, tzinfo=datetime.UTC)


def write_generations(folder: Path, count: int, rate: float, generations: int, period: float) -> list[list[str]]:
    """`generations` of `count` copies of the source recording, with their own fixture ids;
    generation g begins g * `period` seconds after the server starts, its copies `1/rate` s a frame
    and spread over the second. Returns each generation's fixture ids."""
    recording = read_recording(SOURCE)
    original = recording.meta.fixture_id or ""
    texts = [frame.text for frame in recording.frames if isinstance(frame, Frame)]
    ids: list[list[str]] = []
    for generation in range(generations):
        ids.append([])
        for index in range(count):
            fixture_id = f"00000000-0000-4000-{generation:04d}-{index:012d}"
            ids[-1].append(fixture_id)
            with open(folder / f"g{generation:03d}f{index:05d}.jsonl", "wb") as out:
                out.write(orjson.dumps({"meta": {"fixtureId": fixture_id, "bestOf": 7}}) + b"\n")
                # the live server runs each file's clock from its first line: a heartbeat at 0 holds the offset
                out.write(orjson.dumps({"recv": _stamp(0.0), "text": HEARTBEAT_TEXT}) + b"\n")
                for number, text in enumerate(texts):
                    seconds = generation * period + (number + index / count) / rate
                    out.write(
                        orjson.dumps({"recv": _stamp(seconds), "text": text.replace(original, fixture_id)}) + b"\n"
                    )
    return ids


def _stamp(seconds: float) -> str:
    return (START + datetime.timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def listed(ids: list[list[str]], period: float, match_seconds: float, now: float) -> list[str]:
    """The fixtures of the generations under way at `now` (from a minute before to a minute after)."""
    return [
        fixture
        for generation, fixtures in enumerate(ids)
        if generation * period - 60 <= now <= generation * period + match_seconds + 60
        for fixture in fixtures
    ]


def write_config(config: Path, fixtures: list[str]) -> None:
    config.write_text("".join(f'[[fixtures]]\nid = "{fixture}"\nbest_of = 7\n\n' for fixture in fixtures))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def scrape(url: str) -> dict[str, float]:
    """The /metrics samples this bench reads, by name (and generation for the pauses)."""
    with urllib.request.urlopen(url, timeout=30) as response:
        text = response.read().decode()
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ttengine_gc_pause_seconds_count" or sample.name == "ttengine_gc_pause_seconds_sum":
                found[f"{sample.name}:{sample.labels['generation']}"] = sample.value
            elif sample.name in GC_GAUGES:
                found[sample.name] = sample.value
            elif sample.name in ("ttengine_reconnects_total", "ttengine_frames_total"):  # per fixture: summed
                found[sample.name] = found.get(sample.name, 0.0) + sample.value
    return found


def serve(folder: Path, port: int, started_ago: float, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [*ENGINE, "serve", str(folder), "--port", str(port), "--live", "--token-env", "SOAK_TOKEN"]
    if started_ago > 0:
        command += ["--started-ago", f"{started_ago:.1f}"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=62.0, help="the run's length (the sweep is hourly)")
    parser.add_argument("--period", type=float, default=900.0, help="seconds between two generations of matches")
    parser.add_argument("--rate", type=float, default=0.3, help="messages per second per fixture")
    parser.add_argument("--cut-every", type=float, default=600.0, help="seconds between two network cuts")
    parser.add_argument("--cut-for", type=float, default=5.0, help="seconds the server stays down at a cut")
    parser.add_argument("--sample-every", type=float, default=60.0)
    args = parser.parse_args()
    env = {**os.environ, "SOAK_TOKEN": TOKEN}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "served"
        folder.mkdir()
        generations = int(args.minutes * 60 // args.period) + 1
        ids = write_generations(folder, args.fixtures, args.rate, generations, args.period)
        match_seconds = 265 / args.rate
        config = Path(tmp) / "desk.toml"
        following = listed(ids, args.period, match_seconds, 0.0)
        write_config(config, following)
        port, http = free_port(), free_port()
        began = time.monotonic()
        server = serve(folder, port, 0.0, env)
        time.sleep(2.0)
        follow = ["follow", "--config", str(config), "--token-env", "SOAK_TOKEN", "--base", f"ws://127.0.0.1:{port}"]
        desk = subprocess.Popen(
            [*ENGINE, *follow, "--http", f"127.0.0.1:{http}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        metrics_url = f"http://127.0.0.1:{http}/metrics"
        cut = f"a cut of {args.cut_for:g} s every {args.cut_every:g} s"
        print(
            f"{args.fixtures} fixtures at {args.rate:g} msg/s, a generation every {args.period:g} s, {cut};"
            " the desk sweeps hourly"
        )
        print(
            " minute   RSS MiB   frozen objects  sweeps  swept  full collections (mean)  reconnects    frames  followed"
        )
        samples: list[tuple[float, float]] = []
        next_cut, next_sample, end = args.cut_every, args.sample_every, args.minutes * 60
        try:
            while (now := time.monotonic() - began) < end:
                if now >= next_cut:
                    server.send_signal(signal.SIGKILL)
                    server.wait()
                    time.sleep(args.cut_for)
                    server = serve(folder, port, time.monotonic() - began, env)
                    next_cut += args.cut_every
                wanted = listed(ids, args.period, match_seconds, now)
                if wanted != following:  # a generation begins or has ended: the desk reloads its config
                    following = wanted
                    write_config(config, following)
                    desk.send_signal(signal.SIGHUP)
                if now >= next_sample:
                    try:
                        found = scrape(metrics_url)
                    except OSError as exc:  # the desk is not up yet
                        print(f"{now / 60:7.1f}  /metrics: {exc}", flush=True)
                    else:
                        rss = rss_mib(desk.pid)
                        samples.append((now, rss))
                        pauses = found.get("ttengine_gc_pause_seconds_count:2", 0.0)
                        mean = found.get("ttengine_gc_pause_seconds_sum:2", 0.0) / pauses * 1e3 if pauses else 0.0
                        print(
                            f"{now / 60:7.1f}  {rss:8.1f}  {found.get('ttengine_gc_frozen_objects', 0):15,.0f}"
                            f"  {found.get('ttengine_gc_sweeps_total', 0):6.0f}"
                            f"  {found.get('ttengine_gc_swept_objects_total', 0):5.0f}"
                            f"  {pauses:8.0f} ({mean:7.2f} ms)"
                            f"  {found.get('ttengine_reconnects_total', 0):10.0f}"
                            f"  {found.get('ttengine_frames_total', 0):8.0f}  {len(following):8d}",
                            flush=True,
                        )
                    next_sample += args.sample_every
                if desk.poll() is not None:
                    raise SystemExit(f"ttengine follow exited with {desk.returncode}")
                time.sleep(1.0)
        finally:
            desk.send_signal(signal.SIGTERM)
            desk.wait(timeout=60)
            server.kill()
            server.wait()
    settled = [(t, rss) for t, rss in samples if t >= args.cut_every]
    if len(settled) >= 2:
        (t0, first), (t1, last) = settled[0], settled[-1]
        print(
            f"resident memory from minute {t0 / 60:.0f} to {t1 / 60:.0f}: {first:.1f} -> {last:.1f} MiB"
            f" ({(last - first) / ((t1 - t0) / 3600):+.1f} MiB an hour); max {max(r for _, r in settled):.1f} MiB"
        )


if __name__ == "__main__":
    main()
