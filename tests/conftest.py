"""Shared pytest options: `--long` runs the long fuzz and fault runs (README "Reliability"); the
hypothesis profile of the suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from engine.testing.broker import LocalBroker

#: The suite runs on busy machines and in parallel workers: no per-example deadline (a test that
#: wants one says so).
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")


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


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[LocalBroker]:
    """One RabbitMQ for the tests of a worker that need one (Debian's rabbitmq-server on free ports,
    its own data directory; README's test command installs it when missing). Every such test is in
    the `broker` xdist group (`--dist loadgroup`), so one worker runs them all on one broker: a
    second worker asking for one means the grouping failed (each broker costs ~10 s of both cores
    to start), and is refused."""
    if not LocalBroker.available():
        pytest.fail("the bus tests need Debian's rabbitmq-server: apt-get install -y rabbitmq-server")
    if worker_id != "master":
        claim = tmp_path_factory.getbasetemp().parent / "broker-worker"  # shared by the run's workers
        try:
            with claim.open("x") as mine:
                mine.write(worker_id)
        except FileExistsError:
            pytest.fail(
                f"the bus tests ran on {claim.read_text()} and {worker_id}: run them with --dist loadgroup"
                " (pytest 9.2 breaks it, pytest-xdist#1386: the test group pins pytest<9.2)"
            )
    with LocalBroker() as running:
        yield running
