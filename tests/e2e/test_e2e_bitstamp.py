"""Bitstamp end to end: the real ``server.py`` against the simulated Bitstamp WebSocket API v2 and
REST API, seen by a real Socket.IO client; and ``server.py snapshot --exchange bitstamp``.

One server start covers it all, in the order a connection lives: subscribe (good pairs stream
while an unlisted one, acked and silent on the websocket, is reported from the instrument list),
the REST ticker merged with the book and the trades, the ``bts:heartbeat`` keepalive on its
schedule, then a ``bts:request_reconnect`` and a dropped connection, each resubscribed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from exchanges.bitstamp import Bitstamp
from tests.conftest import ROOT, EventLog, Server, Simulator, base_env, wait_until

pytestmark = pytest.mark.e2e

FEED_TIMEOUT = 8.0  # short, so the keepalive comes soon
# a bts:heartbeat every 20 s (a quiet book can be silent ~50 s), or every FEED_TIMEOUT / 2 if
# sooner, so the answers alone keep the silence watchdog fed: 4 s here
KEEPALIVE = Bitstamp([], print, feed_timeout=FEED_TIMEOUT).keepalive_interval()
STATS = ("last", "volume_24h", "open_24h", "high_24h", "low_24h")


def bitstamp_env(simulator: Simulator) -> dict[str, str]:
    return {"EXCHANGES": "bitstamp", "BITSTAMP_WS_URL": simulator.ws_url("bitstamp"),
            "BITSTAMP_REST_URL": f"{simulator.http}/bitstamp"}


def bitstamp_health(server: Server) -> dict[str, Any]:
    return server.health()["feeds"]["bitstamp"]


def exchange_live(log: EventLog) -> int:
    return len(log.of("status", exchange="bitstamp", pair=None, state="live"))


def test_bitstamp_streams_exact_values_heartbeats_and_reconnects(
        simulator: Simulator, start_server: Callable[..., Server],
        socket_client: Callable[[Server], EventLog]):
    assert KEEPALIVE == 4.0
    server = start_server({**bitstamp_env(simulator), "PAIRS": "BTC-USD,ETH-EUR,BTC-GBP",
                           "FEED_TIMEOUT": str(FEED_TIMEOUT)})
    log = socket_client(server)
    for pair in ("BTC-USD", "ETH-EUR"):
        log.wait_for("status", exchange="bitstamp", pair=pair, state="live")

    # btcgbp is acked and then silent on the websocket: the instrument list names it unlisted
    error = log.wait_for("status", exchange="bitstamp", pair="BTC-GBP", state="error")
    assert error["detail"] == "BTC-GBP is not listed on bitstamp; did you mean BTC-EUR?"

    # no book is sent on subscribing: the REST ticker seeds bid, ask, last and the 24 h stats
    state = simulator.control("bitstamp/market", pair="ETH-EUR")["state"]
    seeded = log.wait_for("ticker", exchange="bitstamp", pair="ETH-EUR")
    assert {key: Decimal(seeded[key]) for key in ("bid", "ask", *STATS)} == {
        key: Decimal(state[key]) for key in ("bid", "ask", *STATS)}
    assert seeded["bid_size"] is None  # the REST ticker has no sizes

    # a book change (order_book_etheur): the new top of book, exactly as Bitstamp writes it
    simulator.control("bitstamp/ticker", pair="ETH-EUR", bid="2100.1", ask="2100.3",
                      bid_size="1.5", ask_size="0.25")
    ticker = log.wait_for("ticker", exchange="bitstamp", pair="ETH-EUR", bid="2100.10")
    assert {key: ticker[key] for key in ("symbol", "bid", "ask", "bid_size", "ask_size",
                                         *STATS)} == {
        "symbol": "etheur", "bid": "2100.10", "ask": "2100.30", "bid_size": "1.50000000",
        "ask_size": "0.25000000", **{key: seeded[key] for key in STATS}}

    # a trade (live_trades_btcusd, type 1: a taker sell) is shown once and is the last price
    sold = simulator.control("bitstamp/trade", pair="BTC-USD", price="40000.1",
                             amount="0.00012", side="sell")
    trade = log.wait_for("trade", exchange="bitstamp", id=str(sold["trade_id"]))
    assert {key: trade[key] for key in ("pair", "symbol", "price", "amount", "side")} == {
        "pair": "BTC-USD", "symbol": "btcusd", "price": "40000.10", "amount": "0.00012000",
        "side": "sell"}
    assert trade["time"] == sold["time"][:23] + "Z"  # microtimestamp, shown to the ms
    # the sell went through the bid, so the book moved too
    ticker = log.wait_for("ticker", exchange="bitstamp", pair="BTC-USD", last="40000.10",
                          bid="40000.10")
    assert ticker["ask"] == f"{Decimal(sold['state']['ask']):.2f}"
    wait_until(lambda: len(log.of("trade", id=str(sold["trade_id"]))) == 1)

    # the keepalive: {"event":"bts:heartbeat"} KEEPALIVE after connecting, answered (one frame)
    sent = simulator.control("stats")["bitstamp"]["frames_sent"]
    assert bitstamp_health(server)["connections"][0]["pings"] == 0
    wait_until(lambda: bitstamp_health(server)["connections"][0]["pings"] == 1,
               timeout=KEEPALIVE + 5, message="the first heartbeat")
    # the connection went live on its first frame, just after it opened (and the clock started)
    live_at = log.of("status", exchange="bitstamp", pair=None, state="live")[0]["time"]
    after = (datetime.now(UTC) - datetime.fromisoformat(live_at)).total_seconds()
    assert KEEPALIVE - 1 <= after <= KEEPALIVE + 3
    wait_until(lambda: simulator.control("stats")["bitstamp"]["frames_sent"] == sent + 1,
               message="the heartbeat's answer")

    # bts:request_reconnect: the listener reconnects at once and subscribes both pairs anew
    live = exchange_live(log)
    assert simulator.control("bitstamp/reconnect")["sent_to"] == 1
    status = log.wait_for("status", exchange="bitstamp", pair=None, state="reconnecting")
    assert status["detail"].startswith(
        "ReconnectRequested: Bitstamp asked for a reconnect (bts:request_reconnect); retrying in")
    wait_until(lambda: exchange_live(log) > live, message="live after the reconnect request")

    # a dropped connection: reconnecting, then live again with both pairs' channels
    live = exchange_live(log)
    simulator.control("bitstamp/drop")
    wait_until(lambda: len(log.of("status", exchange="bitstamp", pair=None,
                                  state="reconnecting")) == 2, message="reconnecting")
    wait_until(lambda: exchange_live(log) > live, message="live again")
    wait_until(lambda: simulator.control("stats")["bitstamp"]["channels"] == {
        "live_trades": ["BTC-USD", "ETH-EUR"], "order_book": ["BTC-USD", "ETH-EUR"]},
        message="both pairs subscribed again")
    bought = simulator.control("bitstamp/trade", pair="ETH-EUR", price="2100.3", amount="2",
                               side="buy")
    trade = log.wait_for("trade", exchange="bitstamp", id=str(bought["trade_id"]))
    assert (trade["side"], trade["price"], trade["amount"]) == ("buy", "2100.30", "2.00000000")
    health = bitstamp_health(server)
    assert (health["reconnects"], health["malformed"]) == (2, 0)


def test_snapshot_command_reads_bitstamps_rest_api(simulator: Simulator, tmp_path: Path):
    bought = simulator.control("bitstamp/trade", pair="SOL-EUR", price="90.17", amount="3.5",
                               side="buy")
    sold = simulator.control("bitstamp/trade", pair="SOL-EUR", price="90.11", amount="0.25",
                             side="sell")
    result = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "snapshot", "--exchange", "bitstamp",
         "--trades", "2", "sol/eur", "FOO-USD"],
        cwd=tmp_path, env={**base_env(), **bitstamp_env(simulator)}, capture_output=True,
        text=True, timeout=60)
    assert (result.returncode, result.stderr) == (
        2, "server.py snapshot: bitstamp 'FOO-USD': Not found (HTTP 404)\n")
    output = json.loads(result.stdout)
    state = sold["state"]
    row = {"exchange": "bitstamp", "symbol": "soleur", "pair": "SOL-EUR"}
    (ticker,) = output["tickers"]
    assert {key: ticker[key] for key in ("exchange", "symbol", "pair", "price", "volume", "bid",
                                         "ask")} == {
        **row, "price": "90.11", "volume": f"{Decimal(state['volume_24h']):.8f}",
        "bid": f"{Decimal(state['bid']):.2f}", "ask": f"{Decimal(state['ask']):.2f}"}
    assert [{key: trade[key] for key in ("exchange", "symbol", "pair", "price", "volume",
                                         "is_buy")} for trade in output["trades"]] == [
        {**row, "price": "90.17", "volume": "3.50000000", "is_buy": True},
        {**row, "price": "90.11", "volume": "0.25000000", "is_buy": False},
    ]
    # Transactions give whole seconds
    assert output["trades"][0]["datetime"] == bought["time"][:19] + ".000Z"
