"""Binance and Binance.US: symbols, subscribe frames, the session and the REST parsers.

Frames come from ``tests/fixtures/binance`` and ``tests/fixtures/binanceus``: sessions recorded
from both venues (cryptofeed, 2021) and the venues' documentation. Expected records are written
out by hand from the frames' text, so a parser that reorders, rounds or mislabels a field fails
here.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import websocket
from websockets.sync.server import serve

from exchanges import LISTENERS, rest
from exchanges.base import Feed, ReconnectRequested
from exchanges.binance import (
    Binance,
    BinanceSession,
    BinanceUS,
    parse_instruments,
    parse_rest_ticker,
    parse_rest_trades,
)
from exchanges.pairs import PairError
from exchanges.parsing import MalformedFrame, decode
from exchanges.records import FeedState, Quote, Record, Side, Status, Ticker, Trade
from tests.unit.frames import FIXTURES, documented_frames, recorded_frames

T0 = datetime(2026, 11, 24, 17, 42, 3, 123456, tzinfo=UTC)  # every frame's receive time
DOCS = documented_frames("binance")
DOCS_US = documented_frames("binanceus")
RECORDED = recorded_frames("binance", "BINANCE.ws.1.0.excerpt")
RECORDED_US = recorded_frames("binanceus", "BINANCE_US.ws.1.0.excerpt")
BTC = Feed("BTC-USDT", "BTCUSDT")


def feeds(exchange: str) -> dict[str, str]:
    return json.loads((FIXTURES / exchange / "feeds.json").read_text())


def session_for(exchange: str = "binance", symbols: dict[str, str] | None = None
                ) -> BinanceSession:
    listener = LISTENERS[exchange]([], lambda record: None)
    return listener.new_session(feeds(exchange) if symbols is None else symbols)  # type: ignore[return-value]


def receive(session: BinanceSession, *frames: str) -> list[Record]:
    return [record for frame in frames for record in session.receive(frame, T0)]


def ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def quote(pair: str, symbol: str, bid: str, bid_size: str, ask: str, ask_size: str,
          exchange: str = "binance") -> Quote:
    return Quote(exchange, pair, symbol, T0, bid=Decimal(bid), ask=Decimal(ask),
                 bid_size=Decimal(bid_size), ask_size=Decimal(ask_size))


def frame(**fields: Any) -> str:
    return json.dumps(fields, separators=(",", ":"))


# Listener declarations, symbols and subscribe frames ---------------------------------------


def test_listeners_declare_the_combined_stream_of_each_venue():
    binance, us = Binance([], lambda r: None), BinanceUS([], lambda r: None)
    assert (LISTENERS["binance"], LISTENERS["binanceus"]) == (Binance, BinanceUS)
    assert (binance.url, binance.rest_url) == ("wss://stream.binance.com:9443/stream",
                                               "https://api.binance.com")
    assert (us.url, us.rest_url) == ("wss://stream.binance.us:9443/stream",
                                     "https://api.binance.us")
    assert Binance.default_pairs == ("BTC-USDT", "ETH-USDT")  # no USD spot on binance.com
    assert BinanceUS.default_pairs is None  # BTC-USD is listed: the dashboard's default
    for cls in (Binance, BinanceUS):
        assert (cls.channels_per_pair, cls.max_subscriptions, cls.pairs_per_connection()) == (
            2, 1024, 512)
        assert (cls.merges_quotes, cls.ping_interval, cls.subscribe_interval) == (
            True, None, pytest.approx(1 / 3))


@pytest.mark.parametrize(("pair", "symbol"), [
    ("BTC-USDT", "BTCUSDT"), ("ETH-BTC", "ETHBTC"), ("1INCH-USDT", "1INCHUSDT"),
    ("BTC-USD", "BTCUSD"),  # listed on Binance.US; on binance.com the instrument check says no
])
def test_symbol_joins_base_and_quote_assets(pair: str, symbol: str):
    assert Binance([], lambda r: None).symbol_for(pair) == symbol
    assert BinanceUS([], lambda r: None).symbol_for(pair) == symbol


@pytest.mark.parametrize("typed", ["btcusdt", "BTC/USDT", "btc_usdt", " BTC-usdt ", "BTCUSDT"])
def test_odd_spellings_read_as_the_same_feed(typed: str):
    assert Binance([typed], lambda r: None)._feed_for(typed) == BTC


@pytest.mark.parametrize("pair", ["btc-usdt", "BTC-US.DT", "BTC-", "B-USDT"])
def test_symbol_refuses_what_binance_cannot_spell(pair: str):
    with pytest.raises(PairError, match="binance has no symbol"):
        Binance([], lambda r: None).symbol_for(pair)


def test_subscribe_names_lower_case_streams_with_ids_from_one():
    assert Binance([], lambda r: None).subscribe_frames(["BTCUSDT", "ETHUSDT"]) == [
        '{"method":"SUBSCRIBE","params":["btcusdt@bookTicker","btcusdt@trade",'
        '"ethusdt@bookTicker","ethusdt@trade"],"id":1}']


def test_the_documented_subscribe_request_has_the_shape_we_send():
    ours = json.loads(Binance([], lambda r: None).subscribe_frames(["BTCUSDT"])[0])
    assert list(ours) == ["method", "params", "id"]  # as in "Subscribe to a stream"
    assert type(ours["id"]) is int and ours["id"] > 0  # Binance.US: "an unsigned INT"


def test_a_full_connection_needs_reasonable_requests_within_1024_streams():
    symbols = [f"{'X' * 12}{index:03d}USDT" for index in range(Binance.pairs_per_connection())]
    frames = [json.loads(text) for text in Binance([], lambda r: None).subscribe_frames(symbols)]
    streams = [name for request in frames for name in request["params"]]
    assert len(streams) == len(set(streams)) == 1024
    assert all(len(request["params"]) <= 50 for request in frames)
    assert [request["id"] for request in frames] == list(range(1, len(frames) + 1))
    # paced 3 a second: the whole connection subscribed in under 7 s
    assert (len(frames) - 1) * Binance.subscribe_interval < 7


# bookTicker: a Quote at the receive time -----------------------------------------------------


def test_documented_book_ticker_is_a_quote_at_the_receive_time():
    expected = [quote("BNB-USDT", "BNBUSDT", "25.35190000", "31.21000000", "25.36520000",
                      "40.66000000")]
    assert receive(session_for(), DOCS["book_ticker"]) == expected
    assert receive(session_for("binanceus"), DOCS_US["book_ticker"]) == [
        quote("BNB-USDT", "BNBUSDT", "25.35190000", "31.21000000", "25.36520000",
              "40.66000000", exchange="binanceus")]


def test_recorded_binance_session_gives_one_quote_per_book_ticker():
    records = receive(session_for(), *RECORDED)
    book_tickers = [json.loads(text)["data"] for text in RECORDED if "@bookTicker" in text]
    assert len(book_tickers) == 26
    assert records == [
        quote(feeds("binance")[data["s"]], data["s"], data["b"], data["B"], data["a"], data["A"])
        for data in book_tickers]
    assert records[0] == quote("NKN-USDT", "NKNUSDT", "0.35210000", "672.00000000",
                               "0.35260000", "3199.00000000")


def test_recorded_binance_us_session_gives_one_quote_per_book_ticker():
    records = receive(session_for("binanceus"), *RECORDED_US)
    assert len(records) == 26
    assert all(type(record) is Quote and record.exchange == "binanceus" for record in records)
    assert records[-1] == quote("CRV-USDT", "CRVUSDT", "2.64300000", "141.80000000",
                                "2.64800000", "2029.90000000", exchange="binanceus")


def test_data_of_symbols_and_streams_we_did_not_ask_for_gives_nothing():
    session = session_for(symbols={"BTCUSDT": "BTC-USDT"})
    assert receive(session, DOCS["book_ticker"], DOCS["trade"], DOCS["agg_trade"],
                   DOCS["ticker"], DOCS["block_trade"], *RECORDED) == []


# trade: the taker's side from "m" ------------------------------------------------------------


def test_documented_trade_buyer_is_maker_so_the_taker_sold():
    expected = Trade("binance", "BNB-BTC", "BNBBTC", ms(1672515782136), "12345",
                     Decimal("0.001"), Decimal("100"), Side.SELL)
    assert receive(session_for(), DOCS["trade"]) == [expected]


def test_binance_us_trade_with_order_ids_reads_the_same():
    assert receive(session_for("binanceus"), DOCS_US["trade"]) == [
        Trade("binanceus", "BNB-BTC", "BNBBTC", ms(1672515782136), "12345", Decimal("0.001"),
              Decimal("100"), Side.SELL)]


def test_seller_is_maker_so_the_taker_bought():
    text = DOCS["trade"].replace('"m":true', '"m":false')
    [trade] = receive(session_for(), text)
    assert trade.side is Side.BUY  # type: ignore[union-attr]


def test_trade_time_is_the_trade_time_not_the_event_time():
    text = DOCS["trade"].replace('"E":1672515782136', '"E":1672515782999')
    [trade] = receive(session_for(), text)
    assert trade.time == ms(1672515782136)  # type: ignore[union-attr]


def test_a_price_sent_as_a_json_number_is_read_exactly():
    text = DOCS["trade"].replace('"p":"0.001"', '"p":0.1000000000000000055511')
    [trade] = receive(session_for(), text)
    assert trade.price == Decimal("0.1000000000000000055511")  # type: ignore[union-attr]


# Answers, acks, refusals and shutdown --------------------------------------------------------


@pytest.mark.parametrize("name", ["subscribe_ack", "unsubscribe_ack", "list_subscriptions",
                                  "get_property"])
def test_answers_give_nothing_since_an_ack_proves_nothing_about_a_symbol(name: str):
    """Binance acks a stream of a symbol it doesn't list, then stays silent: the first data
    makes a pair live (in the listener), never the ack, so the ack timeout can still fire."""
    assert receive(session_for(), DOCS[name]) == []
    assert receive(session_for("binanceus"), DOCS_US[name]) == []


def test_an_error_answer_fails_every_pair_of_that_request_in_binances_words():
    symbols = {f"S{index:02d}USDT": f"S{index:02d}-USDT" for index in range(30)}
    session = session_for(symbols=symbols)
    first = [Status("binance", f"S{index:02d}-USDT", FeedState.ERROR,
                    "Invalid request: invalid stream (code 2)", T0) for index in range(25)]
    assert receive(session, DOCS["error_invalid_stream"].replace('"id":2', '"id":1')) == first
    second = [Status("binance", f"S{index:02d}-USDT", FeedState.ERROR,
                     "Invalid request: invalid stream (code 2)", T0) for index in range(25, 30)]
    assert receive(session, DOCS["error_invalid_stream"]) == second


@pytest.mark.parametrize("text", [
    '{"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":2}',  # not our request
    '{"error":{"code":3,"msg":"Invalid JSON: expected value at line 1 column 1"},"id":null}',
    '{"error":{"code":2,"msg":"Invalid request"},"id":[1]}',
])
def test_an_error_answer_to_no_request_of_ours_is_malformed(text: str):
    session = session_for(symbols={"BTCUSDT": "BTC-USDT"})
    with pytest.raises(MalformedFrame, match="exchange error"):
        receive(session, text)


def test_the_rest_error_shape_on_the_stream_is_read_too():
    session = session_for(symbols={"BTCUSDT": "BTC-USDT"})
    assert receive(session, '{"code":-1121,"msg":"Invalid symbol.","id":1}') == [
        Status("binance", "BTC-USDT", FeedState.ERROR, "Invalid symbol. (code -1121)", T0)]


@pytest.mark.parametrize("name", ["server_shutdown", "server_shutdown_raw"])
def test_server_shutdown_asks_for_a_new_connection(name: str):
    with pytest.raises(ReconnectRequested, match="serverShutdown"):
        receive(session_for(), DOCS[name])


# Malformed frames ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "not json {", "[1,2]", '"x"', "{}", '{"stream":5}', '{"stream":"btcusdt@trade","data":[]}',
    '{"stream":"bnbusdt@bookTicker","data":{"u":1,"s":"BNBUSDT","b":"x","B":"1","a":"2","A":"1"}}',
    '{"stream":"bnbusdt@bookTicker","data":{"u":1,"s":"BNBUSDT","b":"1","B":"1","a":"2"}}',
    '{"stream":"bnbusdt@bookTicker","data":{"u":"1","s":"BNBUSDT","b":"1","B":"1","a":"2","A":"1"}}',
    '{"stream":"bnbbtc@trade","data":{"e":"aggTrade","s":"BNBBTC"}}',
    '{"error":{"code":2},"id":1}', '{"error":{"code":2,"msg":7},"id":1}',
])
def test_malformed_frames_raise_malformed_frame(text: str):
    with pytest.raises(MalformedFrame):
        receive(session_for(), text)


@pytest.mark.parametrize(("old", "new"), [
    ('"m":true', '"m":"true"'), ('"m":true', '"m":1'), ('"q":"100"', '"q":"0"'),
    ('"q":"100"', '"q":"-1"'), ('"t":12345', '"t":"12345"'), ('"t":12345', '"t":1.5'),
    ('"T":1672515782136', '"T":"1672515782136"'), ('"T":1672515782136', '"T":-1'),
    ('"T":1672515782136', '"T":99999999999999999'), ('"p":"0.001"', '"p":"NaN"'),
    ('"p":"0.001"', '"p":null'),
])
def test_malformed_trades_raise_malformed_frame(old: str, new: str):
    assert old in DOCS["trade"]
    with pytest.raises(MalformedFrame):
        receive(session_for(), DOCS["trade"].replace(old, new))


def test_fast_and_exact_decoders_read_every_fixture_frame_alike():
    for exchange, frames in (("binance", [*RECORDED, *DOCS.values()]),
                             ("binanceus", [*RECORDED_US, *DOCS_US.values()])):
        for text in frames:
            try:
                fast = session_for(exchange).receive(text, T0)
            except (MalformedFrame, ReconnectRequested) as exc:
                fast = type(exc)  # type: ignore[assignment]
            try:
                exact = session_for(exchange).receive_message(decode(text), T0)
            except (MalformedFrame, ReconnectRequested) as exc:
                exact = type(exc)  # type: ignore[assignment]
            assert fast == exact, text


# REST ----------------------------------------------------------------------------------------


def test_rest_ticker_is_a_whole_ticker_with_the_24h_window():
    body = decode(DOCS["rest_ticker"])
    feed = Feed("BNB-BTC", "BNBBTC")
    assert parse_rest_ticker(body, feed, T0, exchange="binance") == [Ticker(
        "binance", "BNB-BTC", "BNBBTC", ms(1499869899040), bid=Decimal("4.00000000"),
        ask=Decimal("4.00000200"), last=Decimal("4.00000200"), bid_size=Decimal("100.00000000"),
        ask_size=Decimal("100.00000000"), volume_24h=Decimal("8913.30000000"),
        open_24h=Decimal("99.00000000"), high_24h=Decimal("100.00000000"),
        low_24h=Decimal("0.10000000"))]
    assert parse_rest_ticker(decode(DOCS_US["rest_ticker"]), feed, T0,
                             exchange="binanceus")[0].exchange == "binanceus"


def test_rest_ticker_without_a_bid_or_a_trade_is_a_quote_with_those_unknown():
    body = decode(DOCS["rest_ticker"]) | {"bidPrice": "0.00000000", "lastPrice": "0.00000000"}
    [record] = parse_rest_ticker(body, Feed("BNB-BTC", "BNBBTC"), T0, exchange="binance")
    assert type(record) is Quote
    assert (record.bid, record.ask, record.last) == (None, Decimal("4.00000200"), None)


@pytest.mark.parametrize("change", [{"symbol": "ETHBTC"}, {"closeTime": "x"},
                                    {"volume": None}, {"askPrice": "1e"}])
def test_malformed_rest_tickers_raise_malformed_frame(change: dict[str, Any]):
    body = decode(DOCS["rest_ticker"]) | change
    with pytest.raises(MalformedFrame):
        parse_rest_ticker(body, Feed("BNB-BTC", "BNBBTC"), T0, exchange="binance")


def test_rest_trades_are_the_streams_trades_oldest_first():
    feed = Feed("BNB-BTC", "BNBBTC")
    rows = decode(DOCS["rest_trades"])
    rows.append(rows[0] | {"id": 28458, "time": 1499865549591, "isBuyerMaker": False})
    assert parse_rest_trades(rows, feed, T0, exchange="binanceus") == [
        Trade("binanceus", "BNB-BTC", "BNBBTC", ms(1499865549590), "28457",
              Decimal("4.00000100"), Decimal("12.00000000"), Side.SELL),
        Trade("binanceus", "BNB-BTC", "BNBBTC", ms(1499865549591), "28458",
              Decimal("4.00000100"), Decimal("12.00000000"), Side.BUY)]


@pytest.mark.parametrize("rows", [{"code": -1121}, [{"id": 1}], [None]])
def test_malformed_rest_trades_raise_malformed_frame(rows: Any):
    with pytest.raises(MalformedFrame):
        parse_rest_trades(rows, BTC, T0, exchange="binance")


def test_snapshot_requests_name_the_symbol_and_the_limit():
    requests = Binance([], lambda r: None).rest_snapshot_requests("BTCUSDT", 25)
    assert [request.path for request in requests] == [
        "/api/v3/ticker/24hr?symbol=BTCUSDT", "/api/v3/trades?symbol=BTCUSDT&limit=25"]
    assert BinanceUS([], lambda r: None).rest_snapshot_requests("BTCUSD", 5000)[1].path == (
        "/api/v3/trades?symbol=BTCUSD&limit=1000")


def test_instruments_are_the_trading_symbols_with_their_assets():
    assert parse_instruments(decode(DOCS["rest_exchange_info"])) == {"ETHBTC": "ETH-BTC"}
    recorded = decode((FIXTURES / "binance" / "exchangeInfo.excerpt.json").read_text())
    assert parse_instruments(recorded) == {  # BCCBTC and BCCUSDT are in BREAK
        "ETHBTC": "ETH-BTC", "BTCUSDT": "BTC-USDT", "ETHUSDT": "ETH-USDT",
        "BTCBUSD": "BTC-BUSD"}
    recorded_us = decode((FIXTURES / "binanceus" / "exchangeInfo.excerpt.json").read_text())
    assert parse_instruments(recorded_us) == {  # XRPUSD is in BREAK
        "BTCUSD": "BTC-USD", "ETHUSD": "ETH-USD", "BTCUSDT": "BTC-USDT",
        "ETHUSDT": "ETH-USDT", "ADAUSD": "ADA-USD"}


def test_instruments_skip_assets_no_pair_can_spell():
    body = {"symbols": [
        {"symbol": "TUSDT", "status": "TRADING", "baseAsset": "T", "quoteAsset": "USDT"},
        {"symbol": "币安人生USDT", "status": "TRADING", "baseAsset": "币安人生",
         "quoteAsset": "USDT"},
        {"symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT"},
        {"symbol": "BNBUSDT", "status": "CANCEL_ONLY", "baseAsset": "BNB", "quoteAsset": "USDT"},
    ]}
    assert parse_instruments(body) == {"BTCUSDT": "BTC-USDT"}


@pytest.mark.parametrize("body", [{}, {"symbols": None}, {"symbols": [{"symbol": "X"}]},
                                  {"symbols": [{"symbol": "BTCUSDT", "status": "TRADING",
                                                "baseAsset": 1, "quoteAsset": "USDT"}]}])
def test_malformed_instruments_raise_malformed_frame(body: Any):
    with pytest.raises(MalformedFrame):
        parse_instruments(body)


def test_instruments_request_asks_binance_for_trading_symbols_only():
    assert Binance([], lambda r: None).instruments_request().path == (
        "/api/v3/exchangeInfo?symbolStatus=TRADING&showPermissionSets=false")
    assert BinanceUS([], lambda r: None).instruments_request().path == "/api/v3/exchangeInfo"


@pytest.mark.parametrize(("status", "body", "expected"), [
    (400, {"code": -1121, "msg": "Invalid symbol."}, "Invalid symbol. (code -1121, HTTP 400)"),
    (400, {"code": -1100, "msg": "Illegal characters found in parameter 'symbol'; legal range "
                                 "is '^[A-Z0-9-_.]{1,20}$'."},
     "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'. "
     "(code -1100, HTTP 400)"),
    (429, {"code": -1003, "msg": "Too many requests."}, None),  # retried
    (503, {"code": -1001, "msg": "Internal error."}, None),  # retried
    (403, None, None),  # a WAF page: HTTP decides
])
def test_rest_refusals_are_told_in_binances_words(status: int, body: Any, expected: str | None):
    error = rest.HttpError("https://api.binance.com/x", status, body, json.dumps(body))
    assert Binance([], lambda r: None).rest_refusal(error) == expected


# Protocol pings ------------------------------------------------------------------------------


def test_websocket_client_answers_the_servers_protocol_pings_with_their_payload(
        tmp_path: Path):
    """Binance pings every 20 s and drops a connection that doesn't pong within a minute; the
    listener relies on websocket-client (``recv_data`` as ``Connection`` calls it) to answer."""
    pongs: list[bool] = []

    def handler(connection: Any) -> None:
        for _ in range(3):
            waiter = connection.ping(b"binance-ping")
            pongs.append(waiter.wait(5))
        connection.send('{"result":null,"id":1}')

    with serve(handler, "127.0.0.1", 0, ping_interval=None) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.socket.getsockname()[1]
        client = websocket.WebSocket(skip_utf8_validation=True)
        client.connect(f"ws://127.0.0.1:{port}", timeout=5)
        opcode, data = client.recv_data()  # answers the pings on the way to the text frame
        client.close()
        server.shutdown()
    assert (opcode, data) == (websocket.ABNF.OPCODE_TEXT, b'{"result":null,"id":1}')
    assert pongs == [True, True, True]
