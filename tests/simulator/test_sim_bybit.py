"""Bybit V5 spot protocol peer and REST routes, driven as plain calls: exact frames out.

The last tests run the same routes through a live simulator process (``sim``), to see the peer
and the REST handler wired into the server under ``/bybit``.
"""

from __future__ import annotations

import json
import random
import urllib.request
from decimal import Decimal
from typing import Any

import pytest
from sim_support import Simulator, fixed_clock

from simulator import wire
from simulator.bybit import PRODUCTS_USDT, SPEC, BybitPeer, rest
from simulator.market import Market, Side
from simulator.peer import PeerOptions, Send
from simulator.registry import EXCHANGES

NOW = 1_700_000_000.0
NOW_MS = 1_700_000_000_000


@pytest.fixture
def market() -> Market:
    return Market("bybit", PRODUCTS_USDT, 3, fixed_clock)


@pytest.fixture
def peer(market: Market) -> BybitPeer:
    return BybitPeer(market, random.Random(5), PeerOptions(), NOW)


def frames(actions: list[Any]) -> list[dict[str, Any]]:
    assert all(isinstance(action, Send) and action.delay == 0 for action in actions)
    return [json.loads(action.text) for action in actions]


def send(peer: BybitPeer, message: Any, now: float = NOW) -> list[dict[str, Any]]:
    text = message if isinstance(message, str) else json.dumps(message)
    return frames(peer.receive(text, now))


def answer(peer: BybitPeer, success: bool, ret_msg: str, op: str = "subscribe",
           **req_id: str) -> dict[str, Any]:
    return {"success": success, "ret_msg": ret_msg, "conn_id": peer.conn_id, **req_id, "op": op}


def subscribe(*args: str, req_id: str = "BTCUSDT") -> dict[str, Any]:
    return {"req_id": req_id, "op": "subscribe", "args": list(args)}


def book(market: Market, pair: str, symbol: str, now_ms: int = NOW_MS) -> dict[str, Any]:
    """The level-1 snapshot the peer must send for ``pair``, from the market's state."""
    state = market.state(pair)
    text = wire.decimal_text
    return {"topic": f"orderbook.1.{symbol}", "ts": now_ms, "type": "snapshot",
            "data": {"s": symbol, "b": [[text(state.bid), text(state.bid_size)]],
                     "a": [[text(state.ask), text(state.ask_size)]],
                     "u": state.sequence, "seq": state.sequence},
            "cts": now_ms}


# Connecting and subscribing ----------------------------------------------------------------


def test_registered_with_usdt_products_only():
    assert EXCHANGES["bybit"] is SPEC
    assert {product.pair for product in SPEC.products} == {
        f"{base}-USDT" for base in ("BTC", "ETH", "SOL", "LTC", "XRP", "DOGE", "ADA")}


def test_nothing_is_sent_on_connect_and_conn_ids_differ(market: Market, peer: BybitPeer):
    assert peer.opened(NOW) == []
    other = BybitPeer(market, random.Random(6), PeerOptions(), NOW)
    assert len(peer.conn_id) == 36 and peer.conn_id != other.conn_id


def test_subscribe_acks_then_sends_the_book_at_once(peer: BybitPeer, market: Market):
    out = send(peer, subscribe("orderbook.1.BTCUSDT", "publicTrade.BTCUSDT"))
    assert out == [answer(peer, True, "subscribe", req_id="BTCUSDT"),
                   book(market, "BTC-USDT", "BTCUSDT")]
    assert list(out[0]) == ["success", "ret_msg", "conn_id", "req_id", "op"]
    assert list(out[1]) == ["topic", "ts", "type", "data", "cts"]  # ts before type on spot
    assert peer.subscriptions() == [("orderbook.1", "BTC-USDT"), ("publicTrade", "BTC-USDT")]


def test_the_documented_request_and_an_ack_without_req_id(peer: BybitPeer, market: Market):
    out = send(peer, {"op": "subscribe", "args": ["orderbook.1.BTCUSDT", "publicTrade.BTCUSDT",
                                                  "orderbook.1.ETHUSDT"]})
    assert out == [answer(peer, True, "subscribe"), book(market, "BTC-USDT", "BTCUSDT"),
                   book(market, "ETH-USDT", "ETHUSDT")]


@pytest.mark.parametrize("topic", [
    "orderbook.1.FOOUSDT",      # not listed
    "orderbook.1.BTCUSD",       # no USD spot
    "orderbook.1.btcusdt",      # symbols are upper case
    "orderbook.50.BTCUSDT",     # a depth the simulator doesn't serve
    "tickers.BTCUSDT",          # a channel the simulator doesn't serve
    "publicTrade",
])
def test_one_bad_topic_fails_the_whole_request(peer: BybitPeer, topic: str):
    out = send(peer, subscribe("orderbook.1.ETHUSDT", topic, "publicTrade.BTCUSDT", req_id="r1"))
    assert out == [answer(peer, False, f"error:handler not found,topic:{topic}", req_id="r1")]
    assert peer.subscriptions() == []


