"""Binance and Binance.US: the real ``server.py`` against the simulated venues, seen by a real
Socket.IO client. Three server starts: the defaults with exact injected values, a REST snapshot
and a dropped connection; then the refusals (instrument check, ack timeout), the taker's side of
random trades and a ``serverShutdown``; then the venues' protocol pings, answered.

The module's simulator sends its protocol pings every ``PING_INTERVAL`` seconds (the real
venues: 20 s and 3 minutes), so every test runs with pings that must be answered in time.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Simulator, get_json, start_simulator, wait_until

pytestmark = pytest.mark.e2e

PING_INTERVAL = 0.25  # --protocol-ping-interval
PONG_TIMEOUT = 2.0  # --pong-timeout: generous, the listener answers within milliseconds


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Simulator]:
    """The conftest's quiet simulator, with fast protocol pings on both venues."""
    sim = start_simulator(tmp_path, "--rate", "0", "--seed", "7",
                          "--protocol-ping-interval", str(PING_INTERVAL),
                          "--pong-timeout", str(PONG_TIMEOUT))
    yield sim
    sim.process.stop()


def on_simulator(simulator: Any) -> dict[str, str]:
    """Both venues' websocket and REST URLs pointed at the simulator."""
    return {f"{name.upper()}_{kind}_URL": simulator.ws_url(name) if kind == "WS"
            else f"{simulator.http}/{name}"
            for name in ("binance", "binanceus") for kind in ("WS", "REST")}


def subscribed(simulator: Any, exchange: str, pair: str) -> bool:
    channels = simulator.control("stats")[exchange]["channels"]
    return pair in channels.get("bookTicker", ()) and pair in channels.get("trade", ())


def padded(text: str) -> str:
    """The 8-decimal text both venues write for a value the simulator holds."""
    return format(Decimal(text).quantize(Decimal("0.00000001")), "f")


def test_defaults_exact_values_snapshot_and_reconnect(simulator, start_server, socket_client):
    server = start_server({
        "EXCHANGES": "binance,binanceus",
        "BINANCEUS_PAIRS": "BTC-USD,ETH-USDT",
        **on_simulator(simulator),
    })
    log = socket_client(server)
    # binance.com lists no USD: its own default pairs are USDT ones
    wait_until(lambda: subscribed(simulator, "binance", "BTC-USDT")
               and subscribed(simulator, "binance", "ETH-USDT"), message="binance subscribed")
    pairs = {(feed["exchange"], feed["pair"], feed["symbol"])
             for feed in get_json(server.url + "/api/pairs")}
    assert {("binance", "BTC-USDT", "BTCUSDT"), ("binance", "ETH-USDT", "ETHUSDT"),
            ("binanceus", "BTC-USD", "BTCUSD")} <= pairs
    error = log.wait_for("status", exchange="binanceus", pair="ETH-USDT", state="error")
    assert error["detail"] == "ETH-USDT is not listed on binanceus; did you mean ETH-USD?"

    # the REST snapshot (24hr ticker) fills the page before any stream data
    state = simulator.control("binanceus/market", pair="BTC-USD")["state"]
    seeded = log.wait_for("ticker", exchange="binanceus", pair="BTC-USD")
    assert {key: seeded[key] for key in ("symbol", "bid", "ask", "last", "volume_24h",
                                         "open_24h", "high_24h", "low_24h")} == {
        "symbol": "BTCUSD", "bid": padded(state["bid"]), "ask": padded(state["ask"]),
        "last": padded(state["last"]), "volume_24h": padded(state["volume_24h"]),
        "open_24h": padded(state["open_24h"]), "high_24h": padded(state["high_24h"]),
        "low_24h": padded(state["low_24h"])}

    # a bookTicker sets bid and ask, a trade the last price; the taker's side is shown
    log.wait_for("ticker", exchange="binance", pair="BTC-USDT")  # the REST snapshot's
    simulator.control("binance/ticker", pair="BTC-USDT", bid="43000.1", ask="43000.2",
                      bid_size="1.5", ask_size="0.00012")
    ticker = log.wait_for("ticker", exchange="binance", pair="BTC-USDT", bid="43000.10000000")
    assert (ticker["ask"], ticker["bid_size"], ticker["ask_size"], ticker["symbol"]) == (
        "43000.20000000", "1.50000000", "0.00012000", "BTCUSDT")
    trade_id = simulator.control("binance/trade", pair="BTC-USDT", price="43000.1",
                                 amount="0.25", side="sell")["trade_id"]
    trade = log.wait_for("trade", exchange="binance", id=str(trade_id))
    assert {key: trade[key] for key in ("pair", "symbol", "price", "amount", "side")} == {
        "pair": "BTC-USDT", "symbol": "BTCUSDT", "price": "43000.10000000",
        "amount": "0.25000000", "side": "sell"}
    ticker = log.wait_for("ticker", exchange="binance", pair="BTC-USDT", last="43000.10000000")
    assert (ticker["bid"], ticker["ask"]) == ("43000.10000000", "43000.20000000")
    log.wait_for("status", exchange="binance", pair="BTC-USDT", state="live")

    # a dropped connection: reconnecting, then live again, subscribed anew
    simulator.control("binance/drop")
    status = log.wait_for("status", exchange="binance", pair=None, state="reconnecting")
    assert "retrying in" in status["detail"]
    live = len(log.of("status", exchange="binance", pair=None, state="live"))
    wait_until(lambda: len(log.of("status", exchange="binance", pair=None, state="live")) > live,
               message="live again")
    wait_until(lambda: subscribed(simulator, "binance", "BTC-USDT"), message="resubscribed")
    simulator.control("binance/trade", pair="BTC-USDT", price="43001", amount="1", side="buy")
    trade = log.wait_for("trade", exchange="binance", price="43001.00000000")
    assert trade["side"] == "buy"
    feed = server.health()["feeds"]["binance"]
    assert (feed["reconnects"], feed["malformed"]) == (1, 0)
    assert [connection["pings"] for connection in feed["connections"]] == [0]  # none to send


