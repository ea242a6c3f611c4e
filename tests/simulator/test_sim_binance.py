"""Binance and Binance.US combined-stream peer, driven as plain calls, and their REST routes;
their protocol pings on a live simulator (``pinging``: real sockets on loopback).

The expected frames are written from the docs (web-socket-streams.md, rest-api.md), not from
the peer's own helpers, so a peer that drifts from the documented shapes fails here.
"""

from __future__ import annotations

import json
import random
import struct
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import websocket
from sim_support import T0, Simulator, fixed_clock, start_simulator, stop_simulator

from simulator.__main__ import parse_args
from simulator.binance import (
    BINANCE,
    BINANCE_US,
    CONNECTION_LIFETIME,
    SPEC,
    SPEC_US,
    BinancePeer,
    Venue,
    rest,
    shutdown_command,
)
from simulator.market import Market, Side
from simulator.peer import Close, PeerOptions, ProtocolPing, Send
from simulator.registry import EXCHANGES

NOW = 1_700_000_000.0
T0_MS = int(T0.timestamp() * 1000)
BASES = ("BTC", "ETH", "SOL", "LTC", "XRP", "DOGE", "ADA")


@pytest.fixture
def market() -> Market:
    return Market("binance", SPEC.products, 3, fixed_clock)


@pytest.fixture
def market_us() -> Market:
    return Market("binanceus", SPEC_US.products, 3, fixed_clock)


@pytest.fixture
def peer(market: Market) -> BinancePeer:
    return BinancePeer(market, random.Random(5), PeerOptions(), NOW)


@pytest.fixture
def peer_us(market_us: Market) -> BinancePeer:
    return BinancePeer(market_us, random.Random(5), PeerOptions(), NOW, venue=BINANCE_US)


def frames(actions: list[Any]) -> list[dict[str, Any]]:
    assert all(isinstance(action, Send) for action in actions), actions
    return [json.loads(action.text) for action in actions]


def send(peer: BinancePeer, message: Any, now: float = NOW) -> list[dict[str, Any]]:
    text = message if isinstance(message, str) else json.dumps(message)
    return frames(peer.receive(text, now))


def subscribe(peer: BinancePeer, *streams: str, request_id: Any = 1,
              now: float = NOW) -> list[dict[str, Any]]:
    return send(peer, {"method": "SUBSCRIBE", "params": list(streams), "id": request_id}, now)


def error(code: int, msg: str, request_id: Any) -> dict[str, Any]:
    return {"error": {"code": code, "msg": msg}, "id": request_id}


def pad(value: Decimal) -> str:
    """Binance's 8-decimal text of a catalogue value (none has more than 8 decimals)."""
    return format(value.quantize(Decimal("0.00000001")), "f")


# Registration and products ---------------------------------------------------------------------


def test_registered_under_two_paths_with_one_peer_class():
    assert (EXCHANGES["binance"], EXCHANGES["binanceus"]) == (SPEC, SPEC_US)
    assert {product.pair for product in SPEC.products} == {f"{b}-USDT" for b in BASES}
    assert {product.pair for product in SPEC_US.products} == {f"{b}-USD" for b in BASES}
    assert SPEC.peer.func is SPEC_US.peer.func is BinancePeer  # type: ignore[attr-defined]
    assert "shutdown" in SPEC.commands and "shutdown" in SPEC_US.commands


def test_nothing_is_sent_on_connect(peer: BinancePeer):
    assert peer.opened(NOW) == []
    assert peer.tick(NOW + 60) == []  # no application heartbeat either


# Subscribing -----------------------------------------------------------------------------------


def test_subscribe_is_acked_and_data_is_wrapped_with_the_stream_name(
        peer: BinancePeer, market: Market):
    assert subscribe(peer, "btcusdt@bookTicker", "btcusdt@trade") == [{"result": None, "id": 1}]
    assert peer.subscriptions() == [("bookTicker", "BTC-USDT"), ("trade", "BTC-USDT")]
    trade = market.pair("BTC-USDT").trade(Decimal("43210.5"), Decimal("0.00012"), Side.BUY)
    state = market.state("BTC-USDT")
    out = frames(peer.on_trade("BTC-USDT", trade, T0.timestamp() + 0.25))
    assert out == [
        {"stream": "btcusdt@trade", "data": {
            "e": "trade", "E": T0_MS + 250, "s": "BTCUSDT", "t": trade.id,
            "p": "43210.50000000", "q": "0.00012000", "T": T0_MS, "m": False, "M": True}},
        {"stream": "btcusdt@bookTicker", "data": {
            "u": state.sequence, "s": "BTCUSDT", "b": pad(state.bid), "B": pad(state.bid_size),
            "a": pad(state.ask), "A": pad(state.ask_size)}},
    ]
    assert list(out[0]["data"]) == ["e", "E", "s", "t", "p", "q", "T", "m", "M"]
    assert list(out[1]["data"]) == ["u", "s", "b", "B", "a", "A"]


