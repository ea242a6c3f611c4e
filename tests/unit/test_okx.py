"""OKX: symbols, subscribe frames, the session and the REST parsers, fed recorded and
documented frames.

Frames come from ``tests/fixtures/okx/`` (a cryptofeed recording, attribution in its README, and
examples from the OKX v5 docs and published wire captures); expected records are written out by
hand from the frames' text, so a parser that reorders, rounds or mislabels a field fails here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from dashboard.settings import Settings
from exchanges import LISTENERS, rest
from exchanges.base import Feed, RecentIds, ReconnectRequested
from exchanges.okx import (
    Okx,
    OkxSession,
    parse_instruments,
    parse_rest_ticker,
    parse_rest_trades,
    request_id,
)
from exchanges.pairs import PairError, parse_pair
from exchanges.parsing import MalformedFrame, decode
from exchanges.records import FeedState, Quote, Record, Side, Status, Ticker, Trade, time_from_ms
from tests.unit.frames import FIXTURES, documented_frames, recorded_frames

T0 = datetime(2026, 11, 24, 17, 42, 3, 123456, tzinfo=UTC)  # every frame's receive time

RECORDED = recorded_frames("okx", "OKX.ws.1.0.excerpt")
(INSTRUMENTS_2022,) = recorded_frames("okx", "OKX.0.excerpt")
DOCS = documented_frames("okx")
FEEDS: dict[str, str] = json.loads((FIXTURES / "okx" / "feeds.json").read_text())


def listener(pairs: tuple[str, ...] = ()) -> Okx:
    return Okx(list(pairs), lambda record: None)


def session_for(*symbols: str) -> OkxSession:
    return listener().new_session({symbol: FEEDS.get(symbol, symbol) for symbol in symbols})


def receive(session: OkxSession, *frames: str) -> list[Record]:
    return [record for frame in frames for record in session.receive(frame, T0)]


def ms(text: str) -> datetime:
    return time_from_ms(int(text))


def trade(symbol: str, ts: str, trade_id: str, price: str, amount: str, side: Side) -> Trade:
    return Trade("okx", FEEDS.get(symbol, symbol), symbol, ms(ts), trade_id, Decimal(price),
                 Decimal(amount), side)


def ticker(symbol: str, ts: str, bid: str, ask: str, last: str, bid_size: str, ask_size: str,
           volume: str, open_: str, high: str, low: str) -> Ticker:
    return Ticker("okx", FEEDS.get(symbol, symbol), symbol, ms(ts), Decimal(bid), Decimal(ask),
                  Decimal(last), Decimal(bid_size), Decimal(ask_size), Decimal(volume),
                  Decimal(open_), Decimal(high), Decimal(low))


def status(pair: str | None, state: FeedState, detail: str) -> Status:
    return Status("okx", pair, state, detail, T0)


def ack(channel: str, symbol: str, **extra: str) -> str:
    return json.dumps({**extra, "event": "subscribe", "arg": {"channel": channel,
                                                               "instId": symbol},
                       "connId": "a4d3ae55"})


def error(msg: str, code: str = "60018", **extra: str) -> str:
    return json.dumps({**extra, "event": "error", "code": code, "msg": msg, "connId": "a4d3ae55"})


def wrong_url(channel: str, symbol: str) -> str:
    return (f"Wrong URL or channel:{channel},instId:{symbol} doesn't exist. Please use the "
            "correct URL, channel and parameters referring to API document.")


LIVE = "subscribed to tickers and trades"


# Listener declarations, symbols and subscribe frames -----------------------------------------


def test_listener_declares_the_public_v5_endpoint_and_its_limits():
    okx = listener(("BTC-USDT",))
    assert LISTENERS["okx"] is Okx
    assert (okx.name, okx.url, okx.rest_url) == (
        "okx", "wss://ws.okx.com:8443/ws/v5/public", "https://www.okx.com")
    assert Okx.default_pairs == ("BTC-USDT", "ETH-USDT")  # global OKX lists no USD spot
    assert Okx.merges_quotes is False  # ``tickers`` carries bid, ask and last together
    assert Okx.channels_per_pair == 2
    assert Okx.pairs_per_connection() == 480  # one subscribe request a pair, 480 an hour
    assert isinstance(okx.new_session({"BTC-USDT": "BTC-USDT"}), OkxSession)


def test_default_pairs_are_used_when_no_pairs_are_configured():
    assert Settings.from_env({"EXCHANGES": "okx"}).pairs_for("okx") == ("BTC-USDT", "ETH-USDT")


def test_keepalive_is_the_literal_text_ping_well_inside_the_30_s_limit():
    assert listener().ping_frame() == "ping"
    assert Okx.ping_interval is not None
    # a ping every 20 s: OKX's 30 s silence limit is met with 10 s of margin for the one-second
    # timer of the listener and the round trip
    assert 5 <= Okx.ping_interval <= 30 - 10


@pytest.mark.parametrize("pair", ["BTC-USDT", "ETH-USDT", "1INCH-USDT", "BTC-USD", "ETH-EUR"])
def test_symbol_is_the_canonical_pair(pair: str):
    assert listener().symbol_for(pair) == pair


@pytest.mark.parametrize("typed", ["btc-usdt", "BTC/USDT", "btcusdt", "BTC_USDT", " BTC-USDT "])
def test_odd_spellings_reach_the_same_instid(typed: str):
    assert listener().symbol_for(parse_pair(typed)) == "BTC-USDT"


@pytest.mark.parametrize("pair", ["btc-usdt", "BTC/USDT", "BTCUSDT", "BTC-USDT-SWAP", ""])
def test_symbol_refuses_what_is_no_spot_instid(pair: str):
    with pytest.raises(PairError, match="OKX has no spot instId"):
        listener().symbol_for(pair)


def test_one_subscribe_request_per_pair_with_an_id_okx_echoes():
    assert listener().subscribe_frames(["BTC-USDT", "1INCH-USDT"]) == [
        '{"id":"BTCxUSDT","op":"subscribe","args":[{"channel":"tickers","instId":"BTC-USDT"},'
        '{"channel":"trades","instId":"BTC-USDT"}]}',
        '{"id":"1INCHxUSDT","op":"subscribe","args":[{"channel":"tickers","instId":"1INCH-USDT"},'
        '{"channel":"trades","instId":"1INCH-USDT"}]}',
    ]


def test_request_ids_follow_the_documented_rule():
    assert request_id("BTC-USDT") == "BTCxUSDT"
    assert request_id("A" * 16 + "-" + "B" * 15) == "A" * 16 + "x" + "B" * 15  # 32: allowed
    assert request_id("A" * 16 + "-" + "B" * 16) is None  # 33: no id, the msg names the pair
    frame = json.loads(listener().subscribe_frames(["A" * 16 + "-" + "B" * 16])[0])
    assert "id" not in frame and frame["op"] == "subscribe"


def test_subscribe_frames_stay_far_below_the_64_kb_args_limit():
    (frame,) = listener().subscribe_frames(["A" * 12 + "-" + "B" * 12])
    assert len(json.dumps(json.loads(frame)["args"])) < 64 * 1024


# Tickers -------------------------------------------------------------------------------------


DOCS_TICKER = ticker("BTC-USDT", "1597026383085", "8888.88", "9999.99", "9999.99", "5", "11",
                     "2222", "9000", "10000", "8888.88")


def test_documented_ticker_is_a_complete_ticker_at_its_ts():
    assert receive(session_for("BTC-USDT"), DOCS["ticker"]) == [DOCS_TICKER]


def test_live_ticker_keeps_the_exact_digits():
    (record,) = receive(session_for("BTC-USDT"), DOCS["live_ticker"])
    assert record == ticker("BTC-USDT", "1790358564077", "83774.1", "83774.2", "83766.8",
                            "0.65302934", "0.25697131", "5449.95415651", "84180.1", "85258.8",
                            "83174.7")
    assert record.to_json()["ask_size"] == "0.25697131"


def test_ticker_with_an_empty_book_side_is_a_quote_of_what_it_says():
    message = json.loads(DOCS["ticker"])
    message["data"][0] |= {"bidPx": "", "bidSz": "", "open24h": ""}
    (record,) = receive(session_for("BTC-USDT"), json.dumps(message))
    assert record == Quote("okx", "BTC-USDT", "BTC-USDT", ms("1597026383085"), bid=None,
                           ask=Decimal("9999.99"), last=Decimal("9999.99"), bid_size=None,
                           ask_size=Decimal("11"), volume_24h=Decimal("2222"), open_24h=None,
                           high_24h=Decimal("10000"), low_24h=Decimal("8888.88"))


def test_ticker_without_its_optional_fields_is_still_complete():
    item = {"instId": "BTC-USDT", "last": "1", "askPx": "2", "bidPx": "0.5",
            "ts": "1597026383085"}
    frame = json.dumps({"arg": {"channel": "tickers", "instId": "BTC-USDT"}, "data": [item]})
    assert receive(session_for("BTC-USDT"), frame) == [
        Ticker("okx", "BTC-USDT", "BTC-USDT", ms("1597026383085"), Decimal("0.5"), Decimal("2"),
               Decimal("1"))]


def test_a_price_of_zero_is_no_price():
    message = json.loads(DOCS["ticker"])
    message["data"][0] |= {"askPx": "0", "askSz": "0", "low24h": "0"}
    (record,) = receive(session_for("BTC-USDT"), json.dumps(message))
    assert isinstance(record, Quote)
    assert (record.ask, record.ask_size, record.low_24h, record.bid) == (
        None, Decimal("0"), None, Decimal("8888.88"))


# Trades --------------------------------------------------------------------------------------


def test_documented_trade_is_the_takers_buy():
    assert receive(session_for("BTC-USDT"), DOCS["trade"]) == [
        trade("BTC-USDT", "1630048897897", "130639474", "42219.9", "0.12060306", Side.BUY)]


def test_live_trade_of_todays_shape():
    assert receive(session_for("BTC-USDT"), DOCS["live_trade"]) == [
        trade("BTC-USDT", "1790358565298", "1062992715", "83772.6", "0.0000178", Side.BUY)]


def test_trades_push_with_several_trades_gives_each_in_order():
    message = json.loads(DOCS["trade"])
    second = message["data"][0] | {"tradeId": "130639475", "side": "sell", "sz": "2"}
    message["data"].append(second)
    assert receive(session_for("BTC-USDT"), json.dumps(message)) == [
        trade("BTC-USDT", "1630048897897", "130639474", "42219.9", "0.12060306", Side.BUY),
        trade("BTC-USDT", "1630048897897", "130639475", "42219.9", "2", Side.SELL),
    ]


# The recording, record by record -------------------------------------------------------------


RECORDED_RECORDS = [
    status("BTC-USD", FeedState.LIVE, LIVE),
    status("UNI-USD", FeedState.LIVE, LIVE),
    status("BTC-USDT", FeedState.LIVE, LIVE),
    ticker("BTC-USD-220527", "1652459223003", "30210.4", "30220.1", "30218.8", "4", "3",
           "779573", "29571.4", "31003.3", "27930.8"),
    ticker("UNI-USD-SWAP", "1652459223143", "5.134", "5.142", "5.123", "96", "25", "289425",
           "4.799", "5.458", "4.537"),
    ticker("BTC-USDT", "1652459224956", "30228.6", "30228.7", "30236", "0.23393", "1.55896972",
           "17602.13085371", "29700.4", "31073", "28020.3"),
    trade("BTC-USD-220527", "1652459199958", "7849", "30218.8", "1", Side.BUY),
    trade("UNI-USD-SWAP", "1652459215150", "12883020", "5.123", "100", Side.SELL),
    trade("BTC-USDT", "1652459224818", "338476307", "30236", "0.0002", Side.BUY),
    trade("BTC-USDT", "1652459226050", "338476308", "30243.5", "0.001", Side.BUY),
    trade("BTC-USDT", "1652459226050", "338476309", "30243.5", "0.0002", Side.BUY),
    trade("BTC-USDT", "1652459226050", "338476310", "30243.5", "0.00684062", Side.BUY),
    ticker("BTC-USDT", "1652459226124", "30228.6", "30228.7", "30243.5", "0.23393",
           "1.55896972", "17602.13889433", "29700.4", "31073", "28020.3"),
    trade("BTC-USDT", "1652459226753", "338476316", "30250.1", "0.00066996", Side.SELL),
    trade("BTC-USDT", "1652459226765", "338476317", "30250.1", "0.00083294", Side.SELL),
    ticker("BTC-USDT", "1652459226825", "30243.4", "30243.5", "30250.1", "0.33732919",
           "0.00315938", "17602.14375723", "29700.4", "31073", "28020.3"),
    trade("BTC-USD-220527", "1652459234339", "7850", "30217.7", "2", Side.BUY),
    trade("BTC-USD-220527", "1652459234340", "7851", "30217.9", "2", Side.BUY),
    trade("BTC-USD-220527", "1652459234354", "7852", "30229.6", "30", Side.BUY),
    ticker("BTC-USD-220527", "1652459234474", "30211.8", "30217.8", "30229.6", "4", "695",
           "779607", "29571.4", "31003.3", "27930.8"),
]


def test_the_recorded_session_record_by_record():
    """Acks make each pair live once both its channels are acked (the tickers-only request's
    acks and the repeated acks add nothing); then every ticker and trade, in order."""
    session = session_for("BTC-USD-220527", "UNI-USD-SWAP", "BTC-USDT")
    assert receive(session, *RECORDED) == RECORDED_RECORDS


def test_frames_of_instruments_we_did_not_ask_for_give_nothing():
    assert receive(session_for("ETH-USDT"), *RECORDED) == []


def test_recent_ids_show_each_recorded_trade_once():
    session, seen = session_for(*FEEDS), RecentIds()
    shown = [record for frame in RECORDED + RECORDED for record in session.receive(frame, T0)
             if isinstance(record, Trade) and seen.add(record.pair, record.id)]
    assert shown == [record for record in RECORDED_RECORDS if isinstance(record, Trade)]


# Acks, pongs and harmless events -------------------------------------------------------------


def test_a_pair_is_live_once_both_documented_acks_came_and_only_once():
    session = session_for("BTC-USDT")
    assert receive(session, DOCS["ack_tickers"]) == []
    assert receive(session, DOCS["ack_trades"]) == [status("BTC-USDT", FeedState.LIVE, LIVE)]
    assert receive(session, DOCS["ack_overview"], DOCS["live_ack"], DOCS["ack_trades"]) == []


def test_acks_of_channels_or_instruments_not_ours_give_nothing():
    session = session_for("BTC-USDT")
    assert receive(session, ack("books", "BTC-USDT"), ack("trades", "ETH-USDT"),
                   json.dumps({"event": "subscribe", "arg": {"channel": "status"}})) == []
    assert receive(session, ack("tickers", "BTC-USDT")) == []  # trades still unacked


@pytest.mark.parametrize("frame", [
    "pong",
    DOCS["unsubscribe"],
    DOCS["channel_conn_count"],
    DOCS["channel_conn_count_error"],
    '{"event":"login","code":"0","msg":"","connId":"a4d3ae55"}',
    '{"event":"something-new","connId":"a4d3ae55"}',
    '{"event":"notice","code":"64009","msg":"a future notice"}',
    '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[]}',
    '{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[]}',
], ids=["pong", "unsubscribe", "conn-count", "conn-count-error", "login", "new-event",
        "other-notice", "books", "empty-data"])
def test_frames_that_change_nothing_give_nothing(frame: str):
    assert receive(session_for("BTC-USDT"), frame) == []


# Refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["error_wrong_url", "error_bare"])
def test_each_wording_of_60018_fails_the_pair_it_names(name: str):
    symbol = {"error_wrong_url": "NMR-USDT", "error_bare": "LTC-USD"}[name]
    message = json.loads(DOCS[name])
    assert receive(session_for("BTC-USDT", symbol), DOCS[name]) == [
        status(symbol, FeedState.ERROR, f"{message['msg']} (code 60018)")]


def test_the_subscribe_failed_wording_names_its_pair_too():
    text = DOCS["error_subscribe_failed"].replace("candle1m", "tickers")
    assert receive(session_for("BTC-USDT"), text) == [status(
        "BTC-USDT", FeedState.ERROR,
        "Subscribe failed, wrong URL or channel:tickers,instId:BTC-USDT doesn't exist. Please "
        "use the correct URL, channel and parameters referring to API document. (code 60018)")]


def test_a_refusal_of_a_channel_we_never_asked_for_is_the_connections():
    """The recorded candle1m refusal names BTC-USDT, but no subscription of ours."""
    message = json.loads(DOCS["error_subscribe_failed"])
    assert receive(session_for("BTC-USDT"), DOCS["error_subscribe_failed"]) == [
        status(None, FeedState.ERROR, f"{message['msg']} (code 60018)")]


def test_a_bad_pair_fails_alone_and_once_while_the_good_one_goes_live():
    session = session_for("BTC-USDT", "FOO-USDT")
    frames = (ack("tickers", "BTC-USDT", id="BTCxUSDT"),
              error(wrong_url("tickers", "FOO-USDT"), id="FOOxUSDT"),
              ack("trades", "BTC-USDT", id="BTCxUSDT"),
              error(wrong_url("trades", "FOO-USDT"), id="FOOxUSDT"))
    assert receive(session, *frames) == [
        status("FOO-USDT", FeedState.ERROR, f"{wrong_url('tickers', 'FOO-USDT')} (code 60018)"),
        status("BTC-USDT", FeedState.LIVE, LIVE),
    ]


def test_a_refusal_naming_no_instid_goes_to_the_pair_of_its_request_id():
    frame = error("Invalid args", code="60013", id="ETHxUSDT")
    assert receive(session_for("BTC-USDT", "ETH-USDT"), frame) == [
        status("ETH-USDT", FeedState.ERROR, "Invalid args (code 60013)")]


@pytest.mark.parametrize(("code", "msg"), [
    ("60014", "Requests too frequent."),
    ("64007", "Operation subscribe failed due to WebSocket internal error. Please try again "
              "later."),
])
def test_a_refusal_for_now_asks_for_a_new_connection_not_the_pairs_end(code: str, msg: str):
    with pytest.raises(ReconnectRequested) as asked:
        session_for("ETH-USDT").receive(error(msg, code=code, id="ETHxUSDT"), T0)
    assert str(asked.value) == (f"OKX: {msg} (code {code}); subscribing again on a new "
                                "connection")


def test_the_request_id_wins_over_the_instid_in_the_msg():
    frame = error(wrong_url("tickers", "BTC-USDT"), id="ETHxUSDT")
    assert [record.pair for record in receive(session_for("BTC-USDT", "ETH-USDT"), frame)] == [
        "ETH-USDT"]


def test_an_instid_that_is_a_prefix_of_ours_is_not_ours():
    frame = error(wrong_url("tickers", "BTC-USD"))
    assert receive(session_for("BTC-USDT"), frame) == [
        status(None, FeedState.ERROR, f"{wrong_url('tickers', 'BTC-USD')} (code 60018)")]


def test_the_documented_invalid_request_is_shown_on_the_connection():
    message = json.loads(DOCS["error_invalid_request"])  # its id 1512 is no request of ours
    assert receive(session_for("BTC-USDT", "LTC-USD"), DOCS["error_invalid_request"]) == [
        status(None, FeedState.ERROR, f"{message['msg']} (code 60012)")]


def test_a_refusal_after_the_ack_still_fails_the_pair():
    session = session_for("BTC-USDT")
    receive(session, ack("tickers", "BTC-USDT"), ack("trades", "BTC-USDT"))
    assert receive(session, error(wrong_url("trades", "BTC-USDT"))) == [
        status("BTC-USDT", FeedState.ERROR, f"{wrong_url('trades', 'BTC-USDT')} (code 60018)")]


def test_a_refused_pair_is_not_made_live_by_a_late_ack():
    session = session_for("BTC-USDT")
    receive(session, ack("tickers", "BTC-USDT"), error(wrong_url("trades", "BTC-USDT")))
    assert receive(session, ack("trades", "BTC-USDT")) == []


# Maintenance ---------------------------------------------------------------------------------


def test_service_upgrade_notice_asks_for_a_reconnect():
    with pytest.raises(ReconnectRequested) as asked:
        session_for("BTC-USDT").receive(DOCS["notice"], T0)
    assert str(asked.value) == ("OKX asked for a reconnect (notice 64008: The connection will "
                                "soon be closed for a service upgrade. Please reconnect.)")


# Malformed frames ----------------------------------------------------------------------------


def _with(name: str, **changes: object) -> str:
    """A documented push with fields of its first data object replaced (``...`` deletes)."""
    message = json.loads(DOCS[name])
    for key, value in changes.items():
        if value is ...:
            del message["data"][0][key]
        else:
            message["data"][0][key] = value
    return json.dumps(message)


@pytest.mark.parametrize("frame", [
    "not json",
    "ping",
    "[1,2,3]",
    '"pong"',
    "{}",
    '{"arg":{"channel":"tickers","instId":"BTC-USDT"}}',
    '{"arg":"tickers","data":[]}',
    '{"event":5}',
    '{"event":"subscribe"}',
    '{"event":"subscribe","arg":{"instId":"BTC-USDT"}}',
    '{"event":"error","msg":"no code"}',
    '{"event":"notice","msg":"no code"}',
    '{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":{"last":"1"}}',
    '{"arg":{"channel":"trades"},"data":[]}',
    _with("ticker", bidPx=...),
    _with("ticker", last=...),
    _with("ticker", ts=...),
    _with("ticker", askPx="abc"),
    _with("ticker", last="NaN"),
    _with("ticker", ts="1597026383085.5"),
    _with("ticker", ts="yesterday"),
    _with("ticker", ts=1.5),
    _with("trade", sz="0"),
    _with("trade", sz="-1"),
    _with("trade", px=...),
    _with("trade", side="BUY"),
    _with("trade", side=...),
    _with("trade", tradeId=""),
    _with("trade", tradeId=True),
    _with("trade", tradeId=10.5),
    _with("trade", ts="99999999999999999"),
    _with("trade", ts="1230940799999"),  # before the first bitcoin block
    _with("trade", ts=str(int(T0.timestamp() * 1000) + 86_400_001)),  # beyond a day ahead
    _with("trade", px="0"),
    _with("trade", px="-42219.9"),
    _with("trade", sz="1E+31"),
    _with("trade", px="1." + "1" * 40),
    _with("ticker", bidPx="-1"),
    _with("ticker", vol24h="-2222"),
    _with("ticker", high24h="1E-31"),
], ids=lambda frame: frame[:60])
def test_malformed_frames_raise(frame: str):
    with pytest.raises(MalformedFrame):
        session_for("BTC-USDT").receive(frame, T0)


# REST ----------------------------------------------------------------------------------------


def test_documented_rest_ticker_is_the_channels_ticker():
    feed = Feed("BTC-USD", "BTC-USD-SWAP")
    assert parse_rest_ticker(decode(DOCS["rest_ticker"]), feed, T0) == [
        Ticker("okx", "BTC-USD", "BTC-USD-SWAP", ms("1597026383085"), Decimal("8888.88"),
               Decimal("9999.99"), Decimal("9999.99"), Decimal("5"), Decimal("11"),
               Decimal("2222"), Decimal("9000"), Decimal("10000"), Decimal("8888.88"))]


def test_rest_ticker_of_another_instrument_is_malformed():
    with pytest.raises(MalformedFrame, match="not of 'BTC-USDT'"):
        parse_rest_ticker(decode(DOCS["rest_ticker"]), Feed("BTC-USDT", "BTC-USDT"), T0)


def test_documented_rest_trades_come_oldest_first_with_the_takers_side():
    assert parse_rest_trades(decode(DOCS["rest_trades"]), Feed("BTC-USDT", "BTC-USDT"), T0) == [
        trade("BTC-USDT", "1654161641568", "242720719", "29964.1", "0.00001", Side.SELL),
        trade("BTC-USDT", "1654161646974", "242720720", "29963.2", "0.00001", Side.SELL),
    ]


@pytest.mark.parametrize("parse", [parse_rest_ticker, parse_rest_trades])
def test_an_unknown_instrument_is_a_refusal_in_okxs_words(parse: Callable[..., Any]):
    with pytest.raises(rest.Refused) as refused:
        parse(decode(DOCS["rest_unknown_instrument"]), Feed("FOO-USDT", "FOO-USDT"), T0)
    assert str(refused.value) == ("Instrument ID, Instrument ID code, or Spread ID doesn't "
                                  "exist. (code 51001)")


def test_a_busy_answer_is_a_download_failure_to_retry_later():
    body = {"code": "50011", "msg": "Rate limit reached. Please refer to API documentation and "
            "throttle requests accordingly.", "data": []}
    with pytest.raises(rest.DownloadFailed, match="code 50011"):
        parse_rest_ticker(body, Feed("BTC-USDT", "BTC-USDT"), T0)


@pytest.mark.parametrize("body", [
    [], "x", {"code": "0"}, {"code": "0", "msg": "", "data": {}}, {"code": "0", "data": []},
    {"code": "0", "data": [{"instId": "BTC-USDT"}]},
], ids=str)
def test_malformed_rest_tickers_raise(body: Any):
    with pytest.raises(MalformedFrame):
        parse_rest_ticker(body, Feed("BTC-USDT", "BTC-USDT"), T0)


def test_documented_instruments_list_the_live_spot_pair():
    assert parse_instruments(decode(DOCS["rest_instruments"])) == {"BTC-USDT": "BTC-USDT"}


def test_instruments_that_do_not_trade_are_not_listed():
    body = decode(DOCS["rest_instruments"])
    live = body["data"][0]
    body["data"] = [live | {"instId": f"{base}-USDT", "baseCcy": base, "state": state}
                    for base, state in (("SUS", "suspend"), ("PRE", "preopen"), ("TST", "test"),
                                        ("ETH", "live"))]
    body["data"].append(live | {"instId": "BTC-USDT-SWAP", "instType": "SWAP"})
    assert parse_instruments(body) == {"ETH-USDT": "ETH-USDT"}


def test_the_recorded_instrument_list_of_2022():
    listed = parse_instruments(decode(INSTRUMENTS_2022))
    assert len(listed) == 513
    assert {symbol: listed[symbol] for symbol in ("BTC-USDT", "ETH-BTC", "OKB-USDC")} == {
        "BTC-USDT": "BTC-USDT", "ETH-BTC": "ETH-BTC", "OKB-USDC": "OKB-USDC"}
    assert all(symbol == pair for symbol, pair in listed.items())
    assert "BTC-USD" not in listed  # no USD spot on global OKX


def test_rest_requests_and_their_limits():
    okx = listener()
    requests = okx.rest_snapshot_requests("BTC-USDT", 25)
    assert [request.path for request in requests] == [
        "/api/v5/market/ticker?instId=BTC-USDT", "/api/v5/market/trades?instId=BTC-USDT&limit=25"]
    assert [request.parse for request in requests] == [parse_rest_ticker, parse_rest_trades]
    assert okx.rest_snapshot_requests("BTC-USDT", 10_000)[1].path.endswith("&limit=500")
    instruments = okx.instruments_request()
    assert (instruments.path, instruments.parse) == (
        "/api/v5/public/instruments?instType=SPOT", parse_instruments)


@pytest.mark.parametrize(("status_", "body", "reason"), [
    (400, {"code": "50014", "msg": "Parameter instId can not be empty.", "data": []},
     "Parameter instId can not be empty. (code 50014, HTTP 400)"),
    (404, {"code": "404", "msg": "Not Found", "data": []}, "Not Found (code 404, HTTP 404)"),
    (429, {"code": "50011", "msg": "Too Many Requests", "data": []}, None),
    (503, {"code": "50001", "msg": "Service temporarily unavailable.", "data": []}, None),
    (400, {"message": "not OKX's shape"}, None),
])
def test_rest_refusals_in_okxs_words(status_: int, body: Any, reason: str | None):
    error_ = rest.HttpError("https://www.okx.com/x", status_, body, json.dumps(body))
    assert listener().rest_refusal(error_) == reason


# Serialisation and decoding ------------------------------------------------------------------


def test_records_serialise_with_exact_decimals_and_millisecond_times():
    (record,) = receive(session_for("BTC-USDT"), DOCS["trade"])
    assert record.to_json() == {
        "exchange": "okx", "pair": "BTC-USDT", "symbol": "BTC-USDT",
        "time": "2021-08-27T07:21:37.897Z", "id": "130639474", "price": "42219.9",
        "amount": "0.12060306", "side": "buy"}
    assert DOCS_TICKER.to_json()["bid"] == "8888.88"


def outcome(read: Callable[[], list[Record]]) -> tuple[Any, ...]:
    """What reading a frame gives: the records and their JSON, or the type of what it raised."""
    try:
        records = read()
    except Exception as exc:
        return ("raises", type(exc))
    return ("records", records, [getattr(record, "to_json", lambda: None)()
                                 for record in records])


def test_every_frame_reads_as_the_exact_decoder_reads_it():
    """Differential: ``receive`` (orjson) against ``decode`` + ``receive_message``."""
    fast, exact = session_for(*FEEDS), session_for(*FEEDS)
    for frame in [*RECORDED, *DOCS.values()]:
        assert outcome(lambda f=frame: fast.receive(f, T0)) == outcome(
            lambda f=frame: exact.receive_message(decode(f), T0)), frame


def test_a_price_sent_as_a_json_number_is_read_exactly():
    frame = DOCS["trade"].replace('"px":"42219.9"', '"px":42219.90000000000001')
    (record,) = receive(session_for("BTC-USDT"), frame)
    assert record.price == Decimal("42219.90000000000001")
