"""Where the broker is: `amqp://HOST[:PORT]/VHOST` on the command line, the credentials apart (from
an environment variable, `USER:PASSWORD`), so they never reach a log line, a metric or a repr."""

from __future__ import annotations

import os
import urllib.parse

import attrs

from engine.io.protocol import Secret

#: AMQP's port when the address names none.
DEFAULT_PORT = 5672


@attrs.frozen(slots=True)
class BusAddress:
    """A broker: host, port, virtual host, and the credentials (`password` a `Secret`)."""

    host: str
    port: int = DEFAULT_PORT
    vhost: str = "/"
    login: str = "guest"
    password: Secret = attrs.field(factory=lambda: Secret("guest"))

    def __str__(self) -> str:
        """The address without its credentials: what a log line may say."""
        vhost = urllib.parse.quote(self.vhost, safe="")
        return f"amqp://{self.host}:{self.port}/{vhost}"

    def redact(self, text: str) -> str:
        """`text` with the password replaced by *** (an error message of the client, say)."""
        return self.password.redact(text)


def parse_bus_address(url: str, credentials: str | None = None) -> BusAddress:
    """`amqp://HOST[:PORT][/VHOST]` and `USER:PASSWORD` (None: guest). ValueError, without the
    credentials in it, for an address or credentials that are not these; credentials in the URL
    itself are refused (they would end up in a shell's history and in `ps`)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "amqp" or not parsed.hostname:
        raise ValueError(f"the bus is amqp://HOST[:PORT]/VHOST, not {url.split('@')[-1]!r}")
    if parsed.username is not None or parsed.password is not None:
        raise ValueError("the bus address carries no credentials: give them in an environment variable (--bus-env)")
    try:
        port = parsed.port or DEFAULT_PORT
    except ValueError:
        raise ValueError(f"the bus address's port is not a number: {url!r}") from None
    path = parsed.path[1:] if parsed.path.startswith("/") else parsed.path
    vhost = urllib.parse.unquote(path) if path else "/"
    if credentials is None:
        return BusAddress(parsed.hostname, port, vhost)
    login, colon, password = credentials.partition(":")
    if not login or not colon or not password:
        raise ValueError("the bus credentials are USER:PASSWORD")
    return BusAddress(parsed.hostname, port, vhost, login, Secret(password))


def credentials_from(variable: str | None) -> str | None:
    """The credentials in environment variable `variable` (None: none given). ValueError, naming
    the variable, when it is not set."""
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        raise ValueError(f"--bus-env {variable}: the environment variable is not set")
    return value