def test_more_than_ten_args_are_refused(peer: BybitPeer):
    topics = [f"{channel}.{base}USDT" for base in ("BTC", "ETH", "SOL", "LTC", "XRP", "DOGE")
              for channel in ("orderbook.1", "publicTrade")][:11]
    assert send(peer, subscribe(*topics, req_id="big")) == [
        answer(peer, False, "args size >10", req_id="big")]
    assert len(frames(peer.receive(json.dumps(subscribe(*topics[:10])), NOW))) == 1 + 5
    assert len(peer.subscriptions()) == 10


def test_a_topic_subscribed_twice_is_refused_and_the_first_keeps_streaming(peer: BybitPeer,
                                                                            market: Market):
    send(peer, subscribe("publicTrade.BTCUSDT"))
    assert send(peer, subscribe("publicTrade.ETHUSDT", "publicTrade.BTCUSDT", req_id="again")) == [
        answer(peer, False, "error:already subscribed,topic:publicTrade.BTCUSDT", req_id="again")]
    assert peer.subscriptions() == [("publicTrade", "BTC-USDT")]


@pytest.mark.parametrize(("text", "ret_msg", "op"), [
    ('{"op":"nope","req_id":"x"}', "error:invalid op", "nope"),
    ('{"req_id":"x","op":"subscribe"}', "error:args must be a list of topics", "subscribe"),
    ('{"req_id":"x","op":"subscribe","args":[]}', "error:args must be a list of topics",
     "subscribe"),
    ('{"req_id":"x","op":"subscribe","args":[1]}', "error:args must be a list of topics",
     "subscribe"),
])
def test_refused_requests(peer: BybitPeer, text: str, ret_msg: str, op: str):
    assert send(peer, text) == [answer(peer, False, ret_msg, op, req_id="x")]


def test_a_frame_that_is_not_json_is_refused_and_the_socket_stays(peer: BybitPeer):
    (refused,) = send(peer, "hello")
    assert refused["success"] is False and refused["op"] == ""
    assert refused["ret_msg"].startswith("Failed to decode incoming data")
    assert send(peer, "[1]")[0]["ret_msg"] == "Failed to decode incoming data: not an object"


def test_unsubscribe(peer: BybitPeer, market: Market):
    send(peer, subscribe("orderbook.1.BTCUSDT", "publicTrade.BTCUSDT"))
    assert send(peer, {"op": "unsubscribe", "args": ["orderbook.1.BTCUSDT"], "req_id": "u"}) == [
        answer(peer, True, "", "unsubscribe", req_id="u")]
    assert peer.subscriptions() == [("publicTrade", "BTC-USDT")]
    market.pair("BTC-USDT").set_quote(bid=Decimal("1"), ask=Decimal("2"))
    assert peer.on_quote("BTC-USDT", NOW) == []


# Keepalive ---------------------------------------------------------------------------------


def test_ping_is_answered_with_the_spot_pong_and_counted(peer: BybitPeer):
    assert send(peer, {"op": "ping"}) == [answer(peer, True, "pong", "ping")]
    assert send(peer, {"req_id": "100001", "op": "ping"}) == [
        answer(peer, True, "pong", "ping", req_id="100001")]
    assert peer.pings == 2
    assert peer.tick(NOW + 600) == []


# Market data -------------------------------------------------------------------------------


def test_trade_is_pushed_with_the_takers_side(peer: BybitPeer, market: Market):
    send(peer, subscribe("publicTrade.BTCUSDT"))
    trade = market.pair("BTC-USDT").trade(market.state("BTC-USDT").bid, Decimal("0.00012"),
                                          Side.SELL)
    assert frames(peer.on_trade("BTC-USDT", trade, NOW + 1)) == [{
        "topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": NOW_MS + 1000,
        "data": [{"T": wire.epoch_ms(trade.time), "s": "BTCUSDT", "S": "Sell", "v": "0.00012",
                  "p": wire.decimal_text(trade.price), "i": str(trade.id), "BT": False,
                  "RPI": False, "seq": trade.sequence}],
    }]


