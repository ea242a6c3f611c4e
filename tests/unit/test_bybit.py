"""Bybit: symbols, subscribe frames, the session and the REST parsers, fed documented frames.

Frames come from ``tests/fixtures/bybit/docs_frames.txt`` (Bybit's docs, adapted where marked,
and published wire logs; no recorded Bybit session exists); expected records are written out by
hand from the frames' text, so a parser that reorders, rounds or mislabels a field fails here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from exchanges import LISTENERS
from exchanges.base import Feed, QuoteBook
from exchanges.bybit import (
    Bybit,
    BybitSession,
    parse_instruments,
    parse_rest_ticker,
    parse_rest_trades,
)
from exchanges.pairs import PairError
from exchanges.parsing import MalformedFrame, decode
from exchanges.records import FeedState, Quote, Record, Side, Status, Ticker, Trade
from tests.unit.frames import documented_frames

T0 = datetime(2026, 11, 24, 17, 42, 3, 123456, tzinfo=UTC)  # every frame's receive time
DOCS = documented_frames("bybit")
BTC = Feed("BTC-USDT", "BTCUSDT")


def listener() -> Bybit:
    return Bybit([], lambda record: None)


def session_for(*symbols: str) -> BybitSession:
    return listener().new_session({symbol: f"{symbol[:-4]}-USDT" for symbol in symbols})


def receive(session: BybitSession, *frames: str) -> list[Record]:
    return [record for frame in frames for record in session.receive(frame, T0)]


def ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def status(pair: str | None, state: FeedState, detail: str) -> Status:
    return Status("bybit", pair, state, detail, T0)


def frame(**fields: Any) -> str:
    return json.dumps(fields, separators=(",", ":"))


# Listener declarations, symbols and subscribe frames ---------------------------------------


def test_listener_declares_the_v5_spot_feed():
    bybit = listener()
    assert LISTENERS["bybit"] is Bybit
    assert (bybit.name, bybit.url, bybit.rest_url) == (
        "bybit", "wss://stream.bybit.com/v5/public/spot", "https://api.bybit.com")
    assert Bybit.default_pairs == ("BTC-USDT", "ETH-USDT")
    assert (Bybit.channels_per_pair, Bybit.max_subscriptions, Bybit.pairs_per_connection()) == (
        2, 200, 100)
    assert (Bybit.ping_interval, Bybit.merges_quotes, Bybit.subscribe_interval) == (
        20.0, True, 0.0)
    assert isinstance(bybit.new_session({"BTCUSDT": "BTC-USDT"}), BybitSession)


@pytest.mark.parametrize(("pair", "symbol"), [
    ("BTC-USDT", "BTCUSDT"), ("ETH-USDC", "ETHUSDC"), ("1INCH-USDT", "1INCHUSDT"),
    ("BTC-USD", "BTCUSD"),  # Bybit's inverse contract, not spot: the feed refuses it
])
def test_symbol_joins_base_and_quote(pair: str, symbol: str):
    assert listener().symbol_for(pair) == symbol


@pytest.mark.parametrize("typed", ["btcusdt", "BTC/USDT", "btc_usdt", " BTC-usdt ", "BTCUSDT"])
def test_odd_spellings_read_as_the_same_feed(typed: str):
    assert Bybit([typed], lambda record: None)._feed_for(typed) == BTC


@pytest.mark.parametrize("pair", ["btc-usdt", "BTC-US.DT", "BTC-", ""])
def test_symbol_refuses_what_bybit_cannot_spell(pair: str):
    with pytest.raises(PairError, match="Bybit has no symbol"):
        listener().symbol_for(pair)


def test_one_subscribe_request_per_symbol_with_its_two_topics_and_the_symbol_as_req_id():
    assert listener().subscribe_frames(["BTCUSDT", "ETHUSDT"]) == [
        '{"req_id":"BTCUSDT","op":"subscribe","args":["orderbook.1.BTCUSDT",'
        '"publicTrade.BTCUSDT"]}',
        '{"req_id":"ETHUSDT","op":"subscribe","args":["orderbook.1.ETHUSDT",'
        '"publicTrade.ETHUSDT"]}',
    ]


def test_subscribe_requests_respect_the_documented_limits():
    """At most 10 args a request; a full connection's args well under 21,000 characters."""
    symbols = [f"{'X' * 20}{index:03d}USDT" for index in range(Bybit.pairs_per_connection())]
    frames = [json.loads(text) for text in listener().subscribe_frames(symbols)]
    assert all(len(request["args"]) <= 10 for request in frames)
    args = [topic for request in frames for topic in request["args"]]
    assert len(args) == Bybit.max_subscriptions
    assert len(json.dumps(args)) < 21_000


