"""Secrets and exposure (issue 7): with a known token, everything a run can show — every log line at
DEBUG on both ends, stdout and stderr of the CLI with `--trace`, the recording, reprs, exceptions
and their tracebacks with local variables — is captured and searched for it. Plain `ws://` is
refused off loopback unless the user opts out; the server binds loopback unless told otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from engine.cli import main
from engine.io.client import ClientSettings, ConnectLimiter
from engine.io.protocol import AuthRefused, Secret, check_base
from engine.io.recording import read_recording
from engine.io.server import Faults, ProviderServer, load_fixtures
from engine.runtime.callbacks import Callbacks
from engine.runtime.sources import connect

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures_data"
RECORDING = FIXTURES / "ittf_ws_bo5_1.jsonl"
TOKEN = "tt-token-9f3c2a77e1d04b6a"
TOKEN_ENV = "TT_SECRETS_TEST_TOKEN"


@attrs.define
class _Background:
    """Our provider-compatible server on its own event loop in a thread (the CLI runs its own loop)."""

    server: ProviderServer
    loop: asyncio.AbstractEventLoop = attrs.field(factory=asyncio.new_event_loop)
    thread: threading.Thread | None = None

    def __enter__(self) -> ProviderServer:
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.server.start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(10)
        return self.server

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        assert self.thread is not None
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("websockets", "engine", "engine.io.websockets", "asyncio")]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    yield caplog
    for logger, level in zip(loggers, before, strict=True):
        logger.setLevel(level)


def _traceback_with_locals(exc: BaseException) -> str:
    """What an error reporter that captures local variables would send, the whole chain included."""
    return "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())


def test_the_token_appears_nowhere_a_run_can_show(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    fixtures = load_fixtures(RECORDING)
    (fixture_id,) = fixtures
    record = tmp_path / "recorded.jsonl"
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    server = ProviderServer(fixtures, Secret(TOKEN), heartbeat=0.05, faults=Faults(drop_after=(25, 60)))
    with _Background(server):
        base = server.base
        follow = ["connect", fixture_id, "--token-env", TOKEN_ENV, "--base", base]
        live = main([*follow, "--trace", "--record", str(record)])
        monkeypatch.setenv(TOKEN_ENV, TOKEN + "-wrong")
        refused = main(follow)
        assert server.connections[fixture_id] == 3  # two drops: the run reconnected twice

    replayed = main(["replay", str(record), "--trace"])
    out, err = capfd.readouterr()
    assert (live, refused, replayed) == (0, 3, 0)

    # An exception and its traceback with locals, raised from inside the adapter.
    async def wrong_token() -> None:
        async with ProviderServer(fixtures, Secret(TOKEN)) as other:
            settings = ClientSettings(base=other.base, backoff_initial=0.01)
            async with connect(fixture_id, TOKEN + "x", settings=settings, limiter=ConnectLimiter(50)) as match:
                await match.wait()

    with pytest.raises(AuthRefused) as raised:
        asyncio.run(wrong_token())

    match = connect(fixture_id, TOKEN, settings=ClientSettings(base=base), callbacks=Callbacks())
    exposed = {
        "logs": debug_logs.text,
        "log records": "\n".join(repr(record.__dict__) for record in debug_logs.records),
        "stdout (--trace)": out,
        "stderr": err,
        "recording": record.read_text(),
        "repr(match)": repr(match) + repr(vars(match)),
        "repr(server)": repr(server) + repr(vars(server)),
        "repr(settings)": repr(ClientSettings(base=base)),
        "exception": f"{raised.value} {raised.value!r}",
        "traceback with locals": _traceback_with_locals(raised.value),
    }
    assert "authToken" in debug_logs.text  # the capture is real: the debug log saw the auth message …
    assert out.count("\n") > 100  # … and the trace printed the match
    for where, text in exposed.items():
        assert TOKEN not in text, where  # … but the token shows nowhere
    assert read_recording(record).meta.fixture_id == fixture_id


def test_plain_ws_is_refused_off_loopback_unless_the_user_opts_out() -> None:
    for base in ("ws://127.0.0.1:8765", "ws://[::1]:8765", "ws://localhost:8765", "wss://feed.example.com"):
        assert check_base(base) == base
    for base in ("ws://feed.example.com", "ws://10.0.0.7:8765", "ws://localhost.example.com", "http://x"):
        with pytest.raises(ValueError, match="wss://"):
            ClientSettings(base=base)
    assert ClientSettings(base="ws://10.0.0.7:8765", allow_insecure=True).base == "ws://10.0.0.7:8765"
    with pytest.raises(ValueError, match="wss://"):
        check_base("http://feed.example.com", allow_insecure=True)  # the opt-out is for ws:// only


def test_the_connect_command_refuses_plain_ws_off_loopback_without_the_flag(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    fixture_id = "7c2253bb-790d-4cc5-9874-afa75d771e14"
    assert main(["connect", fixture_id, "--token-env", TOKEN_ENV, "--base", "ws://feed.example.com"]) == 2
    err = capsys.readouterr().err
    assert "wss://" in err
    assert TOKEN not in err


def test_the_server_binds_loopback_unless_told_otherwise() -> None:
    async def bound() -> tuple[str, str]:
        async with ProviderServer(load_fixtures(RECORDING), Secret(TOKEN)) as server:
            assert server._server is not None
            (sock,) = server._server.sockets
            return server.host, sock.getsockname()[0]

    assert asyncio.run(bound()) == ("127.0.0.1", "127.0.0.1")
    serve_help = main_help("serve")
    assert "default: loopback only" in serve_help


def main_help(command: str) -> str:
    """The help text of one CLI command."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), pytest.raises(SystemExit):
        main([command, "--help"])
    return buffer.getvalue()