def test_a_trade_through_the_book_also_sends_the_new_book(peer: BybitPeer, market: Market):
    send(peer, subscribe("orderbook.1.BTCUSDT", "publicTrade.BTCUSDT"))
    price = market.state("BTC-USDT").ask + Decimal("5")
    trade = market.pair("BTC-USDT").trade(price, Decimal("2"), Side.BUY)
    pushed = frames(peer.on_trade("BTC-USDT", trade, NOW))
    assert [frame["topic"] for frame in pushed] == ["publicTrade.BTCUSDT", "orderbook.1.BTCUSDT"]
    assert pushed[0]["data"][0]["S"] == "Buy"
    assert pushed[1] == book(market, "BTC-USDT", "BTCUSDT")
    assert pushed[1]["data"]["a"][0][0] == wire.decimal_text(price)


def test_a_trade_inside_the_book_sends_no_book(peer: BybitPeer, market: Market):
    send(peer, subscribe("orderbook.1.BTCUSDT", "publicTrade.BTCUSDT"))
    trade = market.pair("BTC-USDT").trade(market.state("BTC-USDT").ask, Decimal("1"), Side.BUY)
    assert [frame["topic"] for frame in frames(peer.on_trade("BTC-USDT", trade, NOW))] == [
        "publicTrade.BTCUSDT"]


def test_a_book_change_sends_one_snapshot_and_an_unchanged_book_none(peer: BybitPeer,
                                                                     market: Market):
    send(peer, subscribe("orderbook.1.ETHUSDT", req_id="ETHUSDT"))
    market.pair("ETH-USDT").set_quote(bid=Decimal("2300.10"), ask=Decimal("2300.30"),
                                      bid_size=Decimal("1.5"), ask_size=Decimal("0.25"))
    (snapshot,) = frames(peer.on_quote("ETH-USDT", NOW + 2))
    assert snapshot == book(market, "ETH-USDT", "ETHUSDT", NOW_MS + 2000)
    assert snapshot["data"]["b"] == [["2300.10", "1.5"]]
    assert snapshot["data"]["a"] == [["2300.30", "0.25"]]
    market.pair("ETH-USDT").set_quote(last=Decimal("2300.20"))  # the touch did not move
    assert peer.on_quote("ETH-USDT", NOW + 3) == []


def test_no_frames_for_topics_not_subscribed(peer: BybitPeer, market: Market):
    send(peer, subscribe("orderbook.1.BTCUSDT"))
    trade = market.pair("ETH-USDT").random_trade()
    assert peer.on_trade("ETH-USDT", trade, NOW) == []
    assert peer.on_quote("ETH-USDT", NOW) == []


# REST --------------------------------------------------------------------------------------


def get(market: Market, path: str, **params: str) -> tuple[int, Any]:
    reply = rest(market, path.split("/"), params, clock=lambda: NOW)
    return reply.status, json.loads(wire.dumps(reply.body))


def envelope(result: dict[str, Any]) -> dict[str, Any]:
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": NOW_MS}


def refused(code: int, text: str) -> tuple[int, dict[str, Any]]:
    return 200, {"retCode": code, "retMsg": text, "result": {}, "retExtInfo": {}, "time": NOW_MS}


def test_rest_instruments_list_every_usdt_pair_trading(market: Market):
    status, body = get(market, "v5/market/instruments-info", category="spot")
    assert status == 200 and body["retCode"] == 0 and body["result"]["category"] == "spot"
    rows = body["result"]["list"]
    assert {row["symbol"]: (row["baseCoin"], row["quoteCoin"], row["status"]) for row in rows} == {
        f"{base}USDT": (base, "USDT", "Trading")
        for base in ("BTC", "ETH", "SOL", "LTC", "XRP", "DOGE", "ADA")}
    assert rows[0]["priceFilter"] == {"tickSize": "0.01"}
    status, body = get(market, "v5/market/instruments-info", category="spot", symbol="FOOUSDT")
    assert (status, body["result"]["list"]) == (200, [])


def test_rest_ticker_in_bybits_spot_shape(market: Market):
    market.pair("SOL-USDT").set_quote(bid=Decimal("98.01"), ask=Decimal("98.05"),
                                      last=Decimal("98.03"), bid_size=Decimal("12.5"),
                                      ask_size=Decimal("3"))
    state = market.state("SOL-USDT")
    text = wire.decimal_text
    change = ((state.last - state.open_24h) / state.open_24h).quantize(Decimal("0.0001"))
    assert get(market, "v5/market/tickers", category="spot", symbol="SOLUSDT") == (200, envelope({
        "category": "spot",
        "list": [{
            "symbol": "SOLUSDT", "bid1Price": "98.01", "bid1Size": "12.5", "ask1Price": "98.05",
            "ask1Size": "3", "lastPrice": "98.03", "prevPrice24h": text(state.open_24h),
            "price24hPcnt": text(change), "highPrice24h": text(state.high_24h),
            "lowPrice24h": text(state.low_24h),
            "turnover24h": text((state.volume_24h * state.last).quantize(Decimal("1E-8"))),
            "volume24h": text(state.volume_24h), "usdIndexPrice": "98.03",
        }],
    }))
    _, body = get(market, "v5/market/tickers", category="spot")
    assert len(body["result"]["list"]) == 7


