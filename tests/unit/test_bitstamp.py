"""Bitstamp: symbols, subscribe frames, the session and the REST parsers, fed recorded and
documented frames.

Frames come from ``tests/fixtures/bitstamp/`` (a cryptofeed recording, attribution in its
README, and examples from the Bitstamp docs, published captures and ccxt); expected records are
written out by hand from the frames' text, so a parser that reorders, rounds or mislabels a
field fails here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from exchanges import LISTENERS
from exchanges.base import Feed, QuoteBook, ReconnectRequested
from exchanges.bitstamp import (
    Bitstamp,
    BitstampSession,
    parse_markets,
    parse_rest_ticker,
    parse_rest_trades,
)
from exchanges.pairs import PairError
from exchanges.parsing import MalformedFrame, decode
from exchanges.records import FeedState, Quote, Record, Side, Status, Ticker, Trade
from tests.unit.frames import FIXTURES, documented_frames, recorded_frames

T0 = datetime(2026, 11, 24, 17, 42, 3, 123456, tzinfo=UTC)  # every frame's receive time

RECORDED = recorded_frames("bitstamp", "BITSTAMP.ws.1.0.excerpt")
DOCS = documented_frames("bitstamp")
FEEDS = json.loads((FIXTURES / "bitstamp" / "feeds.json").read_text())


def listener() -> Bitstamp:
    return Bitstamp([], lambda record: None)


def session_for(**feeds: str) -> BitstampSession:
    """A session for ``symbol=pair`` feeds, e.g. ``session_for(btcusd="BTC-USD")``."""
    return listener().new_session(feeds)


def receive(session: BitstampSession, *frames: str) -> list[Record]:
    return [record for frame in frames for record in session.receive(frame, T0)]


def micros(value: int) -> datetime:
    return datetime.fromtimestamp(value // 10**6, UTC).replace(microsecond=value % 10**6)


def trade(pair: str, symbol: str, at: int, trade_id: str, price: str, amount: str,
          side: Side) -> Trade:
    return Trade("bitstamp", pair, symbol, micros(at), trade_id, Decimal(price), Decimal(amount),
                 side)


def status(pair: str | None, state: FeedState, detail: str) -> Status:
    return Status("bitstamp", pair, state, detail, T0)


def frame(event: str, channel: str, data: Any) -> str:
    return json.dumps({"data": data, "channel": channel, "event": event})


def ack(channel: str) -> str:
    return json.dumps({"event": "bts:subscription_succeeded", "channel": channel, "data": {}})


BOOK = {"timestamp": "1700000000", "microtimestamp": "1700000000123456",
        "bids": [["43000.10", "0.50000000"], ["43000.00", "1.00000000"]],
        "asks": [["43000.20", "0.25000000"], ["43000.30", "2.00000000"]]}
TRADE = {"id": 300000001, "timestamp": "1700000001", "amount": 0.0792,
         "amount_str": "0.07920000", "price": 43000.2, "price_str": "43000.20", "type": 0,
         "microtimestamp": "1700000001000500", "buy_order_id": 1500000000000002,
         "sell_order_id": 1500000000000001}


# Symbols, subscribe frames and the listener's declarations ----------------------------------


@pytest.mark.parametrize(("pair", "symbol"), [
    ("BTC-USD", "btcusd"), ("ETH-EUR", "etheur"), ("BTC-USDT", "btcusdt"),
    ("1INCH-EUR", "1incheur"), ("USDC-USD", "usdcusd"), ("DOGE-USD", "dogeusd"),
])
def test_symbol_is_the_lower_case_market_symbol(pair: str, symbol: str):
    assert listener().symbol_for(pair) == symbol


@pytest.mark.parametrize("pair", ["btc-usd", "BTC-US.D", "BTC/USD-", "BTC", "-USD"])
def test_symbol_refuses_what_bitstamp_cannot_spell(pair: str):
    with pytest.raises(PairError, match="Bitstamp has no market symbol"):
        listener().symbol_for(pair)


def test_symbol_whose_subscribe_frame_would_be_512_bytes_or_more_is_refused():
    assert listener().symbol_for("A" * 400 + "-USD") == "a" * 400 + "usd"
    with pytest.raises(PairError, match="over the 511 bytes"):
        listener().symbol_for("A" * 500 + "-USD")


def test_one_subscribe_frame_per_channel_book_first():
    assert listener().subscribe_frames(["btcusd", "etheur"]) == [
        '{"event":"bts:subscribe","data":{"channel":"order_book_btcusd"}}',
        '{"event":"bts:subscribe","data":{"channel":"live_trades_btcusd"}}',
        '{"event":"bts:subscribe","data":{"channel":"order_book_etheur"}}',
        '{"event":"bts:subscribe","data":{"channel":"live_trades_etheur"}}',
    ]


def test_subscribe_frames_of_the_longest_pairs_stay_under_512_bytes():
    symbol = listener().symbol_for("ABCDEFGHIJKL-MNOPQRSTUVWX")  # two 12-letter codes
    assert max(len(frame.encode()) for frame in listener().subscribe_frames([symbol])) < 512


def test_listener_declares_the_exchange_feed():
    bitstamp = Bitstamp(["BTC-USD"], lambda record: None)
    assert LISTENERS["bitstamp"] is Bitstamp
    assert (bitstamp.name, bitstamp.url, bitstamp.rest_url) == (
        "bitstamp", "wss://ws.bitstamp.net", "https://www.bitstamp.net")
    assert (Bitstamp.channels_per_pair, Bitstamp.max_subscriptions, Bitstamp.ping_interval,
            Bitstamp.merges_quotes, Bitstamp.subscribe_interval) == (2, 1024, 20.0, True, 0.0)
    assert Bitstamp.pairs_per_connection() == 512
    assert bitstamp.ping_frame() == '{"event":"bts:heartbeat"}'
    assert isinstance(bitstamp.new_session({"btcusd": "BTC-USD"}), BitstampSession)


def test_rest_requests():
    ticker, trades = listener().rest_snapshot_requests("btcusd", 25)
    assert (ticker.path, trades.path) == ("/api/v2/ticker/btcusd/",
                                          "/api/v2/transactions/btcusd/?time=hour")
    assert ticker.parse is parse_rest_ticker
    assert listener().instruments_request().path == "/api/v2/markets/"
    assert listener().instruments_request().parse is parse_markets


# Recorded session (2022) ---------------------------------------------------------------------


RECORDED_TRADES = [
    trade("ETH-USD", "ethusd", 1641343699596000, "216000477", "3805.44", "0.07920000",
          Side.BUY),
    trade("ETH-USD", "ethusd", 1641343709599000, "216000484", "3802.93", "0.93100000",
          Side.SELL),
    trade("ETH-USD", "ethusd", 1641343709599000, "216000485", "3802.89", "3.23948640",
          Side.SELL),
    trade("ETH-USD", "ethusd", 1641343721243000, "216000500", "3800.75", "0.60000000",
          Side.SELL),
    trade("ETH-USD", "ethusd", 1641343721243000, "216000501", "3800.74", "7.56178113",
          Side.SELL),
    trade("ETH-USD", "ethusd", 1641343721243000, "216000502", "3800.74", "3.10111288",
          Side.SELL),
    trade("ETH-USD", "ethusd", 1641343721243000, "216000503", "3800.73", "6.28947800",
          Side.SELL),
    trade("ETH-USD", "ethusd", 1641343721243000, "216000504", "3800.54", "8.27640641",
          Side.SELL),
    trade("ETH-USD", "ethusd", 1641343721243000, "216000505", "3800.53", "2.10800000",
          Side.SELL),
    trade("ETH-USD", "ethusd", 1641343721269000, "216000506", "3800.80", "2.73248242",
          Side.SELL),
]


def test_recorded_session_gives_the_acks_of_our_channels_then_every_trade():
    """Our channels are ``order_book_``/``live_trades_``: the recorded ``diff_order_book_`` acks
    and data are someone else's, the ``live_trades_`` acks ours."""
    records = receive(session_for(ethusd="ETH-USD", sgbeur="SGB-EUR"), *RECORDED)
    assert records == [
        status("SGB-EUR", FeedState.LIVE, "subscribed to live_trades"),
        status("ETH-USD", FeedState.LIVE, "subscribed to live_trades"),
        *RECORDED_TRADES,
    ]