def test_a_taker_sell_is_a_buyer_maker_and_an_unchanged_book_sends_no_book_ticker(
        peer: BinancePeer, market: Market):
    subscribe(peer, "btcusdt@bookTicker", "btcusdt@trade")
    peer.on_quote("BTC-USDT", NOW)  # the first book ticker
    state = market.state("BTC-USDT")
    trade = market.pair("BTC-USDT").trade(state.bid, Decimal("2"), Side.SELL)
    [out] = frames(peer.on_trade("BTC-USDT", trade, NOW))
    assert (out["stream"], out["data"]["m"], out["data"]["q"]) == (
        "btcusdt@trade", True, "2.00000000")


def test_a_quote_sends_a_book_ticker_only_when_the_book_changed(
        peer: BinancePeer, market: Market):
    subscribe(peer, "ethusdt@bookTicker")
    assert len(frames(peer.on_quote("ETH-USDT", NOW))) == 1
    market.pair("ETH-USDT").set_quote(last=Decimal("2301"))
    assert peer.on_quote("ETH-USDT", NOW) == []  # bookTicker has no last price
    market.pair("ETH-USDT").set_quote(bid=Decimal("2300.10"), ask=Decimal("2300.30"),
                                      bid_size=Decimal("1.5"))
    [out] = frames(peer.on_quote("ETH-USDT", NOW))
    assert (out["data"]["b"], out["data"]["a"], out["data"]["B"]) == (
        "2300.10000000", "2300.30000000", "1.50000000")
    assert peer.on_trade("BTC-USDT", market.state("BTC-USDT").last_trade, NOW) == []


def test_binance_us_trades_carry_the_order_ids(peer_us: BinancePeer, market_us: Market):
    subscribe(peer_us, "btcusd@trade")
    trade = market_us.pair("BTC-USD").trade(Decimal("43000"), Decimal("1"), Side.SELL)
    [out] = frames(peer_us.on_trade("BTC-USD", trade, NOW))
    assert list(out["data"]) == ["e", "E", "s", "t", "p", "q", "b", "a", "T", "m", "M"]
    assert (out["data"]["s"], out["data"]["m"]) == ("BTCUSD", True)
    assert all(type(out["data"][key]) is int for key in ("b", "a"))
    other = BinancePeer(market_us, random.Random(6), PeerOptions(), NOW, venue=BINANCE_US)
    subscribe(other, "btcusd@trade")
    assert frames(other.on_trade("BTC-USD", trade, NOW)) == [out]  # the same for everyone


@pytest.mark.parametrize("stream", [
    "fooxyz@trade",  # a symbol nobody lists
    "btcusd@trade",  # binance.com has no USD spot
    "BTCUSDT@trade",  # stream names are lower case
    "btcusdt@aggTrade",  # a stream the simulator doesn't serve
    "btcusdt@depth5@100ms", "btcusdt@kline_1m", "!miniTicker@arr",
])
def test_well_formed_streams_without_data_are_acked_then_silent(
        peer: BinancePeer, market: Market, stream: str):
    assert subscribe(peer, stream, request_id=7) == [{"result": None, "id": 7}]
    assert peer.subscriptions() == []
    trade = market.pair("BTC-USDT").trade(Decimal("43000"), Decimal("1"), Side.BUY)
    assert peer.on_trade("BTC-USDT", trade, NOW) == []
    assert peer.tick(NOW + 1) == []
    assert send(peer, {"method": "LIST_SUBSCRIPTIONS", "id": 8}) == [
        {"result": [stream], "id": 8}]


@pytest.mark.parametrize("stream", ["btcusdt", "btcusdt@", "@trade", "btcusdt@foo",
                                    "btc usdt@trade", "btcusdt@trade@x", 5])
