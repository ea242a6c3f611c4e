"""Kraken Spot WS v2 protocol peer, driven as plain calls (client frames in, exact frames out),
its REST routes, and both on a live simulator process."""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Any

import pytest
from sim_support import Simulator, fixed_clock

from simulator import wire
from simulator.catalogue import PRODUCTS
from simulator.kraken import KrakenPeer, names_for, rest, status_command
from simulator.market import Market, PairState, Side
from simulator.peer import PeerOptions, Send

NOW = 1_700_000_000.0
MOMENT = "2023-11-14T22:13:20.000000Z"  # NOW as time_in, time_out and ticker timestamps
TRADE_TIME = "2024-01-02T03:04:05.678901Z"  # the fixed market clock
TICKER_FIELDS = ["symbol", "bid", "bid_qty", "ask", "ask_qty", "last", "volume", "vwap", "low",
                 "high", "change", "change_pct", "timestamp"]


@pytest.fixture
def market() -> Market:
    return Market("kraken", PRODUCTS.values(), 3, fixed_clock)


@pytest.fixture
def peer(market: Market) -> KrakenPeer:
    return KrakenPeer(market, random.Random(5), PeerOptions(), NOW)


def texts(actions: list[Any]) -> list[str]:
    assert all(isinstance(action, Send) and action.delay == 0 for action in actions)
    return [action.text for action in actions]


def send(peer: KrakenPeer, frame: Any, now: float = NOW) -> list[dict[str, Any]]:
    text = frame if isinstance(frame, str) else json.dumps(frame)
    return [json.loads(t, parse_float=Decimal) for t in texts(peer.receive(text, now))]


def subscribe(channel: str, *symbols: str, req_id: int | None = 1, **params: Any) -> dict:
    frame: dict[str, Any] = {"method": "subscribe",
                             "params": {"channel": channel, "symbol": list(symbols), **params}}
    return frame | ({"req_id": req_id} if req_id is not None else {})


def ticker_entry(symbol: str, state: PairState) -> dict[str, Any]:
    """What the docs' ticker fields are, from the simulated market's state."""
    change = state.last - state.open_24h
    return {
        "symbol": symbol, "bid": state.bid, "bid_qty": state.bid_size, "ask": state.ask,
        "ask_qty": state.ask_size, "last": state.last, "volume": state.volume_24h,
        "low": state.low_24h, "high": state.high_24h, "change": change,
        "change_pct": (change / state.open_24h * 100).quantize(Decimal("0.01")),
        "timestamp": MOMENT,
    }


def without_vwap(frame: dict[str, Any]) -> dict[str, Any]:
    entries = [{key: value for key, value in entry.items() if key != "vwap"}
               for entry in frame["data"]]
    return frame | {"data": entries}


# Names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("pair", "names"), [
    ("BTC-USD", ("BTC/USD", "XBT/USD", "XBTUSD", "XXBTZUSD")),
    ("BTC-USDT", ("BTC/USDT", "XBT/USDT", "XBTUSDT", "XBTUSDT")),
    ("ETH-EUR", ("ETH/EUR", "ETH/EUR", "ETHEUR", "XETHZEUR")),
    ("DOGE-USD", ("DOGE/USD", "XDG/USD", "XDGUSD", "XDGUSD")),
    ("SOL-USD", ("SOL/USD", "SOL/USD", "SOLUSD", "SOLUSD")),
    ("ADA-EUR", ("ADA/EUR", "ADA/EUR", "ADAEUR", "ADAEUR")),
])
def test_kraken_names_of_a_pair_as_assetpairs_lists_them(pair: str, names: tuple[str, ...]):
    found = names_for(pair)
    assert (found.symbol, found.wsname, found.altname, found.key) == names


# Connect, subscribe ----------------------------------------------------------------------------


def test_status_on_connect(peer: KrakenPeer):
    (text,) = texts(peer.opened(NOW))
    connection_id = json.loads(text)["data"][0]["connection_id"]
    assert text == ('{"channel":"status","data":[{"api_version":"v2","connection_id":'
                    f'{connection_id},"system":"online","version":"2.0.0"}}],"type":"update"}}')
    assert connection_id == random.Random(5).getrandbits(64)