def test_the_documented_subscribe_request_has_the_shape_we_send():
    documented = json.loads(DOCS["subscribe_request"])
    ours = json.loads(listener().subscribe_frames(["BTCUSDT"])[0])
    assert list(ours) == list(documented) == ["req_id", "op", "args"]
    assert set(ours["args"]) <= set(documented["args"])


def test_ping_frame_is_the_documented_heartbeat():
    ping = json.loads(listener().ping_frame())
    assert list(ping) == list(json.loads(DOCS["ping_request"])) == ["req_id", "op"]
    assert ping["op"] == "ping"


# Order book: a Quote -----------------------------------------------------------------------


DOCS_QUOTE = Quote("bybit", "BTC-USDT", "BTCUSDT", ms(1672304484976), bid=Decimal("16493.50"),
                   ask=Decimal("16611.00"), bid_size=Decimal("0.006"), ask_size=Decimal("0.029"))


def test_level_1_snapshot_is_a_quote_at_the_matching_engine_time():
    assert receive(session_for("BTCUSDT"), DOCS["orderbook_1_snapshot"]) == [DOCS_QUOTE]


def test_snapshot_after_a_service_restart_overwrites_and_an_empty_side_stays_unknown():
    session = session_for("BTCUSDT")
    assert receive(session, DOCS["orderbook_1_snapshot"], DOCS["orderbook_1_restart"]) == [
        DOCS_QUOTE,
        Quote("bybit", "BTC-USDT", "BTCUSDT", ms(1672304485976), bid=Decimal("16493.00"),
              bid_size=Decimal("0.100")),
    ]


def test_book_without_cts_takes_ts():
    message = json.loads(DOCS["orderbook_1_snapshot"])
    del message["cts"]
    (quote,) = receive(session_for("BTCUSDT"), json.dumps(message))
    assert quote.time == ms(1672304484978)


def test_quote_keeps_the_exact_digits_of_tiny_prices():
    message = json.loads(DOCS["orderbook_1_snapshot"])
    message["data"]["b"], message["data"]["a"] = [["0.00001302", "1E+3"]], [["0.000013", "7"]]
    (quote,) = receive(session_for("BTCUSDT"), json.dumps(message))
    assert (quote.bid, quote.bid_size, quote.ask) == (
        Decimal("0.00001302"), Decimal("1E+3"), Decimal("0.000013"))
    assert str(quote.bid) == "0.00001302"


def test_books_of_other_depths_or_symbols_give_nothing():
    session = session_for("ETHUSDT")
    assert receive(session, DOCS["orderbook_50_snapshot"], DOCS["orderbook_50_delta"],
                   DOCS["orderbook_1_snapshot"]) == []


def test_quote_and_trade_merge_into_a_ticker():
    """``merges_quotes``: the listener's QuoteBook lays the quote and the trade's price over
    each other and publishes a whole ticker."""
    records = receive(session_for("BTCUSDT"), DOCS["orderbook_1_snapshot"], DOCS["public_trade"])
    quote, trade_ = records
    book = QuoteBook("bybit")
    assert book.quote(quote) is None  # no last price yet
    assert book.trade(trade_) == Ticker(
        "bybit", "BTC-USDT", "BTCUSDT", ms(1672304486865), bid=Decimal("16493.50"),
        ask=Decimal("16611.00"), last=Decimal("16578.50"), bid_size=Decimal("0.006"),
        ask_size=Decimal("0.029"))


