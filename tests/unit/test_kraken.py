"""Kraken Spot WS v2: symbols, subscribe frames, the session and the REST parsers.

Frames come from ``tests/fixtures/kraken/`` (examples from Kraken's docs, frames client authors
logged from the live feed, and a recorded AssetPairs answer; sources in its README); expected
records are written out by hand from the frames' text, so a parser that reorders, rounds or
mislabels a field fails here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from exchanges import LISTENERS, rest
from exchanges.base import Feed, RecentIds
from exchanges.kraken import (
    Kraken,
    KrakenSession,
    parse_asset_pairs,
    parse_rest_ticker,
    parse_rest_trades,
    rest_pair,
)
from exchanges.pairs import PairError, parse_pair
from exchanges.parsing import MalformedFrame, decode
from exchanges.records import FeedState, Record, Side, Status, Ticker, Trade
from tests.unit.frames import FIXTURES, documented_frames, recorded_frames

T0 = datetime(2026, 11, 24, 17, 42, 3, 123456, tzinfo=UTC)  # every frame's receive time
DOCS = documented_frames("kraken")
FEEDS = json.loads((FIXTURES / "kraken" / "feeds.json").read_text())
BTC_USD = Feed("BTC-USD", "BTC/USD")


def listener() -> Kraken:
    return Kraken([], lambda record: None)


def session_for(**feeds: str) -> KrakenSession:
    """A session for {symbol: pair}; by default the fixtures' feeds."""
    return listener().new_session(feeds or FEEDS)


def receive(session: KrakenSession, *frames: str) -> list[Record]:
    return [record for frame in frames for record in session.receive(frame, T0)]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def trade(pair: str, symbol: str, time: str, trade_id: str, price: str, amount: str,
          side: Side) -> Trade:
    return Trade("kraken", pair, symbol, at(time), trade_id, Decimal(price), Decimal(amount), side)


def status(pair: str | None, state: FeedState, detail: str) -> Status:
    return Status("kraken", pair, state, detail, T0)


def with_entry(name: str, **changes: Any) -> str:
    """The documented frame ``name`` with its first data entry changed (None: field removed)."""
    message = json.loads(DOCS[name])
    entry = message["data"][0]
    for key, value in changes.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    return json.dumps(message)


# Symbols, subscribe frames, keepalives -------------------------------------------------------


@pytest.mark.parametrize(("pair", "symbol"), [
    ("BTC-USD", "BTC/USD"), ("ETH-EUR", "ETH/EUR"), ("DOGE-USDT", "DOGE/USDT"),
    ("1INCH-USD", "1INCH/USD"), ("XBT-EUR", "BTC/EUR"), ("XDG-USD", "DOGE/USD"),
    ("ETH-XBT", "ETH/BTC"),
])
def test_symbol_is_the_v2_name_with_bitcoin_spelt_btc(pair: str, symbol: str):
    assert listener().symbol_for(pair) == symbol


@pytest.mark.parametrize("typed", ["BTC-USD", "btc-usd", "BTC/USD", "btcusd", "xbt/usd", "XBT-USD",
                                   "tBTCUSD"])
def test_every_spelling_of_bitcoin_dollars_subscribes_btc_usd(typed: str):
    assert listener().symbol_for(parse_pair(typed)) == "BTC/USD"


@pytest.mark.parametrize("pair", ["BTC-U.S", "BTC-", "-USD", "btc-usd", ""])
def test_symbol_refuses_what_kraken_cannot_spell(pair: str):
    with pytest.raises(PairError, match="Kraken has no symbol"):
        listener().symbol_for(pair)


@pytest.mark.parametrize(("symbol", "pair"), [
    ("BTC/USD", "XBTUSD"), ("DOGE/EUR", "XDGEUR"), ("ETH/BTC", "ETHXBT"), ("SOL/USDT", "SOLUSDT"),
])
def test_rest_pair_is_the_altname(symbol: str, pair: str):
    assert rest_pair(symbol) == pair


def test_one_subscribe_per_channel_carrying_every_symbol():
    assert listener().subscribe_frames(["BTC/USD", "DOGE/EUR"]) == [
        '{"method":"subscribe","params":{"channel":"ticker","symbol":["BTC/USD","DOGE/EUR"],'
        '"event_trigger":"bbo","snapshot":true},"req_id":1}',
        '{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD","DOGE/EUR"],'
        '"snapshot":true},"req_id":2}',
    ]