def test_ticker_subscribe_acks_then_snapshots(peer: KrakenPeer, market: Market):
    actions = peer.receive(json.dumps(subscribe("ticker", "BTC/USD", event_trigger="bbo",
                                                snapshot=True)), NOW)
    ack, snapshot = texts(actions)
    assert ack == ('{"method":"subscribe","req_id":1,"result":{"channel":"ticker",'
                   '"event_trigger":"bbo","snapshot":true,"symbol":"BTC/USD"},"success":true,'
                   f'"time_in":"{MOMENT}","time_out":"{MOMENT}"}}')
    frame = json.loads(snapshot, parse_float=Decimal)
    assert list(frame) == ["channel", "type", "data"]
    assert list(frame["data"][0]) == TICKER_FIELDS
    assert without_vwap(frame) == {"channel": "ticker", "type": "snapshot",
                                   "data": [ticker_entry("BTC/USD", market.state("BTC-USD"))]}
    assert peer.subscriptions() == [("ticker", "BTC-USD")]


def test_defaults_ticker_on_trades_with_a_snapshot_trade_without(peer: KrakenPeer):
    ack, snapshot = send(peer, subscribe("ticker", "ETH/USD", req_id=None))
    assert ack["result"] == {"channel": "ticker", "event_trigger": "trades", "snapshot": True,
                             "symbol": "ETH/USD"}
    assert "req_id" not in ack and snapshot["type"] == "snapshot"
    (ack,) = send(peer, subscribe("trade", "ETH/USD"))
    assert ack["result"] == {"channel": "trade", "snapshot": False, "symbol": "ETH/USD"}


def test_trade_snapshot_is_the_recent_trades_oldest_first(peer: KrakenPeer, market: Market):
    ack, snapshot = send(peer, subscribe("trade", "DOGE/EUR", snapshot=True, req_id=2))
    assert ack["result"] == {"channel": "trade", "snapshot": True, "symbol": "DOGE/EUR"}
    recent = market.state("DOGE-EUR").recent
    assert snapshot["channel"] == "trade" and snapshot["type"] == "snapshot"
    assert [entry["trade_id"] for entry in snapshot["data"]] == [t.id for t in reversed(recent)]
    first, newest = snapshot["data"][0], recent[0]
    assert snapshot["data"][-1] == {
        "symbol": "DOGE/EUR", "side": newest.side.value, "price": newest.price,
        "qty": newest.size, "ord_type": "market", "trade_id": newest.id,
        "timestamp": wire.iso_micros(newest.time),
    }
    assert list(first) == ["symbol", "side", "price", "qty", "ord_type", "trade_id", "timestamp"]


def test_v1_names_and_unknown_pairs_are_refused_per_symbol(peer: KrakenPeer):
    frames = send(peer, subscribe("trade", "XBT/USD", "BTC/USD", "XDG/USD", "FOO/BAR", req_id=7))
    assert frames == [
        {"error": "Currency pair not supported XBT/USD", "method": "subscribe", "req_id": 7,
         "success": False, "symbol": "XBT/USD", "time_in": MOMENT, "time_out": MOMENT},
        {"method": "subscribe", "req_id": 7,
         "result": {"channel": "trade", "snapshot": False, "symbol": "BTC/USD"},
         "success": True, "time_in": MOMENT, "time_out": MOMENT},
        {"error": "Currency pair not supported XDG/USD", "method": "subscribe", "req_id": 7,
         "success": False, "symbol": "XDG/USD", "time_in": MOMENT, "time_out": MOMENT},
        {"error": "Currency pair not supported FOO/BAR", "method": "subscribe", "req_id": 7,
         "success": False, "symbol": "FOO/BAR", "time_in": MOMENT, "time_out": MOMENT},
    ]
    assert peer.subscriptions() == [("trade", "BTC-USD")]


def test_error_keys_are_alphabetical_as_on_the_wire(peer: KrakenPeer):
    (text,) = texts(peer.receive(json.dumps(subscribe("ticker", "XBT/EUR", req_id=None)), NOW))
    assert text == ('{"error":"Currency pair not supported XBT/EUR","method":"subscribe",'
                    f'"success":false,"symbol":"XBT/EUR","time_in":"{MOMENT}",'
                    f'"time_out":"{MOMENT}"}}')


def test_a_second_subscribe_to_the_same_symbol_is_refused(peer: KrakenPeer):
    send(peer, subscribe("trade", "BTC/USD"))
    (error,) = send(peer, subscribe("trade", "BTC/USD"))
    assert (error["error"], error["success"], error["symbol"]) == (
        "Already subscribed", False, "BTC/USD")