def test_a_malformed_stream_name_fails_the_whole_request(peer: BinancePeer, stream: Any):
    out = send(peer, {"method": "SUBSCRIBE", "params": ["ethusdt@trade", stream], "id": 4})
    assert out == [error(2, "Invalid request: invalid stream", 4)]
    assert peer.subscriptions() == []


def test_unsubscribe_and_list_subscriptions(peer: BinancePeer):
    subscribe(peer, "btcusdt@bookTicker", "btcusdt@trade", "ethusdt@trade")
    subscribe(peer, "btcusdt@trade", request_id=2)  # again: no duplicate
    assert send(peer, {"method": "UNSUBSCRIBE", "params": ["btcusdt@bookTicker"], "id": 312}) == [
        {"result": None, "id": 312}]
    assert send(peer, {"method": "LIST_SUBSCRIPTIONS", "id": 3}) == [
        {"result": ["btcusdt@trade", "ethusdt@trade"], "id": 3}]
    assert peer.subscriptions() == [("trade", "BTC-USDT"), ("trade", "ETH-USDT")]


def test_at_most_1024_streams_per_connection(peer: BinancePeer):
    names = [f"sym{index:04d}usdt@trade" for index in range(1024)]
    for start in range(0, 1024, 256):
        assert subscribe(peer, *names[start:start + 256], request_id=start,
                         now=NOW + start) == [{"result": None, "id": start}]
    assert subscribe(peer, "btcusdt@trade", request_id=9, now=NOW + 2000) == [
        error(2, "Invalid request: more than 1024 streams", 9)]


# Request errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("not json", error(3, "Invalid JSON: expected value at line 1 column 1", None)),
    ('{"params":["btcusdt@trade"],"id":1}',
     error(2, "Invalid request: missing field `method` at line 1 column 35", None)),
    ('{"method":"SUBSCRIBEE","params":[],"id":1}',
     error(2, "Invalid request: unknown variant `SUBSCRIBEE`, expected one of `SUBSCRIBE`, "
              "`UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY` at line 1 "
              "column 22", None)),
    ('{"method":"SUBSCRIBE","params":["btcusdt@trade"]}',
     error(2, "Invalid request: request ID must be an unsigned integer", None)),
    ('{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":"a-b"}',
     error(2, "Invalid request: request ID must be an unsigned integer", None)),
    ('{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1.5}',
     error(2, "Invalid request: request ID must be an unsigned integer", None)),
    ('{"method":"SUBSCRIBE","params":"btcusdt@trade","id":1}',
     error(2, "Invalid request: params must be a list of stream names", 1)),
    ('[1]', error(2, "Invalid request: expected a JSON object", None)),
])
def test_requests_binance_cannot_read_get_the_documented_errors(
        peer: BinancePeer, text: str, expected: dict[str, Any]):
    assert send(peer, text) == [expected]


@pytest.mark.parametrize(("request_id", "binance", "binance_us"), [
    (1, True, True), (0, True, True), (2**63 - 1, True, True), (2**64 - 1, False, True),
    (-1, True, False), ("abc123", True, False), (None, True, False), ("x" * 37, False, False),
    (True, False, False),
])
def test_request_ids_each_venue_takes(peer: BinancePeer, peer_us: BinancePeer, request_id: Any,
                                      binance: bool, binance_us: bool):
    for venue_peer, accepted in ((peer, binance), (peer_us, binance_us)):
        out = send(venue_peer, {"method": "LIST_SUBSCRIPTIONS", "id": request_id})
        expected = ({"result": [], "id": request_id} if accepted else
                    error(2, "Invalid request: request ID must be an unsigned integer", None))
        assert out == [expected]


def test_combined_property_set_and_get(peer: BinancePeer, market: Market):
    assert send(peer, {"method": "GET_PROPERTY", "params": ["combined"], "id": 2}) == [
        {"result": True, "id": 2}]
    assert send(peer, {"method": "SET_PROPERTY", "params": ["combined", False], "id": 5}) == [
        {"result": None, "id": 5}]
    subscribe(peer, "btcusdt@bookTicker", request_id=6)
    [raw] = frames(peer.on_quote("BTC-USDT", NOW))
    assert list(raw) == ["u", "s", "b", "B", "a", "A"]  # no stream wrapper
    assert send(peer, {"method": "GET_PROPERTY", "params": ["combined"], "id": 7}) == [
        {"result": False, "id": 7}]


