"""One RabbitMQ for the bus tests of a worker (Debian's rabbitmq-server on free ports, its own data
directory; README's test command installs it when missing). Every bus test is in the `broker`
xdist group, so one worker runs them all and one broker serves them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.testing.broker import LocalBroker


@pytest.fixture(scope="session")
def broker() -> Iterator[LocalBroker]:
    if not LocalBroker.available():
        pytest.fail("the bus tests need Debian's rabbitmq-server: apt-get install -y rabbitmq-server")
    with LocalBroker() as running:
        yield running