def test_rest_recent_trades_newest_first_with_the_takers_side(market: Market):
    pair = market.pair("LTC-USDT")
    buy = pair.trade(Decimal("72.01"), Decimal("1.50000000"), Side.BUY)
    sell = pair.trade(Decimal("71.99"), Decimal("0.25"), Side.SELL)
    assert get(market, "v5/market/recent-trade", category="spot", symbol="LTCUSDT",
               limit="2") == (200, envelope({"category": "spot", "list": [
                   {"execId": str(trade.id), "symbol": "LTCUSDT", "price": price, "size": size,
                    "side": side, "time": str(wire.epoch_ms(trade.time)), "isBlockTrade": False,
                    "isRPITrade": False, "seq": str(trade.sequence)}
                   for trade, price, size, side in ((sell, "71.99", "0.25", "Sell"),
                                                    (buy, "72.01", "1.50000000", "Buy"))]}))
    _, body = get(market, "v5/market/recent-trade", category="spot", symbol="LTCUSDT")
    assert len(body["result"]["list"]) == 30  # default 60, but 30 are kept


@pytest.mark.parametrize(("path", "params", "expected"), [
    ("v5/market/tickers", {"category": "spot", "symbol": "FOOUSDT"},
     refused(10001, "Not supported symbols")),
    ("v5/market/tickers", {"category": "spot", "symbol": "BTCUSD"},
     refused(10001, "Not supported symbols")),
    ("v5/market/recent-trade", {"category": "spot", "symbol": "FOOUSDT"},
     refused(10001, "Not supported symbols")),
    ("v5/market/tickers", {"category": "linear", "symbol": "BTCUSDT"},
     refused(10001, "Illegal category")),
    ("v5/market/instruments-info", {}, refused(10001, "Illegal category")),
    ("v5/market/recent-trade", {"category": "spot"},
     refused(10001, "params error: symbol is required for spot")),
    ("v5/market/recent-trade", {"category": "spot", "symbol": "BTCUSDT", "limit": "61"},
     refused(10001, "params error: limit must be 1..60")),
    ("v5/market/recent-trade", {"category": "spot", "symbol": "BTCUSDT", "limit": "0"},
     refused(10001, "params error: limit must be 1..60")),
    ("v5/market/kline", {"category": "spot"},
     (404, {"retCode": 404, "retMsg": "path not found: /v5/market/kline"})),
], ids=lambda value: str(value)[:50])
def test_rest_refusals(market: Market, path: str, params: dict[str, str], expected: Any):
    assert get(market, path, **params) == expected


# Through a live simulator --------------------------------------------------------------------


def http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, json.loads(response.read())


def test_live_rest_and_websocket_under_bybit(sim: Simulator):
    status, body = http_json(f"{sim.http}/bybit/v5/market/tickers?category=spot&symbol=BTCUSDT")
    assert status == 200 and body["result"]["list"][0]["symbol"] == "BTCUSDT"
    ws = sim.connect("bybit")
    ws.send('{"req_id":"BTCUSDT","op":"subscribe","args":["orderbook.1.BTCUSDT",'
            '"publicTrade.BTCUSDT"]}')
    ack = json.loads(ws.recv())
    assert (ack["success"], ack["ret_msg"], ack["req_id"], ack["op"]) == (
        True, "subscribe", "BTCUSDT", "subscribe")
    assert json.loads(ws.recv())["topic"] == "orderbook.1.BTCUSDT"
    sim.ok("bybit/trade", pair="BTC-USDT", price="43210.5", amount="0.00012", side="sell")
    pushed = json.loads(ws.recv())
    while pushed["topic"] != "publicTrade.BTCUSDT":
        pushed = json.loads(ws.recv())
    assert {key: pushed["data"][0][key] for key in ("s", "S", "v", "p")} == {
        "s": "BTCUSDT", "S": "Sell", "v": "0.00012", "p": "43210.5"}
    ws.send('{"req_id":"100001","op":"ping"}')
    pong = json.loads(ws.recv())
    while pong.get("op") != "ping":
        pong = json.loads(ws.recv())
    assert (pong["ret_msg"], pong["req_id"]) == ("pong", "100001")
    stats = sim.ok("stats")["bybit"]
    assert stats["channels"] == {"orderbook.1": ["BTC-USDT"], "publicTrade": ["BTC-USDT"]}
