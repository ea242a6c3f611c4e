"""Coinbase: symbols, subscribe frames and the session, fed recorded and documented frames.

Frames come from ``tests/fixtures/coinbase/`` (a cryptofeed recording, attribution in its
README, and examples from the Coinbase Exchange docs and published wire logs); expected records
are written out by hand from the frames' text, so a parser that reorders, rounds or mislabels a
field fails here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from exchanges.base import RecentIds
from exchanges.coinbase import Coinbase, CoinbaseSession
from exchanges.pairs import PairError
from exchanges.parsing import MalformedFrame, decode
from exchanges.records import FeedState, Record, Side, Status, Ticker, Trade
from tests.unit.frames import documented_frames, recorded_frames

T0 = datetime(2026, 11, 24, 17, 42, 3, 123456, tzinfo=UTC)  # every frame's receive time


RECORDED = recorded_frames("coinbase", "COINBASE.ws.28.0.excerpt")
DOCS = documented_frames("coinbase")
RECORDED_PRODUCTS = ("NMR-EUR", "SKL-BTC", "SKL-GBP", "NU-GBP")


def recorded(*parts: str) -> str:
    """The one recorded frame that contains every one of ``parts``."""
    (frame,) = [frame for frame in RECORDED if all(part in frame for part in parts)]
    return frame


def session_for(*products: str) -> CoinbaseSession:
    return Coinbase([], lambda record: None).new_session({product: product for product in products})


def receive(session: CoinbaseSession, *frames: str) -> list[Record]:
    return [record for frame in frames for record in session.receive(frame, T0)]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def trade(pair: str, time: str, trade_id: str, price: str, amount: str, side: Side) -> Trade:
    return Trade("coinbase", pair, pair, at(time), trade_id, Decimal(price), Decimal(amount), side)


def status(pair: str | None, state: FeedState, detail: str) -> Status:
    return Status("coinbase", pair, state, detail, T0)


def ack(*products: str) -> str:
    """A ``subscriptions`` ack listing ``products`` on our three channels, as the feed sends it."""
    return json.dumps({"type": "subscriptions", "channels": [
        {"name": name, "product_ids": list(products)} for name in ("ticker", "matches", "heartbeat")
    ]})


# Symbols and subscribe frames ----------------------------------------------------------------


@pytest.mark.parametrize("pair", ["BTC-USD", "ETH-EUR", "1INCH-USD", "SHIB-USDT"])
def test_symbol_is_the_canonical_pair(pair: str):
    assert Coinbase([], lambda record: None).symbol_for(pair) == pair


@pytest.mark.parametrize("pair", ["btc-usd", "BTC/USD", "BTCUSD", "BTC-USD-PERP", ""])
def test_symbol_refuses_what_coinbase_cannot_spell(pair: str):
    with pytest.raises(PairError, match="Coinbase has no product_id"):
        Coinbase([], lambda record: None).symbol_for(pair)


def test_one_subscribe_frame_per_product_with_its_own_channel_objects():
    frames = Coinbase([], lambda record: None).subscribe_frames(["BTC-USD", "ETH-EUR"])
    assert frames == [
        '{"type":"subscribe","channels":[{"name":"ticker","product_ids":["BTC-USD"]},'
        '{"name":"matches","product_ids":["BTC-USD"]},{"name":"heartbeat","product_ids":["BTC-USD"]}]}',
        '{"type":"subscribe","channels":[{"name":"ticker","product_ids":["ETH-EUR"]},'
        '{"name":"matches","product_ids":["ETH-EUR"]},{"name":"heartbeat","product_ids":["ETH-EUR"]}]}',
    ]


def test_listener_declares_the_exchange_feed():
    listener = Coinbase(["BTC-USD"], lambda record: None)
    assert (listener.name, listener.url) == ("coinbase", "wss://ws-feed.exchange.coinbase.com")
    assert isinstance(listener.new_session({"BTC-USD": "BTC-USD"}), CoinbaseSession)


# Ticker --------------------------------------------------------------------------------------


# the docs' ticker frame, field by field
DOCS_TICKER = Ticker("coinbase", "ETH-USD", "ETH-USD", at("2022-10-19T23:28:22.061769+00:00"),
                     bid=Decimal("1285.04"), ask=Decimal("1285.27"), last=Decimal("1285.22"),
                     bid_size=Decimal("0.46688654"), ask_size=Decimal("1.56637040"),
                     volume_24h=Decimal("245532.79269678"), open_24h=Decimal("1310.79"),
                     high_24h=Decimal("1313.8"), low_24h=Decimal("1280.52"))


def test_documented_ticker_gives_the_top_of_book_and_the_taker_side_trade():
    assert receive(session_for("ETH-USD"), DOCS["ticker"]) == [
        DOCS_TICKER,
        trade("ETH-USD", "2022-10-19T23:28:22.061769+00:00", "370843401", "1285.22",
              "11.4396987", Side.BUY),
    ]


def test_recorded_ticker_without_sizes_and_with_a_taker_sell():
    frame = recorded('"type":"ticker"', '"trade_id":82007,')
    assert receive(session_for("SKL-GBP"), frame) == [
        Ticker("coinbase", "SKL-GBP", "SKL-GBP", at("2021-04-17T16:43:29.571587+00:00"),
               bid=Decimal("0.5752"), ask=Decimal("0.5771"), last=Decimal("0.5752"),
               volume_24h=Decimal("3479861.10000000"), open_24h=Decimal("0.5102"),
               high_24h=Decimal("0.588"), low_24h=Decimal("0.5")),
        trade("SKL-GBP", "2021-04-17T16:43:29.571587+00:00", "82007", "0.5752", "1008.2",
              Side.SELL),
    ]


def test_ticker_keeps_the_exact_digits_of_tiny_prices():
    frame = recorded('"type":"ticker"', '"trade_id":280231,')
    ticker, _ = receive(session_for("SKL-BTC"), frame)
    assert (ticker.bid, ticker.ask, ticker.last) == (
        Decimal("0.00001302"), Decimal("0.00001305"), Decimal("0.00001303"))
    assert ticker.to_json()["bid"] == "0.00001302"


def test_ticker_without_a_trade_gives_the_ticker_alone_at_the_receive_time():
    frame = json.dumps({"type": "ticker", "sequence": 1, "product_id": "BTC-USD",
                        "price": "43210.50", "best_bid": "43210.49", "best_ask": "43210.51"})
    assert receive(session_for("BTC-USD"), frame) == [
        Ticker("coinbase", "BTC-USD", "BTC-USD", T0, bid=Decimal("43210.49"),
               ask=Decimal("43210.51"), last=Decimal("43210.50")),
    ]


def test_ticker_with_null_trade_fields_gives_the_ticker_alone():
    message = json.loads(DOCS["ticker"]) | {"trade_id": None, "last_size": None}
    assert receive(session_for("ETH-USD"), json.dumps(message)) == [DOCS_TICKER]


# Matches -------------------------------------------------------------------------------------


def test_documented_match_with_a_sell_maker_is_a_taker_buy():
    assert receive(session_for("BTC-USD"), DOCS["match"]) == [
        trade("BTC-USD", "2014-11-07T08:19:27.028459+00:00", "10", "400.23", "5.23512", Side.BUY),
    ]


def test_recorded_last_match_with_a_buy_maker_is_a_taker_sell():
    frame = recorded('"type":"last_match"', '"trade_id":82007,')
    assert receive(session_for("SKL-GBP"), frame) == [
        trade("SKL-GBP", "2021-04-17T16:43:29.571587+00:00", "82007", "0.5752", "1008.2",
              Side.SELL),
    ]


def test_recorded_match():
    frame = recorded('"type":"match"', '"trade_id":280232,')
    assert receive(session_for("SKL-BTC"), frame) == [
        trade("SKL-BTC", "2021-04-17T16:43:37.089723+00:00", "280232", "0.00001305", "985",
              Side.BUY),
    ]


def test_ticker_and_match_report_each_recorded_trade_identically():
    """The listener dedupes by id, so whichever copy arrives first must be the whole truth."""
    session = session_for(*RECORDED_PRODUCTS)
    from_ticker: dict[str, Trade] = {}
    from_matches: dict[str, Trade] = {}
    for frame in RECORDED:
        kind = json.loads(frame)["type"]
        trades = [r for r in session.receive(frame, T0) if isinstance(r, Trade)]
        (from_ticker if kind == "ticker" else from_matches).update((t.id, t) for t in trades)
    assert len(from_ticker) == 22
    assert from_ticker == from_matches


def test_recent_ids_show_each_recorded_trade_once():
    session, seen = session_for(*RECORDED_PRODUCTS), RecentIds()
    shown = [record for frame in RECORDED for record in session.receive(frame, T0)
             if isinstance(record, Trade) and seen.add(record.pair, record.id)]
    assert len(shown) == 22
    assert shown[:2] == [
        trade("SKL-GBP", "2021-04-17T16:43:29.571587+00:00", "82007", "0.5752", "1008.2",
              Side.SELL),
        trade("NU-GBP", "2021-04-17T16:43:18.435588+00:00", "563678", "0.4394", "70", Side.BUY),
    ]


def test_frames_of_products_we_did_not_ask_for_give_nothing():
    session = session_for("BTC-USD")
    assert receive(session, DOCS["ticker"], recorded('"type":"match"', '"trade_id":280232,')) == []


# Heartbeat, acks and unknown types -----------------------------------------------------------


def test_heartbeat_gives_nothing():
    assert receive(session_for("BTC-USD"), DOCS["heartbeat"]) == []


def test_recorded_acks_make_our_ticker_products_live_once():
    acks = [frame for frame in RECORDED if '"type":"subscriptions"' in frame]
    session = session_for(*RECORDED_PRODUCTS)
    # the first ack lists level2 only; the second lists ticker in this order; the third repeats
    assert [receive(session, frame) for frame in acks] == [
        [],
        [status(pair, FeedState.LIVE, "subscribed")
         for pair in ("NU-GBP", "NMR-EUR", "SKL-GBP", "SKL-BTC")],
        [],
    ]


def test_documented_ack_ignores_products_we_did_not_ask_for():
    assert receive(session_for("ETH-BTC"), DOCS["subscriptions"]) == [
        status("ETH-BTC", FeedState.LIVE, "subscribed"),
    ]


def test_each_cumulative_ack_reports_only_the_newly_subscribed_product():
    session = session_for("BTC-USD", "ETH-USD")
    assert receive(session, ack("BTC-USD"), ack("BTC-USD", "ETH-USD")) == [
        status("BTC-USD", FeedState.LIVE, "subscribed"),
        status("ETH-USD", FeedState.LIVE, "subscribed"),
    ]


@pytest.mark.parametrize("frame", [
    recorded('"type":"l2update"', "SKL-BTC"),
    DOCS["snapshot"],
    '{"type":"status","products":[],"currencies":[]}',
    '{"type":"ticker_batch_v2","product_id":"BTC-USD"}',
], ids=["l2update", "snapshot", "status", "new"])
def test_types_we_do_not_handle_give_nothing(frame: str):
    assert receive(session_for("BTC-USD", "SKL-BTC"), frame) == []


# Errors --------------------------------------------------------------------------------------


def test_invalid_product_is_that_pairs_error_and_the_empty_ack_adds_nothing():
    session = session_for("BTC-USD", "XRP-USD")
    assert receive(session, ack("BTC-USD")) == [status("BTC-USD", FeedState.LIVE, "subscribed")]
    assert receive(session, DOCS["error_not_a_valid_product"]) == [
        status("XRP-USD", FeedState.ERROR, "XRP-USD is not a valid product"),
    ]
    assert receive(session, DOCS["subscriptions_empty"]) == []


def test_error_goes_to_the_pair_it_names_not_to_a_prefix_of_it():
    session = session_for("BTC-USD", "BTC-USDT", "ETH-USD")
    frame = json.dumps({"type": "error", "message": "Failed to subscribe",
                        "reason": "BTC-USDT is not a valid product"})
    assert receive(session, frame) == [
        status("BTC-USDT", FeedState.ERROR, "BTC-USDT is not a valid product"),
    ]


def test_error_naming_our_product_in_its_message():
    frame = '{"type":"error","message":"ETH-USD: too many subscriptions"}'
    assert receive(session_for("BTC-USD", "ETH-USD"), frame) == [
        status("ETH-USD", FeedState.ERROR, "ETH-USD: too many subscriptions"),
    ]


def test_refusal_naming_no_product_fails_the_pairs_no_ack_listed():
    """The old wording can't be tied to a subscribe; once all are acked the unlisted pair is."""
    session = session_for("BTC-USD", "ETH-USD", "LTC-USD")
    assert receive(session, ack("BTC-USD"), DOCS["error_invalid_product_id"]) == [
        status("BTC-USD", FeedState.LIVE, "subscribed"),
        status(None, FeedState.ERROR, "Failed to subscribe: Invalid product ID provided"),
    ]
    assert receive(session, ack("BTC-USD"), ack("BTC-USD", "LTC-USD")) == [
        status("LTC-USD", FeedState.LIVE, "subscribed"),
        status("ETH-USD", FeedState.ERROR, "Failed to subscribe: Invalid product ID provided"),
    ]