def test_recorded_trades_are_read_from_the_exact_strings_not_the_floats():
    (first,) = receive(session_for(ethusd="ETH-USD"), RECORDED[-10])
    assert (first.price, first.amount) == (Decimal("3805.44"), Decimal("0.07920000"))
    assert first.to_json() == {
        "exchange": "bitstamp", "pair": "ETH-USD", "symbol": "ethusd",
        "time": "2022-01-05T00:48:19.596Z", "id": "216000477", "price": "3805.44",
        "amount": "0.07920000", "side": "buy"}
    (last,) = receive(session_for(ethusd="ETH-USD"), RECORDED[-1])
    assert last.price == Decimal("3800.80")  # the float says 3800.8
    assert str(last.price) == "3800.80"


def test_type_is_the_takers_side_the_newer_order_is_the_taker():
    """In every recorded trade the side ``type`` names is the side of the newer order."""
    for text in RECORDED:
        message = json.loads(text)
        if message.get("event") != "trade":
            continue
        data = message["data"]
        (read,) = receive(session_for(ethusd="ETH-USD"), text)
        newer = Side.BUY if data["buy_order_id"] > data["sell_order_id"] else Side.SELL
        assert read.side is newer


def test_trades_of_markets_we_did_not_ask_for_give_nothing():
    assert receive(session_for(btcusd="BTC-USD"), *RECORDED) == []


