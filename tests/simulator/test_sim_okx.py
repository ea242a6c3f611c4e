"""OKX v5 protocol peer, driven as plain calls (client frames in, exact frames out), its REST
routes, and a few checks of both through a live simulator."""

from __future__ import annotations

import json
import random
import struct
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Any

import pytest
import websocket
from sim_support import Simulator, fixed_clock

from simulator import wire
from simulator.market import Market, Side
from simulator.okx import (
    PRODUCTS_USDT,
    SPEC,
    Control,
    OkxPeer,
    idle_timeout_command,
    notice_command,
    rest,
    ticker_item,
)
from simulator.peer import Close, PeerOptions, Send
from simulator.registry import EXCHANGES

NOW = 1_700_000_000.0
NOW_MS = "1700000000000"
NOTICE = "The connection will soon be closed for a service upgrade. Please reconnect."


def wrong_url(channel: str, inst_id: str) -> str:
    return (f"Wrong URL or channel:{channel},instId:{inst_id} doesn't exist. Please use the "
            "correct URL, channel and parameters referring to API document.")


@pytest.fixture
def market() -> Market:
    return Market("okx", PRODUCTS_USDT, 3, fixed_clock)


@pytest.fixture
def control() -> Control:
    return Control()


@pytest.fixture
def peer(market: Market, control: Control) -> OkxPeer:
    return OkxPeer(market, random.Random(5), PeerOptions(), NOW, control=control)


def frames(actions: list[Any]) -> list[Any]:
    """The JSON of each ``Send`` (the raw text where it is not JSON)."""
    assert all(isinstance(action, Send) for action in actions), actions
    out = []
    for action in actions:
        try:
            out.append(json.loads(action.text))
        except ValueError:
            out.append(action.text)
    return out


def send(peer: OkxPeer, frame: Any, now: float = NOW) -> list[Any]:
    text = frame if isinstance(frame, str) else json.dumps(frame)
    return frames(peer.receive(text, now))


def subscribe(*args: tuple[str, str], request_id: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"op": "subscribe",
                               "args": [{"channel": c, "instId": i} for c, i in args]}
    return {"id": request_id, **request} if request_id else request


def ticker_push(market: Market, pair: str, ts: str = NOW_MS) -> dict[str, Any]:
    state, text = market.state(pair), wire.decimal_text
    return {"arg": {"channel": "tickers", "instId": pair}, "data": [{
        "instType": "SPOT", "instId": pair, "last": text(state.last),
        "lastSz": text(state.last_trade.size), "askPx": text(state.ask),
        "askSz": text(state.ask_size), "bidPx": text(state.bid), "bidSz": text(state.bid_size),
        "open24h": text(state.open_24h), "high24h": text(state.high_24h),
        "low24h": text(state.low_24h),
        "volCcy24h": text((state.volume_24h * state.last).quantize(Decimal("0.00000001"))),
        "vol24h": text(state.volume_24h), "sodUtc0": text(state.open_24h),
        "sodUtc8": text(state.open_24h), "ts": ts}]}


def trade_push(pair: str, trade: Any) -> dict[str, Any]:
    return {"arg": {"channel": "trades", "instId": pair}, "data": [{
        "instId": pair, "tradeId": str(trade.id), "px": wire.decimal_text(trade.price),
        "sz": wire.decimal_text(trade.size), "side": trade.side.value,
        "ts": str(wire.epoch_ms(trade.time)), "count": "1", "source": "0",
        "seqId": trade.sequence}]}


# Registration and connect --------------------------------------------------------------------


def test_registered_with_usdt_products_only():
    assert EXCHANGES["okx"] is SPEC
    assert sorted(product.pair for product in SPEC.products) == [
        "ADA-USDT", "BTC-USDT", "DOGE-USDT", "ETH-USDT", "LTC-USDT", "SOL-USDT", "XRP-USDT"]
    assert set(SPEC.commands) == {"notice", "idle_timeout"}


def test_nothing_is_sent_on_connect_and_conn_ids_differ(market: Market, peer: OkxPeer):
    assert peer.opened(NOW) == []
    other = OkxPeer(market, random.Random(6), PeerOptions(), NOW)
    assert len(peer.conn_id) == 8 and int(peer.conn_id, 16) >= 0
    assert other.conn_id != peer.conn_id


# Subscribe -----------------------------------------------------------------------------------


