"""Bitstamp WebSocket API v2 peer and REST routes, driven as plain calls: exact frames out.

Expected frames are written from the docs' shapes (``{event, channel, data}``, the recorded
field order) and the market's state. The last test runs the routes through a live simulator
process (``sim``), to see the peer and the REST handler wired into the server under
``/bitstamp``.
"""

from __future__ import annotations

import json
import random
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sim_support import T0, Simulator, fixed_clock

from simulator import wire
from simulator.bitstamp import SPEC, BitstampPeer, rest
from simulator.catalogue import PRODUCTS
from simulator.market import Market, Side
from simulator.peer import Close, PeerOptions, Send
from simulator.registry import EXCHANGES

NOW = 1_700_000_000.25
NOW_MICROS = "1700000000250000"
T0_MICROS = (T0 - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


@pytest.fixture
def market() -> Market:
    return Market("bitstamp", PRODUCTS.values(), 3, fixed_clock)


@pytest.fixture
def peer(market: Market) -> BitstampPeer:
    return BitstampPeer(market, random.Random(5), PeerOptions(), NOW)


def frames(actions: list[Any]) -> list[dict[str, Any]]:
    assert all(isinstance(action, Send) and action.delay == 0 for action in actions)
    return [json.loads(action.text) for action in actions]


def send(peer: BitstampPeer, message: Any, now: float = NOW) -> list[dict[str, Any]]:
    text = message if isinstance(message, str) else json.dumps(message)
    return frames(peer.receive(text, now))


def subscribe(channel: str, event: str = "bts:subscribe") -> dict[str, Any]:
    return {"event": event, "data": {"channel": channel}}


def ack(channel: str, event: str = "bts:subscription_succeeded") -> dict[str, Any]:
    return {"event": event, "channel": channel, "data": {}}


def error(message: str) -> dict[str, Any]:
    return {"event": "bts:error", "channel": "", "data": {"code": None, "message": message}}


# Subscribing ---------------------------------------------------------------------------------


def test_registered_with_every_catalogue_product_and_a_reconnect_command():
    assert EXCHANGES["bitstamp"] is SPEC
    assert {product.pair for product in SPEC.products} == set(PRODUCTS)
    assert set(SPEC.commands) == {"reconnect"}


def test_nothing_is_sent_on_connect_and_no_timers(peer: BitstampPeer):
    assert peer.opened(NOW) == []
    assert peer.tick(NOW + 100) == []


def test_each_channel_is_acked_on_its_own_and_a_book_sends_no_snapshot(peer: BitstampPeer):
    assert send(peer, subscribe("order_book_btcusd")) == [ack("order_book_btcusd")]
    assert send(peer, subscribe("live_trades_btcusd")) == [ack("live_trades_btcusd")]
    assert send(peer, subscribe("order_book_btcusd")) == [ack("order_book_btcusd")]  # again
    assert peer.subscriptions() == [("order_book", "BTC-USD"), ("live_trades", "BTC-USD")]
    text = peer.receive('{"event":"bts:subscribe","data":{"channel":"order_book_etheur"}}',
                        NOW)[0].text
    assert text == '{"event":"bts:subscription_succeeded","channel":"order_book_etheur","data":{}}'


@pytest.mark.parametrize("channel", [
    "order_book_fooxyz",  # a market nobody lists
    "live_trades_btcusd-perp",  # a perpetual: listed, not simulated
    "order_book_btcgbp",  # a quote the catalogue lacks
    "diff_order_book_btcusd",  # a channel kind not simulated
    "live_orders_btcusd",
])
def test_a_well_formed_channel_we_do_not_serve_is_acked_then_silent(peer: BitstampPeer,
                                                                    market: Market, channel: str):
    assert send(peer, subscribe(channel)) == [ack(channel)]
    assert peer.subscriptions() == []
    trade = market.pair("BTC-USD").random_trade()
    assert peer.on_trade("BTC-USD", trade, NOW) == []
    assert peer.on_quote("BTC-USD", NOW) == []


@pytest.mark.parametrize("channel", [
    "order_book_BTCUSD", "order_book_btc/usd", "order_book_BTCUSD-PERP", "ticker_btcusd",
    "order_book_", "order_book", "order_book_btc usd", "",
])
def test_a_malformed_channel_name_is_an_invalid_channel(peer: BitstampPeer, channel: str):
    assert send(peer, subscribe(channel)) == [error("Invalid channel provided.")]
    assert peer.subscriptions() == []


@pytest.mark.parametrize(("text", "message"), [
    ("not json", "Incorrect JSON format."),
    ('{"event":"bts:subscribe"', "Incorrect JSON format."),
    ('{"event":"bts:subscribe"}', "Bad subscription string."),
    ('{"event":"bts:subscribe","data":{}}', "Bad subscription string."),
    ('{"event":"bts:subscribe","data":{"channel":7}}', "Bad subscription string."),
    ('{"event":"bts:subscribe","data":"order_book_btcusd"}', "Bad subscription string."),
    ('{"event":"bts:ping"}', "Bad subscription string."),
    ('{"data":{"channel":"order_book_btcusd"}}', "Bad subscription string."),
    ("[1,2]", "Bad subscription string."),
])
def test_refused_frames_get_an_error_and_the_socket_stays(peer: BitstampPeer, text: str,
                                                          message: str):
    assert send(peer, text) == [error(message)]
    assert send(peer, subscribe("order_book_btcusd")) == [ack("order_book_btcusd")]


def test_a_client_frame_over_512_bytes_closes_the_socket(peer: BitstampPeer):
    padding = " " * (512 - len(json.dumps(subscribe("order_book_btcusd"))))
    at_limit = json.dumps(subscribe("order_book_btcusd")) + padding
    assert len(at_limit.encode()) == 512
    assert send(peer, at_limit) == [ack("order_book_btcusd")]
    assert peer.receive(at_limit + " ", NOW) == [Close(1009, "read limited at 513 bytes")]


def test_heartbeat_is_answered_and_counted(peer: BitstampPeer):
    assert send(peer, {"event": "bts:heartbeat"}) == [
        {"event": "bts:heartbeat", "channel": "", "data": {"status": "success"}}]
    assert peer.receive('{"event":"bts:heartbeat"}', NOW)[0].text == (
        '{"event":"bts:heartbeat","channel":"","data":{"status":"success"}}')
    assert peer.heartbeats == 2


def test_unsubscribe(peer: BitstampPeer, market: Market):
    send(peer, subscribe("live_trades_btcusd"))
    assert send(peer, subscribe("live_trades_btcusd", "bts:unsubscribe")) == [
        ack("live_trades_btcusd", "bts:unsubscription_succeeded")]
    assert peer.subscriptions() == []
    assert peer.on_trade("BTC-USD", market.pair("BTC-USD").random_trade(), NOW) == []


def test_reconnect_command_sends_the_maintenance_notice():
    (action,) = SPEC.commands["reconnect"]({})
    assert action == Send('{"event":"bts:request_reconnect","channel":"","data":null}')


# Trades and books ----------------------------------------------------------------------------


def test_trade_has_the_float_and_exact_fields_and_the_takers_type(peer: BitstampPeer,
                                                                  market: Market):
    send(peer, subscribe("live_trades_btcusd"))
    trade = market.pair("BTC-USD").trade(market.state("BTC-USD").bid, Decimal("0.0792"),
                                         Side.SELL)
    maker = 1_400_000_000_000_000 + trade.id * 16
    (pushed,) = frames(peer.on_trade("BTC-USD", trade, NOW))
    assert pushed == {
        "data": {"id": trade.id, "timestamp": str(T0_MICROS // 10**6), "amount": 0.0792,
                 "amount_str": "0.07920000", "price": float(trade.price),
                 "price_str": wire.decimal_text(trade.price), "type": 1,
                 "microtimestamp": str(T0_MICROS), "buy_order_id": maker,
                 "sell_order_id": maker + 7},
        "channel": "live_trades_btcusd", "event": "trade"}
    assert list(pushed) == ["data", "channel", "event"]
    assert list(pushed["data"]) == ["id", "timestamp", "amount", "amount_str", "price",
                                    "price_str", "type", "microtimestamp", "buy_order_id",
                                    "sell_order_id"]


def test_trade_strings_are_padded_like_bitstamps_and_digits_never_lost(peer: BitstampPeer,
                                                                        market: Market):
    send(peer, subscribe("live_trades_btcusd"))
    bought = market.pair("BTC-USD").trade(Decimal("43210.5"), Decimal("2"), Side.BUY)
    (pushed,) = frames(peer.on_trade("BTC-USD", bought, NOW))
    data = pushed["data"]
    assert (data["price_str"], data["price"], data["amount_str"], data["amount"], data["type"]) \
        == ("43210.50", 43210.5, "2.00000000", 2, 0)
    assert data["buy_order_id"] > data["sell_order_id"]  # the taker's order is the newer
    odd = market.pair("BTC-USD").trade(Decimal("43210.505"), Decimal("0.123456789"), Side.BUY)
    (pushed,) = frames(peer.on_trade("BTC-USD", odd, NOW))
    assert (pushed["data"]["price_str"], pushed["data"]["amount_str"]) == (
        "43210.505", "0.123456789")
    assert '"price":43210.505,' in peer.on_trade("BTC-USD", odd, NOW)[0].text


def top(pushed: dict[str, Any]) -> dict[str, Any]:
    data = pushed["data"]
    return {"timestamp": data["timestamp"], "microtimestamp": data["microtimestamp"],
            "best_bid": data["bids"][0], "best_ask": data["asks"][0],
            "channel": pushed["channel"]}


def test_a_book_change_sends_the_full_book_once(peer: BitstampPeer, market: Market):
    send(peer, subscribe("order_book_ethusd"))
    market.pair("ETH-USD").set_quote(bid=Decimal("2300.10"), ask=Decimal("2300.30"),
                                     bid_size=Decimal("1.5"), ask_size=Decimal("0.25"))
    (pushed,) = frames(peer.on_quote("ETH-USD", NOW))
    assert list(pushed) == ["data", "channel", "event"] and pushed["event"] == "data"
    assert list(pushed["data"]) == ["timestamp", "microtimestamp", "bids", "asks"]
    assert top(pushed) == {"timestamp": "1700000000", "microtimestamp": NOW_MICROS,
                           "best_bid": ["2300.10", "1.50000000"],
                           "best_ask": ["2300.30", "0.25000000"],
                           "channel": "order_book_ethusd"}
    bids, asks = pushed["data"]["bids"], pushed["data"]["asks"]
    assert len(bids) == len(asks) == 100
    assert [Decimal(price) for price, _ in bids] == [
        Decimal("2300.10") - Decimal("0.01") * index for index in range(100)]
    assert [Decimal(price) for price, _ in asks] == [
        Decimal("2300.30") + Decimal("0.01") * index for index in range(100)]
    assert all(Decimal(amount) > 0 and len(amount.partition(".")[2]) == 8
               for _, amount in bids + asks)
    market.pair("ETH-USD").set_quote(last=Decimal("2300.20"))  # the book did not change
    assert peer.on_quote("ETH-USD", NOW + 1) == []
    market.pair("ETH-USD").set_quote(ask_size=Decimal("3"))
    (again,) = frames(peer.on_quote("ETH-USD", NOW + 1))
    assert again["data"]["asks"][0] == ["2300.30", "3.00000000"]
    assert again["data"]["asks"][1:] == asks[1:]  # deeper levels are the same on every look


def test_a_book_never_goes_below_zero(peer: BitstampPeer, market: Market):
    send(peer, subscribe("order_book_dogeusd"))
    market.pair("DOGE-USD").set_quote(bid=Decimal("0.00030"), ask=Decimal("0.00031"))
    (pushed,) = frames(peer.on_quote("DOGE-USD", NOW))
    assert [price for price, _ in pushed["data"]["bids"]][-1] == "0.00001"
    assert len(pushed["data"]["bids"]) == 30 and len(pushed["data"]["asks"]) == 100


def test_a_trade_through_the_book_sends_the_trade_then_the_book(peer: BitstampPeer,
                                                                market: Market):
    send(peer, subscribe("order_book_btcusd"))
    send(peer, subscribe("live_trades_btcusd"))
    price = market.state("BTC-USD").ask + Decimal("5")
    trade = market.pair("BTC-USD").trade(price, Decimal("2"), Side.BUY)
    pushed = frames(peer.on_trade("BTC-USD", trade, NOW))
    assert [frame["channel"] for frame in pushed] == ["live_trades_btcusd", "order_book_btcusd"]
    state = market.state("BTC-USD")
    assert top(pushed[1]) == {
        "timestamp": "1700000000", "microtimestamp": NOW_MICROS,
        "best_bid": [wire.decimal_text(state.bid), f"{state.bid_size:.8f}"],
        "best_ask": [wire.decimal_text(price), f"{state.ask_size:.8f}"],
        "channel": "order_book_btcusd"}


def test_a_trade_inside_the_book_sends_no_book(peer: BitstampPeer, market: Market):
    send(peer, subscribe("order_book_btcusd"))
    send(peer, subscribe("live_trades_btcusd"))
    trade = market.pair("BTC-USD").trade(market.state("BTC-USD").ask, Decimal("1"), Side.BUY)
    assert [frame["channel"] for frame in frames(peer.on_trade("BTC-USD", trade, NOW))] == [
        "live_trades_btcusd"]


def test_a_random_trade_moves_the_book_and_both_are_sent(peer: BitstampPeer, market: Market):
    send(peer, subscribe("order_book_solusd"))
    send(peer, subscribe("live_trades_solusd"))
    trade = market.pair("SOL-USD").random_trade()
    assert [frame["event"] for frame in frames(peer.on_trade("SOL-USD", trade, NOW))] == [
        "trade", "data"]


def test_no_frames_for_channels_not_subscribed(peer: BitstampPeer, market: Market):
    send(peer, subscribe("order_book_btcusd"))
    trade = market.pair("ETH-USD").random_trade()
    assert peer.on_trade("ETH-USD", trade, NOW) == []
    assert peer.on_quote("ETH-USD", NOW) == []


# REST ----------------------------------------------------------------------------------------


def get(market: Market, path: str, **params: str) -> tuple[int, Any]:
    reply = rest(market, path.split("/"), params, clock=lambda: NOW)
    return reply.status, json.loads(wire.dumps(reply.body))


def test_rest_markets_lists_every_spot_market_and_two_perpetuals(market: Market):
    status, body = get(market, "api/v2/markets/")
    assert status == 200
    spot = [row for row in body if row["market_type"] == "SPOT"]
    assert {row["market_symbol"] for row in spot} == {
        pair.replace("-", "").lower() for pair in PRODUCTS}
    (btcusd,) = [row for row in body if row["market_symbol"] == "btcusd"]
    assert btcusd == {
        "name": "BTC/USD", "market_symbol": "btcusd", "base_currency": "BTC",
        "base_decimals": 8, "counter_currency": "USD", "counter_decimals": 2,
        "minimum_order_value": "10", "trading": "Enabled", "instant_order_counter_decimals": 2,
        "instant_and_market_orders": "Enabled", "description": "Bitcoin / U.S. dollar",
        "market_type": "SPOT"}
    assert [(row["market_symbol"], row["name"]) for row in body
            if row["market_type"] == "PERPETUAL"] == [
        ("btcusd-perp", "BTC/USD-PERP"), ("ethusd-perp", "ETH/USD-PERP")]
    assert get(market, "api/v2/markets") == (status, body)  # the trailing slash is optional


def test_rest_ticker_in_bitstamps_shape(market: Market):
    sold = market.pair("BTC-USD").trade(market.state("BTC-USD").bid, Decimal("0.5"), Side.SELL)
    state = market.state("BTC-USD")
    status, body = get(market, "api/v2/ticker/btcusd/")
    assert status == 200
    assert list(body) == ["timestamp", "open", "high", "low", "last", "volume", "vwap", "bid",
                          "ask", "side", "open_24", "percent_change_24"]
    text = wire.decimal_text
    assert {key: body[key] for key in ("timestamp", "open", "high", "low", "last", "bid", "ask",
                                       "side", "open_24")} == {
        "timestamp": "1700000000", "open": text(state.open_24h), "high": text(state.high_24h),
        "low": text(state.low_24h), "last": text(sold.price), "bid": text(state.bid),
        "ask": text(state.ask), "side": "1", "open_24": text(state.open_24h)}
    assert body["volume"] == f"{state.volume_24h:.8f}"
    change = (state.last - state.open_24h) / state.open_24h * 100
    assert Decimal(body["percent_change_24"]) == change.quantize(Decimal("0.01"))
    assert state.low_24h <= Decimal(body["vwap"]) <= state.high_24h


def test_rest_transactions_newest_first_with_the_takers_type(market: Market):
    bought = market.pair("ETH-EUR").trade(Decimal("2116.1"), Decimal("0.25"), Side.BUY)
    sold = market.pair("ETH-EUR").trade(Decimal("2115.9"), Decimal("1"), Side.SELL)
    status, body = get(market, "api/v2/transactions/etheur/", time="hour")
    assert status == 200 and len(body) == 30
    date = str(T0_MICROS // 10**6)
    assert body[:2] == [
        {"date": date, "tid": str(sold.id), "price": "2115.90", "type": "1",
         "amount": "1.00000000"},
        {"date": date, "tid": str(bought.id), "price": "2116.10", "type": "0",
         "amount": "0.25000000"},
    ]
    assert get(market, "api/v2/transactions/etheur")[1] == body  # time defaults to hour
    assert get(market, "api/v2/transactions/etheur/", time="day")[1] == body


@pytest.mark.parametrize(("path", "params", "expected"), [
    ("api/v2/ticker/fooxyz/", {}, (404, {"error": "Not found"})),
    ("api/v2/ticker/btcusd-perp/", {}, (404, {"error": "Not found"})),
    ("api/v2/ticker/BTCUSD/", {}, (404, {"error": "Not found"})),
    ("api/v2/transactions/fooxyz/", {}, (404, {"error": "Not found"})),
    ("api/v2/transactions/btcusd/", {"time": "week"},
     (400, {"error": "time must be one of minute, hour, day"})),
    ("api/v2/order_book/btcusd/", {}, (404, {"error": "Not found"})),
    ("api/v2/trading-pairs-info/", {}, (404, {"error": "Not found"})),
    ("", {}, (404, {"error": "Not found"})),
])
def test_rest_refusals(market: Market, path: str, params: dict[str, str], expected: Any):
    assert get(market, path, **params) == expected


# Through a live simulator ----------------------------------------------------------------------


def http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, json.loads(response.read())


def test_live_rest_and_websocket_under_bitstamp(sim: Simulator):
    status, body = http_json(f"{sim.http}/bitstamp/api/v2/ticker/btcusd/")
    assert status == 200 and set(body) >= {"last", "bid", "ask", "open_24"}
    ws = sim.connect("bitstamp")
    for channel in ("order_book_btcusd", "live_trades_btcusd", "order_book_fooxyz"):
        ws.send(json.dumps(subscribe(channel)))
        assert json.loads(ws.recv()) == ack(channel)
    ws.send('{"event":"bts:heartbeat"}')
    assert json.loads(ws.recv())["event"] == "bts:heartbeat"
    ws.send('{"event":"bts:subscribe","data":{"channel":"order_book_BTCUSD"}}')
    assert json.loads(ws.recv()) == error("Invalid channel provided.")
    stats = sim.ok("stats")["bitstamp"]
    assert stats["channels"] == {"live_trades": ["BTC-USD"], "order_book": ["BTC-USD"]}
    traded = sim.ok("bitstamp/trade", pair="BTC-USD", price="40000.1", amount="0.00012",
                    side="sell")
    pushed = json.loads(ws.recv())
    assert pushed["event"] == "trade" and pushed["data"]["id"] == traded["trade_id"]
    assert (pushed["data"]["price_str"], pushed["data"]["amount_str"], pushed["data"]["type"]) \
        == ("40000.10", "0.00012000", 1)
    assert json.loads(ws.recv())["event"] == "data"  # the trade went below the bid: new book
    assert sim.ok("bitstamp/reconnect")["sent_to"] == 1
    assert json.loads(ws.recv()) == {"event": "bts:request_reconnect", "channel": "",
                                     "data": None}