@pytest.mark.parametrize(("message", "expected"), [
    ({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 1},
     error(1, "Invalid value type: expected Boolean", 1)),
    ({"method": "SET_PROPERTY", "params": ["nope", True], "id": 1},
     error(0, "Unknown property", 1)),
    ({"method": "GET_PROPERTY", "params": [5], "id": 1},
     error(2, "Invalid request: property name must be a string", 1)),
    ({"method": "GET_PROPERTY", "params": ["combined", True], "id": 1},
     error(2, "Invalid request: too many parameters", 1)),
])
def test_property_errors(peer: BinancePeer, message: dict[str, Any], expected: dict[str, Any]):
    assert send(peer, message) == [expected]


# Limits and lifetime -------------------------------------------------------------------------


def test_more_than_five_messages_in_a_second_cut_the_connection(peer: BinancePeer):
    for index in range(5):
        assert len(send(peer, {"method": "LIST_SUBSCRIPTIONS", "id": index},
                        NOW + index * 0.1)) == 1
    assert peer.receive('{"method":"LIST_SUBSCRIPTIONS","id":9}', NOW + 0.5) == [
        Close(1008, "Too many requests")]
    assert peer.receive('{"method":"LIST_SUBSCRIPTIONS","id":10}', NOW + 5) == []


def test_three_a_second_for_ever_is_within_the_limit(peer: BinancePeer):
    for index in range(30):
        assert len(send(peer, {"method": "LIST_SUBSCRIPTIONS", "id": index},
                        NOW + index / 3)) == 1


def test_a_connection_is_closed_at_the_24_hour_mark(peer: BinancePeer):
    assert peer.tick(NOW + CONNECTION_LIFETIME - 1) == []
    assert peer.tick(NOW + CONNECTION_LIFETIME) == [Close(1001, "")]
    assert peer.tick(NOW + CONNECTION_LIFETIME + 1) == []


def test_shutdown_command_sends_the_documented_event_then_closes():
    actions = shutdown_command({"close_after": "2"})
    event = json.loads(actions[0].text)  # type: ignore[union-attr]
    assert list(event) == ["stream", "data"] and event["stream"] == "!serverShutdown"
    assert list(event["data"]) == ["e", "E"] and event["data"]["e"] == "serverShutdown"
    assert actions[1] == Close(1001, "", delay=2.0)
    with pytest.raises(ValueError, match="close_after"):
        shutdown_command({"close_after": "soon"})


# REST ----------------------------------------------------------------------------------------


def get(market: Market, path: str, venue: Venue = BINANCE, **params: str) -> tuple[int, Any]:
    reply = rest(market, path.strip("/").split("/"), params, venue=venue)
    return reply.status, json.loads(json.dumps(reply.body, default=str))


def test_exchange_info_lists_trading_usdt_symbols_and_one_in_break(market: Market):
    status, body = get(market, "api/v3/exchangeInfo")
    assert status == 200
    assert list(body) == ["timezone", "serverTime", "rateLimits", "exchangeFilters", "symbols"]
    listed = {(s["symbol"], s["status"], s["baseAsset"], s["quoteAsset"]) for s in body["symbols"]}
    assert listed == {(f"{b}USDT", "TRADING", b, "USDT") for b in BASES} | {
        ("BCCUSDT", "BREAK", "BCC", "USDT")}
    btc = next(s for s in body["symbols"] if s["symbol"] == "BTCUSDT")
    assert btc["filters"][0] == {"filterType": "PRICE_FILTER", "minPrice": "0.01000000",
                                 "maxPrice": "1000000.00000000", "tickSize": "0.01000000"}
    assert btc["permissionSets"] == [["SPOT", "MARGIN"]]


def test_exchange_info_parameters_the_listener_sends(market: Market):
    status, body = get(market, "api/v3/exchangeInfo", symbolStatus="TRADING",
                       showPermissionSets="false")
    assert status == 200 and all(s["status"] == "TRADING" for s in body["symbols"])
    assert len(body["symbols"]) == 7 and all(s["permissionSets"] == [] for s in body["symbols"])
    assert get(market, "api/v3/exchangeInfo", symbol="ETHUSDT")[1]["symbols"][0]["symbol"] == (
        "ETHUSDT")
    assert get(market, "api/v3/exchangeInfo", symbol="BTCUSD") == (
        400, {"code": -1121, "msg": "Invalid symbol."})
    assert get(market, "api/v3/exchangeInfo", symbolStatus="OPEN") == (
        400, {"code": -1122, "msg": "Invalid symbolStatus."})