def test_subscribe_acks_each_arg_then_sends_the_ticker_and_the_latest_trade(peer: OkxPeer,
                                                                          market: Market):
    answer = send(peer, subscribe(("tickers", "BTC-USDT"), ("trades", "BTC-USDT"),
                                  request_id="BTCxUSDT"))
    connection = peer.conn_id
    assert answer == [
        {"id": "BTCxUSDT", "event": "subscribe",
         "arg": {"channel": "tickers", "instId": "BTC-USDT"}, "connId": connection},
        {"id": "BTCxUSDT", "event": "subscribe",
         "arg": {"channel": "trades", "instId": "BTC-USDT"}, "connId": connection},
        ticker_push(market, "BTC-USDT"),
        trade_push("BTC-USDT", market.state("BTC-USDT").last_trade),
    ]
    assert peer.subscriptions() == [("tickers", "BTC-USDT"), ("trades", "BTC-USDT")]


def test_the_documented_request_without_id_gets_answers_without_id(peer: OkxPeer):
    ack, _ = send(peer, subscribe(("tickers", "ETH-USDT")))
    assert ack == {"event": "subscribe", "arg": {"channel": "tickers", "instId": "ETH-USDT"},
                   "connId": peer.conn_id}


def test_an_arg_already_subscribed_is_acked_again_and_nothing_more(peer: OkxPeer):
    send(peer, subscribe(("tickers", "BTC-USDT")))
    assert send(peer, subscribe(("tickers", "BTC-USDT"), ("trades", "SOL-USDT"))) == [
        {"event": "subscribe", "arg": {"channel": "tickers", "instId": "BTC-USDT"},
         "connId": peer.conn_id},
        {"event": "subscribe", "arg": {"channel": "trades", "instId": "SOL-USDT"},
         "connId": peer.conn_id},
        trade_push("SOL-USDT", peer.market.state("SOL-USDT").last_trade),
    ]


@pytest.mark.parametrize(("channel", "inst_id"), [
    ("tickers", "FOO-USDT"), ("trades", "BTC-USD"), ("tickers", "BTC-EUR"), ("books", "BTC-USDT"),
    ("tickers", "btc-usdt"), ("tickers", "BTCUSDT"),
])
def test_an_unknown_channel_or_instrument_is_refused_with_60018(peer: OkxPeer, channel: str,
                                                                inst_id: str):
    assert send(peer, subscribe((channel, inst_id), request_id="x1")) == [
        {"id": "x1", "event": "error", "code": "60018", "msg": wrong_url(channel, inst_id),
         "connId": peer.conn_id}]
    assert peer.subscriptions() == []


def test_a_bad_arg_fails_alone(peer: OkxPeer, market: Market):
    answer = send(peer, subscribe(("tickers", "FOO-USDT"), ("tickers", "ETH-USDT"),
                                  ("trades", "FOO-USDT")))
    assert [frame["event"] for frame in answer[:3]] == ["error", "subscribe", "error"]
    assert answer[3] == ticker_push(market, "ETH-USDT")
    assert len(answer) == 4
    assert peer.subscriptions() == [("tickers", "ETH-USDT")]


@pytest.mark.parametrize(("text", "code", "msg"), [
    ("hello", "60012", "Invalid request: hello"),
    ('{"args":[]}', "60012", 'Invalid request: {"args":[]}'),
    ('{"op":"subscribe"}', "60012", 'Invalid request: {"op":"subscribe"}'),
    ('{"op":"subscribe","args":[]}', "60012", 'Invalid request: {"op":"subscribe","args":[]}'),
    ('{"op":"subscribe","args":["tickers"]}', "60012",
     'Invalid request: {"op":"subscribe","args":["tickers"]}'),
    ('{"id":"a-b","op":"subscribe","args":[]}', "60012",
     'Invalid request: {"id":"a-b","op":"subscribe","args":[]}'),
    ('{"op":"order","args":[]}', "60019", "Invalid op: order"),
    ('{"op":"login","args":[]}', "60009", "Login failure"),
    ("PING", "60012", "Invalid request: PING"),
], ids=["text", "no-op", "no-args", "empty-args", "string-arg", "bad-id", "op", "login", "PING"])
def test_refused_requests(peer: OkxPeer, text: str, code: str, msg: str):
    (answer,) = send(peer, text)
    assert (answer["event"], answer["code"], answer["msg"]) == ("error", code, msg)


def test_unsubscribe_acks_and_stops_the_pushes(peer: OkxPeer, market: Market):
    send(peer, subscribe(("tickers", "BTC-USDT"), ("trades", "BTC-USDT")))
    assert send(peer, {"op": "unsubscribe", "args": [{"channel": "tickers",
                                                      "instId": "BTC-USDT"}]}) == [
        {"event": "unsubscribe", "arg": {"channel": "tickers", "instId": "BTC-USDT"},
         "connId": peer.conn_id}]
    trade = market.pair("BTC-USDT").trade(Decimal("43000"), Decimal("1"), Side.SELL)
    assert frames(peer.on_trade("BTC-USDT", trade, NOW)) == [trade_push("BTC-USDT", trade)]
    assert peer.on_quote("BTC-USDT", NOW) == []