def test_no_symbols_no_subscribe():
    assert listener().subscribe_frames([]) == []


def test_pings_count_their_req_id_up():
    kraken = listener()
    assert [kraken.ping_frame() for _ in range(3)] == [
        '{"method":"ping","req_id":100}', '{"method":"ping","req_id":101}',
        '{"method":"ping","req_id":102}']


def test_listener_declares_the_v2_feed():
    kraken = Kraken(["BTC-USD"], lambda record: None)
    assert LISTENERS["kraken"] is Kraken
    assert (kraken.name, kraken.url, kraken.rest_url) == (
        "kraken", "wss://ws.kraken.com/v2", "https://api.kraken.com")
    assert (Kraken.channels_per_pair, Kraken.max_subscriptions, Kraken.merges_quotes) == (
        2, None, True)  # trades set last: bbo tickers come on book moves only
    assert Kraken.ping_interval == 30.0  # twice within the minute after which Kraken may close
    assert isinstance(kraken.new_session({"BTC/USD": "BTC-USD"}), KrakenSession)


def test_rest_requests_use_the_altname():
    kraken = listener()
    assert [request.path for request in kraken.rest_snapshot_requests("DOGE/USD", 25)] == [
        "/0/public/Ticker?pair=XDGUSD", "/0/public/Trades?pair=XDGUSD&count=25"]
    assert kraken.instruments_request().path == "/0/public/AssetPairs"


# Ticker --------------------------------------------------------------------------------------


# the docs' snapshot, field by field; open = last - change = 0.10035 - (-0.00017)
DOCS_TICKER = Ticker("kraken", "ALGO-USD", "ALGO/USD", at("2023-09-25T09:04:31.742648+00:00"),
                     bid=Decimal("0.10025"), ask=Decimal("0.10036"), last=Decimal("0.10035"),
                     bid_size=Decimal("740.0"), ask_size=Decimal("1361.44813783"),
                     volume_24h=Decimal("997038.98383185"), open_24h=Decimal("0.10052"),
                     high_24h=Decimal("0.10285"), low_24h=Decimal("0.09979"))


def test_documented_ticker_snapshot_is_a_complete_ticker():
    assert receive(session_for(), DOCS["ticker_snapshot"]) == [DOCS_TICKER]


def test_documented_ticker_update():
    (ticker,) = receive(session_for(), DOCS["ticker_update"])
    assert (ticker.bid, ticker.ask, ticker.ask_size) == (
        Decimal("0.10025"), Decimal("0.10035"), Decimal("740.0"))


def test_open_is_last_minus_change_as_the_documented_percentage_confirms():
    """change_pct is change / (last - change) in percent, to two places, in every example."""
    for name in ("ticker_snapshot", "live_ticker_snapshot", "live_ticker_update"):
        (ticker,) = receive(session_for(), DOCS[name])
        pct = json.loads(DOCS[name])["data"][0]["change_pct"]
        change = ticker.last - ticker.open_24h
        assert round(change / ticker.open_24h * 100, 2) == decode(json.dumps(pct)), name


def test_live_ticker_without_timestamp_keeps_the_exchange_digits_at_the_receive_time():
    assert receive(session_for(), DOCS["live_ticker_snapshot"]) == [
        Ticker("kraken", "BTC-USD", "BTC/USD", T0, bid=Decimal("65972.8"),
               ask=Decimal("65972.9"), last=Decimal("65972.9"), bid_size=Decimal("0.10000000"),
               ask_size=Decimal("39.67506683"), volume_24h=Decimal("4216.61829370"),
               open_24h=Decimal("61560.8"), high_24h=Decimal("66450.0"),
               low_24h=Decimal("61325.4")),
    ]
    (ticker,) = receive(session_for(), DOCS["live_ticker_snapshot"])
    assert ticker.to_json()["bid_size"] == "0.10000000"


def test_ticker_without_change_has_no_open():
    (ticker,) = receive(session_for(), with_entry("ticker_snapshot", change=None))
    assert ticker.open_24h is None and ticker.last == Decimal("0.10035")


def test_a_day_without_trades_has_no_high_low_or_open():
    """Zero 24 h statistics are what exchanges send for a pair that hasn't traded for a day."""
    (ticker,) = receive(session_for(), with_entry("ticker_snapshot", high=0, low=0,
                                                  change=0.10035))
    assert (ticker.open_24h, ticker.high_24h, ticker.low_24h) == (None, None, None)