def test_binance_us_exchange_info_has_its_2023_shape(market_us: Market):
    _, body = get(market_us, "api/v3/exchangeInfo", BINANCE_US)
    btc = next(s for s in body["symbols"] if s["symbol"] == "BTCUSD")
    assert (btc["baseAsset"], btc["quoteAsset"], btc["permissions"]) == ("BTC", "USD", ["SPOT"])
    assert "permissionSets" not in btc and "otoAllowed" not in btc
    assert {s["symbol"] for s in body["symbols"] if s["status"] == "BREAK"} == {"PAXUSD"}


def test_ticker_24hr_is_the_markets_window(market: Market):
    before = datetime.now(UTC)
    status, body = get(market, "api/v3/ticker/24hr", symbol="BTCUSDT")
    state = market.state("BTC-USDT")
    assert status == 200
    assert list(body) == [
        "symbol", "priceChange", "priceChangePercent", "weightedAvgPrice", "prevClosePrice",
        "lastPrice", "lastQty", "bidPrice", "bidQty", "askPrice", "askQty", "openPrice",
        "highPrice", "lowPrice", "volume", "quoteVolume", "openTime", "closeTime", "firstId",
        "lastId", "count"]
    assert (body["bidPrice"], body["bidQty"], body["askPrice"], body["askQty"]) == (
        pad(state.bid), pad(state.bid_size), pad(state.ask), pad(state.ask_size))
    assert (body["lastPrice"], body["openPrice"], body["highPrice"], body["lowPrice"],
            body["volume"]) == (pad(state.last), pad(state.open_24h), pad(state.high_24h),
                                pad(state.low_24h), pad(state.volume_24h))
    assert body["priceChange"] == pad(state.last - state.open_24h)
    assert body["closeTime"] - body["openTime"] == 86_400_000
    assert body["closeTime"] >= int(before.timestamp() * 1000) - 1
    assert body["lastId"] == state.last_trade.id


def test_ticker_24hr_mini_and_lists(market: Market):
    _, mini = get(market, "api/v3/ticker/24hr", symbol="ETHUSDT", type="MINI")
    assert list(mini)[:6] == ["symbol", "openPrice", "highPrice", "lowPrice", "lastPrice",
                              "volume"]
    _, every = get(market, "api/v3/ticker/24hr")
    assert len(every) == 7
    _, two = get(market, "api/v3/ticker/24hr", symbols='["BTCUSDT","ETHUSDT"]')
    assert [body["symbol"] for body in two] == ["BTCUSDT", "ETHUSDT"]


@pytest.mark.parametrize(("params", "expected"), [
    ({"symbol": "BTCUSD"}, (400, {"code": -1121, "msg": "Invalid symbol."})),
    ({"symbol": "btcusdt"}, (400, {"code": -1100, "msg": "Illegal characters found in parameter "
                                   "'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'."})),
    ({"symbol": "BTCUSDT", "symbols": '["BTCUSDT"]'},
     (400, {"code": -1128, "msg": "Combination of optional parameters invalid."})),
])
def test_ticker_24hr_refusals(market: Market, params: dict[str, str],
                              expected: tuple[int, Any]):
    assert get(market, "api/v3/ticker/24hr", **params) == expected


def test_recent_trades_oldest_first_with_buyer_maker(market: Market):
    market.pair("SOL-USDT").trade(Decimal("98.5"), Decimal("3"), Side.SELL)
    status, rows = get(market, "api/v3/trades", symbol="SOLUSDT", limit="2")
    recent = market.state("SOL-USDT").recent
    assert status == 200 and [row["id"] for row in rows] == [recent[1].id, recent[0].id]
    assert rows[1] == {"id": recent[0].id, "price": "98.50000000", "qty": "3.00000000",
                       "quoteQty": "295.5", "time": T0_MS, "isBuyerMaker": True,
                       "isBestMatch": True}
    assert len(get(market, "api/v3/trades", symbol="SOLUSDT")[1]) == 30  # all that is kept
    assert len(get(market, "api/v3/trades", symbol="SOLUSDT", limit="5000")[1]) == 30