def test_pair_already_refused_by_name_is_not_failed_again_when_all_are_acked():
    session = session_for("BTC-USD", "XRP-USD")
    frames = (ack("BTC-USD"), DOCS["error_not_a_valid_product"], ack("BTC-USD"))
    assert receive(session, *frames) == [
        status("BTC-USD", FeedState.LIVE, "subscribed"),
        status("XRP-USD", FeedState.ERROR, "XRP-USD is not a valid product"),
    ]


@pytest.mark.parametrize(("name", "detail"), [
    ("error", "error message"),
    ("error_empty_product", "Failed to subscribe:  is not a valid product"),
    ("error_no_channels", "Failed to subscribe: No channels provided"),
])
def test_error_naming_none_of_our_products_is_the_exchanges(name: str, detail: str):
    assert receive(session_for("BTC-USD"), DOCS[name]) == [status(None, FeedState.ERROR, detail)]


# Malformed frames ----------------------------------------------------------------------------


def _with(name: str, **changes: object) -> str:
    """A documented frame with fields replaced (a value of ``...`` deletes the field)."""
    message = json.loads(DOCS[name])
    for key, value in changes.items():
        if value is ...:
            del message[key]
        else:
            message[key] = value
    return json.dumps(message)


@pytest.mark.parametrize("frame", [
    "not json",
    "[1,2,3]",
    '"ticker"',
    '{"product_id":"BTC-USD"}',
    '{"type":5}',
    '{"type":["ticker"]}',
    _with("ticker", best_bid=...),
    _with("ticker", product_id=...),
    _with("ticker", price="abc"),
    _with("ticker", best_ask="NaN"),
    _with("ticker", side="up"),
    _with("ticker", time="yesterday"),
    _with("match", size=...),
    _with("match", size="0"),
    _with("match", side="BUY"),
    _with("match", trade_id=True),
    _with("match", trade_id=10.5),
    _with("match", time="2014-11-07T08:19:27.028459"),
    _with("match", time=1415348367),
    _with("match", product_id=["BTC-USD"]),
    _with("subscriptions", channels=...),
    _with("subscriptions", channels=7),
    _with("subscriptions", channels=[{"product_ids": ["BTC-USD"]}]),
    '{"type":"error","reason":"BTC-USD is not a valid product"}',
], ids=lambda frame: frame[:60])
def test_malformed_frames_raise(frame: str):
    session = session_for("BTC-USD", "ETH-USD")
    with pytest.raises(MalformedFrame):
        session.receive(frame, T0)


