"""The desk's Prometheus metrics (`prometheus_client`), read at scrape time from the desk itself.

Every per-fixture number lives in the desk's `Watch`es; a collector turns them into metric families
when `/metrics` is read, so following a fixture costs nothing per frame here. The one thing timed
per update is its latency (arrival of the frame to its last callback having run): a histogram, and
the median and 99th percentile of the last `RECENT` updates.
"""

from __future__ import annotations

import collections
import gc
import statistics
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from engine.core.markets.signals import MarketStatus, Reason
from engine.core.update import Update
from engine.desk.collector import CollectorPolicy
from engine.desk.health import FRAME_INPUTS, Health, status_counts
from engine.desk.service import Desk, DeskFixture, DeskObserver

#: [ours] Update latency buckets, seconds: the goal is a p99 under 5 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: [ours] Collector pause buckets, seconds: the goal is every automatic collection under 5 ms.
GC_PAUSE_BUCKETS = (0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
#: [ours] How many of the latest updates the latency quantiles are computed over.
RECENT = 10_000


class DeskMetrics:
    """The registry of one desk's metrics; `text()` is the `/metrics` body."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "ttengine_update_latency_seconds",
            "Seconds from a frame's arrival to its update's last callback having run",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.gc_pause = Histogram(
            "ttengine_gc_pause_seconds",
            "Seconds each cyclic garbage collection held the process, by generation (a sweep is a 2)",
            ["generation"],
            buckets=GC_PAUSE_BUCKETS,
            registry=self.registry,
        )
        self.recent: collections.deque[float] = collections.deque(maxlen=RECENT)
        #: The collector policy whose sweeps and frozen objects are reported (None: not run).
        self.collector: CollectorPolicy | None = None
        self.registry.register(_DeskCollector(self))
        desk.observe(_Latency(self))

    def observe(self, seconds: float) -> None:
        """Take one update's latency."""
        self.latency.observe(seconds)
        self.recent.append(seconds)

    def observe_pause(self, generation: int, seconds: float) -> None:
        """Take one collection's pause (`engine.desk.collector.CollectorPolicy.on_pause`)."""
        self.gc_pause.labels(str(generation)).observe(seconds)

    def latency_quantiles(self) -> dict[str, float]:
        """The median and 99th percentile of the recent latencies (empty before the first update)."""
        recent = list(self.recent)
        if len(recent) < 2:
            return {"0.5": recent[0], "0.99": recent[0]} if recent else {}
        cuts = statistics.quantiles(recent, n=100, method="inclusive")
        return {"0.5": cuts[49], "0.99": cuts[98]}

    def text(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class _Latency(DeskObserver):
    """Gives the metrics each frame's update latency: arrival to its callbacks done."""

    def __init__(self, metrics: DeskMetrics) -> None:
        self.metrics = metrics

    def delivered(self, fixture: DeskFixture, update: Update, latency: float) -> None:
        if issubclass(update.input_type, FRAME_INPUTS):  # a frame of the feed (not a timer's input)
            self.metrics.observe(latency)


class _DeskCollector(Collector):
    """Reads the desk's fixtures into metric families at scrape time."""

    def __init__(self, metrics: DeskMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterator[Metric]:
        return iter(())  # the families depend on the fixtures: described when collected

    def collect(self) -> Iterator[Metric]:
        desk = self._metrics.desk
        by_health = dict.fromkeys(Health, 0)
        markets = dict.fromkeys(MarketStatus, 0)
        frames = CounterMetricFamily(
            "ttengine_frames", "Frames received (actions, heartbeats, refused)", labels=["fixture"]
        )
        updates = CounterMetricFamily("ttengine_updates", "Updates that changed anything", labels=["fixture"])
        reconnects = CounterMetricFamily(
            "ttengine_reconnects", "Reconnections that received a frame", labels=["fixture"]
        )
        age = GaugeMetricFamily("ttengine_feed_age_seconds", "Seconds since the last frame", labels=["fixture"])
        lag = GaugeMetricFamily(
            "ttengine_feed_lag_seconds", "The last action's provider timestamp to our receive time", labels=["fixture"]
        )
        lagging = CounterMetricFamily(
            "ttengine_consumer_lagging",
            "Times the fixture's consumer fell more than lag_limit behind (consumer_lagging bet stop)",
            labels=["fixture"],
        )
        suspended = dict.fromkeys(Reason, 0.0)
        for reason, seconds in desk.retired_suspensions.items():
            suspended[reason] += seconds
        now = desk.clock()
        for fixture in desk:
            watch = fixture.watch
            labels = [fixture.fixture_id]
            by_health[fixture.health_state()] += 1
            frames.add_metric(labels, watch.frames)
            updates.add_metric(labels, watch.updates)
            reconnects.add_metric(labels, watch.reconnects)
            feed_age = watch.feed_age(now)
            if feed_age is not None:
                age.add_metric(labels, feed_age)
            if watch.lag is not None:
                lag.add_metric(labels, watch.lag)
            lagging.add_metric(labels, fixture.match.lags)
            for status, count in status_counts(fixture.book).items():
                markets[status] += count
            for reason, seconds in watch.suspended_seconds(now).items():
                suspended[reason] += seconds
        yield from (frames, updates, reconnects, age, lag, lagging)
        fixtures = GaugeMetricFamily("ttengine_fixtures", "Fixtures followed, by health", labels=["health"])
        for health, count in by_health.items():
            fixtures.add_metric([health.value], count)
        yield fixtures
        by_status = GaugeMetricFamily("ttengine_markets", "Markets of every fixture, by status", labels=["status"])
        for status, count in markets.items():
            by_status.add_metric([status.value], count)
        yield by_status
        suspended_seconds = CounterMetricFamily(
            "ttengine_suspended_seconds",
            "Seconds some market of a fixture was suspended for the reason, summed over fixtures",
            labels=["reason"],
        )
        for reason, total in suspended.items():
            suspended_seconds.add_metric([reason.value], total)
        yield suspended_seconds
        failures = CounterMetricFamily("ttengine_fixture_failures", "Fixtures whose feed ended with an error")
        failures.add_metric([], desk.failures)
        yield failures
        yield from self._collector_families()
        callbacks = CounterMetricFamily("ttengine_callback_failures", "Callbacks that raised (isolated)")
        callbacks.add_metric([], desk.callbacks.failures)
        yield callbacks
        slow = CounterMetricFamily(
            "ttengine_slow_callbacks",
            "Callback calls slower than slow_after; blocking: plain handlers, which held the event loop",
            labels=["blocking"],
        )
        slow.add_metric(["true"], desk.callbacks.blocking)
        slow.add_metric(["false"], desk.callbacks.slow - desk.callbacks.blocking)
        yield slow
        blocked = CounterMetricFamily(
            "ttengine_callbacks_blocked_seconds", "Seconds slow plain callbacks held the event loop (every fixture)"
        )
        blocked.add_metric([], desk.callbacks.blocked_seconds)
        yield blocked
        recent = GaugeMetricFamily(
            "ttengine_update_latency_recent_seconds",
            f"Quantiles of the update latency over the last {RECENT} updates",
            labels=["quantile"],
        )
        for quantile, value in self._metrics.latency_quantiles().items():
            recent.add_metric([quantile], value)
        yield recent

    def _collector_families(self) -> Iterator[Metric]:
        policy = self._metrics.collector
        if policy is None:
            return
        frozen = GaugeMetricFamily("ttengine_gc_frozen_objects", "Objects the collector does not scan (gc.freeze)")
        frozen.add_metric([], gc.get_freeze_count())
        sweeps = CounterMetricFamily("ttengine_gc_sweeps", "Full collections of the frozen objects (sweeps)")
        sweeps.add_metric([], policy.sweeps)
        swept = CounterMetricFamily("ttengine_gc_swept_objects", "Unreachable objects the sweeps found")
        swept.add_metric([], policy.swept)
        yield from (frozen, sweeps, swept)
