"""Where a line of the update stream goes on the bus: the exchange, and a routing key by sport,
fixture and kind, so a service subscribes to what it needs with a binding pattern.

    tabletennis.<fixtureId>.update      an update (its signals: stops, settlements, prices, reopenings)
    tabletennis.<fixtureId>.snapshot    a snapshot (the fixture's whole book: replace what you hold)
    tabletennis.<fixtureId>.closed      the engine stopped following the fixture (its closing bet stop)
    tabletennis.engine.<run>.alive      the engine run lives (UOF's alive)

`tabletennis.#` is everything; `tabletennis.*.snapshot` every snapshot; `tabletennis.engine.#`
every engine's alive line. Requests to the engines (`control.snapshot`, `control.holdings`,
`control.unassign`) are outside `tabletennis.`; the fixtures to share wait on the queue `WORK_QUEUE`.
A fixture id is a UUID (no dots), so the key's parts are unambiguous.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The topic exchange every engine publishes to (durable).
EXCHANGE = "ttengine"
#: The first part of every routing key.
SPORT = "tabletennis"
#: The binding that takes every line of every engine.
EVERYTHING = f"{SPORT}.#"
#: The routing key a consumer asks the engines for snapshots on (outside the stream's `tabletennis.#`).
SNAPSHOT_REQUEST = "control.snapshot"
#: The routing key `ttengine assign` asks every engine on for the fixtures it holds (a reply each).
HOLDINGS_REQUEST = "control.holdings"
#: The routing key `ttengine unassign` asks the engine holding a fixture to give it up on (a reply each).
UNASSIGN_REQUEST = "control.unassign"
#: The durable quorum queue of the fixtures to follow (`ttengine assign`); an engine that takes one
#: holds it as an unacknowledged delivery while it follows it (`ttengine follow --take N`).
WORK_QUEUE = "ttengine.fixtures"


def routing_key(line: Mapping[str, Any]) -> str:
    """The routing key of one line of the stream (`describe_update`'s shape, or an alive line).
    ValueError for a line that is neither."""
    if "alive" in line:
        run = line.get("run")
        if not isinstance(run, str) or not run or "." in run:
            raise ValueError("an alive line names its run")
        return f"{SPORT}.engine.{run}.alive"
    fixture_id = line.get("fixtureId")
    if not isinstance(fixture_id, str) or not fixture_id or "." in fixture_id:
        raise ValueError("an update line names its fixtureId")
    if line.get("input") == "Unfollowed":
        kind = "closed"
    elif line.get("snapshot") is True:
        kind = "snapshot"
    else:
        kind = "update"
    return f"{SPORT}.{fixture_id}.{kind}"