# Documented frames ---------------------------------------------------------------------------


def test_documented_full_book_gives_the_best_bid_and_ask_as_a_quote():
    assert receive(session_for(**{"btcusd-perp": "BTC-USD"}), DOCS["order_book"]) == [
        Quote("bitstamp", "BTC-USD", "btcusd-perp", micros(1789457617906487),
              bid=Decimal("77188"), ask=Decimal("77189"), bid_size=Decimal("0.41122"),
              ask_size=Decimal("0.41124")),
    ]


def test_documented_trade_with_an_id_beyond_2_to_the_53_keeps_it_exact():
    assert receive(session_for(**{"btcusd-perp": "BTC-USD"}), DOCS["trade_big_id"]) == [
        trade("BTC-USD", "btcusd-perp", 1789456400586000, "2001939623936278528", "77204",
              "0.00921", Side.BUY),
    ]


def test_documented_ack_makes_the_pair_live():
    assert receive(session_for(**{"btcusd-perp": "BTC-USD"}), DOCS["ack"]) == [
        status("BTC-USD", FeedState.LIVE, "subscribed to order_book"),
    ]


@pytest.mark.parametrize("name", ["heartbeat", "diff_order_book", "funding_rate"])
def test_heartbeat_answers_and_channels_we_did_not_ask_for_give_nothing(name: str):
    assert receive(session_for(**FEEDS), DOCS[name]) == []


@pytest.mark.parametrize("text", [
    '{"event":"bts:unsubscription_succeeded","channel":"order_book_btcusd","data":{}}',
    '{"event":"bts:connection_established","channel":"","data":{}}',
    '{"event":"bts:something_new","channel":"order_book_btcusd","data":{}}',
    '{"event":"order_created","channel":"live_orders_btcusd","data":{}}',
    '{"event":"bts:subscription_succeeded","channel":"order_book_xrpusd","data":{}}',
], ids=lambda text: text[9:45])
def test_events_we_do_not_need_give_nothing(text: str):
    assert receive(session_for(btcusd="BTC-USD"), text) == []


@pytest.mark.parametrize("name", ["request_reconnect", "request_reconnect_old"])
def test_request_reconnect_asks_for_a_new_connection(name: str):
    with pytest.raises(ReconnectRequested, match="bts:request_reconnect"):
        session_for(btcusd="BTC-USD").receive(DOCS[name], T0)