# Trades ------------------------------------------------------------------------------------


def test_documented_trade_with_the_takers_side():
    assert receive(session_for("BTCUSDT"), DOCS["public_trade"]) == [
        Trade("bybit", "BTC-USDT", "BTCUSDT", ms(1672304486865),
              "20f43950-d8dd-5b31-9112-a178eb6023af", Decimal("16578.50"), Decimal("0.001"),
              Side.BUY),
    ]


def test_several_trades_in_one_push_in_their_order_and_a_taker_sell():
    message = json.loads(DOCS["public_trade"])
    sell = {"T": 1672304486900, "s": "BTCUSDT", "S": "Sell", "v": "0.25", "p": "16578.00",
            "i": "2290000000061666327", "BT": True, "RPI": False, "seq": 1783284618}
    message["data"].append(sell)
    first, second = receive(session_for("BTCUSDT"), json.dumps(message))
    assert first.side is Side.BUY
    assert second == Trade("bybit", "BTC-USDT", "BTCUSDT", ms(1672304486900),
                           "2290000000061666327", Decimal("16578.00"), Decimal("0.25"),
                           Side.SELL)


def test_trades_of_a_symbol_we_did_not_ask_for_give_nothing():
    assert receive(session_for("ETHUSDT"), DOCS["public_trade"]) == []


def test_spot_ticker_topic_gives_nothing():
    """We don't subscribe to it (it has no bid/ask); should it come, it is harmless."""
    assert receive(session_for("BTCUSDT"), DOCS["ticker_spot"]) == []


# Answers: acks, refusals, pongs ------------------------------------------------------------


def ack(req_id: str) -> str:
    return frame(success=True, ret_msg="subscribe", conn_id="2324d924-aa4d-45b0-a858",
                 req_id=req_id, op="subscribe")


def refusal(req_id: str, topic: str) -> str:
    return frame(success=False, ret_msg=f"error:handler not found,topic:{topic}",
                 conn_id="da7tne17jutmkv5im010-bcdap", req_id=req_id, op="subscribe")


def test_ack_of_our_request_makes_its_pair_live():
    session = session_for("BTCUSDT", "ETHUSDT")
    assert receive(session, ack("ETHUSDT"), ack("BTCUSDT")) == [
        status("ETH-USDT", FeedState.LIVE, "subscribed"),
        status("BTC-USDT", FeedState.LIVE, "subscribed"),
    ]


@pytest.mark.parametrize("name", ["ack_spot", "ack_linear", "ack_private"])
def test_documented_acks_of_requests_that_are_not_ours_give_nothing(name: str):
    assert receive(session_for("BTCUSDT"), DOCS[name]) == []


def test_refusal_is_the_error_of_the_pair_its_req_id_names_in_bybits_words():
    session = session_for("BTCUSDT", "FOOUSDT")
    assert receive(session, refusal("FOOUSDT", "orderbook.1.FOOUSDT"), ack("BTCUSDT")) == [
        status("FOO-USDT", FeedState.ERROR, "error:handler not found,topic:orderbook.1.FOOUSDT"),
        status("BTC-USDT", FeedState.LIVE, "subscribed"),
    ]


@pytest.mark.parametrize("topic", ["publicTrade.NOPEUSDT", "orderbook.1.NOPEUSDT",
                                   "orderbook.50.NOPEUSDT"])
def test_refusal_without_our_req_id_goes_to_the_pair_its_topic_names(topic: str):
    session = session_for("BTCUSDT", "NOPEUSDT")
    assert receive(session, refusal("", topic)) == [
        status("NOPE-USDT", FeedState.ERROR, f"error:handler not found,topic:{topic}"),
    ]


def test_documented_refusal_names_its_topic():
    assert receive(session_for("NOPEUSDT"), DOCS["refused_handler_not_found"]) == [
        status("NOPE-USDT", FeedState.ERROR,
               "error:handler not found,topic:orderbook.50.NOPEUSDT"),
    ]


