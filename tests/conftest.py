"""Fixtures shared by the end-to-end and browser tests: real processes on loopback.

- ``simulator``: ``python -m simulator`` (the same fake exchanges ``--demo`` uses), quiet market
  (``--rate 0``) so tests inject exact values through its control API.
- ``start_server``: the real ``python server.py`` on a free port with its listeners pointed at
  the simulator; waits for ``/healthz``; on teardown stops it and fails on a non-zero exit or a
  traceback in its output.
- ``socket_client``: a real Socket.IO client (python-socketio) connected to a server.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest
import socketio

from dashboard.settings import setting_names
from exchanges.base import Published
from exchanges.records import FeedState, Status

ROOT = Path(__file__).resolve().parent.parent
# settings a developer's shell or .env might carry into the tests
# (the per-exchange ones, <NAME>_WS_URL, <NAME>_REST_URL and <NAME>_PAIRS, come from the registry)
SETTING_NAMES = ("HOST", "PORT", "EXCHANGES", "PAIRS", "SECRET_KEY", "LOG_LEVEL", "FEED_TIMEOUT",
                 "FLUSH_MS", "MAX_ROWS", "CLIENT_QUEUE_LIMIT", "DATABASE_URL", "RETENTION_DAYS",
                 "MAX_CLIENTS", "FRAME_ANCESTORS", "LOG_FORMAT",
                 "ALERTS_FILE", "ALERT_URLS", "ALERTS_TOKEN",
                 "ASYNC_MODE", "ROLE", "MESSAGE_QUEUE", "MESSAGE_QUEUE_CHANNEL", "COLLECTOR_ID",
                 *(name for suffix in ("WS_URL", "REST_URL", "PAIRS")
                   for name in setting_names(suffix).values()))


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's own settings out of every test."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)


def skip_unless_ci(reason: str) -> NoReturn:
    """Skip a test whose real dependency (Chromium, PostgreSQL) is missing on a developer's
    machine; under CI (``CI`` set and not false) fail instead, so CI never counts a skip."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05,
               message: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {message}")
        time.sleep(interval)


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def e2e_async_mode() -> dict[str, str]:
    """``E2E_ASYNC_MODE=gevent`` runs every server the tests start under gevent (``make test``
    runs tests/e2e a second time so); unset, each runs under its default, eventlet."""
    mode = os.environ.get("E2E_ASYNC_MODE", "").strip()
    return {"ASYNC_MODE": mode} if mode else {}


def base_env() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in SETTING_NAMES}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Process:
    """A child process whose output is collected in a file, for assertions and post-mortems."""

    popen: subprocess.Popen[str]
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        return self.popen.returncode


@dataclass
class Simulator:
    url: str  # ws://127.0.0.1:PORT
    process: Process

    @property
    def http(self) -> str:
        return "http" + self.url.removeprefix("ws")

    def ws_url(self, exchange: str) -> str:
        return f"{self.url}/{exchange}"

    def control(self, path: str, **params: object) -> Any:
        query = urllib.parse.urlencode({k: str(v) for k, v in params.items()})
        return get_json(f"{self.http}/control/{path}" + (f"?{query}" if query else ""))


def start_simulator(tmp_path: Path, *args: str) -> Simulator:
    log_path = tmp_path / f"simulator-{time.monotonic_ns()}.log"
    popen = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", *args],
        cwd=ROOT, env=base_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=log_path.open("w"), text=True,
    )
    line = popen.stdout.readline() if popen.stdout else ""
    if not line:
        popen.kill()
        pytest.fail(f"simulator did not start:\n{log_path.read_text()}")
    return Simulator(json.loads(line)["url"], Process(popen, log_path))


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Simulator]:
    sim = start_simulator(tmp_path, "--rate", "0", "--seed", "7")
    yield sim
    sim.process.stop()


