"""A browser that stops reading must not grow the server's memory or hold up the others.

The stalled client here is a real websocket that completes the Socket.IO handshake and then
reads nothing, with a tiny receive buffer so the kernel can't absorb the backlog for it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import websocket

from tests.conftest import Server, wait_until

pytestmark = pytest.mark.e2e

QUEUE_LIMIT = 5
BUSY_RATE = 300  # random trades per second per pair: a few hundred kB/s of batches


@pytest.fixture
def stalled_client() -> Iterator[Any]:
    """Open a Socket.IO connection that will be left unread; closed after the test.

    It still sends a pong every second, unasked, as a client on a slow link still answers the
    server's pings (late): so the server's ping timeout (10 s) never ends it, and what the test
    sees is the guard's doing."""
    opened: list[websocket.WebSocket] = []
    done = threading.Event()

    def keep_answering(ws: websocket.WebSocket) -> None:
        while not done.wait(1.0):
            try:
                ws.send("3")  # Engine.IO pong
            except (OSError, websocket.WebSocketException):
                return

    def connect(server: Server) -> websocket.WebSocket:
        url = server.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        ws = websocket.create_connection(
            url, timeout=10, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
        assert ws.recv().startswith("0{")  # Engine.IO open
        ws.send("40")  # Socket.IO connect, default namespace
        assert ws.recv().startswith("40{")
        opened.append(ws)
        threading.Thread(target=keep_answering, args=(ws,), daemon=True).start()
        return ws

    yield connect
    done.set()
    for ws in opened:
        # dropped without a close frame, as a frozen tab's connection goes: answering a close
        # frame while the server's writer is blocked on this very socket trips simple-websocket
        # under gevent (its reader and writer then wait on one socket: ConcurrentObjectUseError,
        # logged by the server, which carries on; see the README's Tests section)
        ws.shutdown()


def busy_market(simulator: Any) -> None:
    for exchange in ("bitfinex", "coinbase"):
        simulator.control(f"{exchange}/rate", value=BUSY_RATE)


def guard(server: Server) -> dict[str, int]:
    return server.health()["clients"]


def test_a_stalled_client_is_resynced_then_disconnected_while_others_stream(
        simulator, server_on_simulator, socket_client, stalled_client):
    server = server_on_simulator(CLIENT_QUEUE_LIMIT=str(QUEUE_LIMIT))
    reader = socket_client(server)
    reader.wait_for("status", exchange="coinbase", pair="ETH-USD", state="live")
    stalled_client(server)
    busy_market(simulator)

    wait_until(lambda: guard(server)["resyncs"] >= 1, timeout=20, message="a resync")
    wait_until(lambda: guard(server)["disconnects"] >= 1, timeout=20, message="a disconnect")
    output = server.process.output()
    assert "slow client resynchronized" in output
    assert "slow client disconnected" in output and "3 resyncs in 30 s" in output
    wait_until(lambda: guard(server)["connected"] == 1, message="the stalled client gone")

    # the reading client was never dropped and is still streaming now
    before = len(reader.of("trade"))
    wait_until(lambda: len(reader.of("trade")) > before + 50, timeout=5,
               message="the reading client still receiving trades")
    assert guard(server)["resyncs"] + guard(server)["disconnects"] >= 2


def test_a_resynced_client_that_reads_again_gets_the_current_snapshot(
        simulator, server_on_simulator, stalled_client):
    server = server_on_simulator(CLIENT_QUEUE_LIMIT=str(QUEUE_LIMIT))
    ws = stalled_client(server)
    busy_market(simulator)
    wait_until(lambda: guard(server)["resyncs"] >= 1, timeout=20, message="a resync")
    for exchange in ("bitfinex", "coinbase"):
        simulator.control(f"{exchange}/rate", value=0)

    # reading again: whatever the kernel still held, then the snapshot the guard sent, whose
    # status list names every feed (live batches carry statuses only when one changes)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        frame = ws.recv()
        if frame.startswith('42["status"') and '"pair":"BTC-USD"' in frame:
            assert '"exchange":"bitfinex"' in frame and '"exchange":"coinbase"' in frame
            break
    else:
        pytest.fail("no snapshot after the resync")
    assert guard(server)["connected"] == 1