def test_already_subscribed_means_the_pair_streams():
    assert receive(session_for("ETHUSDT"), DOCS["refused_already_subscribed"]) == [
        status("ETH-USDT", FeedState.LIVE, "error:already subscribed,topic:orderbook.1.ETHUSDT"),
    ]


def test_refusal_naming_none_of_our_pairs_is_the_connections_error():
    session = session_for("BTCUSDT")
    refused = frame(success=False, ret_msg="args size >10", conn_id="x", op="subscribe")
    assert receive(session, refused, DOCS["refused_handler_not_found"]) == [
        status(None, FeedState.ERROR, "args size >10"),
        status(None, FeedState.ERROR, "error:handler not found,topic:orderbook.50.NOPEUSDT"),
    ]


def test_a_refusal_naming_a_longer_symbol_is_not_a_shorter_ones():
    session = listener().new_session({"BTCUSDT": "BTC-USDT", "BTCUSDTX": "BTC-USDTX"})
    assert receive(session, refusal("", "orderbook.1.BTCUSDTX")) == [
        status("BTC-USDTX", FeedState.ERROR, "error:handler not found,topic:orderbook.1.BTCUSDTX"),
    ]


@pytest.mark.parametrize("name", ["pong_spot", "pong_linear", "pong_option", "pong_with_req_id"])
def test_pongs_give_nothing(name: str):
    assert receive(session_for("BTCUSDT"), DOCS[name]) == []


@pytest.mark.parametrize("text", [
    '{"success":true,"ret_msg":"","op":"unsubscribe","conn_id":"x"}',
    '{"success":true,"ret_msg":"","op":"auth","conn_id":"x"}',
    '{"success":false,"ret_msg":"error:invalid op","conn_id":"x","op":"nope"}',
])
def test_other_answers_give_nothing(text: str):
    assert receive(session_for("BTCUSDT"), text) == []


# Malformed frames --------------------------------------------------------------------------


def _with(name: str, change: Callable[[dict[str, Any]], object]) -> str:
    message = json.loads(DOCS[name])
    change(message)
    return json.dumps(message)


def _set(path: str, value: object) -> Callable[[dict[str, Any]], object]:
    """Set (or, with ``...``, delete) a field at a dotted path: ``data.b`` or ``data.0.S``."""
    *parents, last = path.split(".")

    def change(message: dict[str, Any]) -> None:
        node: Any = message
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        key: Any = int(last) if isinstance(node, list) else last
        if value is ...:
            del node[key]
        else:
            node[key] = value

    return change


@pytest.mark.parametrize("text", [
    "not json",
    "[1,2,3]",
    '"pong"',
    "{}",
    '{"ret_msg":"pong"}',
    '{"op":"subscribe","ret_msg":"subscribe"}',
    '{"op":"subscribe","success":"true","req_id":"BTCUSDT"}',
    _with("orderbook_1_snapshot", _set("type", "delta")),
    _with("orderbook_1_snapshot", _set("type", ...)),
    _with("orderbook_1_snapshot", _set("data.b", ...)),
    _with("orderbook_1_snapshot", _set("data.b", "16493.50")),
    _with("orderbook_1_snapshot", _set("data.a", [["16611.00"]])),
    _with("orderbook_1_snapshot", _set("data.a", [["abc", "1"]])),
    _with("orderbook_1_snapshot", _set("data.s", "ETHUSDT")),
    _with("orderbook_1_snapshot", _set("data.u", ...)),
    _with("orderbook_1_snapshot", _set("cts", "1672304484976")),
    _with("orderbook_1_snapshot", _set("cts", -1)),
    _with("orderbook_1_snapshot", _set("cts", 10**20)),
    _with("orderbook_1_snapshot", _set("data", None)),
    _with("public_trade", _set("data", {})),
    _with("public_trade", _set("data.0.S", "buy")),
    _with("public_trade", _set("data.0.S", ...)),
    _with("public_trade", _set("data.0.v", "0")),
    _with("public_trade", _set("data.0.v", "-0.001")),
    _with("public_trade", _set("data.0.p", "NaN")),
    _with("public_trade", _set("data.0.i", 20)),
    _with("public_trade", _set("data.0.i", "")),
    _with("public_trade", _set("data.0.T", "1672304486865")),
    _with("public_trade", _set("data.0.T", True)),
    _with("public_trade", _set("data.0.s", "ETHUSDT")),
], ids=lambda text: text[:70])
def test_malformed_frames_raise(text: str):
    with pytest.raises(MalformedFrame):
        session_for("BTCUSDT", "ETHUSDT").receive(text, T0)