# Books ---------------------------------------------------------------------------------------


def test_book_reads_the_first_level_of_each_side_exactly():
    assert receive(session_for(btcusd="BTC-USD"), frame("data", "order_book_btcusd", BOOK)) == [
        Quote("bitstamp", "BTC-USD", "btcusd", micros(1700000000123456),
              bid=Decimal("43000.10"), ask=Decimal("43000.20"), bid_size=Decimal("0.50000000"),
              ask_size=Decimal("0.25000000")),
    ]


def test_a_book_size_of_zero_is_kept():
    (quote,) = receive(session_for(btcusd="BTC-USD"),
                       frame("data", "order_book_btcusd", BOOK | {"asks": [["43000.20", "0"]]}))
    assert quote.ask_size == Decimal("0")


def test_book_with_one_empty_side_leaves_that_side_unknown_and_an_empty_book_gives_nothing():
    session = session_for(btcusd="BTC-USD")
    (quote,) = receive(session, frame("data", "order_book_btcusd", BOOK | {"asks": []}))
    assert (quote.bid, quote.ask, quote.ask_size) == (Decimal("43000.10"), None, None)
    assert receive(session, frame("data", "order_book_btcusd", BOOK | {"bids": [], "asks": []}))\
        == []


def test_a_crossed_book_is_passed_on_as_it_came():
    crossed = BOOK | {"bids": [["43000.30", "1"]], "asks": [["43000.20", "1"]]}
    (quote,) = receive(session_for(btcusd="BTC-USD"), frame("data", "order_book_btcusd", crossed))
    assert (quote.bid, quote.ask) == (Decimal("43000.30"), Decimal("43000.20"))


def test_book_trade_and_rest_ticker_merge_into_a_ticker():
    """``merges_quotes``: the book's bid/ask, the trade's price and the REST 24 h statistics."""
    book, session = QuoteBook("bitstamp"), session_for(btcusd="BTC-USD")
    (quote,) = receive(session, frame("data", "order_book_btcusd", BOOK))
    assert book.quote(quote) is None  # no last price yet
    (sold,) = receive(session, frame("trade", "live_trades_btcusd", TRADE | {"type": 1}))
    ticker = book.trade(sold)
    assert ticker == Ticker("bitstamp", "BTC-USD", "btcusd", micros(1700000001000500),
                            bid=Decimal("43000.10"), ask=Decimal("43000.20"),
                            last=Decimal("43000.20"), bid_size=Decimal("0.50000000"),
                            ask_size=Decimal("0.25000000"))
    (rest_ticker,) = parse_rest_ticker(json.loads(DOCS["rest_ticker"]),
                                       Feed("BTC-USD", "btcusd"), T0)
    assert book.seed(rest_ticker) is None  # the stream spoke first: only the gaps are filled
    later = book.quote(quote)
    assert later is not None
    assert (later.last, later.volume_24h, later.open_24h) == (
        Decimal("43000.20"), Decimal("3563.13819902"), Decimal("25895"))


# Trades --------------------------------------------------------------------------------------


def test_trade_type_1_is_a_taker_sell_and_id_str_is_used_without_id():
    data = {key: value for key, value in TRADE.items() if key != "id"}
    data |= {"id_str": "300000001", "type": 1}
    assert receive(session_for(btcusd="BTC-USD"), frame("trade", "live_trades_btcusd", data)) == [
        trade("BTC-USD", "btcusd", 1700000001000500, "300000001", "43000.20", "0.07920000",
              Side.SELL),
    ]


def test_a_trade_id_beyond_64_bits_keeps_its_digits():
    text = frame("trade", "live_trades_btcusd", TRADE).replace("300000001", str(2**70))
    (read,) = receive(session_for(btcusd="BTC-USD"), text)
    assert read.id == "1180591620717411303424"


# Acks and errors -----------------------------------------------------------------------------