def test_refusals_taker_side_and_server_shutdown(simulator, start_server, socket_client):
    for exchange in ("binance", "binanceus"):  # BTC-USD streams by itself; FOO-USD can't
        simulator.control(f"{exchange}/rate", value=4)
    server = start_server({
        "EXCHANGES": "binance,binanceus",
        "BINANCE_PAIRS": "BTC-USDT,BTC-USD",
        "BINANCEUS_PAIRS": "BTC-USD,FOO-USD",
        "FEED_TIMEOUT": "3",
        "BINANCE_WS_URL": simulator.ws_url("binance"),
        "BINANCE_REST_URL": simulator.http + "/binance",
        "BINANCEUS_WS_URL": simulator.ws_url("binanceus"),  # no REST: no instrument check
    })
    log = socket_client(server)
    error = log.wait_for("status", exchange="binance", pair="BTC-USD", state="error")
    assert error["detail"] == "BTC-USD is not listed on binance; did you mean BTC-USDT?"

    # Binance.US acks FOO-USD and then says nothing: the ack timeout (FEED_TIMEOUT) reports it
    error = log.wait_for("status", exchange="binanceus", pair="FOO-USD", state="error")
    assert error["detail"] == "no data for FOO-USD after 3 s: is it listed on binanceus?"
    log.wait_for("status", exchange="binanceus", pair="BTC-USD", state="live")

    # random trades: the side shown is the taker's, as the venue's own REST trades say
    wait_until(lambda: len(log.of("trade", exchange="binanceus", pair="BTC-USD")) >= 4,
               message="four random trades")
    rows = get_json(simulator.http + "/binanceus/api/v3/trades?symbol=BTCUSD&limit=1000")
    by_id = {str(row["id"]): row for row in rows}
    shown = [trade for trade in log.of("trade", exchange="binanceus") if trade["id"] in by_id]
    assert len(shown) >= 4
    for trade in shown:
        row = by_id[trade["id"]]
        assert trade["side"] == ("sell" if row["isBuyerMaker"] else "buy")
        assert (trade["price"], trade["amount"]) == (row["price"], row["qty"])

    # serverShutdown: a new connection at once
    simulator.control("binanceus/shutdown", close_after=5)
    status = log.wait_for("status", exchange="binanceus", pair=None, state="reconnecting")
    assert "serverShutdown" in status["detail"]
    wait_until(lambda: server.health()["feeds"]["binanceus"]["state"] == "live",
               message="binanceus live again")
    assert server.health()["feeds"]["binance"]["state"] == "live"


def test_the_listener_answers_protocol_pings(simulator, start_server):
    """websocket-client answers each ping with its payload inside ``recv_data``: the venues
    count the pongs, time nothing out, and the feeds never reconnect."""
    server = start_server({
        "EXCHANGES": "binance,binanceus",
        "BINANCE_PAIRS": "BTC-USDT",
        "BINANCEUS_PAIRS": "BTC-USD",
        **on_simulator(simulator),
    })
    venues = ("binance", "binanceus")
    wait_until(lambda: all(subscribed(simulator, venue, pair)
                           for venue, pair in zip(venues, ("BTC-USDT", "BTC-USD"), strict=True)),
               message="both venues subscribed")

    def answered(count: int) -> bool:
        stats = simulator.control("stats")
        return all(stats[venue]["protocol_pongs"] >= count for venue in venues)

    # pings answered for longer than a pong deadline (a second past it)
    wait_until(lambda: answered(int((PONG_TIMEOUT + 1) / PING_INTERVAL)), timeout=20,
               message="a pong deadline and more of answered pings on both venues")
    stats = simulator.control("stats")
    health = server.health()["feeds"]
    for venue in venues:
        assert stats[venue]["pong_timeouts"] == 0
        assert stats[venue]["connections"] == 1
        assert stats[venue]["protocol_pings"] - stats[venue]["protocol_pongs"] <= 2  # in flight
        assert (health[venue]["state"], health[venue]["reconnects"]) == ("live", 0)
