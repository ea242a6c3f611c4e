"""The simulator's REST endpoints over real HTTP: same market as the websockets, real refusals."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sim_support import Simulator, recv_json

from simulator.wire import epoch_ms as wire_epoch_ms


def get(sim: Simulator, path: str) -> tuple[int, Any]:
    """GET ``path`` on the simulator; (status, JSON body with exact decimals) for any status."""
    try:
        with urllib.request.urlopen(f"{sim.http}/{path}", timeout=5) as response:
            return response.status, json.loads(response.read(), parse_float=Decimal)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read(), parse_float=Decimal)


def epoch_ms(iso: str) -> int:
    """Bitfinex MTS of a trade whose time the control API gave as Coinbase-style ISO text."""
    return wire_epoch_ms(datetime.fromisoformat(iso))


def test_bitfinex_rest_ticker_is_the_websockets_ticker_array(sim: Simulator):
    ws = sim.connect("bitfinex")
    recv_json(ws)
    ws.send(json.dumps({"event": "subscribe", "channel": "ticker", "symbol": "tETHUSD"}))
    recv_json(ws)  # ack
    ws_ticker = json.loads(ws.recv(), parse_float=Decimal)[1]
    assert get(sim, "bitfinex/v2/ticker/tETHUSD") == (200, ws_ticker)

    quote = sim.ok("bitfinex/ticker", pair="ETH-USD", bid="2300.1", ask="2300.3", last="2300.2")
    status, row = get(sim, "bitfinex/v2/ticker/tETHUSD")
    state = quote["state"]
    assert status == 200 and len(row) == 10
    assert row[:4] == [Decimal("2300.1"), Decimal(state["bid_size"]), Decimal("2300.3"),
                       Decimal(state["ask_size"])]
    assert row[6:] == [Decimal("2300.2"), Decimal(state["volume_24h"]),
                       Decimal(state["high_24h"]), Decimal(state["low_24h"])]


def test_bitfinex_rest_trades_newest_first_with_the_taker_sign(sim: Simulator):
    sold = sim.ok("bitfinex/trade", pair="SOL-USD", price="98.5", amount="2.5", side="sell")
    bought = sim.ok("bitfinex/trade", pair="SOL-USD", price="98.6", amount="0.1", side="buy")
    status, rows = get(sim, "bitfinex/v2/trades/tSOLUSD/hist?limit=2")
    assert status == 200
    assert rows == [
        [bought["trade_id"], epoch_ms(bought["time"]), Decimal("0.1"), Decimal("98.6")],
        [sold["trade_id"], epoch_ms(sold["time"]), Decimal("-2.5"), Decimal("98.5")],
    ]
    assert get(sim, "bitfinex/v2/trades/tSOLUSD/hist?limit=2&sort=1")[1] == rows[::-1]
    assert len(get(sim, "bitfinex/v2/trades/tSOLUSD/hist")[1]) == 30  # all the simulator keeps


@pytest.mark.parametrize(("path", "status", "body"), [
    ("bitfinex/v2/ticker/tFOOBAR", 500, ["error", 10020, "symbol: invalid"]),
    ("bitfinex/v2/ticker/BTCUSD", 500, ["error", 10020, "symbol: invalid"]),
    ("bitfinex/v2/trades/tFOOBAR/hist?limit=5", 200, []),
    ("bitfinex/v2/trades/tBTCUSD/hist?limit=0", 500, ["error", 10020, "limit: invalid"]),
    ("coinbase/products/FOO-BAR/ticker", 404, {"message": "NotFound"}),
    ("coinbase/products/FOO-BAR/trades", 404, {"message": "NotFound"}),
    ("coinbase/products/BTC-USD/candles", 404, {"message": "NotFound"}),
])
def test_unknown_symbols_are_refused_like_the_real_exchanges(sim: Simulator, path: str,
                                                             status: int, body: Any):
    assert get(sim, path) == (status, body)


def test_coinbase_rest_ticker_and_trades_with_the_makers_side(sim: Simulator):
    taker_buy = sim.ok("coinbase/trade", pair="LTC-USD", price="72.01", amount="1.50000000",
                       side="buy")
    taker_sell = sim.ok("coinbase/trade", pair="LTC-USD", price="71.99", amount="0.25",
                        side="sell")
    state = taker_sell["state"]
    assert get(sim, "coinbase/products/LTC-USD/ticker") == (200, {
        "trade_id": taker_sell["trade_id"], "price": "71.99", "size": "0.25",
        "bid": state["bid"], "ask": state["ask"], "volume": state["volume_24h"],
        "time": taker_sell["time"],
    })
    assert get(sim, "coinbase/products/ltc-usd/trades?limit=2") == (200, [
        {"time": taker_sell["time"], "trade_id": taker_sell["trade_id"], "price": "71.99",
         "size": "0.25", "side": "buy"},  # the maker bought: a taker sell
        {"time": taker_buy["time"], "trade_id": taker_buy["trade_id"], "price": "72.01",
         "size": "1.50000000", "side": "sell"},
    ])
    assert get(sim, "coinbase/products/LTC-USD/trades?limit=1001")[0] == 400


def test_fail_rest_answers_503_n_times_then_recovers(sim: Simulator):
    before = sim.ok("stats")["coinbase"]["rest_requests"]
    assert sim.ok("coinbase/fail_rest", count="2") == {
        "exchange": "coinbase", "rest_failures_left": 2, "status": 503}
    answers = [get(sim, "coinbase/products/BTC-USD/ticker") for _ in range(3)]
    assert answers[:2] == [(503, {"message": "Service Unavailable (simulated)"})] * 2
    assert answers[2][0] == 200
    stats = sim.ok("stats")["coinbase"]
    assert (stats["rest_requests"] - before, stats["rest_failures_left"]) == (3, 0)
    # per exchange, and another status on request
    sim.ok("bitfinex/fail_rest", count="1", status="429")
    assert get(sim, "coinbase/products/BTC-USD/ticker")[0] == 200
    assert get(sim, "bitfinex/v2/ticker/tBTCUSD") == (
        429, {"message": "Too Many Requests (simulated)"})
    assert get(sim, "bitfinex/v2/ticker/tBTCUSD")[0] == 200


@pytest.mark.parametrize("params", [{"count": "-1"}, {"count": "x"}, {"status": "404"}])
def test_fail_rest_refuses_bad_parameters(sim: Simulator, params: dict[str, str]):
    status, body = sim.control("bitfinex/fail_rest", **params)
    assert status == 400 and body["error"]