# Decoding: orjson, and the exact decoder where orjson would give a float ------------------


def outcome(read: Callable[[], list[Record]]) -> tuple[Any, ...]:
    try:
        records = read()
    except Exception as exc:
        return ("raises", type(exc))
    return ("records", records)


def _raw(name: str, old: str, new: str) -> str:
    text = DOCS[name]
    assert old in text
    return text.replace(old, new, 1)


VARIANTS = [
    *DOCS.values(),
    _raw("orderbook_1_snapshot", '"16493.50"', "16493.50"),  # a price as a JSON number
    _raw("orderbook_1_snapshot", '"0.006"', "0.1"),
    _raw("orderbook_1_snapshot", '"cts":1672304484976', '"cts":1672304484976.5'),
    _raw("orderbook_1_snapshot", '"u":18521288', '"u":1e3'),
    _raw("orderbook_1_snapshot", '"u":18521288', '"u":18446744073709551616'),  # 2**64
    _raw("public_trade", '"0.001"', "0.30000000000000004"),
    _raw("public_trade", '"T":1672304486865', '"T":1672304486865.0'),
    _raw("public_trade", '"p":"16578.50"', '"p":1e999'),  # orjson refuses it
    _raw("public_trade", '"p":"16578.50"', '"p":NaN'),
    " " + DOCS["public_trade"] + "\n",
]


@pytest.mark.parametrize("text", VARIANTS, ids=lambda text: text[:70])
def test_every_frame_reads_as_the_exact_decoder_reads_it(text: str):
    fast, exact = session_for("BTCUSDT", "ETHUSDT"), session_for("BTCUSDT", "ETHUSDT")
    assert outcome(lambda: fast.receive(text, T0)) == outcome(
        lambda: exact.receive_message(decode(text), T0))


def test_a_price_sent_as_a_json_number_keeps_its_digits():
    (quote,) = receive(session_for("BTCUSDT"),
                       _raw("orderbook_1_snapshot", '"0.006"', "0.30000000000000004"))
    assert quote.bid_size == Decimal("0.30000000000000004")


# REST --------------------------------------------------------------------------------------


def test_rest_requests_ask_for_the_spot_ticker_and_at_most_60_trades():
    paths = [request.path for request in listener().rest_snapshot_requests("BTCUSDT", 25)]
    assert paths == ["/v5/market/tickers?category=spot&symbol=BTCUSDT",
                     "/v5/market/recent-trade?category=spot&symbol=BTCUSDT&limit=25"]
    _, trades = listener().rest_snapshot_requests("BTCUSDT", 1000)
    assert trades.path.endswith("&limit=60")
    instruments = listener().instruments_request()
    assert instruments.path == "/v5/market/instruments-info?category=spot"


def test_rest_ticker_is_a_whole_ticker_with_the_24h_statistics():
    assert parse_rest_ticker(decode(DOCS["rest_ticker"]), BTC, T0) == [
        Ticker("bybit", "BTC-USDT", "BTCUSDT", ms(1673859087947), bid=Decimal("20517.96"),
               ask=Decimal("20527.77"), last=Decimal("20533.13"), bid_size=Decimal("2"),
               ask_size=Decimal("1.862172"), volume_24h=Decimal("11801.27771"),
               open_24h=Decimal("20393.48"), high_24h=Decimal("21128.12"),
               low_24h=Decimal("20318.89")),
    ]