@pytest.mark.parametrize(("params", "expected"), [
    ({}, (400, {"code": -1102, "msg": "Mandatory parameter 'symbol' was not sent, was "
                                      "empty/null, or malformed."})),
    ({"symbol": "NOPEUSDT"}, (400, {"code": -1121, "msg": "Invalid symbol."})),
    ({"symbol": "BTCUSDT", "limit": "ten"},
     (400, {"code": -1100, "msg": "Illegal characters found in parameter 'limit'; legal range "
                                  "is '^[0-9]{1,20}$'."})),
])
def test_recent_trades_refusals(market: Market, params: dict[str, str],
                                expected: tuple[int, Any]):
    assert get(market, "api/v3/trades", **params) == expected


def test_binance_us_serves_usd_and_refuses_usdt(market_us: Market):
    assert get(market_us, "api/v3/ticker/24hr", BINANCE_US, symbol="BTCUSD")[0] == 200
    assert get(market_us, "api/v3/trades", BINANCE_US, symbol="BTCUSDT") == (
        400, {"code": -1121, "msg": "Invalid symbol."})


def test_unknown_paths_are_404(market: Market):
    assert get(market, "api/v3/depth", symbol="BTCUSDT")[0] == 404


def test_trade_time_in_frames_is_the_trade_time(peer: BinancePeer, market: Market):
    subscribe(peer, "btcusdt@trade")
    trade = market.pair("BTC-USDT").trade(Decimal("43000"), Decimal("1"), Side.BUY)
    later = (T0 + timedelta(seconds=3)).timestamp()
    [out] = frames(peer.on_trade("BTC-USDT", trade, later))
    assert (out["data"]["T"], out["data"]["E"]) == (T0_MS, int(later * 1000))


# Protocol pings -------------------------------------------------------------------------------

PING_INTERVAL = 0.25  # --protocol-ping-interval of ``pinging``; the real ones: 20 s, 180 s
PONG_TIMEOUT = 1.0  # --pong-timeout; the real ones: 60 s, 600 s


@pytest.fixture(scope="module")
def pinging_process() -> Iterator[Simulator]:
    process, url = start_simulator(
        "--rate", "0", "--seed", "7", "--exchanges", "binance,binanceus",
        "--protocol-ping-interval", str(PING_INTERVAL), "--pong-timeout", str(PONG_TIMEOUT))
    try:
        yield Simulator(url)
    finally:
        stop_simulator(process)


@pytest.fixture
def pinging(pinging_process: Simulator) -> Iterator[Simulator]:
    try:
        yield pinging_process
    finally:
        pinging_process.close_all()


def counters(sim: Simulator, exchange: str) -> tuple[int, int, int]:
    stats = sim.ok("stats")[exchange]
    return stats["protocol_pings"], stats["protocol_pongs"], stats["pong_timeouts"]


def read_until_closed(ws: websocket.WebSocket, answer: Any) -> tuple[list[tuple[float, bytes]],
                                                                      float, int, str]:
    """Read raw frames (``recv_frame`` never answers a ping by itself), handing each ping's
    payload to ``answer``, until the server's close frame: the pings with the moment each came,
    the close frame's moment, code and reason."""
    pings: list[tuple[float, bytes]] = []
    while True:
        frame = ws.recv_frame()
        now = time.monotonic()
        if frame.opcode == websocket.ABNF.OPCODE_PING:
            pings.append((now, frame.data))
            answer(frame.data)
            continue
        assert frame.opcode == websocket.ABNF.OPCODE_CLOSE, frame
        (code,) = struct.unpack("!H", frame.data[:2])
        return pings, now, code, frame.data[2:].decode()


def test_each_venue_declares_its_documented_pings():
    assert SPEC.protocol_ping == ProtocolPing(interval=20.0, timeout=60.0)
    assert SPEC_US.protocol_ping == ProtocolPing(interval=180.0, timeout=600.0)
    assert [name for name, spec in EXCHANGES.items() if spec.protocol_ping] == [
        "binance", "binanceus"]
    options = PeerOptions(protocol_ping_interval=0.5, pong_timeout=2.0)
    assert SPEC_US.protocol_ping.with_options(options) == ProtocolPing(0.5, 2.0)
    assert SPEC.protocol_ping.with_options(PeerOptions()) == SPEC.protocol_ping
    args = parse_args(["--protocol-ping-interval", "0.5", "--pong-timeout", "2"])
    assert (args.protocol_ping_interval, args.pong_timeout) == (0.5, 2.0)
    with pytest.raises(SystemExit):
        parse_args(["--pong-timeout", "0"])


