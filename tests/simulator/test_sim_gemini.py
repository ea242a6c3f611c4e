"""Gemini WebSocket API peer, driven as plain calls (client frames in, exact frames out), its
REST routes, and one round trip through a real simulator process."""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sim_support import T0, Simulator, fixed_clock

from simulator.gemini import SPEC, GeminiPeer, rest
from simulator.market import Market, Side
from simulator.peer import PeerOptions, Send
from simulator.registry import EXCHANGES

NOW = 1_700_000_000.123456
E_NOW = 1_700_000_000_123_456_000  # NOW in ns, to the microsecond
E_T0 = 1_704_164_645_678_901_000  # sim_support.T0 (the fixed clock) in ns


@pytest.fixture
def market() -> Market:
    return Market("gemini", SPEC.products, 3, fixed_clock)


@pytest.fixture
def peer(market: Market) -> GeminiPeer:
    return GeminiPeer(market, random.Random(5), PeerOptions(), NOW)


def send(peer: GeminiPeer, frame: Any, now: float = NOW) -> list[dict[str, Any]]:
    """Send one client frame (an object, or raw text); the decoded frames it answers with."""
    actions = peer.receive(frame if isinstance(frame, str) else json.dumps(frame), now)
    assert all(isinstance(action, Send) for action in actions)
    return [json.loads(action.text) for action in actions if isinstance(action, Send)]


def cents(value: Decimal) -> Decimal:
    """A BTC-USD price padded to its tick, as Gemini writes it."""
    return value.quantize(Decimal("0.01"))


def texts(actions: list[Any]) -> list[str]:
    return [action.text for action in actions]


def subscribe(peer: GeminiPeer, *streams: str, request_id: Any = 1) -> list[dict[str, Any]]:
    return send(peer, {"id": request_id, "method": "subscribe", "params": list(streams)})


# Registration and listing --------------------------------------------------------------------


def test_registered_with_the_pairs_gemini_lists():
    assert EXCHANGES["gemini"] is SPEC
    assert [product.pair for product in SPEC.products] == [
        "BTC-USD", "BTC-EUR", "BTC-USDT", "ETH-USD", "ETH-EUR", "ETH-USDT", "SOL-USD",
        "LTC-USD", "XRP-USD", "DOGE-USD"]


def test_nothing_is_sent_on_connect(peer: GeminiPeer):
    assert peer.opened(NOW) == []
    assert peer.tick(NOW + 60) == []


# Subscribe -----------------------------------------------------------------------------------


def test_subscribe_is_acked_with_the_id_as_sent(peer: GeminiPeer):
    assert subscribe(peer, "btcusd@bookTicker", "btcusd@trade") == [{"id": 1, "status": 200}]
    assert texts(peer.receive(
        '{"id":"7","method":"SUBSCRIBE","params":["ethusd@trade"]}', NOW)) == [
        '{"id":"7","status":200}']
    assert peer.subscriptions() == [("bookTicker", "BTC-USD"), ("trade", "BTC-USD"),
                                    ("trade", "ETH-USD")]


def test_one_bad_stream_refuses_the_whole_frame(peer: GeminiPeer):
    frames = subscribe(peer, "btcusd@bookTicker", "soleur@bookTicker", "adausd@trade",
                       request_id=4)
    assert frames == [{"id": 4, "status": 400, "error": {
        "code": -1013, "msg": "Invalid stream name: soleur@bookTicker"}}]
    assert peer.subscriptions() == []


@pytest.mark.parametrize("stream", ["btcusd@ticker", "btcusd@markPrice@1s", "btcusd",
                                    "btcusd@BOOKTICKER", "btc-usd@trade", "@trade"])
def test_streams_gemini_does_not_document_are_refused(peer: GeminiPeer, stream: str):
    assert subscribe(peer, stream, request_id=2) == [{"id": 2, "status": 400, "error": {
        "code": -1013, "msg": f"Invalid stream name: {stream}"}}]