def test_each_ack_makes_its_pair_live_per_channel():
    session = session_for(btcusd="BTC-USD", etheur="ETH-EUR")
    assert receive(session, ack("order_book_btcusd"), ack("live_trades_btcusd"),
                   ack("order_book_etheur")) == [
        status("BTC-USD", FeedState.LIVE, "subscribed to order_book"),
        status("BTC-USD", FeedState.LIVE, "subscribed to live_trades"),
        status("ETH-EUR", FeedState.LIVE, "subscribed to order_book"),
    ]


def test_an_error_naming_no_channel_goes_to_the_oldest_unanswered_subscribe():
    session = session_for(btcusd="BTC-USD", etheur="ETH-EUR")
    assert receive(session, ack("order_book_btcusd"), DOCS["error_invalid_channel"]) == [
        status("BTC-USD", FeedState.LIVE, "subscribed to order_book"),
        status("BTC-USD", FeedState.ERROR, "Invalid channel provided. (live_trades_btcusd)"),
    ]
    assert receive(session, ack("live_trades_etheur"), DOCS["error_invalid_channel"]) == [
        status("ETH-EUR", FeedState.LIVE, "subscribed to live_trades"),
        status("ETH-EUR", FeedState.ERROR, "Invalid channel provided. (order_book_etheur)"),
    ]


def test_an_error_once_every_subscribe_is_answered_is_no_pairs():
    session = session_for(btcusd="BTC-USD")
    receive(session, ack("order_book_btcusd"), ack("live_trades_btcusd"))
    with pytest.raises(MalformedFrame, match=r"exchange error: Bad subscription string\."):
        session.receive(DOCS["error_bad_subscription"], T0)


def test_an_error_naming_our_channel_and_a_code_goes_to_that_pair():
    text = json.dumps({"event": "bts:error", "channel": "live_trades_etheur",
                       "data": {"code": 4009, "message": "Authentication failed."}})
    session = session_for(btcusd="BTC-USD", etheur="ETH-EUR")
    assert receive(session, text) == [
        status("ETH-EUR", FeedState.ERROR, "Authentication failed. (code 4009) "
                                           "(live_trades_etheur)"),
    ]
    assert receive(session, DOCS["error_json"]) == [  # the oldest unanswered is still btcusd's
        status("BTC-USD", FeedState.ERROR, "Incorrect JSON format. (order_book_btcusd)"),
    ]


# Malformed frames ----------------------------------------------------------------------------


def _trade_with(**changes: Any) -> str:
    data = dict(TRADE)
    for key, value in changes.items():
        if value is ...:
            del data[key]
        else:
            data[key] = value
    return frame("trade", "live_trades_btcusd", data)


def _book_with(**changes: Any) -> str:
    return frame("data", "order_book_btcusd", BOOK | changes)