# Serialisation -------------------------------------------------------------------------------


def test_records_serialise_with_exact_decimals_and_millisecond_times():
    session = session_for("ETH-USD")
    ticker, trade_ = receive(session, DOCS["ticker"])
    (live,) = receive(session, ack("ETH-USD"))
    assert ticker.to_json() == {
        "exchange": "coinbase", "pair": "ETH-USD", "symbol": "ETH-USD",
        "time": "2022-10-19T23:28:22.061Z", "bid": "1285.04", "ask": "1285.27",
        "last": "1285.22", "bid_size": "0.46688654", "ask_size": "1.56637040",
        "volume_24h": "245532.79269678", "open_24h": "1310.79", "high_24h": "1313.8",
        "low_24h": "1280.52",
    }
    assert trade_.to_json() == {
        "exchange": "coinbase", "pair": "ETH-USD", "symbol": "ETH-USD",
        "time": "2022-10-19T23:28:22.061Z", "id": "370843401", "price": "1285.22",
        "amount": "11.4396987", "side": "buy",
    }
    assert live.to_json() == {
        "exchange": "coinbase", "pair": "ETH-USD", "state": "live", "detail": "subscribed",
        "time": "2026-11-24T17:42:03.123Z",
    }


# Decoding: orjson, and the exact decoder where orjson would give a float -------------------


