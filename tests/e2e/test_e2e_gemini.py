"""Gemini end to end: the real ``server.py`` against the simulated Gemini (websocket and REST),
seen by a real Socket.IO client. One server for the whole story, to keep the module short."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import EventLog, Server, Simulator, wait_until

pytestmark = pytest.mark.e2e

UNLISTED = {  # whichever check gets there first: the instrument list, or the subscribe
    "SOL-EUR is not listed on gemini; did you mean SOL-USD?",
    "Invalid stream name: soleur@bookTicker (code -1013)",
}


def gemini_pings(server: Server) -> int:
    return sum(c["pings"] for c in server.health()["feeds"]["gemini"]["connections"])


def test_gemini_streams_exact_values_keeps_a_quiet_feed_alive_and_recovers(
        simulator: Simulator, start_server, socket_client):
    server = start_server({
        "EXCHANGES": "gemini", "PAIRS": "BTC-USD,SOL-EUR", "FEED_TIMEOUT": "3",
        "GEMINI_WS_URL": simulator.ws_url("gemini"),
        "GEMINI_REST_URL": simulator.http + "/gemini",
    })
    log: EventLog = socket_client(server)
    log.wait_for("status", exchange="gemini", pair="BTC-USD", state="live")

    # a pair Gemini doesn't list is an error with a helpful reason; BTC-USD goes on
    error = log.wait_for("status", exchange="gemini", pair="SOL-EUR", state="error")
    assert error["detail"] in UNLISTED

    # the REST snapshot fills the page before anything trades: /v1/pubticker and /v1/trades
    market = simulator.control("gemini/market", pair="BTC-USD")["state"]
    seeded = log.wait_for("ticker", exchange="gemini", pair="BTC-USD", last=market["last"])
    assert (seeded["bid"], seeded["ask"], seeded["volume_24h"], seeded["symbol"]) == (
        market["bid"], market["ask"], market["volume_24h"], "btcusd")
    log.wait_for("trade", exchange="gemini", id=str(market["last_trade_id"]))

    # exact values, as Gemini pads them, and the taker's side
    simulator.control("gemini/trade", pair="BTC-USD", price="43210.5", amount="0.00012",
                      side="sell")
    trade = log.wait_for("trade", exchange="gemini", price="43210.50")
    assert {k: trade[k] for k in ("pair", "symbol", "amount", "side")} == {
        "pair": "BTC-USD", "symbol": "btcusd", "amount": "0.00012000", "side": "sell"}
    assert trade["time"].endswith("Z") and len(trade["time"]) == 24
    simulator.control("gemini/ticker", pair="BTC-USD", bid="43200.1", ask="43220.9")
    ticker = log.wait_for("ticker", exchange="gemini", pair="BTC-USD", bid="43200.10")
    assert (ticker["ask"], ticker["last"]) == ("43220.90", "43210.50")

    # a book ticker with an empty bid (seen in production) keeps the bid the page knew
    frame = {"u": 1, "E": time.time_ns(), "s": "btcusd", "b": "", "B": "", "a": "43221.00",
             "A": "1.00000000"}
    simulator.control("gemini/send", text=json.dumps(frame))
    ticker = log.wait_for("ticker", exchange="gemini", pair="BTC-USD", ask="43221.00")
    assert (ticker["bid"], ticker["last"]) == ("43200.10", "43210.50")

    # quiet for longer than FEED_TIMEOUT: the answered pings (every 1 s here) keep it live
    pings = gemini_pings(server)
    wait_until(lambda: gemini_pings(server) >= pings + 4, timeout=8, message="four more pings")
    feed = server.health()["feeds"]["gemini"]
    assert (feed["state"], feed["reconnects"], feed["malformed"]) == ("live", 0, 0)
    assert not log.of("status", exchange="gemini", state="stale")

    # a dropped connection is retried and the page is told
    simulator.control("gemini/drop")
    status = log.wait_for("status", exchange="gemini", pair=None, state="reconnecting")
    assert "retrying in" in status["detail"]
    live = len(log.of("status", exchange="gemini", pair=None, state="live"))
    wait_until(lambda: len(log.of("status", exchange="gemini", pair=None, state="live")) > live,
               message="live again")
    simulator.control("gemini/trade", pair="BTC-USD", price="43199.99", amount="2",
                      side="buy")
    trade = log.wait_for("trade", exchange="gemini", price="43199.99")
    assert (trade["amount"], trade["side"]) == ("2.00000000", "buy")
    assert server.health()["feeds"]["gemini"]["reconnects"] == 1