@pytest.mark.parametrize(("frame", "error"), [
    ({"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USD"]}},
     "Channel not supported: 'book'"),
    ({"method": "subscribe", "params": {"channel": "trade", "symbol": []}},
     "Invalid request: symbol must be a non-empty list of strings"),
    ({"method": "subscribe", "params": {"channel": "trade", "symbol": "BTC/USD"}},
     "Invalid request: symbol must be a non-empty list of strings"),
    ({"method": "subscribe",
      "params": {"channel": "ticker", "symbol": ["BTC/USD"], "event_trigger": "book"}},
     "Invalid request: event_trigger must be bbo or trades"),
    ({"method": "subscribe", "params": {"channel": "trade", "symbol": ["BTC/USD"],
                                        "snapshot": "yes"}},
     "Invalid request: snapshot must be a boolean"),
    ({"method": "subscribe"}, "Invalid request: params must be an object"),
], ids=["channel", "no-symbols", "symbol-string", "trigger", "snapshot", "no-params"])
def test_refused_requests(peer: KrakenPeer, frame: dict[str, Any], error: str):
    (answer,) = send(peer, frame | {"req_id": 3})
    assert answer == {"error": error, "method": "subscribe", "req_id": 3, "success": False,
                      "time_in": MOMENT, "time_out": MOMENT}
    assert peer.subscriptions() == []


def test_unknown_methods_and_garbage(peer: KrakenPeer):
    assert send(peer, {"method": "hello", "req_id": 4}) == [
        {"error": "Method not supported: 'hello'", "method": "hello", "req_id": 4,
         "success": False, "time_in": MOMENT, "time_out": MOMENT}]
    assert send(peer, "{nope") == [
        {"error": "Malformed request", "success": False, "time_in": MOMENT, "time_out": MOMENT}]


def test_unsubscribe(peer: KrakenPeer):
    send(peer, subscribe("trade", "BTC/USD", "ETH/USD"))
    frames = send(peer, {"method": "unsubscribe",
                         "params": {"channel": "trade", "symbol": ["BTC/USD", "SOL/USD"]}})
    assert frames == [
        {"method": "unsubscribe", "result": {"channel": "trade", "symbol": "BTC/USD"},
         "success": True, "time_in": MOMENT, "time_out": MOMENT},
        {"error": "Subscription Not Found", "method": "unsubscribe", "success": False,
         "symbol": "SOL/USD", "time_in": MOMENT, "time_out": MOMENT},
    ]
    assert peer.subscriptions() == [("trade", "ETH-USD")]


# Pings and heartbeats --------------------------------------------------------------------------


def test_ping_gets_a_pong_with_its_req_id_and_is_counted(peer: KrakenPeer):
    assert texts(peer.receive('{"method":"ping","req_id":101}', NOW)) == [
        f'{{"method":"pong","req_id":101,"time_in":"{MOMENT}","time_out":"{MOMENT}"}}']
    assert send(peer, {"method": "ping"}) == [
        {"method": "pong", "time_in": MOMENT, "time_out": MOMENT}]
    assert peer.pings == 2


def test_heartbeat_after_a_second_without_frames_once_subscribed(peer: KrakenPeer):
    assert peer.tick(NOW + 5) == []  # nothing subscribed: no heartbeat
    send(peer, subscribe("trade", "BTC/USD"), now=NOW + 5)
    assert peer.tick(NOW + 5.9) == []
    assert texts(peer.tick(NOW + 6.0)) == ['{"channel":"heartbeat"}']
    assert peer.tick(NOW + 6.5) == []
    send(peer, {"method": "ping"}, now=NOW + 6.8)  # any frame restarts the second
    assert peer.tick(NOW + 7.5) == []
    assert texts(peer.tick(NOW + 7.8)) == ['{"channel":"heartbeat"}']


# Market events ---------------------------------------------------------------------------------


def test_trade_update_then_ticker_on_trades(peer: KrakenPeer, market: Market):
    send(peer, subscribe("trade", "BTC/USD"))
    send(peer, subscribe("ticker", "BTC/USD", snapshot=False))
    market.pair("BTC-USD").set_quote(bid=Decimal("43210.10"), ask=Decimal("43210.60"))
    trade = market.pair("BTC-USD").trade(Decimal("43210.5"), Decimal("0.00012"), Side.SELL)
    trade_text, ticker_text = texts(peer.on_trade("BTC-USD", trade, NOW))
    assert trade_text == (
        '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"sell",'
        f'"price":43210.5,"qty":0.00012,"ord_type":"market","trade_id":{trade.id},'
        f'"timestamp":"{TRADE_TIME}"}}]}}')
    ticker = json.loads(ticker_text, parse_float=Decimal)
    assert without_vwap(ticker) == {"channel": "ticker", "type": "update",
                                    "data": [ticker_entry("BTC/USD", market.state("BTC-USD"))]}
    assert ticker["data"][0]["bid"] == Decimal("43210.1")  # the exact value, shortest form