def test_rest_ticker_without_a_bid_is_a_quote_of_what_it_has():
    body = json.loads(DOCS["rest_ticker"])
    body["result"]["list"][0].update(bid1Price="", bid1Size="")
    del body["time"]
    assert parse_rest_ticker(body, BTC, T0) == [
        Quote("bybit", "BTC-USDT", "BTCUSDT", T0, ask=Decimal("20527.77"),
              last=Decimal("20533.13"), ask_size=Decimal("1.862172"),
              volume_24h=Decimal("11801.27771"), open_24h=Decimal("20393.48"),
              high_24h=Decimal("21128.12"), low_24h=Decimal("20318.89")),
    ]


def test_rest_trades_with_the_takers_side():
    assert parse_rest_trades(decode(DOCS["rest_trades"]), BTC, T0) == [
        Trade("bybit", "BTC-USDT", "BTCUSDT", ms(1672052955758), "2100000000007764263",
              Decimal("16618.49"), Decimal("0.00012"), Side.BUY),
    ]


def _rest_trade(exec_id: str, time: str, side: str) -> dict[str, Any]:
    return {"execId": exec_id, "symbol": "BTCUSDT", "price": "16618.49", "size": "1",
            "side": side, "time": time, "isBlockTrade": False}


@pytest.mark.parametrize("order", [1, -1], ids=["oldest-first", "newest-first"])
def test_rest_trades_come_back_oldest_first_whatever_the_wire_order(order: int):
    rows = [_rest_trade("1", "1672304486001", "Buy"), _rest_trade("2", "1672304486002", "Sell"),
            _rest_trade("3", "1672304486003", "Sell")][::order]
    body = {"retCode": 0, "retMsg": "OK", "result": {"category": "spot", "list": rows}}
    trades = parse_rest_trades(body, BTC, T0)
    assert [(t.id, t.side) for t in trades] == [("1", Side.BUY), ("2", Side.SELL),
                                                ("3", Side.SELL)]


def test_instruments_map_trading_symbols_to_pairs():
    assert parse_instruments(decode(DOCS["rest_instruments"])) == {"BTCUSDT": "BTC-USDT"}
    body = json.loads(DOCS["rest_instruments"])
    row = body["result"]["list"][0]
    body["result"]["list"] = [row, {**row, "symbol": "ETHUSDC", "baseCoin": "ETH",
                                    "quoteCoin": "USDC"},
                              {**row, "symbol": "OLDUSDT", "baseCoin": "OLD", "status": "Closed"}]
    assert parse_instruments(body) == {"BTCUSDT": "BTC-USDT", "ETHUSDC": "ETH-USDC"}


@pytest.mark.parametrize("parse", [parse_rest_ticker, parse_rest_trades])
def test_rest_refusal_of_an_unknown_symbol_says_bybits_words(parse: Any):
    with pytest.raises(MalformedFrame, match=r"^Not supported symbols \(retCode 10001\)$"):
        parse(decode(DOCS["rest_not_supported"]), BTC, T0)


def test_instruments_refusal_raises():
    with pytest.raises(MalformedFrame, match="Not supported symbols"):
        parse_instruments(decode(DOCS["rest_not_supported"]))


@pytest.mark.parametrize("body", [
    [],
    {"retMsg": "OK"},
    {"retCode": 0, "result": {"list": []}},
    {"retCode": 0, "result": {"list": [{"symbol": "ETHUSDT", "lastPrice": "1"}]}},
    {"retCode": 0, "result": {"list": [{"symbol": "BTCUSDT", "bid1Price": "x"}]}},
], ids=repr)
def test_malformed_rest_tickers_raise(body: Any):
    with pytest.raises(MalformedFrame):
        parse_rest_ticker(body, BTC, T0)


@pytest.mark.parametrize("row", [
    {"symbol": "ETHUSDT"},
    {"time": 1672052955758},
    {"time": "yesterday"},
    {"side": "BUY"},
    {"size": "0"},
    {"execId": ""},
], ids=repr)
def test_malformed_rest_trades_raise(row: dict[str, Any]):
    body = {"retCode": 0, "result": {"list": [{**_rest_trade("1", "1000", "Buy"), **row}]}}
    with pytest.raises(MalformedFrame):
        parse_rest_trades(body, BTC, T0)