def test_ticker_of_a_symbol_we_did_not_ask_for_gives_nothing():
    assert receive(session_for(**{"BTC/USD": "BTC-USD"}), DOCS["ticker_snapshot"]) == []


# Trades --------------------------------------------------------------------------------------


def test_documented_trade_snapshot_oldest_first_with_the_taker_side():
    assert receive(session_for(), DOCS["trade_snapshot"]) == [
        trade("MATIC-USD", "MATIC/USD", "2023-09-25T07:48:36.925533+00:00", "4665846", "0.5147",
              "6423.46326", Side.BUY),
        trade("MATIC-USD", "MATIC/USD", "2023-09-25T07:49:36.925603+00:00", "4665847", "0.5147",
              "1136.19677815", Side.BUY),
    ]


def test_documented_trade_update_a_taker_sell():
    assert receive(session_for(), DOCS["trade_update"]) == [
        trade("MATIC-USD", "MATIC/USD", "2023-09-25T07:49:37.708706+00:00", "4665906", "0.5117",
              "40.0", Side.SELL),
    ]


def test_live_trade_snapshot():
    assert receive(session_for(), DOCS["live_trade_snapshot"]) == [
        trade("BTC-USD", "BTC/USD", "2024-05-27T12:33:10.826003+00:00", "70635251", "68466.9",
              "0.01919415", Side.SELL),
        trade("BTC-USD", "BTC/USD", "2024-05-27T12:33:10.980704+00:00", "70635252", "68471.2",
              "0.00007723", Side.BUY),
    ]


def test_trades_come_out_in_trade_id_order_whatever_order_they_are_sent_in():
    message = json.loads(DOCS["live_trade_snapshot"])
    message["data"].reverse()
    records = receive(session_for(), json.dumps(message))
    assert [record.id for record in records] == ["70635251", "70635252"]  # type: ignore[union-attr]


def test_a_trade_seen_in_a_snapshot_and_again_is_shown_once():
    session, seen = session_for(), RecentIds()
    frames = [DOCS["trade_snapshot"], DOCS["trade_snapshot"], DOCS["trade_update"]]
    shown = [record for record in receive(session, *frames) if seen.add(record.pair, record.id)]
    assert [record.id for record in shown] == ["4665846", "4665847", "4665906"]


# Acks, refusals, status, keepalives ----------------------------------------------------------


def test_each_ack_makes_its_pair_live():
    assert receive(session_for(), DOCS["live_ticker_ack"], DOCS["live_trade_ack"],
                   DOCS["trade_ack"]) == [
        status("BTC-USD", FeedState.LIVE, "subscribed to ticker"),
        status("BTC-USD", FeedState.LIVE, "subscribed to trade"),
        status("MATIC-USD", FeedState.LIVE, "subscribed to trade"),
    ]


def test_a_refused_symbol_is_its_pairs_error_in_krakens_words():
    assert receive(session_for(), DOCS["error_xbt"]) == [
        status("BTC-EUR", FeedState.ERROR, "Currency pair not supported XBT/EUR"),
    ]


def test_a_refusal_naming_no_symbol_of_a_subscribe_of_ours_is_the_exchanges_error():
    frame = json.dumps({"error": "Exceeded msg rate", "method": "subscribe", "req_id": 2,
                        "success": False, "time_in": "2024-05-19T20:02:10.316562Z",
                        "time_out": "2024-05-19T20:02:10.316592Z"})
    assert receive(session_for(), frame) == [
        status(None, FeedState.ERROR, "trade subscribe refused: Exceeded msg rate"),
    ]


def test_a_refusal_of_no_request_of_ours_is_malformed():
    with pytest.raises(MalformedFrame, match="exchange error: Unsupported event"):
        receive(session_for(), DOCS["live_error_unsupported_event"])


def test_an_ack_for_a_symbol_we_did_not_ask_for_is_malformed():
    with pytest.raises(MalformedFrame, match="did not ask for"):
        receive(session_for(**{"ETH/USD": "ETH-USD"}), DOCS["live_ticker_ack"])


@pytest.mark.parametrize("name", ["heartbeat", "status", "live_status", "pong", "live_pong",
                                  "live_book_update"])
def test_heartbeats_pongs_online_status_and_other_channels_give_nothing(name: str):
    session = session_for()
    assert session.receive(DOCS[name], T0) == []
    assert session.receive_message(decode(DOCS[name]), T0) == []  # the same without a shortcut


def system_status(system: str) -> str:
    return DOCS["status"].replace('"system":"online"', f'"system":"{system}"')