def outcome(read: Callable[[], list[Record]]) -> tuple[Any, ...]:
    """What reading a frame gives: the records and their JSON, or the type of what it raised."""
    try:
        records = read()
    except Exception as exc:
        return ("raises", type(exc))
    return ("records", records, [record.to_json() for record in records])


DOC_PRODUCTS = ("ETH-USD", "BTC-USD", "ETH-EUR", "XRP-USD")


def test_every_frame_reads_as_the_exact_decoder_reads_it():
    """Differential: ``receive`` (orjson) against ``decode`` + ``receive_message``."""
    products = RECORDED_PRODUCTS + DOC_PRODUCTS
    fast, exact = session_for(*products), session_for(*products)
    for frame in [*RECORDED, *DOCS.values()]:
        assert outcome(lambda f=frame: fast.receive(f, T0)) == outcome(
            lambda f=frame: exact.receive_message(decode(f), T0)), frame


def _raw(name: str, **changes: str) -> str:
    """A documented frame with fields' JSON text replaced: ``price="1285.22"`` sends a number."""
    message = json.loads(DOCS[name])
    text = json.dumps(message, separators=(",", ":"))
    for key, value in changes.items():
        text = text.replace(f'"{key}":{json.dumps(message[key])}', f'"{key}":{value}')
    return text


