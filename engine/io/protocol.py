"""The provider's transport contract (FEED.md section 1) in one place, and the secret it needs.

[doc] marks what the provider documents; [ours] what we assume where it is silent. The client
(`engine.io.client`) and our provider-compatible server (`engine.io.server`) both read from here,
so the two cannot drift apart.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any, Final
from urllib.parse import urlsplit

import attrs
import orjson

from engine.feed.encode import heartbeat_frame

#: [doc] The documented host; the provider is moving to `*.data.srarena.io`, so it is configurable.
DEFAULT_BASE: Final = "wss://dde-streams.data.imgarena.com"
#: [doc] The path of one fixture's live actions.
ACTIONS_PATH: Final = "/v2/tabletennis/fixtures/{fixture_id}/actions"
ACTIONS_PATH_PATTERN: Final = re.compile(r"/v2/tabletennis/fixtures/(?P<fixture_id>[^/?#]+)/actions")
#: [doc] The upgrade request must carry this header.
ACCEPT_HEADER: Final = "application/vnd.imggaming.dde.api+json;version=1"
#: [doc] Plain-text bodies of the documented failures.
MISSING_ACCEPT_TEXT: Final = "Request is missing required HTTP header 'Accept'"
INVALID_AUTH_TEXT: Final = "The supplied authentication is invalid"
#: [ours] Close codes that, after the auth message, mean the token was refused: final, not retried.
AUTH_REFUSED_CLOSE_CODES: Final = frozenset({1008, 4001, 4002, 4003})
#: [doc] HTTP statuses of the opening handshake that retrying cannot fix.
FATAL_HTTP_STATUSES: Final = frozenset({400, 401, 403, 404})
#: [doc] About 5 requests per second per customer: connection attempts across all fixtures.
MAX_CONNECTS_PER_SECOND: Final = 5
#: [sib] Heartbeats every 10 s elsewhere on the platform; [ours] stale after 10 s of silence.
HEARTBEAT_INTERVAL: Final = 10.0
STALE_AFTER: Final = 10.0
#: [ours] After this much silence the connection is presumed dead and reopened.
RECONNECT_AFTER: Final = 30.0
#: [ours] FEED.md 1, catching up: a client that connects while a match is under way gets every
#: action it missed at once, then the rest as they happen. Until the backlog is folded every market
#: is suspended (`catching_up`); it is folded when the burst has ended: no frame for
#: `CATCH_UP_QUIET` seconds after the connection's last one, or for only `CATCH_UP_QUIET_FRESH`
#: once an action came whose provider timestamp is within `CATCH_UP_LAG` seconds of our receive
#: time (a fresh one: the backlog's tail). The quiet alone holds under any clock skew and for feeds
#: with old timestamps (recordings); freshness ends it for a feed whose frames come faster than the
#: quiet (our server at 20x) — a burst's frames come back to back, a live feed's never do.
CATCH_UP_QUIET: Final = 0.25
CATCH_UP_QUIET_FRESH: Final = 0.02
CATCH_UP_LAG: Final = 3.0
#: [ours] A heartbeat our server sends: any JSON object without `fixtureAction` is one (FEED.md 1).
HEARTBEAT_TEXT: Final = heartbeat_frame()


#: [doc] A fixture id is a UUID (FEED.md 1): anything else is refused before it names a URL or a file.
FIXTURE_ID_PATTERN: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def check_fixture_id(fixture_id: object) -> str:
    """`fixture_id` when it is a UUID in its canonical text form; ValueError naming it otherwise."""
    if not isinstance(fixture_id, str) or FIXTURE_ID_PATTERN.fullmatch(fixture_id) is None:
        raise ValueError(f"a fixture id is a UUID (8-4-4-4-12 hexadecimal digits), not {fixture_id!r}")
    return fixture_id


def actions_url(base: str, fixture_id: str, start_position: int = 0) -> str:
    """The websocket URL of a fixture's actions, resuming after `start_position` events when > 0."""
    url = base.rstrip("/") + ACTIONS_PATH.format(fixture_id=fixture_id)
    return f"{url}?startPosition={start_position}" if start_position > 0 else url


def auth_message(token: Secret) -> str:
    """The first message a client sends: `{"authToken": "…"}` (the only place the token is revealed)."""
    return orjson.dumps({"authToken": token.reveal()}).decode()


def is_loopback(base: str) -> bool:
    """True when the base URL's host is this machine."""
    host = urlsplit(base).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base(base: str, allow_insecure: bool = False) -> str:
    """The base URL, refused (ValueError) unless it is `wss://`, or `ws://` on loopback or by explicit opt-out."""
    scheme = urlsplit(base).scheme
    if scheme == "wss":
        return base
    if scheme != "ws":
        raise ValueError(f"base URL must start with wss:// (or ws:// on loopback), not {base!r}")
    if not (allow_insecure or is_loopback(base)):
        raise ValueError(f"refusing plain ws:// to a non-loopback host ({base}): use wss:// or allow_insecure=True")
    return base


@attrs.frozen(slots=True, repr=False)
class Secret:
    """A token that never shows itself: repr, str and format give `Secret('***')`. Only
    `reveal()` returns the value, and only the auth message calls it."""

    _value: str = attrs.field(alias="value")

    def __attrs_post_init__(self) -> None:
        if not isinstance(self._value, str) or not self._value:
            raise ValueError("the auth token must be a non-empty string")

    def reveal(self) -> str:
        """The token itself."""
        return self._value

    def redact(self, text: str) -> str:
        """`text` with every occurrence of the token replaced by ***."""
        return text.replace(self._value, "***") if self._value in text else text

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)


_AUTH_VALUE = re.compile(r'("authToken"\s*:\s*)"(?:[^"\\]|\\.)*"')


def redact_auth(text: str, token: Secret | None = None) -> str:
    """`text` without any auth token: the value of every `"authToken": "…"` and `token` itself."""
    if "authToken" in text:
        text = _AUTH_VALUE.sub(r'\1"***"', text)
    return token.redact(text) if token is not None else text


class RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger for websockets connections that formats each record itself and strips auth tokens
    from it: websockets' debug log shows every frame, the auth message included."""

    def __init__(self, logger: logging.Logger, token: Secret | None = None) -> None:
        super().__init__(logger, {})
        self._token = token

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        kwargs.pop("exc_info", None)  # a traceback could quote a frame; the message says what happened
        self.logger.log(level, redact_auth(text, self._token), **kwargs)


class FeedError(Exception):
    """The feed cannot be used: a final error, not retried. Its message never holds the token."""


class AuthRefused(FeedError):
    """The provider refused the token (HTTP 401, or a close 1008/4001-4003 after the auth message)."""


class RequestRefused(FeedError):
    """The provider refused the request itself (HTTP 400 missing Accept, 403, 404)."""


class RetriesExhausted(ConnectionError):
    """The feed could not be kept up within `ClientSettings.max_retries` reconnections in a row."""
