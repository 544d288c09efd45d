"""Shared pytest options: `--long` runs the long fuzz and fault runs (README "Reliability")."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        default=False,
        help="run the long versions: 1,000,000 fuzzed frames and 200 fault runs (minutes, not seconds)",
    )


@pytest.fixture
def long_run(request: pytest.FixtureRequest) -> bool:
    """True under `pytest --long`."""
    return bool(request.config.getoption("--long"))