def test_an_upper_case_symbol_is_subscribed_under_its_lower_case_name(peer: GeminiPeer,
                                                                       market: Market):
    assert subscribe(peer, "BTCUSD@trade") == [{"id": 1, "status": 200}]
    trade = market.pair("BTC-USD").trade(Decimal("43210.5"), Decimal("0.5"), Side.BUY)
    (frame,) = [json.loads(text) for text in texts(peer.on_trade("BTC-USD", trade, NOW))]
    assert frame["s"] == "btcusd"
    assert send(peer, {"id": 2, "method": "list_subscriptions"}) == [
        {"id": 2, "status": 200, "result": ["btcusd@trade"]}]


def test_documented_depth_streams_are_acked_and_stay_silent(peer: GeminiPeer, market: Market):
    assert subscribe(peer, "btcusd@depth@100ms", "btcusd@depth20") == [{"id": 1, "status": 200}]
    trade = market.pair("BTC-USD").trade(Decimal("43210.5"), Decimal("0.5"), Side.BUY)
    assert peer.on_trade("BTC-USD", trade, NOW) == []
    assert peer.on_quote("BTC-USD", NOW) == []


def test_unsubscribe_stops_the_stream(peer: GeminiPeer, market: Market):
    subscribe(peer, "btcusd@bookTicker", "btcusd@trade")
    assert send(peer, {"id": 2, "method": "unsubscribe", "params": ["btcusd@trade"]}) == [
        {"id": 2, "status": 200}]
    assert peer.subscriptions() == [("bookTicker", "BTC-USD")]


@pytest.mark.parametrize(("frame", "reply"), [
    ("not json", {"id": None, "status": 400, "error": {"code": -1013, "msg": "Invalid JSON"}}),
    ('{"id":3}', {"id": 3, "status": 400, "error": {"code": -1013, "msg": "Invalid request"}}),
    ('{"id":3,"method":"subscribe"}',
     {"id": 3, "status": 400, "error": {"code": -1013, "msg": "Invalid params"}}),
    ('{"id":3,"method":"subscribe","params":"btcusd@trade"}',
     {"id": 3, "status": 400, "error": {"code": -1013, "msg": "Invalid params"}}),
    ('{"id":11,"method":"depth","params":{"symbol":"btcusd"}}',
     {"id": 11, "status": 400, "error": {"code": -1020, "msg": "Unsupported operation"}}),
    ('{"id":11,"method":"Subscribe","params":[]}',
     {"id": 11, "status": 400, "error": {"code": -1020, "msg": "Unsupported operation"}}),
])
def test_requests_that_cannot_be_served(peer: GeminiPeer, frame: str, reply: dict[str, Any]):
    assert send(peer, frame) == [reply]


# Utility methods -----------------------------------------------------------------------------


def test_ping_is_answered_and_counted(peer: GeminiPeer):
    assert send(peer, {"id": 1000000, "method": "ping"}) == [{"id": 1000000, "status": 200}]
    assert send(peer, {"id": 1000001, "method": "ping"}) == [{"id": 1000001, "status": 200}]
    assert peer.pings == 2
    assert peer.stats() == {"pings": 2, "requests": 2}


def test_time_and_conninfo(peer: GeminiPeer):
    assert send(peer, {"id": 5, "method": "time"}) == [
        {"id": 5, "status": 200, "result": {"serverTime": 1_700_000_000_123}}]
    (info,) = send(peer, {"id": 7, "method": "conninfo"})
    assert info["id"] == 7 and info["status"] == 200
    assert info["rateLimits"][0] == {"rateLimitType": "REQUEST_WEIGHT", "interval": "SECOND",
                                     "intervalNum": 10, "limit": 7000, "count": 2}
    assert info["rateLimits"][3]["limit"] == 300


# Market data ---------------------------------------------------------------------------------