class Collected:
    """What a listener run in the test's process published, safe to read from the test's
    thread (the listener publishes from its own)."""

    def __init__(self) -> None:
        self.records: list[Published] = []
        self._lock = threading.Lock()

    def __call__(self, record: Published) -> None:
        with self._lock:
            self.records.append(record)

    def statuses(self, pair: str | None, state: FeedState) -> list[Status]:
        with self._lock:
            return [r for r in self.records if isinstance(r, Status) and r.pair == pair
                    and r.state is state]


@dataclass
class Server:
    url: str
    process: Process
    env: dict[str, str] = field(default_factory=dict)

    def health(self) -> Any:
        return get_json(f"{self.url}/healthz")


def launch_server(
    tmp_path: Path, env: dict[str, str], *args: str, port: int | None = None
) -> Server:
    port = port or free_port()
    log_path = tmp_path / f"server-{port}-{time.monotonic_ns()}.log"
    full_env = {**base_env(), "PORT": str(port), "LOG_LEVEL": "INFO", **e2e_async_mode(), **env}
    popen = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), *args],
        cwd=tmp_path,  # no developer .env is found from here
        env=full_env, stdin=subprocess.DEVNULL, stdout=log_path.open("w"),
        stderr=subprocess.STDOUT, text=True,
    )
    server = Server(f"http://127.0.0.1:{port}", Process(popen, log_path), full_env)

    def healthy() -> bool:
        if popen.poll() is not None:
            pytest.fail(f"server exited with {popen.returncode}:\n{server.process.output()}")
        try:
            return server.health()["status"] == "ok"
        except OSError:
            return False

    wait_until(healthy, timeout=20, message="the server's /healthz")
    return server


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start ``server.py`` with the given environment; checked and stopped after the test."""
    servers: list[Server] = []

    def start(env: dict[str, str] | None = None, *args: str, port: int | None = None) -> Server:
        server = launch_server(tmp_path, env or {}, *args, port=port)
        servers.append(server)
        return server

    yield start
    for server in servers:
        code = server.process.stop()
        output = server.process.output()
        assert "Traceback" not in output, output
        assert code in (0, -15), f"server exited with {code}:\n{output}"


@pytest.fixture
def server_on_simulator(simulator: Simulator, start_server: Callable[..., Server]
                        ) -> Callable[..., Server]:
    """Start the server with both listeners pointed at the simulator."""

    def start(**env: str) -> Server:
        return start_server({
            "BITFINEX_WS_URL": simulator.ws_url("bitfinex"),
            "COINBASE_WS_URL": simulator.ws_url("coinbase"),
            **env,
        })

    return start


class EventLog:
    """Every Socket.IO event a real client received, flattened to one record per entry."""

    def __init__(self, client: socketio.Client) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []
        for event in ("ticker", "trade", "status"):
            client.on(event, self._collector(event))

    def _collector(self, event: str) -> Callable[[Any], None]:
        def collect(batch: Any) -> None:
            assert isinstance(batch, list), f"{event} payload is not a list: {batch!r}"
            self.records.extend((event, record) for record in batch)

        return collect

    def of(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [record for name, record in list(self.records)
                if name == event and all(record.get(k) == v for k, v in match.items())]

    def wait_for(self, event: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        found = wait_until(lambda: self.of(event, **match), timeout=timeout,
                           message=f"{event} {match}; got {self.records[-5:]}")
        return found[-1]


@pytest.fixture
def socket_client() -> Iterator[Callable[[Server], EventLog]]:
    """Connect a real Socket.IO client (websocket transport) and log what it receives."""
    clients: list[socketio.Client] = []

    def connect(server: Server, auth: dict[str, Any] | None = None) -> EventLog:
        client = socketio.Client(reconnection=False)
        log = EventLog(client)
        client.connect(server.url, transports=["websocket"], wait_timeout=10, auth=auth)
        clients.append(client)
        return log

    yield connect
    for client in clients:
        client.disconnect()