DECODING_VARIANTS = [
    _raw("ticker", price="1285.22"),  # orjson: a float; read exactly instead
    _raw("ticker", price="0.1", best_bid="0.1", best_ask="0.30000000000000004"),
    _raw("ticker", best_bid="1E-8", volume_24h="245532.79269678", last_size="11.4396987"),
    _raw("ticker", best_bid="1e999"),  # orjson refuses it
    _raw("ticker", best_bid="1e99999999999999999999"),  # Decimal can't hold it
    _raw("ticker", best_bid="NaN"),
    _raw("ticker", best_bid="-Infinity"),
    _raw("ticker", best_bid="12345678901234567890123"),  # an integer beyond 64 bits
    _raw("ticker", trade_id="1180591620717411303424"),  # 2**70: orjson's float is refused
    _raw("ticker", trade_id="-370843401"),
    _raw("ticker", trade_id="370843401.5"),
    _raw("ticker", trade_id="1e3"),
    _raw("ticker", sequence="1e400"),  # unused, but orjson refuses it
    _raw("match", size="5.23512", price="400.23"),
    _raw("match", trade_id="18446744073709551616"),  # 2**64
    _raw("match", product_id='"BTC-USD\\ud800"'),  # a lone surrogate: orjson refuses it
    " " + DOCS["match"] + "\n",
    DOCS["match"][:-1] + ',"price":"400.24"}',  # a repeated key: the last one counts
    DOCS["match"] + "x",
    DOCS["heartbeat"].replace('"sequence":90', '"sequence":90.5'),
]


@pytest.mark.parametrize("frame", DECODING_VARIANTS, ids=lambda frame: frame[:70])
def test_frames_orjson_reads_differently_read_as_the_exact_decoder_reads_them(frame: str):
    fast, exact = session_for(*DOC_PRODUCTS), session_for(*DOC_PRODUCTS)
    assert outcome(lambda: fast.receive(frame, T0)) == outcome(
        lambda: exact.receive_message(decode(frame), T0))


def test_a_price_sent_as_a_json_number_keeps_its_digits():
    ticker, trade_ = receive(session_for("ETH-USD"), _raw("ticker", price="0.1",
                                                          last_size="0.30000000000000004"))
    assert (ticker.last, trade_.price, trade_.amount) == (
        Decimal("0.1"), Decimal("0.1"), Decimal("0.30000000000000004"))
    assert ticker.to_json()["last"] == "0.1"


def test_a_trade_id_beyond_64_bits_keeps_its_digits():
    (trade_,) = receive(session_for("BTC-USD"), _raw("match", trade_id=str(2**70)))
    assert trade_.id == "1180591620717411303424"


def test_reading_a_frame_again_exactly_changes_no_state():
    session = session_for("ETH-USD", "BTC-USD")
    assert receive(session, ack("ETH-USD")) == [status("ETH-USD", FeedState.LIVE, "subscribed")]
    assert len(receive(session, _raw("ticker", price="1285.22"))) == 2
    assert receive(session, ack("ETH-USD", "BTC-USD")) == [
        status("BTC-USD", FeedState.LIVE, "subscribed"),
    ]


def test_products_that_trade_are_listed():
    from exchanges.coinbase import parse_products

    rows = [{"id": "BTC-USD", "base_currency": "BTC", "quote_currency": "USD",
             "status": "online", "trading_disabled": False},
            {"id": "OLD-USD", "base_currency": "OLD", "quote_currency": "USD",
             "status": "delisted", "trading_disabled": True},
            {"id": "HALT-USD", "base_currency": "HALT", "quote_currency": "USD",
             "status": "online", "trading_disabled": True}]
    assert parse_products(rows) == {"BTC-USD": "BTC-USD"}
    with pytest.raises(MalformedFrame):
        parse_products([{"id": "BTC-USD"}])
