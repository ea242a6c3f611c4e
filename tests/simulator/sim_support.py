"""Helpers for the simulator's tests: a fixed clock, and a handle on a live simulator process.

Kept out of ``conftest.py`` (which only declares fixtures) so test modules can import them by
a name no other test folder uses.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import websocket

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
HEARTBEAT_INTERVAL = 0.5
SUBSCRIBE_TIMEOUT = 0.5


def fixed_clock() -> datetime:
    return T0


def start_simulator(
    *extra: str, stdin: int | None = subprocess.DEVNULL
) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m simulator`` on a free port; return the process and its ws:// URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", *extra],
        cwd=REPO,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # the process prints this line as soon as it is bound
    if not line:
        process.kill()
        _, err = process.communicate(timeout=5)
        pytest.fail(f"simulator printed no URL; stderr:\n{err}")
    return process, json.loads(line)["url"]


def stop_simulator(process: subprocess.Popen[str]) -> str:
    """SIGTERM the simulator; fail unless it exits 0 without a traceback. Returns its stderr."""
    process.terminate()
    try:
        _, err = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        pytest.fail(f"simulator ignored SIGTERM; stderr:\n{err}")
    assert process.returncode == 0, err
    assert "Traceback" not in err, err
    return err


@dataclass
class Simulator:
    """A running simulator process and helpers to drive it."""

    url: str
    sockets: list[websocket.WebSocket] = field(default_factory=list)

    @property
    def http(self) -> str:
        return self.url.replace("ws://", "http://", 1)

    def control(self, path: str, **params: str) -> tuple[int, dict[str, Any]]:
        """GET ``/control/<path>?<params>``; returns (status, JSON body) for 2xx and 4xx alike."""
        query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        url = f"{self.http}/control/{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def ok(self, path: str, **params: str) -> dict[str, Any]:
        status, body = self.control(path, **params)
        assert status == 200, body
        return body

    def connect(self, exchange: str) -> websocket.WebSocket:
        """Open a websocket to ``/<exchange>``; closed by the fixture after the test."""
        ws = websocket.create_connection(f"{self.url}/{exchange}", timeout=3)
        self.sockets.append(ws)
        return ws

    def close_all(self) -> None:
        for ws in self.sockets:
            ws.close(timeout=0.5)  # a no-op if the server closed first...
            ws.shutdown()  # ...so release the TCP socket in every case
        self.sockets.clear()
        # wait until the server has forgotten them, so stats and drops start clean
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            stats = self.ok("stats")
            if all(exchange["connections"] == 0 for exchange in stats.values()):
                return
            time.sleep(0.02)


def recv_json(ws: websocket.WebSocket, *, skip_heartbeats: bool = True) -> Any:
    """The next frame, decoded; Bitfinex ``[chanId,"hb"]`` frames are skipped unless asked."""
    while True:
        frame = json.loads(ws.recv())
        if skip_heartbeats and isinstance(frame, list) and frame[1:] == ["hb"]:
            continue
        return frame


def recv_text(ws: websocket.WebSocket) -> str:
    """The next frame's raw text, Bitfinex heartbeats skipped."""
    while True:
        text = ws.recv()
        if not (text.startswith("[") and text.endswith(',"hb"]')):
            return text
