"""The desk: many fixtures followed as one service (`Desk`), each one's health, the Prometheus
metrics, the read-only HTTP side with the live page, and `ttengine follow`."""

from engine.desk.config import ConfigError, DeskConfig, FixtureEntry, load_config
from engine.desk.health import FixtureHealth, Health, SuspendedGroup
from engine.desk.metrics import DeskMetrics
from engine.desk.service import Desk, DeskFixture, DeskObserver, FixtureRetry, FixtureSettings, UpdateLog
from engine.desk.web import DeskWeb

__all__ = [
    "ConfigError",
    "Desk",
    "DeskConfig",
    "DeskFixture",
    "DeskMetrics",
    "DeskObserver",
    "DeskWeb",
    "FixtureEntry",
    "FixtureHealth",
    "FixtureRetry",
    "FixtureSettings",
    "Health",
    "SuspendedGroup",
    "UpdateLog",
    "load_config",
]