@pytest.mark.parametrize(("system", "detail"), [
    ("maintenance", "Kraken maintenance (status channel): markets are offline"),
    ("cancel_only", "Kraken is cancel_only (status channel): no order matching"),
    ("post_only", "Kraken is post_only (status channel): no order matching"),
])
def test_a_pause_makes_the_exchange_stale_and_online_makes_it_live_again(system: str,
                                                                         detail: str):
    session = session_for()
    assert receive(session, DOCS["status"], system_status(system)) == [
        status(None, FeedState.STALE, detail)]
    assert receive(session, DOCS["status"], DOCS["status"]) == [
        status(None, FeedState.LIVE, "Kraken is online again (status channel)")]


def test_an_unknown_system_state_gives_nothing():
    assert receive(session_for(), system_status("limit_only")) == []


# Malformed frames ----------------------------------------------------------------------------


@pytest.mark.parametrize("frame", [
    "not json {",
    '["ticker"]',
    "{}",
    '{"channel":"ticker","type":"update","data":{"symbol":"ALGO/USD"}}',
    '{"channel":"ticker","type":"update"}',
    '{"channel":"status","type":"update","data":[]}',
    '{"channel":"status","type":"update","data":[{"system":1}]}',
    '{"method":"subscribe","success":"yes"}',
    '{"method":"subscribe","success":true,"result":{"channel":"ticker"}}',
    '{"method":"subscribe","success":false}',
    '{"method":5}',
])
def test_frames_of_the_wrong_shape_are_malformed(frame: str):
    with pytest.raises(MalformedFrame):
        session_for().receive(frame, T0)


@pytest.mark.parametrize("changes", [
    {"bid": None}, {"last": None}, {"ask": "NaN"}, {"bid": True}, {"symbol": None},
    {"timestamp": "2023-09-25T09:04:31"}, {"bid": 0}, {"ask": -0.1}, {"volume": -1},
    {"bid": 1e99}, {"timestamp": "2031-01-01T00:00:00Z"}, {"timestamp": 1695632671},
])
def test_tickers_of_the_wrong_shape_are_malformed(changes: dict[str, Any]):
    frame = with_entry("ticker_snapshot", **changes)
    if changes.get("ask") == "NaN":
        frame = frame.replace('"ask": "NaN"', '"ask": NaN')
    with pytest.raises(MalformedFrame):
        session_for().receive(frame, T0)


@pytest.mark.parametrize("changes", [
    {"qty": 0}, {"qty": -40.0}, {"side": "b"}, {"trade_id": "4665906"}, {"trade_id": 4665906.5},
    {"trade_id": True}, {"timestamp": None}, {"timestamp": "yesterday"}, {"price": None},
    {"price": 0}, {"timestamp": "2008-12-31T23:59:59Z"},
])
def test_trades_of_the_wrong_shape_are_malformed(changes: dict[str, Any]):
    with pytest.raises(MalformedFrame):
        session_for().receive(with_entry("trade_update", **changes), T0)


# REST ----------------------------------------------------------------------------------------


def test_documented_rest_ticker_is_complete_without_a_24h_open():
    assert parse_rest_ticker(decode(DOCS["rest_ticker"]), BTC_USD, T0) == [
        Ticker("kraken", "BTC-USD", "BTC/USD", T0, bid=Decimal("30300.00000"),
               ask=Decimal("30300.10000"), last=Decimal("30303.20000"),
               bid_size=Decimal("1.000"), ask_size=Decimal("1.000"),
               volume_24h=Decimal("4412.73601799"), open_24h=None,
               high_24h=Decimal("31631.00000"), low_24h=Decimal("29868.30000")),
    ]


def test_documented_rest_trades_oldest_first_exact_to_the_microsecond():
    assert parse_rest_trades(decode(DOCS["rest_trades"]), BTC_USD, T0) == [
        trade("BTC-USD", "BTC/USD", "2023-07-06T18:53:17.827736+00:00", "61044952",
              "30243.40000", "0.34507674", Side.BUY),
        trade("BTC-USD", "BTC/USD", "2023-07-06T18:53:18.280411+00:00", "61044953",
              "30243.30000", "0.00376960", Side.SELL),
        trade("BTC-USD", "BTC/USD", "2023-07-06T18:53:22.698379+00:00", "61044956",
              "30243.30000", "0.01235716", Side.SELL),
    ]


