"""Drill: a hostile browser. Clients only listen; nothing they send may reach the feeds,
storage or other browsers.

A raw Socket.IO client sends every kind of packet a client can: events under our own event
names (``trade``, ``ticker``), made-up ones (``subscribe``), plain messages, acks for ids never
sent, binary events, a connect to another namespace, a connect auth that is not ``{"after":
seq}``, and a message over the size limit. The server must ignore and count the events
(``clients.ignored_events``, ``clients.invalid_auth`` in ``/healthz``), refuse the namespace,
close the oversized sender, log one line for all of it, subscribe nothing new, store nothing,
and send the well-behaved browser nothing but the stream.
"""

from __future__ import annotations

import json
import time

import pytest
import websocket

from tests.conftest import wait_until

pytestmark = [pytest.mark.drill, pytest.mark.e2e]

FAKE_PRICE = "66666.6"
FAKE_TRADE = {"exchange": "coinbase", "pair": "BTC-USD", "symbol": "BTC-USD",
              "time": "2026-11-24T17:42:03.123Z", "id": "1", "price": FAKE_PRICE,
              "amount": "1", "side": "buy", "seq": 1}


def raw_client(server, auth: str = "") -> websocket.WebSocket:
    url = server.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    ws = websocket.create_connection(url, timeout=5)
    assert ws.recv().startswith("0{")
    ws.send("40" + auth)
    assert ws.recv().startswith("40{")
    return ws


def test_nothing_a_client_sends_reaches_feeds_storage_or_others(simulator, server_on_simulator,
                                                                 socket_client):
    server = server_on_simulator(PAIRS="BTC-USD")
    honest = socket_client(server)
    for name in ("bitfinex", "coinbase"):
        honest.wait_for("status", exchange=name, pair="BTC-USD", state="live")
    wait_until(lambda: server.health()["storage"]["buffered"] == 0)
    subscriptions = {name: stats["channels"] for name, stats in simulator.control("stats").items()
                     if name in ("bitfinex", "coinbase")}
    before = server.health()

    hostile = raw_client(server)
    events = [
        ["trade", [FAKE_TRADE]],
        ["ticker", [{**FAKE_TRADE, "bid": FAKE_PRICE, "ask": FAKE_PRICE, "last": FAKE_PRICE}]],
        ["status", [{"exchange": "coinbase", "pair": None, "state": "error", "detail": "x"}]],
        ["subscribe", {"exchange": "coinbase", "pair": "DOGE-USD"}],
        ["message", "hello"],
        ["connect", {"after": 0}],
        ["disconnect"],
    ]
    for event in events:
        hostile.send("42" + json.dumps(event))
    hostile.send('421["subscribe","SOL-USD"]')  # with an ack id
    hostile.send('43999["ack for nothing"]')  # an ack for an id never sent
    hostile.send('451-["trade",{"_placeholder":true,"num":0}]')  # a binary event...
    hostile.send_binary(b"\x00" * 16)  # ...and its attachment
    hostile.send("40/admin,")  # another namespace
    refused = _next_not_event(hostile)
    assert refused.startswith("44/admin,"), refused
    sent_events = len(events) + 2

    odd_auth = raw_client(server, json.dumps({"after": "1; DROP TABLE trades", "x": 1}))
    odd_auth.close()

    oversized = raw_client(server)
    oversized.send("42" + json.dumps(["trade", "x" * 10_000]))
    wait_until(lambda: _closed(oversized), timeout=5, message="the oversized sender closed")

    wait_until(lambda: server.health()["clients"]["ignored_events"] >= sent_events, timeout=5,
               message="the events counted")
    time.sleep(0.5)  # the honest browser would have had a batch by now (FLUSH_MS is 50 ms)
    after = server.health()
    clients = after["clients"]
    assert clients["ignored_events"] == sent_events, clients
    assert clients["invalid_auth"] == 1
    assert after["hub"]["published"] == before["hub"]["published"]
    assert after["storage"]["submitted"] == before["storage"]["submitted"]
    assert not honest.of("trade", price=FAKE_PRICE) and not honest.of("ticker", bid=FAKE_PRICE)
    assert not honest.of("status", state="error")
    now = {name: stats["channels"] for name, stats in simulator.control("stats").items()
           if name in ("bitfinex", "coinbase")}
    assert now == subscriptions
    assert FAKE_PRICE not in json.dumps(_get(server, "/api/trades?limit=5000"))
    # the honest browser still streams, and so does the hostile one (ignored, not punished)
    trade = simulator.control("coinbase/trade", pair="BTC-USD", price="40001.5", amount="1")
    honest.wait_for("trade", id=str(trade["trade_id"]))
    hostile.settimeout(5)
    assert _receives(hostile, "40001.5")
    assert server.health()["clients"]["connected"] == 2  # "connect"/"disconnect" events: no
    hostile.close()
    wait_until(lambda: server.health()["clients"]["connected"] == 1, timeout=5)
    output = server.process.output()
    assert output.count("client input ignored") == 1, output  # one line a minute at most


def _next_not_event(ws: websocket.WebSocket) -> str:
    """The next packet that is not one of our emitted events (a connect's snapshot) or a ping."""
    while True:
        message = ws.recv()
        if message == "2":
            ws.send("3")
        elif not message.startswith("42"):
            return message


def _closed(ws: websocket.WebSocket) -> bool:
    try:
        ws.settimeout(0.2)
        while True:
            ws.recv()
    except websocket.WebSocketTimeoutException:
        return False
    except (websocket.WebSocketConnectionClosedException, OSError):
        return True


def _receives(ws: websocket.WebSocket, text: str) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        message = ws.recv()
        if message == "2":
            ws.send("3")
        elif text in message:
            return True
    return False


def _get(server, path: str):
    import urllib.request

    with urllib.request.urlopen(server.url + path, timeout=5) as response:
        return json.load(response)