@pytest.mark.parametrize("text", [
    "not json",
    "[1,2,3]",
    '"trade"',
    '{"channel":"live_trades_btcusd","data":{}}',
    '{"event":5,"channel":"live_trades_btcusd","data":{}}',
    _trade_with(amount_str=...),
    _trade_with(price_str=...),
    _trade_with(amount_str=0.0792),
    _trade_with(price_str="abc"),
    _trade_with(price_str="NaN"),
    _trade_with(amount_str="0.00000000"),
    _trade_with(amount_str="-1"),
    _trade_with(type=2),
    _trade_with(type="0"),
    _trade_with(type=True),
    _trade_with(type=0.5),
    _trade_with(type=...),
    _trade_with(microtimestamp="yesterday"),
    _trade_with(microtimestamp="-1700000001000500"),
    _trade_with(microtimestamp=1.7e15),
    _trade_with(microtimestamp="9" * 20),
    _trade_with(microtimestamp=...),
    _trade_with(microtimestamp="789456400586000"),  # 1995: before the first bitcoin block
    _trade_with(microtimestamp="1795800000000000"),  # two days after the frame came
    _trade_with(price_str="0"),
    _trade_with(price_str="-43000.20"),
    _trade_with(price_str="1e31"),
    _trade_with(amount_str="0." + "1" * 41),
    _trade_with(id=-1),
    _trade_with(id="300000001"),
    _trade_with(id=12.5),
    _trade_with(id=...),
    _trade_with(id=..., id_str="abc"),
    frame("trade", "live_trades_btcusd", None),
    frame("data", "order_book_btcusd", {k: v for k, v in BOOK.items() if k != "bids"}),
    _book_with(bids={"43000.10": "0.5"}),
    _book_with(bids=["43000.10"]),
    _book_with(asks=[["x", "1"]]),
    _book_with(asks=[["43000.20"]]),
    _book_with(microtimestamp="1.7e15"),
    _book_with(microtimestamp="1000000"),
    _book_with(bids=[["0", "1"]]),
    _book_with(asks=[["43000.20", "-1"]]),
    _book_with(asks=[["1E-31", "1"]]),
    frame("trade", "order_book_btcusd", TRADE),
    frame("data", "live_trades_btcusd", BOOK),
    '{"event":"bts:subscription_succeeded","data":{}}',
    '{"event":"bts:subscription_succeeded","channel":7,"data":{}}',
    '{"event":"bts:error","channel":"","data":null}',
    '{"event":"bts:error","channel":""}',
], ids=lambda text: text[:70])
def test_malformed_frames_raise(text: str):
    with pytest.raises(MalformedFrame):
        session_for(btcusd="BTC-USD").receive(text, T0)


# Decoding: orjson, and the exact decoder where orjson would give a float -------------------


def outcome(read: Callable[[], list[Record]]) -> tuple[Any, ...]:
    """What reading a frame gives: the records and their JSON, or the type of what it raised."""
    try:
        records = read()
    except Exception as exc:
        return ("raises", type(exc))
    return ("records", records,
            [record.to_json() for record in records if not isinstance(record, Quote)])


DECODING_VARIANTS = [
    _trade_with(id=2**64),
    _trade_with(id=2**63 - 1),
    _trade_with(amount_str="1e-8"),
    _book_with(bids=[[43000.1, 0.5]]),  # levels as JSON numbers: read exactly
    _book_with(bids=[["43000.10", "1e999"]]),
    _book_with(asks=[["43000.20", "NaN"]]),
    _trade_with(price=1e999),  # the float beside the string: unused, but orjson refuses it
    " " + frame("trade", "live_trades_btcusd", TRADE) + "\n",
    frame("trade", "live_trades_btcusd", TRADE) + "x",
]


def test_every_frame_reads_as_the_exact_decoder_reads_it():
    """Differential: ``receive`` (orjson) against ``decode`` + ``receive_message``."""
    feeds = {**FEEDS, "btcusd": "BTC-USD"}
    fast, exact = listener().new_session(feeds), listener().new_session(feeds)
    for text in [*RECORDED, *DOCS.values(), *DECODING_VARIANTS]:
        assert outcome(lambda t=text: fast.receive(t, T0)) == outcome(
            lambda t=text: exact.receive_message(decode(t), T0)), text


def test_a_book_level_sent_as_a_json_number_keeps_its_digits():
    (quote,) = receive(session_for(btcusd="BTC-USD"),
                       _book_with(bids=[[43000.1, 0.30000000000000004]]))
    assert (quote.bid, quote.bid_size) == (Decimal("43000.1"), Decimal("0.30000000000000004"))


# REST ----------------------------------------------------------------------------------------


FEED = Feed("BTC-USD", "btcusd")


def test_rest_ticker_is_a_complete_ticker_with_the_24_hour_open():
    assert parse_rest_ticker(json.loads(DOCS["rest_ticker"]), FEED, T0) == [
        Ticker("bitstamp", "BTC-USD", "btcusd", micros(1686068944 * 10**6),
               bid=Decimal("26208"), ask=Decimal("26211"), last=Decimal("26216"),
               volume_24h=Decimal("3563.13819902"), open_24h=Decimal("25895"),
               high_24h=Decimal("26252"), low_24h=Decimal("25350")),
    ]