# Pushes --------------------------------------------------------------------------------------


def test_a_trade_is_pushed_with_the_takers_side_then_the_ticker(peer: OkxPeer, market: Market):
    send(peer, subscribe(("trades", "BTC-USDT"), ("tickers", "BTC-USDT")))
    trade = market.pair("BTC-USDT").trade(Decimal("43210.5"), Decimal("0.00012"), Side.BUY)
    pushed = frames(peer.on_trade("BTC-USDT", trade, NOW + 1))
    assert pushed == [trade_push("BTC-USDT", trade),
                      ticker_push(market, "BTC-USDT", ts="1700000001000")]
    assert pushed[0]["data"][0] | {"ts": "", "tradeId": "", "seqId": 0} == {
        "instId": "BTC-USDT", "tradeId": "", "px": "43210.5", "sz": "0.00012", "side": "buy",
        "ts": "", "count": "1", "source": "0", "seqId": 0}
    assert pushed[1]["data"][0]["last"] == "43210.5"


def test_a_book_change_pushes_the_ticker(peer: OkxPeer, market: Market):
    send(peer, subscribe(("tickers", "ETH-USDT")))
    market.pair("ETH-USDT").set_quote(bid=Decimal("2300.1"), ask=Decimal("2300.3"),
                                      last=Decimal("2300.2"))
    (pushed,) = frames(peer.on_quote("ETH-USDT", NOW))
    assert pushed == ticker_push(market, "ETH-USDT")
    assert {key: pushed["data"][0][key] for key in ("bidPx", "askPx", "last")} == {
        "bidPx": "2300.1", "askPx": "2300.3", "last": "2300.2"}


def test_no_pushes_for_pairs_not_subscribed(peer: OkxPeer, market: Market):
    send(peer, subscribe(("trades", "BTC-USDT")))
    trade = market.pair("ETH-USDT").random_trade()
    assert peer.on_trade("ETH-USDT", trade, NOW) == []
    assert peer.on_quote("BTC-USDT", NOW) == []  # trades only: a book change says nothing


# Keepalive and the 30 s rule -----------------------------------------------------------------


def test_ping_is_answered_with_the_literal_pong_and_counted(peer: OkxPeer):
    assert peer.receive("ping", NOW) == [Send("pong")]
    assert peer.receive("ping", NOW + 1) == [Send("pong")]
    assert peer.pings == 2


def test_a_connection_sent_nothing_for_30_s_is_closed(peer: OkxPeer):
    assert peer.tick(NOW + 29.9) == []
    assert peer.tick(NOW + 30) == [Close(4004, "No data received in 30s")]
    assert peer.tick(NOW + 31) == []  # closed once
    assert peer.receive("ping", NOW + 31) == []


def test_pongs_acks_and_pushes_keep_it_open(peer: OkxPeer, market: Market):
    peer.receive("ping", NOW + 20)
    assert peer.tick(NOW + 49.9) == []
    send(peer, subscribe(("tickers", "BTC-USDT")), NOW + 40)  # ack and ticker at +40
    assert peer.tick(NOW + 69.9) == []
    market.pair("BTC-USDT").set_quote(bid=Decimal("43000"))
    peer.on_quote("BTC-USDT", NOW + 60)
    assert peer.tick(NOW + 89.9) == []
    assert peer.tick(NOW + 90) == [Close(4004, "No data received in 30s")]


def test_the_idle_timeout_is_a_control_setting(peer: OkxPeer, control: Control):
    assert idle_timeout_command({"seconds": "0.5"}, control) == []
    assert peer.tick(NOW + 0.4) == []
    assert peer.tick(NOW + 0.5) == [Close(4004, "No data received in 30s")]
    for bad in ({}, {"seconds": "0"}, {"seconds": "-1"}, {"seconds": "x"}, {"seconds": "inf"}):
        with pytest.raises(ValueError, match="seconds must be a number > 0"):
            idle_timeout_command(bad, control)


# Limits --------------------------------------------------------------------------------------