@pytest.mark.parametrize("parse", [parse_rest_ticker, parse_rest_trades])
def test_an_unknown_pair_is_a_refusal_in_krakens_words(parse: Any):
    with pytest.raises(rest.Refused, match=r"^EQuery:Unknown asset pair$"):
        parse(decode(DOCS["rest_unknown_pair"]), BTC_USD, T0)


@pytest.mark.parametrize("error", ["EService:Unavailable", "EService:Busy",
                                   "EGeneral:Too many requests", "EAPI:Rate limit exceeded"])
def test_an_unwell_service_is_a_download_failure(error: str):
    with pytest.raises(rest.DownloadFailed, match=error):
        parse_rest_ticker({"error": [error]}, BTC_USD, T0)


@pytest.mark.parametrize("body", [
    {"error": [], "result": {}},
    {"error": [], "result": {"XXBTZUSD": {}, "XBTUSDT": {}}},
    {"error": [], "result": []},
    {"result": {}},
    {"error": [], "result": {"XXBTZUSD": {"a": ["1"], "b": ["1", "1", "1"]}}},
])
def test_rest_tickers_of_the_wrong_shape_are_malformed(body: Any):
    with pytest.raises(MalformedFrame):
        parse_rest_ticker(body, BTC_USD, T0)


@pytest.mark.parametrize("row", [
    ["30243.4", "0.3", 1688669597.8277369, "b", "m", ""],  # no trade_id (before 2023)
    ["30243.4", "0", 1688669597.8277369, "b", "m", "", 1],
    ["30243.4", "0.3", "1688669597.8277369", "x", "m", "", 1],
    ["30243.4", "0.3", "soon", "b", "m", "", 1],
    ["30243.4", "0.3", 0, "b", "m", "", 1],  # 1970: before any market
])
def test_rest_trades_of_the_wrong_shape_are_malformed(row: list[Any]):
    body = decode(json.dumps({"error": [], "result": {"XXBTZUSD": [row], "last": "1"}}))
    with pytest.raises(MalformedFrame):
        parse_rest_trades(body, BTC_USD, T0)


def test_documented_asset_pairs_map_the_wsname_to_v2():
    assert parse_asset_pairs(decode(DOCS["rest_asset_pairs"])) == {"ETH/BTC": "ETH-BTC"}


def test_recorded_asset_pairs_list_every_pair_under_its_v2_symbol():
    (body,) = recorded_frames("kraken", "KRAKEN.0.excerpt")
    listed = parse_asset_pairs(decode(body))
    assert len(decode(body)["result"]) == 304
    # 11 dark-pool pairs have no wsname, and ETH2.S/ETH has a code no pair can spell
    assert len(listed) == 292
    assert {symbol: listed[symbol] for symbol in ("BTC/USD", "DOGE/USD", "BTC/USDT", "ETH/BTC")} \
        == {"BTC/USD": "BTC-USD", "DOGE/USD": "DOGE-USD", "BTC/USDT": "BTC-USDT",
            "ETH/BTC": "ETH-BTC"}
    assert not [symbol for symbol in listed if "XBT" in symbol.split("/")
                or "XDG" in symbol.split("/")]
    assert all(listed[symbol] == symbol.replace("/", "-") for symbol in listed)


def test_only_online_pairs_trade():
    body = decode(DOCS["rest_asset_pairs"])
    entry = body["result"]["XETHXXBT"]
    body["result"] = {
        "XETHXXBT": entry,
        "XXBTZUSD": entry | {"altname": "XBTUSD", "wsname": "XBT/USD", "status": "cancel_only"},
        "XDGUSD": entry | {"altname": "XDGUSD", "wsname": "XDG/USD", "status": "reduce_only"},
        "SOLUSD": entry | {"altname": "SOLUSD", "wsname": "SOL/USD", "status": "online"},
    }
    assert parse_asset_pairs(body) == {"ETH/BTC": "ETH-BTC", "SOL/USD": "SOL-USD"}


@pytest.mark.parametrize("body", [{"error": [], "result": []}, {"error": []},
                                  {"error": [], "result": {"X": "not an object"}}])
def test_asset_pairs_of_the_wrong_shape_are_malformed(body: Any):
    with pytest.raises(MalformedFrame):
        parse_asset_pairs(body)


def test_an_asset_pairs_error_is_a_refusal():
    with pytest.raises(rest.Refused, match="EGeneral:Invalid arguments"):
        parse_asset_pairs({"error": ["EGeneral:Invalid arguments"]})