@pytest.mark.parametrize("exchange", ["binance", "binanceus"])
def test_a_client_that_echoes_each_ping_stays_connected(pinging: Simulator, exchange: str):
    pings_before, pongs_before, timeouts_before = counters(pinging, exchange)
    ws = pinging.connect(exchange)
    payloads = []
    started = time.monotonic()
    while len(payloads) < 6:  # 1.5 s: well past the pong deadline
        frame = ws.recv_frame()
        assert frame.opcode == websocket.ABNF.OPCODE_PING, frame
        payloads.append(frame.data)
        ws.pong(frame.data)
    assert time.monotonic() - started > PONG_TIMEOUT
    assert len(set(payloads)) == 6 and all(len(payload) == 8 for payload in payloads)
    # still open, answering requests, every ping answered and counted (the last within a tick)
    ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 1}))
    while (frame := ws.recv_frame()).opcode == websocket.ABNF.OPCODE_PING:
        ws.pong(frame.data)
    assert json.loads(frame.data) == {"result": [], "id": 1}
    deadline = time.monotonic() + 2
    while counters(pinging, exchange)[1] - pongs_before < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    pings, pongs, timeouts = counters(pinging, exchange)
    assert pongs - pongs_before >= 6 and pings - pings_before >= pongs - pongs_before
    assert timeouts == timeouts_before
    assert pinging.ok("stats")[exchange]["connections"] == 1


def test_a_client_that_never_answers_is_closed_at_the_deadline(pinging: Simulator):
    _, pongs_before, timeouts_before = counters(pinging, "binance")
    ws = pinging.connect("binance")
    pings, closed_at, code, reason = read_until_closed(ws, lambda payload: None)
    assert (code, reason) == (1008, "Pong timeout")
    waited = closed_at - pings[0][0]  # the first ping's deadline, checked every 50 ms
    assert PONG_TIMEOUT - 0.05 <= waited <= PONG_TIMEOUT + 4 * PING_INTERVAL, waited
    assert len(pings) >= 3
    _, pongs, timeouts = counters(pinging, "binance")
    assert (pongs - pongs_before, timeouts - timeouts_before) == (0, 1)


def test_unsolicited_pongs_do_not_keep_a_connection(pinging: Simulator):
    _, pongs_before, timeouts_before = counters(pinging, "binance")
    ws = pinging.connect("binance")
    ws.pong(b"")  # "It is recommended that the payload for these pong frames are empty"

    def answer_wrongly(payload: bytes) -> None:
        ws.pong(b"")
        ws.pong(bytes(reversed(payload)))  # a pong, but not a copy of the ping's payload

    pings, closed_at, code, reason = read_until_closed(ws, answer_wrongly)
    assert (code, reason) == (1008, "Pong timeout")
    assert closed_at - pings[0][0] >= PONG_TIMEOUT - 0.05
    _, pongs, timeouts = counters(pinging, "binance")
    assert (pongs - pongs_before, timeouts - timeouts_before) == (0, 1)


def test_a_silenced_venue_sends_no_pings_and_times_nothing_out(pinging: Simulator):
    ws = pinging.connect("binance")
    frame = ws.recv_frame()
    assert frame.opcode == websocket.ABNF.OPCODE_PING
    ws.pong(frame.data)
    pinging.ok("binance/silence", seconds=str(PONG_TIMEOUT * 1.5))
    ws.settimeout(PONG_TIMEOUT * 1.2)
    # a ping already queued may still come out; then nothing, and no close for the silence
    with pytest.raises(websocket.WebSocketTimeoutException):
        while True:
            frame = ws.recv_frame()
            assert frame.opcode == websocket.ABNF.OPCODE_PING, frame
            ws.pong(frame.data)
    ws.settimeout(3)
    frame = ws.recv_frame()  # pinging again after the silence
    assert frame.opcode == websocket.ABNF.OPCODE_PING
    ws.pong(frame.data)
    assert pinging.ok("stats")["binance"]["connections"] == 1