def test_480_requests_an_hour_per_connection(peer: OkxPeer):
    request = subscribe(("tickers", "BTC-USDT"), request_id="r1")
    for index in range(480):
        assert send(peer, request, NOW + index)[0]["event"] == "subscribe"
    assert send(peer, request, NOW + 480) == [
        {"id": "r1", "event": "error", "code": "60014", "msg": "Requests too frequent.",
         "connId": peer.conn_id}]
    assert send(peer, request, NOW + 3600)[0]["event"] == "subscribe"  # the first hour is over


def test_args_over_64_kb_close_the_connection(peer: OkxPeer):
    args = [{"channel": "tickers", "instId": "BTC-USDT"}] * 1600
    assert peer.receive(json.dumps({"op": "subscribe", "args": args}), NOW) == [
        Close(1009, "Request message exceeds the maximum frame length")]
    assert peer.tick(NOW + 100) == []


# Service upgrade notice ----------------------------------------------------------------------


def test_notice_reaches_each_connection_once_with_its_own_conn_id(peer: OkxPeer, market: Market,
                                                                  control: Control):
    other = OkxPeer(market, random.Random(6), PeerOptions(), NOW, control=control)
    assert notice_command({}, control) == []
    late = OkxPeer(market, random.Random(7), PeerOptions(), NOW, control=control)
    for connection in (peer, other):
        assert frames(connection.tick(NOW + 1)) == [
            {"event": "notice", "code": "64008", "msg": NOTICE, "connId": connection.conn_id}]
        assert connection.tick(NOW + 2) == []
    assert late.tick(NOW + 1) == []  # connected after the notice
    assert peer.tick(NOW + 30.9) == []  # the notice was a push: the 30 s start again


def test_notice_with_close_after_closes_the_connection(peer: OkxPeer, control: Control):
    notice_command({"close_after": "5"}, control)
    (notice,) = peer.tick(NOW + 1)
    assert json.loads(notice.text)["code"] == "64008"
    assert peer.tick(NOW + 5.9) == []
    assert peer.tick(NOW + 6) == [Close(1012, "Service Restart")]
    with pytest.raises(ValueError, match="close_after must be a number >= 0"):
        notice_command({"close_after": "soon"}, control)


# REST ----------------------------------------------------------------------------------------


def clock() -> float:
    return NOW


def test_rest_instruments_list_every_usdt_pair_live(market: Market):
    reply = rest(market, ["api", "v5", "public", "instruments"], {"instType": "SPOT"})
    assert (reply.status, reply.body["code"], reply.body["msg"]) == (200, "0", "")
    listed = {item["instId"]: item for item in reply.body["data"]}
    assert sorted(listed) == sorted(product.pair for product in PRODUCTS_USDT)
    btc = listed["BTC-USDT"]
    assert {key: btc[key] for key in ("instType", "baseCcy", "quoteCcy", "state", "tickSz",
                                      "lotSz")} == {
        "instType": "SPOT", "baseCcy": "BTC", "quoteCcy": "USDT", "state": "live",
        "tickSz": "0.01", "lotSz": "0.00000001"}


@pytest.mark.parametrize(("params", "status", "code", "msg"), [
    ({}, 400, "50014", "Parameter instType can not be empty."),
    ({"instType": "spot"}, 400, "51000", "Parameter instType error"),
])
def test_rest_instruments_refusals(market: Market, params: dict[str, str], status: int,
                                   code: str, msg: str):
    reply = rest(market, ["api", "v5", "public", "instruments"], params)
    assert (reply.status, reply.body) == (status, {"code": code, "msg": msg, "data": []})


def test_rest_instruments_of_derivatives_are_none_here(market: Market):
    reply = rest(market, ["api", "v5", "public", "instruments"], {"instType": "SWAP"})
    assert (reply.status, reply.body) == (200, {"code": "0", "msg": "", "data": []})


def test_rest_ticker_is_the_channels_ticker(market: Market):
    reply = rest(market, ["api", "v5", "market", "ticker"], {"instId": "BTC-USDT"}, clock)
    assert (reply.status, reply.body) == (200, {
        "code": "0", "msg": "", "data": ticker_push(market, "BTC-USDT")["data"]})
    assert reply.body["data"] == [ticker_item(market.state("BTC-USDT"), NOW)]


def test_rest_trades_newest_first_with_the_takers_side(market: Market):
    trade = market.pair("ETH-USDT").trade(Decimal("2301.07"), Decimal("1.5"), Side.SELL)
    reply = rest(market, ["api", "v5", "market", "trades"], {"instId": "ETH-USDT", "limit": "2"})
    assert reply.status == 200
    first, second = reply.body["data"]
    assert first == {"instId": "ETH-USDT", "side": "sell", "sz": "1.5", "source": "0",
                     "px": "2301.07", "tradeId": str(trade.id),
                     "ts": str(wire.epoch_ms(trade.time))}
    assert int(second["tradeId"]) < trade.id
    default = rest(market, ["api", "v5", "market", "trades"], {"instId": "ETH-USDT"})
    assert len(default.body["data"]) == len(market.state("ETH-USDT").recent)  # all of them


