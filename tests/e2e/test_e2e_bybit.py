"""Bybit end to end: the real ``server.py`` against the simulated Bybit V5 spot feed and REST
API, seen by a real Socket.IO client; and ``server.py snapshot --exchange bybit``.

One server start covers it all, in the order a connection lives: subscribe (a good pair streams
while an unlisted one is reported), exact values through the merged top of book, the keepalive
ping 20 s after connecting, then a dropped connection resubscribed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, EventLog, Server, Simulator, base_env, wait_until

pytestmark = pytest.mark.e2e

PING_INTERVAL = 20.0  # Bybit: "send the ping heartbeat packet every 20 seconds"
# the listener pings at least twice per FEED_TIMEOUT: a short one makes the test quick
FEED_TIMEOUT = 6.0
KEEPALIVE = min(PING_INTERVAL, FEED_TIMEOUT / 2)


def bybit_env(simulator: Simulator) -> dict[str, str]:
    return {"EXCHANGES": "bybit", "BYBIT_WS_URL": simulator.ws_url("bybit"),
            "BYBIT_REST_URL": f"{simulator.http}/bybit"}


def bybit_health(server: Server) -> dict[str, Any]:
    return server.health()["feeds"]["bybit"]


def test_bybit_streams_exact_values_pings_and_resubscribes(
        simulator: Simulator, start_server: Callable[..., Server],
        socket_client: Callable[[Server], EventLog]):
    started = time.monotonic()  # the listener's connection opens after this
    server = start_server({**bybit_env(simulator), "PAIRS": "BTC-USDT,ETH-USDT,BTC-USD",
                           "FEED_TIMEOUT": str(FEED_TIMEOUT)})
    log = socket_client(server)
    for pair in ("BTC-USDT", "ETH-USDT"):
        log.wait_for("status", exchange="bybit", pair=pair, state="live")

    # an unlisted pair is an error: Bybit refuses its request, and the instrument list (which
    # may come first or after) names what is listed instead
    wait_until(lambda: [status for status in log.of("status", exchange="bybit", pair="BTC-USD")
                        if status["state"] == "error" and status["detail"].startswith(
                            "BTC-USD is not listed on bybit; did you mean BTC-USDT?")])

    # the book (orderbook.1) and the REST ticker's last price and 24 h statistics, merged
    quote = simulator.control("bybit/ticker", pair="ETH-USDT", bid="2300.10", ask="2300.30",
                              bid_size="1.5", ask_size="0.25")["state"]
    ticker = log.wait_for("ticker", exchange="bybit", pair="ETH-USDT", bid="2300.10")
    assert {key: ticker[key] for key in ("symbol", "bid", "ask", "bid_size", "ask_size", "last",
                                         "volume_24h", "open_24h", "high_24h", "low_24h")} == {
        "symbol": "ETHUSDT", "bid": "2300.10", "ask": "2300.30", "bid_size": "1.5",
        "ask_size": "0.25", "last": quote["last"], "volume_24h": quote["volume_24h"],
        "open_24h": quote["open_24h"], "high_24h": quote["high_24h"],
        "low_24h": quote["low_24h"]}

    # a trade (publicTrade, S = the taker's side) is shown once, and becomes the last price
    sold = simulator.control("bybit/trade", pair="BTC-USDT", price="43210.5", amount="0.00012",
                             side="sell")
    trade = log.wait_for("trade", exchange="bybit", id=str(sold["trade_id"]))
    assert {key: trade[key] for key in ("pair", "symbol", "price", "amount", "side")} == {
        "pair": "BTC-USDT", "symbol": "BTCUSDT", "price": "43210.5", "amount": "0.00012",
        "side": "sell"}
    ticker = log.wait_for("ticker", exchange="bybit", pair="BTC-USDT", last="43210.5")
    assert (ticker["bid"], ticker["ask"]) == (sold["state"]["bid"], sold["state"]["ask"])
    wait_until(lambda: len(log.of("trade", id=str(sold["trade_id"]))) == 1)

    # the keepalive: {"op":"ping"} every KEEPALIVE, each answered by a pong (one frame each);
    # the market is quiet (--rate 0), so pongs are all the simulator sends
    def pings() -> int:
        return bybit_health(server)["connections"][0]["pings"]

    wait_until(lambda: pings() >= 1, timeout=KEEPALIVE + 5, message="the first ping")
    assert time.monotonic() - started >= KEEPALIVE
    before, sent = pings(), simulator.control("stats")["bybit"]["frames_sent"]
    wait_until(lambda: pings() == before + 1, timeout=KEEPALIVE + 5, message="the next ping")
    wait_until(lambda: simulator.control("stats")["bybit"]["frames_sent"] >= sent + 1,
               message="its pong")
    assert simulator.control("stats")["bybit"]["pings"] >= before + 1  # as the exchange saw them

    # a dropped connection: reconnecting, then live again with both topics subscribed anew
    live = len(log.of("status", exchange="bybit", pair=None, state="live"))
    simulator.control("bybit/drop")
    status = log.wait_for("status", exchange="bybit", pair=None, state="reconnecting")
    assert "retrying in" in status["detail"]
    wait_until(lambda: len(log.of("status", exchange="bybit", pair=None, state="live")) > live,
               message="live again")
    wait_until(lambda: simulator.control("stats")["bybit"]["channels"] == {
        "orderbook.1": ["BTC-USDT", "ETH-USDT"], "publicTrade": ["BTC-USDT", "ETH-USDT"]},
        message="both pairs subscribed again")
    bought = simulator.control("bybit/trade", pair="ETH-USDT", price="2301.5", amount="2",
                               side="buy")
    trade = log.wait_for("trade", exchange="bybit", id=str(bought["trade_id"]))
    assert (trade["side"], trade["price"], trade["amount"]) == ("buy", "2301.5", "2")
    health = bybit_health(server)
    assert (health["reconnects"], health["malformed"]) == (1, 0)


def test_snapshot_command_reads_bybits_rest_api(simulator: Simulator, tmp_path: Path):
    bought = simulator.control("bybit/trade", pair="SOL-USDT", price="98.07", amount="3.5",
                               side="buy")
    sold = simulator.control("bybit/trade", pair="SOL-USDT", price="98.01", amount="0.25",
                             side="sell")
    result = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "snapshot", "--exchange", "bybit",
         "--trades", "2", "sol/usdt", "FOO-USDT"],
        cwd=tmp_path, env={**base_env(), **bybit_env(simulator)}, capture_output=True,
        text=True, timeout=60)
    assert (result.returncode, result.stderr) == (
        2, "server.py snapshot: bybit 'FOO-USDT': Not supported symbols (retCode 10001)\n")
    output = json.loads(result.stdout)
    state = sold["state"]
    row = {"exchange": "bybit", "symbol": "SOLUSDT", "pair": "SOL-USDT"}
    (ticker,) = output["tickers"]
    assert {key: ticker[key] for key in ("exchange", "symbol", "pair", "price", "volume", "bid",
                                         "ask")} == {
        **row, "price": "98.01", "volume": state["volume_24h"], "bid": state["bid"],
        "ask": state["ask"]}
    assert [{key: trade[key] for key in ("exchange", "symbol", "pair", "price", "volume",
                                         "is_buy")} for trade in output["trades"]] == [
        {**row, "price": "98.07", "volume": "3.5", "is_buy": True},
        {**row, "price": "98.01", "volume": "0.25", "is_buy": False},
    ]
    assert output["trades"][0]["datetime"] == bought["time"][:23] + "Z"