def test_bbo_ticker_only_when_the_best_prices_move(peer: KrakenPeer, market: Market):
    send(peer, subscribe("ticker", "ETH/EUR", event_trigger="bbo"))
    pair = market.pair("ETH-EUR")
    state = market.state("ETH-EUR")
    inside = pair.trade(state.bid, Decimal("0.5"), Side.SELL)  # at the bid: the book stays
    assert peer.on_trade("ETH-EUR", inside, NOW) == []
    pair.set_quote(last=state.bid)  # the last price alone: no bbo event
    assert peer.on_quote("ETH-EUR", NOW) == []
    pair.set_quote(bid=state.bid - Decimal("0.01"))
    (text,) = texts(peer.on_quote("ETH-EUR", NOW))
    assert json.loads(text, parse_float=Decimal)["data"][0]["bid"] == state.bid - Decimal("0.01")
    assert peer.on_quote("ETH-EUR", NOW) == []  # told once
    through = pair.trade(state.ask + Decimal("1"), Decimal("0.5"), Side.BUY)  # lifts the ask
    assert len(peer.on_trade("ETH-EUR", through, NOW)) == 1


def test_trades_trigger_ignores_quotes_and_other_pairs_say_nothing(peer: KrakenPeer,
                                                                  market: Market):
    send(peer, subscribe("ticker", "BTC/USD"))
    market.pair("BTC-USD").set_quote(bid=Decimal("40000"))
    assert peer.on_quote("BTC-USD", NOW) == []
    trade = market.pair("ETH-USD").random_trade()
    assert peer.on_trade("ETH-USD", trade, NOW) == []


def test_status_command_broadcasts_the_engine_state():
    (action,) = status_command({"system": "maintenance"})
    assert isinstance(action, Send)
    assert action.text == ('{"channel":"status","data":[{"api_version":"v2","connection_id":0,'
                           '"system":"maintenance","version":"2.0.0"}],"type":"update"}')
    with pytest.raises(ValueError, match="system must be one of"):
        status_command({"system": "closed"})


# REST (plain calls) ----------------------------------------------------------------------------


def test_asset_pairs_list_every_product_under_its_internal_name(market: Market):
    reply = rest(market, ["0", "public", "AssetPairs"], {})
    assert reply.status == 200 and reply.body["error"] == []
    result = reply.body["result"]
    assert len(result) == len(PRODUCTS)
    assert {key: (entry["altname"], entry["wsname"], entry["base"], entry["quote"])
            for key, entry in result.items() if "XBT" in entry["altname"]} == {
        "XXBTZUSD": ("XBTUSD", "XBT/USD", "XXBT", "ZUSD"),
        "XXBTZEUR": ("XBTEUR", "XBT/EUR", "XXBT", "ZEUR"),
        "XBTUSDT": ("XBTUSDT", "XBT/USDT", "XXBT", "USDT"),
    }
    doge = result["XDGUSD"]
    assert (doge["wsname"], doge["status"], doge["pair_decimals"], doge["tick_size"]) == (
        "XDG/USD", "online", 5, "0.00001")


@pytest.mark.parametrize("name", ["XBTUSD", "XXBTZUSD", "XBT/USD", "xbtusd"])
def test_ticker_by_any_kraken_name_is_keyed_by_the_internal_name(market: Market, name: str):
    state = market.state("BTC-USD")
    reply = rest(market, ["0", "public", "Ticker"], {"pair": name})
    text = wire.decimal_text
    ticker = reply.body["result"]["XXBTZUSD"]
    assert reply.status == 200 and list(reply.body["result"]) == ["XXBTZUSD"]
    assert {key: ticker[key] for key in "abcvlho"} == {
        "a": [text(state.ask), str(int(state.ask_size)), text(state.ask_size)],
        "b": [text(state.bid), str(int(state.bid_size)), text(state.bid_size)],
        "c": [text(state.last), text(state.last_trade.size)],
        "v": [text(state.volume_24h)] * 2,
        "l": [text(state.low_24h)] * 2,
        "h": [text(state.high_24h)] * 2,
        "o": text(state.open_24h),
    }
    assert ticker["t"] == [len(state.recent)] * 2 and len(ticker["p"]) == 2