@pytest.mark.parametrize(("path", "params", "status", "body"), [
    ("market/ticker", {"instId": "BTC-USD"}, 200,
     {"code": "51001", "msg": "Instrument ID, Instrument ID code, or Spread ID doesn't exist.",
      "data": []}),
    ("market/trades", {"instId": "FOO-USDT"}, 200,
     {"code": "51001", "msg": "Instrument ID, Instrument ID code, or Spread ID doesn't exist.",
      "data": []}),
    ("market/ticker", {}, 400,
     {"code": "50014", "msg": "Parameter instId can not be empty.", "data": []}),
    ("market/trades", {"instId": "BTC-USDT", "limit": "501"}, 400,
     {"code": "51000", "msg": "Parameter limit error", "data": []}),
    ("market/trades", {"instId": "BTC-USDT", "limit": "0"}, 400,
     {"code": "51000", "msg": "Parameter limit error", "data": []}),
    ("market/books", {"instId": "BTC-USDT"}, 404, {"code": "404", "msg": "Not Found", "data": []}),
])
def test_rest_refusals(market: Market, path: str, params: dict[str, str], status: int,
                       body: Any):
    reply = rest(market, ["api", "v5", *path.split("/")], params)
    assert (reply.status, reply.body) == (status, body)


# Through a live simulator --------------------------------------------------------------------


def get(sim: Simulator, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"{sim.http}/{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_live_websocket_and_rest(sim: Simulator):
    ws = sim.connect("okx")
    ws.send(json.dumps(subscribe(("tickers", "BTC-USDT"), ("trades", "BTC-USDT"),
                                 request_id="BTCxUSDT")))
    ws.send(json.dumps(subscribe(("tickers", "FOO-USDT"), ("trades", "FOO-USDT"),
                                 request_id="FOOxUSDT")))
    received = [json.loads(ws.recv()) for _ in range(6)]
    assert [(frame.get("event"), frame.get("id")) for frame in received] == [
        ("subscribe", "BTCxUSDT"), ("subscribe", "BTCxUSDT"), (None, None), (None, None),
        ("error", "FOOxUSDT"), ("error", "FOOxUSDT")]
    assert received[4]["msg"] == wrong_url("tickers", "FOO-USDT")
    ws.send("ping")
    assert ws.recv() == "pong"

    injected = sim.ok("okx/trade", pair="BTC-USDT", price="43210.5", amount="0.00012",
                      side="sell")
    trade, ticker = json.loads(ws.recv()), json.loads(ws.recv())
    assert trade["data"][0] | {"ts": "", "seqId": 0} == {
        "instId": "BTC-USDT", "tradeId": str(injected["trade_id"]), "px": "43210.5",
        "sz": "0.00012", "side": "sell", "ts": "", "count": "1", "source": "0", "seqId": 0}
    assert ticker["data"][0]["last"] == "43210.5"

    status, body = get(sim, "okx/api/v5/market/ticker?instId=BTC-USDT")
    assert status == 200 and body["data"][0]["last"] == "43210.5"
    status, body = get(sim, "okx/api/v5/market/trades?instId=BTC-USDT&limit=1")
    assert (status, body["data"][0]["tradeId"]) == (200, str(injected["trade_id"]))
    assert get(sim, "okx/api/v5/market/ticker?instId=BTC-USD")[1]["code"] == "51001"
    assert sim.ok("stats")["okx"]["channels"] == {"tickers": ["BTC-USDT"],
                                                  "trades": ["BTC-USDT"]}


def close_code(ws: websocket.WebSocket) -> int:
    """Read until the server's close frame; its status code."""
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return struct.unpack("!H", data[:2])[0]


def test_live_idle_close_and_notice(sim: Simulator):
    sim.ok("okx/idle_timeout", seconds="0.5")
    try:
        quiet = sim.connect("okx")
        assert close_code(quiet) == 4004
        pinging = sim.connect("okx")
        pinging.send("ping")
        assert pinging.recv() == "pong"
    finally:
        sim.ok("okx/idle_timeout", seconds="30")
    sim.ok("okx/notice")
    notice = json.loads(pinging.recv())
    assert notice == {"event": "notice", "code": "64008", "msg": NOTICE,
                      "connId": notice["connId"]}
    assert len(notice["connId"]) == 8
