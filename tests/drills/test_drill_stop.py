"""Drill: SIGTERM (``systemctl stop``, a container stop) or SIGINT (Ctrl-C) while streaming.

The server must stop its listeners, write everything it published to the database, close the
browsers' connections cleanly and exit 0 within 5 s. The simulator streams a few hundred
records a second into a real SQLite file; a Socket.IO client records what reached it. After
the signal: the exit status and time, every trade the client saw is in the database, and the
server's own account (``dashboard stopped ... submitted=S written=W dropped=D``) says that
everything handed to storage was written, which the database's row count confirms.

The demo (``server.py --demo``, a simulator child) gets a terminal's Ctrl-C: SIGINT to the
whole process group. It used to end with ``Fatal Python error: _enter_buffered_busy`` in 4
of 8 tries, from the child's stdin thread.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import socketio

from tests.conftest import ROOT, base_env, free_port, start_simulator, wait_until
from tests.drills.conftest import launch

pytestmark = [pytest.mark.drill, pytest.mark.e2e]

STOP_WITHIN = 5.0
RATE = "40"  # random trades per second per subscribed pair: 4 feeds, ~160 trades/s


class Recorder:
    """A Socket.IO client that keeps every trade and notices the server's close."""

    def __init__(self, url: str) -> None:
        self.trades: list[dict[str, Any]] = []
        self.closed_at: float | None = None
        self.client = socketio.Client(reconnection=False)
        self.client.on("trade", self.trades.extend)
        self.client.on("disconnect", self._closed)
        self.client.connect(url, transports=["websocket"], wait_timeout=10)

    def _closed(self, *args: Any) -> None:
        self.closed_at = time.monotonic()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_while_streaming_loses_nothing(tmp_path, signum):
    sim = start_simulator(tmp_path, "--rate", RATE, "--seed", "11")
    database = tmp_path / "stop.db"
    try:
        server = launch(tmp_path, {
            "EXCHANGES": "bitfinex,coinbase", "PAIRS": "BTC-USD,ETH-USD",
            "BITFINEX_WS_URL": sim.ws_url("bitfinex"), "COINBASE_WS_URL": sim.ws_url("coinbase"),
            "DATABASE_URL": f"sqlite:///{database}", "FLUSH_MS": "50"})
        recorder = Recorder(server.url)
        wait_until(lambda: len(recorder.trades) >= 300, timeout=30,
                   message="300 trades streaming")
        popen = server.process.popen
        signalled = time.monotonic()
        popen.send_signal(signum)
        popen.wait(STOP_WITHIN + 5)
        took = time.monotonic() - signalled
        seen = list(recorder.trades)
    finally:
        sim.process.stop()
    output = server.process.output()
    assert popen.returncode == 0, output[-3000:]
    assert took <= STOP_WITHIN, f"exit took {took:.2f} s"
    assert "Traceback" not in output
    assert f"stopping signal={signal.Signals(signum).name}" in output
    # the browser was told: a close, not a connection that just went silent
    wait_until(lambda: recorder.closed_at is not None, timeout=5, message="the client closed")
    assert recorder.closed_at is not None and recorder.closed_at - signalled <= STOP_WITHIN

    account = re.search(r"dashboard stopped after=\S+ browsers=(\d+) submitted=(\d+) "
                        r"written=(\d+) dropped=(\d+)", output)
    assert account, output[-3000:]
    browsers, submitted, written, dropped = map(int, account.groups())
    assert browsers == 1 and dropped == 0 and submitted == written > len(seen)

    with sqlite3.connect(database) as db:
        stored = {(e, p, i) for e, p, i in db.execute(
            "SELECT exchange, pair, trade_id FROM trades")}
        rows = db.execute("SELECT (SELECT count(*) FROM trades) + "
                          "(SELECT count(*) FROM tickers)").fetchone()[0]
    missing = [t for t in seen if (t["exchange"], t["pair"], t["id"]) not in stored]
    assert not missing, f"{len(missing)} of {len(seen)} trades seen by the client not stored"
    assert rows == written
    print(f"{signal.Signals(signum).name}: exit 0 after {took:.2f} s; client saw {len(seen)} "
          f"trades, server wrote {written} records, dropped {dropped}")


def test_ctrl_c_on_the_demo_stops_it_and_its_simulator_cleanly(tmp_path):
    """A terminal's Ctrl-C: SIGINT to the process group of ``server.py --demo``, 3 times; the
    last run with ``LOG_FORMAT=json``, which the simulator child's lines follow too."""
    for attempt in range(3):
        port = free_port()
        log_path = tmp_path / f"demo-{attempt}.log"
        env = {**base_env(), "PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path}/d.db",
               "LOG_FORMAT": "json" if attempt == 2 else "text"}
        popen = subprocess.Popen([sys.executable, str(ROOT / "server.py"), "--demo"],
                                 cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                                 stdout=log_path.open("w"), stderr=subprocess.STDOUT,
                                 start_new_session=True)
        try:
            wait_until(lambda path=log_path: "dashboard on http" in path.read_text(),
                       timeout=20, message="the demo to start")
            children = _children(popen.pid)
            assert children, "no simulator child"
            time.sleep(0.3 * attempt)  # vary the moment within the run, as a person would
            signalled = time.monotonic()
            os.killpg(popen.pid, signal.SIGINT)
            popen.wait(STOP_WITHIN + 5)
            took = time.monotonic() - signalled
            wait_until(lambda pids=children: not any(_alive(pid) for pid in pids), timeout=5,
                       message="the simulator child gone")
        finally:
            if popen.poll() is None:
                os.killpg(popen.pid, signal.SIGKILL)
                popen.wait()
        output = log_path.read_text()
        assert popen.returncode == 0, output[-3000:]
        assert took <= STOP_WITHIN
        assert "Fatal Python error" not in output and "Traceback" not in output, output
    entries = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert {entry["logger"].split(".")[0] for entry in entries} >= {"simulator", "dashboard"}


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