def test_rest_ticker_without_24_hour_fields_leaves_them_unknown():
    body = {"timestamp": "1686068944", "last": "26216", "bid": "26208", "ask": "26211"}
    (ticker,) = parse_rest_ticker(body, FEED, T0)
    assert (ticker.volume_24h, ticker.open_24h, ticker.high_24h, ticker.low_24h) == (
        None, None, None, None)


@pytest.mark.parametrize("body", [
    [], {"timestamp": "1686068944", "last": "26216", "bid": "26208"},
    {"timestamp": "soon", "last": "26216", "bid": "26208", "ask": "26211"},
    {"timestamp": "1686068944", "last": "x", "bid": "26208", "ask": "26211"},
    {"timestamp": "1686068944", "last": "26216", "bid": "0", "ask": "26211"},
    {"timestamp": "1686068944", "last": "26216", "bid": "26208", "ask": "26211",
     "volume": "-1"},
    {"timestamp": "1000000000", "last": "26216", "bid": "26208", "ask": "26211"},  # 2001
])
def test_malformed_rest_tickers_raise(body: Any):
    with pytest.raises(MalformedFrame):
        parse_rest_ticker(body, FEED, T0)


def test_rest_transactions_are_returned_oldest_first_with_the_takers_side():
    rows = json.loads(DOCS["rest_transactions"])
    feed = Feed("ETH-BTC", "ethbtc")
    expected = [
        Trade("bitstamp", "ETH-BTC", "ethbtc", micros(1551814434 * 10**6), "83581896",
              Decimal("0.03532851"), Decimal("11.34130961"), Side.SELL),
        Trade("bitstamp", "ETH-BTC", "ethbtc", micros(1551814435 * 10**6), "83581898",
              Decimal("0.03532850"), Decimal("0.85945907"), Side.SELL),
    ]
    assert parse_rest_trades(rows, feed, T0) == expected
    assert parse_rest_trades(rows, feed, T0, limit=1) == expected[1:]  # the newest
    bought = [rows[0] | {"type": "0", "tid": 83581898}]
    assert parse_rest_trades(bought, feed, T0)[0].side is Side.BUY


def test_rest_request_keeps_the_newest_trades_limit():
    _, trades = listener().rest_snapshot_requests("ethbtc", 1)
    rows = json.loads(DOCS["rest_transactions"])
    assert [t.id for t in trades.parse(rows, Feed("ETH-BTC", "ethbtc"), T0)] == ["83581898"]


@pytest.mark.parametrize("row", [
    {"type": "2"}, {"type": 0.0}, {"type": True}, {"tid": "x1"}, {"tid": None},
    {"amount": "0"}, {"price": "abc"}, {"date": "1.5"}, {"date": "1000000000"},
    {"price": "0"}, {"amount": "1e40"},
])
def test_malformed_rest_transactions_raise(row: dict[str, Any]):
    rows = [json.loads(DOCS["rest_transactions"])[0] | row]
    with pytest.raises(MalformedFrame):
        parse_rest_trades(rows, FEED, T0)
    with pytest.raises(MalformedFrame):
        parse_rest_trades({"error": "x"}, FEED, T0)  # type: ignore[arg-type]


def test_markets_lists_the_enabled_spot_markets_only():
    rows = json.loads(DOCS["rest_markets"])
    assert parse_markets(rows) == {"btcusd": "BTC-USD"}
    disabled = rows[0] | {"market_symbol": "ltcusd", "base_currency": "LTC",
                          "trading": "Disabled"}
    usdt = rows[0] | {"market_symbol": "ethusdt", "base_currency": "ETH",
                      "counter_currency": "USDT"}
    assert parse_markets([*rows, disabled, usdt]) == {"btcusd": "BTC-USD", "ethusdt": "ETH-USDT"}


@pytest.mark.parametrize("body", [
    {"markets": []}, [{"market_symbol": "btcusd"}],
    json.loads(DOCS["rest_trading_pairs_info"]),  # the obsolete endpoint's shape
])
def test_malformed_markets_raise(body: Any):
    with pytest.raises(MalformedFrame):
        parse_markets(body)