@pytest.mark.parametrize("params", [{"pair": "BTCUSD"}, {"pair": "FOOBAR"}, {}])
def test_unknown_pair_is_an_http_200_error(market: Market, params: dict[str, str]):
    for route in ("Ticker", "Trades"):
        reply = rest(market, ["0", "public", route], params)
        assert (reply.status, reply.body) == (200, {"error": ["EQuery:Unknown asset pair"]})


def test_trades_oldest_first_with_exact_seconds_and_the_taker_side(market: Market):
    sold = market.pair("DOGE-USD").trade(Decimal("0.08512"), Decimal("1200"), Side.SELL)
    reply = rest(market, ["0", "public", "Trades"], {"pair": "XDGUSD", "count": "2"})
    rows = reply.body["result"]["XDGUSD"]
    before = market.state("DOGE-USD").recent[1]
    assert reply.status == 200 and len(rows) == 2
    assert rows[1] == ["0.08512", "1200", Decimal("1704164645.678901"), "s", "m", "", sold.id]
    assert rows[0][6] == before.id and rows[0][3] == ("b" if before.side is Side.BUY else "s")
    assert reply.body["result"]["last"] == "1704164645678901000"
    assert len(rest(market, ["0", "public", "Trades"], {"pair": "XDGUSD"}).body["result"][
        "XDGUSD"]) == 30  # all the simulator keeps


@pytest.mark.parametrize("count", ["0", "1001", "ten"])
def test_trades_count_out_of_range(market: Market, count: str):
    reply = rest(market, ["0", "public", "Trades"], {"pair": "XBTUSD", "count": count})
    assert (reply.status, reply.body) == (200, {"error": ["EGeneral:Invalid arguments"]})


def test_unknown_route(market: Market):
    reply = rest(market, ["0", "public", "Depth"], {"pair": "XBTUSD"})
    assert (reply.status, reply.body) == (404, {"error": ["EGeneral:Unknown method"]})


# A live simulator process ----------------------------------------------------------------------


def get(sim: Simulator, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"{sim.http}/{path}", timeout=5) as response:
            return response.status, json.loads(response.read(), parse_float=Decimal)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read(), parse_float=Decimal)


def recv(ws: Any) -> dict[str, Any]:
    """The next frame that is not a heartbeat."""
    while True:
        frame = json.loads(ws.recv(), parse_float=Decimal)
        if frame != {"channel": "heartbeat"}:
            return frame


def test_live_feed_and_rest_quote_the_same_market(sim: Simulator):
    ws = sim.connect("kraken")
    assert recv(ws)["channel"] == "status"
    ws.send(json.dumps(subscribe("trade", "XBT/USD", "SOL/USD", req_id=9)))
    assert recv(ws)["error"] == "Currency pair not supported XBT/USD"
    assert recv(ws)["result"]["symbol"] == "SOL/USD"
    trade = sim.ok("kraken/trade", pair="SOL-USD", price="98.55", amount="2.5", side="sell")
    assert recv(ws)["data"] == [{"symbol": "SOL/USD", "side": "sell", "price": Decimal("98.55"),
                                 "qty": Decimal("2.5"), "ord_type": "market",
                                 "trade_id": trade["trade_id"], "timestamp": trade["time"]}]
    status, body = get(sim, "kraken/0/public/Trades?pair=SOLUSD&count=1")
    assert status == 200
    (row,) = body["result"]["SOLUSD"]
    assert (row[0], row[1], row[3], row[6]) == ("98.55", "2.5", "s", trade["trade_id"])
    status, body = get(sim, "kraken/0/public/Ticker?pair=SOLUSD")
    assert status == 200 and body["result"]["SOLUSD"]["c"][0] == "98.55"
    assert get(sim, "kraken/0/public/Ticker?pair=SOLGBP") == (
        200, {"error": ["EQuery:Unknown asset pair"]})


def test_live_heartbeat_and_status_command(sim: Simulator):
    ws = sim.connect("kraken")
    json.loads(ws.recv())  # status
    ws.send(json.dumps(subscribe("ticker", "ETH/USD", snapshot=False)))
    assert json.loads(ws.recv())["success"] is True
    assert json.loads(ws.recv()) == {"channel": "heartbeat"}  # within the 3 s socket timeout
    assert sim.ok("kraken/status", system="cancel_only")["sent_to"] == 1
    frame = recv(ws)
    assert (frame["channel"], frame["data"][0]["system"]) == ("status", "cancel_only")
    assert sim.ok("stats")["kraken"]["channels"] == {"ticker": ["ETH-USD"]}