def test_a_trade_sends_the_trade_event_then_the_book_ticker(peer: GeminiPeer, market: Market):
    subscribe(peer, "btcusd@bookTicker", "btcusd@trade")
    trade = market.pair("BTC-USD").trade(Decimal("43210.5"), Decimal("0.00012"), Side.SELL)
    state = market.state("BTC-USD")
    assert texts(peer.on_trade("BTC-USD", trade, NOW)) == [
        f'{{"E":{E_T0},"s":"btcusd","t":{trade.id},"p":"43210.50","q":"0.00012000","m":true}}',
        f'{{"u":{state.sequence},"E":{E_NOW},"s":"btcusd","b":"{cents(state.bid)}",'
        f'"B":"{state.bid_size.quantize(Decimal("1e-8"))}","a":"43210.50",'
        f'"A":"{state.ask_size.quantize(Decimal("1e-8"))}","c":"43210.50","C":"0.00012000"}}',
    ]


def test_a_taker_buy_is_a_trade_whose_buyer_did_not_make(peer: GeminiPeer, market: Market):
    subscribe(peer, "ethusd@trade")
    trade = market.pair("ETH-USD").trade(Decimal("2301.07"), Decimal("1.5"), Side.BUY)
    (frame,) = [json.loads(text) for text in texts(peer.on_trade("ETH-USD", trade, NOW))]
    assert frame == {"E": E_T0, "s": "ethusd", "t": trade.id, "p": "2301.07",
                     "q": "1.50000000", "m": False}


def test_a_quote_sends_the_book_ticker_padded_never_rounded(peer: GeminiPeer, market: Market):
    subscribe(peer, "btcusd@bookTicker")
    market.pair("BTC-USD").set_quote(bid=Decimal("43210.1"), ask=Decimal("43210.123"),
                                     bid_size=Decimal("2"), ask_size=Decimal("0.000000015"))
    (frame,) = [json.loads(text) for text in texts(peer.on_quote("BTC-USD", NOW))]
    state = market.state("BTC-USD")
    assert frame == {"u": state.sequence, "E": E_NOW, "s": "btcusd", "b": "43210.10",
                     "B": "2.00000000", "a": "43210.123", "A": "0.000000015",
                     "c": str(state.last), "C": str(state.last_trade.size.quantize(
                         Decimal("1e-8")))}


def test_no_frames_for_streams_not_subscribed(peer: GeminiPeer, market: Market):
    subscribe(peer, "ethusd@trade")
    trade = market.pair("BTC-USD").trade(Decimal("43210.5"), Decimal("0.5"), Side.BUY)
    assert peer.on_trade("BTC-USD", trade, NOW) == []
    assert peer.on_quote("ETH-USD", NOW) == []


# REST ----------------------------------------------------------------------------------------


def test_rest_symbols_and_details(market: Market):
    reply = rest(market, ["v1", "symbols"], {})
    assert (reply.status, reply.body) == (200, [
        "btcusd", "btceur", "btcusdt", "ethusd", "etheur", "ethusdt", "solusd", "ltcusd",
        "xrpusd", "dogeusd"])
    reply = rest(market, ["v1", "symbols", "details", "ETHUSDT"], {})
    assert (reply.status, reply.body) == (200, {
        "symbol": "ETHUSDT", "base_currency": "ETH", "quote_currency": "USDT",
        "tick_size": Decimal("1E-8"), "quote_increment": Decimal("0.01"),
        "min_order_size": "0.00001", "status": "open", "wrap_enabled": False,
        "product_type": "spot", "contract_type": "vanilla", "contract_price_currency": "USDT"})
    reply = rest(market, ["v1", "symbols", "details", "adausd"], {})
    assert (reply.status, reply.body) == (400, {
        "result": "error", "reason": "InvalidSymbol",
        "message": "Received unsupported symbol 'adausd'"})


def test_rest_pubticker_is_the_top_of_book_last_price_and_volumes(market: Market):
    trade = market.pair("BTC-USD").trade(Decimal("43210.5"), Decimal("0.5"), Side.BUY)
    state = market.state("BTC-USD")
    reply = rest(market, ["v1", "pubticker", "btcusd"], {})
    assert (reply.status, reply.body) == (200, {
        "bid": str(state.bid), "ask": str(state.ask), "last": "43210.5",
        "volume": {"BTC": str(state.volume_24h), "USD": str(state.volume_24h * state.last),
                   "timestamp": int(trade.time.timestamp() * 1000)}})


