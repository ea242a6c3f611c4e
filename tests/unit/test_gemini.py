"""Gemini: symbols, subscribe frames, the session, and the REST parsers, fed documented frames.

Frames come from ``tests/fixtures/gemini/`` (Gemini's docs and specs, published wire captures,
and a cryptofeed recording of the REST symbol list and details, attribution in its README);
expected records are written out by hand from the frames' text, so a parser that reorders,
rounds or mislabels a field fails here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from exchanges import LISTENERS
from exchanges.base import Feed, QuoteBook
from exchanges.gemini import (
    Gemini,
    GeminiSession,
    parse_rest_ticker,
    parse_rest_trades,
    parse_symbols,
    split_symbol,
)
from exchanges.pairs import PairError
from exchanges.parsing import MalformedFrame, decode
from exchanges.records import FeedState, Quote, Record, Side, Status, Ticker, Trade
from tests.unit.frames import FIXTURES, documented_frames, recorded_frames

T0 = datetime(2026, 11, 24, 17, 42, 3, 123456, tzinfo=UTC)  # every frame's receive time
DOCS = documented_frames("gemini")
RECORDED = recorded_frames("gemini", "GEMINI.0.excerpt")  # the symbol list, then 71 details
# E of the docs' book ticker, 1751508438600117161 ns, to the microsecond
E_DOCS = datetime(2025, 7, 3, 2, 7, 18, 600117, tzinfo=UTC)


def listener(**options: Any) -> Gemini:
    return Gemini([], lambda record: None, **options)


def session_for(*pairs: str) -> GeminiSession:
    """A session for ``pairs`` (canonical), subscribed in that order: ids 1, 2, ..."""
    gemini = listener()
    return gemini.new_session({gemini.symbol_for(pair): pair for pair in pairs})


def receive(session: GeminiSession, *frames: str) -> list[Record]:
    return [record for frame in frames for record in session.receive(frame, T0)]


def status(pair: str, state: FeedState, detail: str) -> Status:
    return Status("gemini", pair, state, detail, T0)


def live(pair: str) -> Status:
    symbol = pair.replace("-", "").lower()
    return status(pair, FeedState.LIVE, f"subscribed to {symbol}@bookTicker and {symbol}@trade")


def quote(time: datetime, **values: str | None) -> Quote:
    decimals = {name: None if value is None else Decimal(value) for name, value in values.items()}
    return Quote("gemini", "BTC-USD", "btcusd", time, **decimals)


def trade(pair: str, symbol: str, time: datetime, trade_id: str, price: str, amount: str,
          side: Side) -> Trade:
    return Trade("gemini", pair, symbol, time, trade_id, Decimal(price), Decimal(amount), side)


def _with(name: str, **changes: object) -> str:
    """A documented frame with fields replaced (a value of ``...`` deletes the field)."""
    message = json.loads(DOCS[name])
    for key, value in changes.items():
        if value is ...:
            del message[key]
        else:
            message[key] = value
    return json.dumps(message)


# Listener, symbols and subscribe frames ------------------------------------------------------


def test_listener_declares_the_current_websocket_api():
    gemini = listener()
    assert LISTENERS["gemini"] is Gemini
    assert (gemini.name, gemini.url, gemini.rest_url) == (
        "gemini", "wss://ws.gemini.com", "https://api.gemini.com")
    assert (gemini.channels_per_pair, gemini.merges_quotes, gemini.max_subscriptions) == (
        2, True, None)
    assert gemini.subscribe_interval == 0.1
    assert isinstance(gemini.new_session({"btcusd": "BTC-USD"}), GeminiSession)


@pytest.mark.parametrize(("feed_timeout", "interval"), [(30.0, 10.0), (60.0, 10.0), (9.0, 3.0),
                                                        (3.0, 1.0)])
def test_pings_come_well_within_the_silence_watchdog(feed_timeout: float, interval: float):
    assert listener(feed_timeout=feed_timeout).ping_interval == interval


def test_ping_frames_use_the_documented_method_with_ids_apart_from_the_subscribes():
    gemini = listener()
    assert [gemini.ping_frame() for _ in range(2)] == [
        '{"id":1000000,"method":"ping"}', '{"id":1000001,"method":"ping"}']


@pytest.mark.parametrize(("pair", "symbol"), [
    ("BTC-USD", "btcusd"), ("ETH-EUR", "etheur"), ("BTC-USDT", "btcusdt"),
    ("BTC-GUSD", "btcgusd"), ("1INCH-USD", "1inchusd"), ("EFIL-FIL", "efilfil"),
])
def test_symbol_is_base_and_quote_run_together_in_lower_case(pair: str, symbol: str):
    assert listener().symbol_for(pair) == symbol


@pytest.mark.parametrize("pair", ["btc-usd", "BTC-US D", "BTC-", "-USD", "BTC-US$"])
def test_symbol_refuses_what_gemini_cannot_spell(pair: str):
    with pytest.raises(PairError, match="Gemini has no symbol"):
        listener().symbol_for(pair)


def test_one_subscribe_per_pair_with_both_streams_and_ids_in_order():
    assert listener().subscribe_frames(["btcusd", "etheur"]) == [
        '{"id":1,"method":"subscribe","params":["btcusd@bookTicker","btcusd@trade"]}',
        '{"id":2,"method":"subscribe","params":["etheur@bookTicker","etheur@trade"]}',
    ]


def test_rest_requests_are_the_v1_ticker_and_trades_and_one_symbol_list():
    gemini = listener()
    assert [request.path for request in gemini.rest_snapshot_requests("btcusd", 25)] == [
        "/v1/pubticker/btcusd", "/v1/trades/btcusd?limit_trades=25"]
    assert gemini.instruments_request().path == "/v1/symbols"


# Book ticker ---------------------------------------------------------------------------------


def test_documented_book_ticker_is_a_quote_of_bid_and_ask_at_its_nanosecond_time():
    assert receive(session_for("BTC-USD"), DOCS["book_ticker"]) == [
        quote(E_DOCS, bid="45000.50", ask="45001.00", bid_size="1.25000000",
              ask_size="0.75000000"),
    ]


def test_book_ticker_of_a_traded_book_carries_the_last_price():
    (record,) = receive(session_for("BTC-USD"), DOCS["book_ticker_traded"])
    assert record == quote(E_DOCS + timedelta(microseconds=100), bid="45000.50",
                           ask="45001.00", last="45000.75", bid_size="1.25000000",
                           ask_size="0.75000000")


def test_zero_padded_strings_keep_their_exact_digits():
    (record,) = receive(session_for("BTC-USD"), DOCS["book_ticker_padded"])
    assert record == quote(datetime(2026, 9, 15, 7, 19, 0, 173524, tzinfo=UTC),
                           bid="77401.500", ask="77402.000", bid_size="0.25000",
                           ask_size="0.0000")
    assert (str(record.bid), str(record.ask_size)) == ("77401.500", "0.0000")


def test_an_empty_bid_is_unknown_not_a_crash():
    (record,) = receive(session_for("BTC-USD"), DOCS["book_ticker_empty_bid"])
    assert record == quote(E_DOCS + timedelta(microseconds=200), bid=None, bid_size=None,
                           ask="45001.00", ask_size="0.75000000")


@pytest.mark.parametrize(("changes", "expected"), [
    ({"a": "", "A": ""}, {"bid": "45000.50", "bid_size": "1.25000000"}),
    ({"b": "", "B": "", "a": "", "A": ""}, {}),
    ({"b": "0", "B": "0"}, {"ask": "45001.00", "ask_size": "0.75000000"}),
    ({"b": "0.00", "B": "1.25000000"}, {"ask": "45001.00", "ask_size": "0.75000000"}),
    ({"B": ""}, {"bid": "45000.50", "ask": "45001.00", "ask_size": "0.75000000"}),
], ids=["empty ask", "both empty", "zero bid", "padded zero bid", "empty size"])
def test_an_empty_or_zero_side_is_unknown(changes: dict[str, str], expected: dict[str, str]):
    (record,) = receive(session_for("BTC-USD"), _with("book_ticker", **changes))
    assert record == quote(E_DOCS, **expected)


def test_an_empty_bid_keeps_what_the_book_knew_of_it():
    book, session = QuoteBook("gemini"), session_for("BTC-USD")
    tickers = [book.quote(record) for record in receive(
        session, DOCS["book_ticker_traded"], DOCS["book_ticker_empty_bid"])]
    assert [(t.bid, t.ask, t.last) for t in tickers if t] == [
        (Decimal("45000.50"), Decimal("45001.00"), Decimal("45000.75"))] * 2


def test_book_ticker_with_an_e_and_an_upper_case_symbol():
    session = session_for("ETH-USD")
    frame = _with("book_ticker_with_e", s="ETHUSD")
    assert receive(session, frame) == [
        Quote("gemini", "ETH-USD", "ethusd", datetime(2025, 7, 3, 2, 7, 18, 603117, tzinfo=UTC),
              bid=Decimal("3500.00"), ask=Decimal("3500.10"), bid_size=Decimal("4.0"),
              ask_size=Decimal("5.0")),
    ]


# Trades --------------------------------------------------------------------------------------


def test_trade_with_the_buyer_not_the_maker_is_a_taker_buy():
    assert receive(session_for("BTC-USD"), DOCS["trade_taker_buy"]) == [
        trade("BTC-USD", "btcusd", E_DOCS, "2840140800042677", "45001.00", "0.00121425",
              Side.BUY),
    ]


def test_trade_with_the_buyer_the_maker_is_a_taker_sell():
    assert receive(session_for("BTC-USD"), DOCS["trade_taker_sell"]) == [
        trade("BTC-USD", "btcusd", E_DOCS + timedelta(milliseconds=1), "2840140800042678",
              "45000.50", "0.50000000", Side.SELL),
    ]


def test_trade_with_an_e():
    assert receive(session_for("ETH-USD"), DOCS["trade_with_e"]) == [
        trade("ETH-USD", "ethusd", datetime(2025, 7, 3, 2, 7, 18, 602117, tzinfo=UTC), "9999",
              "3500.00", "2.5", Side.SELL),
    ]


def test_trades_set_the_last_price_beside_the_book_tickers():
    book, session = QuoteBook("gemini"), session_for("BTC-USD")
    (bbo,) = receive(session, DOCS["book_ticker"])
    assert book.quote(bbo) is None  # no last price yet
    (taker_buy,) = receive(session, DOCS["trade_taker_buy"])
    ticker = book.trade(taker_buy)
    assert ticker == Ticker("gemini", "BTC-USD", "btcusd", E_DOCS, Decimal("45000.50"),
                            Decimal("45001.00"), Decimal("45001.00"), Decimal("1.25000000"),
                            Decimal("0.75000000"))


def test_frames_of_symbols_we_did_not_ask_for_give_nothing():
    session = session_for("ETH-USD")
    assert receive(session, DOCS["book_ticker"], DOCS["trade_taker_buy"]) == []


@pytest.mark.parametrize("name", ["depth_update", "depth_update_padded", "mark_price"])
def test_events_of_other_streams_give_nothing(name: str):
    assert receive(session_for("BTC-USD"), DOCS[name]) == []


# Replies: acks, pings, refusals --------------------------------------------------------------


def test_an_ack_makes_its_pair_live_once():
    session = session_for("BTC-USD", "ETH-USD")
    assert receive(session, DOCS["ack"]) == [live("BTC-USD")]
    assert receive(session, DOCS["ack"]) == []
    assert receive(session, '{"id":2,"status":200}') == [live("ETH-USD")]


def test_an_ack_with_a_string_id_is_the_same_id():
    assert receive(session_for("BTC-USD"), DOCS["ack_string_id"]) == [live("BTC-USD")]


@pytest.mark.parametrize("name", ["ping_reply", "conninfo"])
def test_answers_to_our_other_requests_give_nothing(name: str):
    assert receive(session_for("BTC-USD"), DOCS[name]) == []


def test_a_ping_answer_with_our_ping_id_gives_nothing():
    gemini = listener()
    session = gemini.new_session({"btcusd": "BTC-USD"})
    ping_id = json.loads(gemini.ping_frame())["id"]
    assert receive(session, json.dumps({"id": ping_id, "status": 200})) == []


def test_an_invalid_stream_name_is_the_error_of_the_pair_it_names():
    session = session_for("BTC-USD", "SOL-EUR", "ETH-USD")
    frame = ('{"id":2,"status":400,"error":{"code":-1013,'
             '"msg":"Invalid stream name: soleur@bookTicker"}}')
    assert receive(session, DOCS["ack"], frame, '{"id":3,"status":200}') == [
        live("BTC-USD"),
        status("SOL-EUR", FeedState.ERROR, "Invalid stream name: soleur@bookTicker (code -1013)"),
        live("ETH-USD"),
    ]


def test_the_named_stream_wins_over_the_id():
    session = session_for("BTC-USD", "SOL-EUR")
    frame = ('{"id":1,"status":400,"error":{"code":-1013,'
             '"msg":"Invalid stream name: SOLEUR@trade"}}')
    assert receive(session, frame) == [
        status("SOL-EUR", FeedState.ERROR, "Invalid stream name: SOLEUR@trade (code -1013)")]


def test_a_refusal_naming_no_stream_goes_to_the_pair_of_its_id():
    session = session_for("BTC-USD", "ETH-USD")
    assert receive(session, _with("error_unsupported", id=2)) == [
        status("ETH-USD", FeedState.ERROR, "Unsupported operation (code -1020)")]


def test_a_refused_pair_is_not_made_live_by_a_later_ack():
    session = session_for("BTC-USD")
    assert receive(session, _with("error_auth", id=1)) == [
        status("BTC-USD", FeedState.ERROR, "Authentication required (code -1002)")]
    assert receive(session, DOCS["ack"]) == []


@pytest.mark.parametrize("name", ["error_invalid_stream", "error_unsupported", "error_auth"])
def test_an_error_that_names_none_of_our_pairs_is_malformed(name: str):
    with pytest.raises(MalformedFrame, match="exchange error"):
        receive(session_for("BTC-USD"), DOCS[name].replace('"id":"1"', '"id":"9"'))


def test_a_rate_limited_subscribe_is_sent_again_after_a_backoff():
    session = session_for("BTC-USD", "ETH-USD")
    limited = '{"id":2,"status":429,"error":{"code":-1003,"msg":"Too many requests"}}'
    assert receive(session, limited) == []
    assert session.tick(T0 + timedelta(seconds=1.9)) == [] and session.outbox == []
    assert session.tick(T0 + timedelta(seconds=2)) == []
    assert session.outbox == [
        '{"id":2,"method":"subscribe","params":["ethusd@bookTicker","ethusd@trade"]}']
    session.outbox.clear()
    # refused again: the wait doubles
    assert receive(session, limited) == []
    session.tick(T0 + timedelta(seconds=3.9))
    assert session.outbox == []
    session.tick(T0 + timedelta(seconds=4))
    assert len(session.outbox) == 1
    assert receive(session, '{"id":2,"status":200}') == [live("ETH-USD")]


def test_an_internal_error_on_a_subscribe_is_retried_too():
    session = session_for("BTC-USD")
    frame = '{"id":1,"status":500,"error":{"code":-1000,"msg":"Internal server error"}}'
    assert receive(session, frame) == []
    session.tick(T0 + timedelta(seconds=2))
    assert session.outbox == [
        '{"id":1,"method":"subscribe","params":["btcusd@bookTicker","btcusd@trade"]}']


def test_nothing_asks_for_a_reconnect_and_nothing_to_send_without_a_reason():
    """Gemini documents no maintenance or restart notice: a deploy drains by closing the socket
    (the Go SDK's TestClient_ServerDrainAndAutoReconnect), which the base class reconnects."""
    session = session_for("BTC-USD")
    for frame in DOCS.values():
        _records(session, frame)
    assert session.tick(T0 + timedelta(hours=1)) == [] and session.outbox == []


# Malformed frames ----------------------------------------------------------------------------


@pytest.mark.parametrize("frame", [
    "not json",
    "[1,2,3]",
    '"btcusd"',
    "{}",
    '{"s":"btcusd","E":1751508438600117161}',
    _with("book_ticker", s=...),
    _with("book_ticker", s=7),
    _with("book_ticker", E=...),
    _with("book_ticker", E="1751508438600117161"),
    _with("book_ticker", E=1751508438.600117161),
    _with("book_ticker", E=-1),
    _with("book_ticker", E=True),
    _with("book_ticker", E=10**22),
    _with("book_ticker", E=0),
    _with("book_ticker", E=1230768000000000000),  # 2009-01-01: before the first block
    _with("book_ticker", E=1795651200000000000),  # 2026-11-26: over a day after receipt
    _with("book_ticker", b="1e999"),
    _with("book_ticker", A="1" * 41),
    _with("trade_taker_buy", q="1E-31"),
    _with("book_ticker", B=...),
    _with("book_ticker", A=...),
    _with("book_ticker", b="abc"),
    _with("book_ticker", a="NaN"),
    _with("book_ticker", b="-1"),
    _with("book_ticker", B="-0.5"),
    _with("book_ticker", b=["45000.50"]),
    _with("trade_taker_buy", m="false"),
    _with("trade_taker_buy", m=0),
    _with("trade_taker_buy", q="0"),
    _with("trade_taker_buy", q=...),
    _with("trade_taker_buy", p="0.00"),
    _with("trade_taker_buy", p="x"),
    _with("trade_taker_buy", t=True),
    _with("trade_taker_buy", t=""),
    _with("trade_taker_buy", t=1.5),
    _with("trade_taker_buy", E=...),
    _with("ack", status="200"),
    _with("error_invalid_stream", error=...),
    _with("error_invalid_stream", error={"code": "-1013", "msg": "Invalid stream name: x@y"}),
    _with("error_invalid_stream", error={"code": -1013}),
], ids=lambda frame: frame[:70])
def test_malformed_frames_raise(frame: str):
    with pytest.raises(MalformedFrame):
        session_for("BTC-USD", "ETH-USD").receive(frame, T0)


# Decoding: orjson, and the exact decoder where orjson would give a float -------------------


def outcome(read: Callable[[], list[Record]]) -> tuple[Any, ...]:
    """What reading a frame gives: the records, or the type of what it raised."""
    try:
        return ("records", read())
    except Exception as exc:
        return ("raises", type(exc))


def _raw(name: str, **changes: str) -> str:
    """A documented frame with fields' JSON text replaced: ``p="45001.00"`` sends a number."""
    message = json.loads(DOCS[name])
    text = json.dumps(message, separators=(",", ":"))
    for key, value in changes.items():
        text = text.replace(f'"{key}":{json.dumps(message[key])}', f'"{key}":{value}')
    return text


DECODING_VARIANTS = [
    *DOCS.values(),
    _raw("trade_taker_buy", p="45001.00", q="0.00121425"),  # orjson: floats; read exactly
    _raw("book_ticker", b="0.1", a="0.30000000000000004"),
    _raw("book_ticker", E="1751508438600117161.0"),
    _raw("book_ticker", E="18446744073709551616"),  # 2**64: beyond orjson's integers
    _raw("trade_taker_buy", t="1180591620717411303424"),  # 2**70
    _raw("trade_taker_buy", t="2840140800042677.5"),
    _raw("book_ticker", b="1e999"),
    _raw("ack", id="1.0"),
    " " + DOCS["trade_taker_sell"] + "\n",
    DOCS["book_ticker"] + "x",
]


@pytest.mark.parametrize("frame", DECODING_VARIANTS, ids=lambda frame: frame[:70])
def test_every_frame_reads_as_the_exact_decoder_reads_it(frame: str):
    fast, exact = session_for("BTC-USD", "ETH-USD"), session_for("BTC-USD", "ETH-USD")
    assert outcome(lambda: fast.receive(frame, T0)) == outcome(
        lambda: exact.receive_message(decode(frame), T0))


def test_prices_sent_as_json_numbers_keep_their_digits():
    (record,) = receive(session_for("BTC-USD"),
                        _raw("trade_taker_buy", p="45001.00", q="0.30000000000000004"))
    assert (record.price, record.amount) == (Decimal("45001.00"), Decimal("0.30000000000000004"))


def test_a_trade_id_beyond_64_bits_keeps_its_digits():
    (record,) = receive(session_for("BTC-USD"), _raw("trade_taker_buy", t=str(2**70)))
    assert record.id == "1180591620717411303424"


# Serialisation -------------------------------------------------------------------------------


def test_records_serialise_with_exact_decimals_and_millisecond_times():
    session = session_for("BTC-USD")
    (record,) = receive(session, DOCS["trade_taker_sell"])
    assert record.to_json() == {
        "exchange": "gemini", "pair": "BTC-USD", "symbol": "btcusd",
        "time": "2025-07-03T02:07:18.601Z", "id": "2840140800042678", "price": "45000.50",
        "amount": "0.50000000", "side": "sell"}
    (ack,) = receive(session, DOCS["ack"])
    assert ack.to_json() == {
        "exchange": "gemini", "pair": "BTC-USD", "state": "live",
        "detail": "subscribed to btcusd@bookTicker and btcusd@trade",
        "time": "2026-11-24T17:42:03.123Z"}


# REST: ticker and trades ---------------------------------------------------------------------

FEED = Feed("BTC-USD", "btcusd")


def test_documented_pubticker_is_a_ticker_with_the_base_volume_at_its_time():
    assert parse_rest_ticker(json.loads(DOCS["rest_pubticker"]), FEED, T0) == [
        Ticker("gemini", "BTC-USD", "btcusd", datetime(2016, 12, 29, 13, 30, tzinfo=UTC),
               bid=Decimal("977.59"), ask=Decimal("977.35"), last=Decimal("977.65"),
               volume_24h=Decimal("2210.505328803")),
    ]


def test_pubticker_without_a_side_is_a_quote():
    body = json.loads(DOCS["rest_pubticker"]) | {"bid": ""}
    del body["volume"]["timestamp"]
    assert parse_rest_ticker(body, FEED, T0) == [
        Quote("gemini", "BTC-USD", "btcusd", T0, ask=Decimal("977.35"), last=Decimal("977.65"),
              volume_24h=Decimal("2210.505328803")),
    ]


@pytest.mark.parametrize("body", [
    {"bid": "1", "ask": "2", "last": "1.5"},
    {"bid": "1", "ask": "2", "last": "x", "volume": {}},
    {"bid": "1", "ask": "2", "last": "1.5", "volume": {"timestamp": "1483018200000"}},
    {"bid": "1", "ask": "2", "last": "1.5", "volume": []},
    [],
])
def test_malformed_pubticker_raises(body: Any):
    with pytest.raises(MalformedFrame):
        parse_rest_ticker(body, FEED, T0)


MS = 1547146811357  # the docs' trade time, in ms


def rest_row(tid: int, type_: str, price: str, amount: str, ms: int, **extra: Any) -> dict:
    return {"timestamp": ms // 1000, "timestampms": ms, "tid": tid, "price": price,
            "amount": amount, "exchange": "gemini", "type": type_, **extra}


def test_rest_trades_come_oldest_first_with_the_taker_side():
    rows = [rest_row(5335307670, "sell", "3610.84", "0.5", 1547146812000),
            rest_row(5335307668, "buy", "3610.85", "0.27413495", 1547146811357)]
    assert parse_rest_trades(rows, FEED, T0) == [
        trade("BTC-USD", "btcusd", datetime(2019, 1, 10, 19, 0, 11, 357000, tzinfo=UTC),
              "5335307668", "3610.85", "0.27413495", Side.BUY),
        trade("BTC-USD", "btcusd", datetime(2019, 1, 10, 19, 0, 12, tzinfo=UTC),
              "5335307670", "3610.84", "0.5", Side.SELL),
    ]


def test_broken_trades_and_trades_without_a_taker_are_left_out():
    """The docs' example row is a broken trade; auction and block prints have no taker."""
    rows = [rest_row(3, "auction", "1", "1", MS + 3), rest_row(2, "block", "1", "1", MS + 2),
            *json.loads(DOCS["rest_trades"]),
            rest_row(1, "buy", "1", "1", MS - 1, broken=False)]
    assert [t.id for t in parse_rest_trades(rows, FEED, T0)] == ["1"]


@pytest.mark.parametrize("body", [
    {"tid": 1},
    [rest_row(1, "buy", "1", "0", MS)],
    [rest_row(1, "buy", "1", "1", MS) | {"timestampms": MS + 0.5}],
    [rest_row(1, "buy", "1", "1", 1000)],  # 1970: before the first bitcoin block
    [rest_row(1, "buy", "1", "1", MS) | {"tid": None}],
    [{"type": "buy"}],
])
def test_malformed_rest_trades_raise(body: Any):
    with pytest.raises(MalformedFrame):
        parse_rest_trades(body, FEED, T0)


# REST: the symbol list -----------------------------------------------------------------------


def test_every_recorded_symbol_splits_into_the_base_and_quote_its_details_give():
    pairs = parse_symbols(json.loads(RECORDED[0]))
    details = [json.loads(body) for body in RECORDED[1:]]
    assert len(details) == len(pairs) == 71
    assert {d["symbol"].lower(): f"{d['base_currency']}-{d['quote_currency']}"
            for d in details} == pairs


@pytest.mark.parametrize(("symbol", "pair"), [
    ("btcgusd", "BTC-GUSD"), ("btcusdt", "BTC-USDT"), ("gusdusd", "GUSD-USD"),
    ("usdtgusd", "USDT-GUSD"), ("usdtusd", "USDT-USD"), ("rlusdusd", "RLUSD-USD"),
    ("moodengusd", "MOODENG-USD"), ("moodenggusd", "MOODENG-GUSD"), ("elongusd", "ELON-GUSD"),
    ("chillguyusd", "CHILLGUY-USD"), ("efilfil", "EFIL-FIL"), ("soleth", "SOL-ETH"),
    ("gusdsgd", "GUSD-SGD"), ("api3usd", "API3-USD"),
])
def test_symbols_that_end_in_two_quote_codes_split_by_the_bases_the_list_shares(
        symbol: str, pair: str):
    listed = ["btcusd", "btcgusd", "btcusdt", "btceur", "gusdusd", "usdtgusd", "usdtusd",
              "rlusdusd", "moodengusd", "moodenggusd", "moodenggusdperp", "elonusd", "elongusd",
              "chillguyusd", "chillguygusd", "efilfil", "soleth", "solusd", "gusdsgd", "api3usd",
              "api3gusd"]
    assert parse_symbols(listed)[symbol] == pair


def test_perpetuals_and_symbols_without_a_quote_code_are_left_out():
    assert parse_symbols(["btcgusdperp", "btcusdcperp", "abcxyz", "btcusd"]) == {
        "btcusd": "BTC-USD"}
    assert split_symbol("usd") is None


@pytest.mark.parametrize("body", [{"symbols": []}, [1, 2], "btcusd"])
def test_malformed_symbol_lists_raise(body: Any):
    with pytest.raises(MalformedFrame):
        parse_symbols(body)


def test_feeds_fixture_names_the_symbols_of_the_frames():
    feeds = json.loads((FIXTURES / "gemini" / "feeds.json").read_text())
    session = listener().new_session(feeds)
    pairs = {record.pair for frame in DOCS.values() for record in _records(session, frame)}
    assert pairs == {"BTC-USD", "ETH-USD"}


def _records(session: GeminiSession, frame: str) -> list[Record]:
    try:
        return session.receive(frame, T0)
    except MalformedFrame:
        return []
