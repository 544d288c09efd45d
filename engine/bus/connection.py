"""What the publisher and the mirror share to reach the broker: the client library's presence, the
backoff between attempts, one connection attempt loop, and an error's text without the password."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from engine.bus.address import BusAddress

if TYPE_CHECKING:
    import aio_pika.abc

log = logging.getLogger("engine.bus")


def require_aio_pika() -> None:
    """ImportError with the install line when the bus's client library is missing."""
    try:
        import aio_pika  # noqa: F401
    except ImportError:
        raise ImportError("the bus needs aio-pika: pip install 'ttengine[bus]'") from None
    # The client logs each failed connection attempt at ERROR, with a traceback; ours say the same
    # once per attempt, with the address (redacted) and when the next one comes.
    logging.getLogger("aiormq.connection").setLevel(logging.CRITICAL)


@attrs.frozen(slots=True)
class Backoff:
    """Seconds between two attempts to reach the broker: `initial`, doubling up to `maximum`."""

    initial: float = 0.5
    maximum: float = 10.0

    def after(self, failures: int) -> float:
        return float(min(self.maximum, self.initial * 2 ** min(failures, 32)))


def said(address: BusAddress, exc: BaseException) -> str:
    """An error of the client as a log line may say it: its kind and text, the password redacted."""
    return address.redact(f"{type(exc).__name__}: {exc}")


def raise_if_cancelled() -> None:
    """CancelledError when the running task is being cancelled (whatever error reached the caller:
    aio-pika can turn a cancellation into its own error on the way out of a connection)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def connect(
    address: BusAddress,
    backoff: Backoff,
    timeout: float,
    who: str,
    closing: Callable[[], bool],
    heartbeat: int | None = None,
) -> aio_pika.abc.AbstractConnection | None:
    """A connection to the broker, retried with `backoff` until one is made (None once `closing()`
    says to stop); `who` starts each warning (`bus`, `mirror: bus`); `heartbeat` asks for one every
    so many seconds (None: the broker's choice, 60 s by default)."""
    failures = 0
    while not closing():
        try:
            return await _open(address, timeout, heartbeat)
        except Exception as exc:  # unreachable, refused, a bad login: retried
            delay = backoff.after(failures)
            failures += 1
            log.warning("%s %s unreachable: %s; again in %.1f s", who, address, said(address, exc), delay)
            await asyncio.sleep(delay)
    return None


class BusUnreachable(ConnectionError):
    """The broker could not be reached (the text names the address, never the password)."""


async def connect_once(address: BusAddress, timeout: float = 5.0) -> aio_pika.abc.AbstractConnection:
    """One connection to the broker, for a command that does one thing; BusUnreachable if it fails."""
    require_aio_pika()
    try:
        return await _open(address, timeout)
    except Exception as exc:
        raise BusUnreachable(f"bus {address} unreachable: {said(address, exc)}") from None


async def _open(address: BusAddress, timeout: float, heartbeat: int | None = None) -> aio_pika.abc.AbstractConnection:
    import aio_pika

    extra: dict[str, Any] = {} if heartbeat is None else {"heartbeat": heartbeat}
    connection: aio_pika.abc.AbstractConnection = await aio_pika.connect(
        host=address.host,
        port=address.port,
        virtualhost=address.vhost,
        login=address.login,
        password=address.password.reveal(),
        timeout=timeout,
        **extra,
    )
    return connection