def test_rest_trades_newest_first_with_the_takers_side(market: Market):
    sold = market.pair("SOL-USD").trade(Decimal("98.5"), Decimal("2.5"), Side.SELL)
    bought = market.pair("SOL-USD").trade(Decimal("98.6"), Decimal("0.1"), Side.BUY)
    ms = 1_704_164_645_678
    reply = rest(market, ["v1", "trades", "SOLUSD"], {"limit_trades": "2"})
    assert (reply.status, reply.body) == (200, [
        {"timestamp": ms // 1000, "timestampms": ms, "tid": bought.id, "price": "98.6",
         "amount": "0.1", "exchange": "gemini", "type": "buy"},
        {"timestamp": ms // 1000, "timestampms": ms, "tid": sold.id, "price": "98.5",
         "amount": "2.5", "exchange": "gemini", "type": "sell"},
    ])
    assert len(rest(market, ["v1", "trades", "solusd"], {}).body) == 30  # all that is kept
    assert rest(market, ["v1", "trades", "solusd"], {"limit_trades": "0"}).body == []


@pytest.mark.parametrize(("parts", "params", "status", "body"), [
    (["v1", "pubticker", "btcxyz"], {}, 400, {
        "result": "error", "reason": "Bad Request",
        "message": "Supplied value 'BTCXYZ' is not a valid symbol"}),
    (["v1", "trades", "adausd"], {}, 400, {
        "result": "error", "reason": "Bad Request",
        "message": "Supplied value 'ADAUSD' is not a valid symbol"}),
    (["v1", "trades", "btcusd"], {"limit_trades": "ten"}, 400, {
        "result": "error", "reason": "Bad Request", "message": "Invalid limit_trades 'ten'"}),
    (["v2", "ticker", "btcusd"], {}, 404, {
        "result": "error", "reason": "EndpointNotFound", "message": "API entry point not found"}),
])
def test_rest_refusals(market: Market, parts: list[str], params: dict[str, str], status: int,
                       body: dict[str, str]):
    reply = rest(market, parts, params)
    assert (reply.status, reply.body) == (status, body)


# Through a real simulator process ------------------------------------------------------------


def get(sim: Simulator, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"{sim.http}/{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_round_trip_on_loopback(sim: Simulator):
    ws = sim.connect("gemini")
    ws.send('{"id":1,"method":"subscribe","params":["btcusd@bookTicker","btcusd@trade"]}')
    assert json.loads(ws.recv()) == {"id": 1, "status": 200}
    ws.send('{"id":2,"method":"subscribe","params":["btcusd@trade","foousd@trade"]}')
    assert json.loads(ws.recv())["error"] == {"code": -1013,
                                              "msg": "Invalid stream name: foousd@trade"}
    trade = sim.ok("gemini/trade", pair="BTC-USD", price="43210.5", amount="0.00012",
                   side="sell")
    event, book = json.loads(ws.recv()), json.loads(ws.recv())
    time = datetime.fromisoformat(trade["time"]).astimezone(UTC)
    assert event == {"E": int(time.timestamp()) * 10**9 + time.microsecond * 1000,
                     "s": "btcusd", "t": trade["trade_id"], "p": "43210.50",
                     "q": "0.00012000", "m": True}
    assert (book["s"], book["c"], book["C"]) == ("btcusd", "43210.50", "0.00012000")
    ws.send('{"id":1000000,"method":"ping"}')
    assert json.loads(ws.recv()) == {"id": 1000000, "status": 200}
    assert sim.ok("stats")["gemini"]["channels"] == {"bookTicker": ["BTC-USD"],
                                                     "trade": ["BTC-USD"]}
    assert get(sim, "gemini/v1/pubticker/btcusd")[1]["last"] == "43210.5"
    assert get(sim, "gemini/v1/trades/btcusd?limit_trades=1")[1][0]["tid"] == trade["trade_id"]
    assert get(sim, "gemini/v1/symbols")[0] == 200


def test_fixed_clock_is_t0():
    assert T0.timestamp() * 10**9 == pytest.approx(E_T0, abs=1000)
