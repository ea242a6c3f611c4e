"""Bitfinex: symbols, subscribe frames and the session, fed recorded and documented frames.

Frames come from ``tests/fixtures/bitfinex/`` (a cryptofeed recording, attribution in its
README, and examples from the Bitfinex docs); expected records are written out by hand from the
frames' text, so a parser that reorders, rounds or mislabels a field fails here.
"""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from exchanges.base import RecentIds, ReconnectRequested
from exchanges.bitfinex import Bitfinex, BitfinexSession, Channel, read_stream_frame
from exchanges.pairs import PairError
from exchanges.parsing import MalformedFrame, decode
from exchanges.records import FeedState, Record, Side, Status, Ticker, Trade
from tests.unit.frames import documented_frames, recorded_frames

T0 = datetime(2026, 11, 24, 17, 42, 3, 123456, tzinfo=UTC)  # every frame's receive time


RECORDED = recorded_frames("bitfinex", "BITFINEX.ws.11.0.excerpt")
DOCS = documented_frames("bitfinex")


def recorded(prefix: str) -> str:
    """The one recorded frame that starts with ``prefix``."""
    (frame,) = [frame for frame in RECORDED if frame.startswith(prefix)]
    return frame


def subscribed(chan_id: int, channel: str, symbol: str) -> str:
    """A ``subscribed`` ack in the documented shape, for channels the fixtures use."""
    return json.dumps({"event": "subscribed", "channel": channel, "chanId": chan_id,
                       "symbol": symbol, "pair": symbol[1:]})


listener = Bitfinex([], lambda record: None)
PAIRS = ("DOG-USD", "TESTBTC-TESTUSD", "BTC-USD", "NOPE-USD", "ICPF0-USTF0", "DOGEF0-USTF0")
FEEDS = {listener.symbol_for(pair): pair for pair in PAIRS}  # as ExchangeListener._stream builds it
ACKS = [frame for frame in RECORDED if '"event":"subscribed"' in frame] + [
    subscribed(17470, "trades", "tBTCUSD"),  # the docs' trade frames use chanId 17470
]


def subscribed_session() -> BitfinexSession:
    """A session whose channels are subscribed: the recording's acks plus the docs' trades."""
    session = BitfinexSession(FEEDS)
    for ack in ACKS:
        session.receive(ack, T0)
    return session


@pytest.fixture
def session() -> BitfinexSession:
    return subscribed_session()


def receive(session: BitfinexSession, *frames: str) -> list[Record]:
    return [record for frame in frames for record in session.receive(frame, T0)]


def trade(pair: str, symbol: str, time: datetime, trade_id: str, price: str, amount: str,
          side: Side) -> Trade:
    return Trade("bitfinex", pair, symbol, time, trade_id, Decimal(price), Decimal(amount), side)


# the docs' trades (ws-public-trades), written out from the frames' text
DOC_TE = trade("BTC-USD", "tBTCUSD", datetime(2019, 11, 25, 15, 7, 58, 808000, tzinfo=UTC),
               "401597395", "7245.3", "0.005", Side.BUY)
DOC_SNAPSHOT_OLDEST = trade("BTC-USD", "tBTCUSD",
                            datetime(2019, 11, 25, 15, 7, 50, 503000, tzinfo=UTC),
                            "401597392", "7245.3", "0.01", Side.SELL)
DOC_SNAPSHOT_NEWEST = trade("BTC-USD", "tBTCUSD",
                            datetime(2019, 11, 25, 15, 7, 55, 39000, tzinfo=UTC),
                            "401597393", "7244.9", "0.005", Side.BUY)


# Symbols and subscribing --------------------------------------------------------------------


@pytest.mark.parametrize(("pair", "symbol"), [
    ("BTC-USD", "tBTCUSD"),
    ("ETH-BTC", "tETHBTC"),
    ("DOGE-USD", "tDOGE:USD"),
    ("TESTBTC-TESTUSD", "tTESTBTC:TESTUSD"),
    ("BTC-USDT", "tBTCUST"),
    ("USDT-USD", "tUSTUSD"),
    ("DOGE-USDT", "tDOGE:UST"),
    ("BTC-USDC", "tBTCUDC"),
    ("BCH-USD", "tBCHN:USD"),
    ("ICPF0-USTF0", "tICPF0:USTF0"),
])
def test_symbol_for(pair: str, symbol: str) -> None:
    assert listener.symbol_for(pair) == symbol


@pytest.mark.parametrize("pair", ["BTC-US$", "BTC-usd", "BTC-", "BTCUSD", "BT.C-USD"])
def test_symbol_for_rejects_what_bitfinex_cannot_spell(pair: str) -> None:
    with pytest.raises(PairError, match="Bitfinex has no symbol"):
        listener.symbol_for(pair)


def test_subscribe_frames_are_compact_ticker_and_trades_per_symbol() -> None:
    assert listener.subscribe_frames(["tBTCUSD", "tDOGE:USD"]) == [
        '{"event":"subscribe","channel":"ticker","symbol":"tBTCUSD"}',
        '{"event":"subscribe","channel":"trades","symbol":"tBTCUSD"}',
        '{"event":"subscribe","channel":"ticker","symbol":"tDOGE:USD"}',
        '{"event":"subscribe","channel":"trades","symbol":"tDOGE:USD"}',
    ]


def test_listener_declares_the_public_endpoint() -> None:
    assert (Bitfinex.name, Bitfinex.default_url) == ("bitfinex", "wss://api-pub.bitfinex.com/ws/2")


def test_new_session_forgets_the_previous_connections_channels(session: BitfinexSession) -> None:
    ticker = recorded("[232950,[278200,")
    assert receive(session, ticker) != []
    assert receive(listener.new_session(FEEDS), ticker) == []


# The recording, replayed -----------------------------------------------------------------


def test_recorded_session_gives_statuses_and_tickers_in_order() -> None:
    session = BitfinexSession(FEEDS)
    records = [r for r in receive(session, *RECORDED) if not isinstance(r, Trade)]

    def live(pair: str, channel: str) -> Status:
        return Status("bitfinex", pair, FeedState.LIVE, f"subscribed to {channel}", T0)

    dog, test = ("DOG-USD", "tDOGUSD"), ("TESTBTC-TESTUSD", "tTESTBTC:TESTUSD")
    assert records == [
        live("DOG-USD", "ticker"),
        Ticker("bitfinex", *dog, T0, bid=Decimal("278200"), ask=Decimal("282030"),
               last=Decimal("282780"), bid_size=Decimal("1.7023900800000002"),
               ask_size=Decimal("2.2626931299999997"), volume_24h=Decimal("32.20946748"),
               open_24h=Decimal("349220"), high_24h=Decimal("402510"), low_24h=Decimal("231840")),
        live("TESTBTC-TESTUSD", "ticker"),
        Ticker("bitfinex", *test, T0, bid=Decimal("60400"), ask=Decimal("60406"),
               last=Decimal("60410"), bid_size=Decimal("76.16686512"),
               ask_size=Decimal("86.2067634199999"), volume_24h=Decimal("10.05320242"),
               open_24h=Decimal("61702"), high_24h=Decimal("62408"), low_24h=Decimal("60057")),
        live("TESTBTC-TESTUSD", "trades"),
        live("DOG-USD", "trades"),
        Ticker("bitfinex", *dog, T0, bid=Decimal("277530"), ask=Decimal("282030"),
               last=Decimal("282780"), bid_size=Decimal("1.7954053099999998"),
               ask_size=Decimal("2.2626716"), volume_24h=Decimal("32.20946748"),
               open_24h=Decimal("349220"), high_24h=Decimal("402510"), low_24h=Decimal("231840")),
        Ticker("bitfinex", *test, T0, bid=Decimal("60419"), ask=Decimal("60425"),
               last=Decimal("60410"), bid_size=Decimal("76.15970064"),
               ask_size=Decimal("86.1954264299999"), volume_24h=Decimal("10.05320242"),
               open_24h=Decimal("61702"), high_24h=Decimal("62408"), low_24h=Decimal("60057")),
    ]


@pytest.mark.parametrize("frame", [
    recorded('{"event":"info"'),
    recorded('{"event":"conf"'),
    recorded('[225158,"hb"'),
    recorded('[232950,"hb"'),
    recorded('[232962,"hb"'),
    recorded('[232954,"hb"'),  # a book channel, never subscribed here
    recorded("[225206,[215350,0,1]"),  # a book update on that kind of channel
], ids=["info", "conf", "hb-trades", "hb-ticker", "hb-trades-2", "hb-unknown", "book-unknown"])
def test_recorded_frames_without_records(session: BitfinexSession, frame: str) -> None:
    assert receive(session, frame) == []


def test_ticker_keeps_the_digits_bitfinex_sent(session: BitfinexSession) -> None:
    (ticker,) = receive(session, recorded("[232950,[278200,"))
    assert ticker.to_json() == {
        "exchange": "bitfinex", "pair": "DOG-USD", "symbol": "tDOGUSD",
        "time": "2026-11-24T17:42:03.123Z", "bid": "278200", "ask": "282030", "last": "282780",
        "bid_size": "1.7023900800000002", "ask_size": "2.2626931299999997",
        "volume_24h": "32.20946748", "open_24h": "349220", "high_24h": "402510",
        "low_24h": "231840",
    }


def test_ticker_tolerates_appended_fields_and_null_sizes(session: BitfinexSession) -> None:
    longer = '[232952,[60400,null,60406,null,-1292,-0.0209,60410,10.05,62408,60057,null,"new"],6,9]'
    assert receive(session, longer) == [
        Ticker("bitfinex", "TESTBTC-TESTUSD", "tTESTBTC:TESTUSD", T0, bid=Decimal("60400"),
               ask=Decimal("60406"), last=Decimal("60410"), volume_24h=Decimal("10.05"),
               open_24h=Decimal("61702"), high_24h=Decimal("62408"), low_24h=Decimal("60057")),
    ]


def test_recorded_trades_snapshot_comes_oldest_first(session: BitfinexSession) -> None:
    snapshot = recorded("[232962,[[670155031,")
    records = receive(session, snapshot)
    pair, symbol = "TESTBTC-TESTUSD", "tTESTBTC:TESTUSD"
    assert len(records) == 30
    assert records[0] == trade(pair, symbol, datetime(2021, 4, 17, 14, 30, 49, 162000, tzinfo=UTC),
                               "670023247", "60901", "0.005", Side.BUY)
    assert records[-1] == trade(pair, symbol, datetime(2021, 4, 17, 16, 37, 22, 819000, tzinfo=UTC),
                                "670155031", "60410", "0.00023057", Side.SELL)
    wire_ids = [str(row[0]) for row in json.loads(snapshot)[1]]
    assert [r.id for r in records] == wire_ids[::-1]
    assert [r.time for r in records] == sorted(r.time for r in records)


def test_trade_json_has_exact_strings(session: BitfinexSession) -> None:
    newest = receive(session, recorded("[232962,[[670155031,"))[-1]
    assert newest.to_json() == {
        "exchange": "bitfinex", "pair": "TESTBTC-TESTUSD", "symbol": "tTESTBTC:TESTUSD",
        "time": "2021-04-17T16:37:22.819Z", "id": "670155031", "price": "60410",
        "amount": "0.00023057", "side": "sell",
    }


# Trades from the docs ----------------------------------------------------------------------


def test_documented_snapshot_comes_oldest_first(session: BitfinexSession) -> None:
    assert receive(session, DOCS["trades_snapshot"]) == [DOC_SNAPSHOT_OLDEST, DOC_SNAPSHOT_NEWEST]


@pytest.mark.parametrize("name", ["te", "tu"])
def test_te_and_tu_each_give_the_trade(session: BitfinexSession, name: str) -> None:
    assert receive(session, DOCS[name]) == [DOC_TE]


def test_recent_ids_show_a_te_tu_pair_and_a_repeated_snapshot_once(
        session: BitfinexSession) -> None:
    recent = RecentIds()  # what ExchangeListener._dispatch keeps for the listener's lifetime
    frames = [DOCS["te"], DOCS["tu"], DOCS["trades_snapshot"], DOCS["trades_snapshot"]]
    shown = [r for r in receive(session, *frames) if recent.add(r.pair, r.id)]
    assert shown == [DOC_TE, DOC_SNAPSHOT_OLDEST, DOC_SNAPSHOT_NEWEST]


def test_trade_in_exponent_form_with_appended_fields(session: BitfinexSession) -> None:
    (record,) = receive(session, '[17470,"te",[401597396,1574694478808,-1e-8,7.2453E3,"x"],42]')
    assert record == trade("BTC-USD", "tBTCUSD", DOC_TE.time, "401597396", "7245.3", "1E-8",
                           Side.SELL)
    assert (record.to_json()["amount"], record.to_json()["price"]) == ("0.00000001", "7245.3")


def test_funding_trades_give_nothing(session: BitfinexSession) -> None:
    fte = DOCS["fte"]
    session.receive(subscribed(337371, "trades", "tBTCUSD"), T0)
    assert receive(session, fte, fte.replace('"fte"', '"ftu"')) == []


# Events --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pong", "unsubscribed"])
def test_events_without_records(session: BitfinexSession, name: str) -> None:
    assert receive(session, DOCS[name]) == []


def test_documented_ack_makes_the_pair_live() -> None:
    assert BitfinexSession(FEEDS).receive(DOCS["trades_subscribed"], T0) == [
        Status("bitfinex", "BTC-USD", FeedState.LIVE, "subscribed to trades", T0),
    ]


@pytest.mark.parametrize(("name", "code"), [("info_20051", "20051"), ("info_20061", "20061")])
def test_restart_and_end_of_maintenance_ask_for_a_new_connection(
        session: BitfinexSession, name: str, code: str) -> None:
    with pytest.raises(ReconnectRequested, match=code):
        session.receive(DOCS[name], T0)


@pytest.mark.parametrize(("name", "detail"), [
    ("info_20060", "exchange maintenance (info 20060): pausing until it ends"),
    ("info_maintenance", "exchange maintenance (platform status 0)"),
])
def test_maintenance_makes_the_exchange_stale(session: BitfinexSession, name: str,
                                              detail: str) -> None:
    assert receive(session, DOCS[name]) == [Status("bitfinex", None, FeedState.STALE, detail, T0)]


def test_other_info_codes_give_nothing(session: BitfinexSession) -> None:
    assert receive(session, '{"event":"info","code":5000,"msg":"Info message"}') == []


@pytest.mark.parametrize(("frame", "pair", "detail"), [
    (DOCS["error_10300"].replace("tFAKEPAIRXYZ", "tNOPE:USD"), "NOPE-USD",
     "symbol: invalid (code 10300)"),
    (DOCS["error_10305"], "ICPF0-USTF0", "subscribe: limit (code 10305)"),
    # code 10001 as ws-general lists it ("Unknown pair"), in the live error shape
    ('{"channel":"ticker","symbol":"tNOPE:USD","event":"error","msg":"Unknown pair",'
     '"code":10001}', "NOPE-USD", "Unknown pair (code 10001)"),
], ids=["10300", "10305", "10001"])
def test_refused_subscription_is_an_error_on_that_pair(session: BitfinexSession, frame: str,
                                                       pair: str, detail: str) -> None:
    assert receive(session, frame) == [Status("bitfinex", pair, FeedState.ERROR, detail, T0)]


def test_duplicate_subscription_is_not_an_error(session: BitfinexSession) -> None:
    assert receive(session, DOCS["error_10301"]) == []


@pytest.mark.parametrize("frame", [
    DOCS["error_channel_unknown"],
    DOCS["error_10300"],  # a symbol we never sent
    '{"event":"error","msg":"event: invalid (nope)","code":10000}',
], ids=["no-symbol", "not-ours", "unknown-event"])
def test_error_tied_to_no_pair_of_ours_is_counted_as_malformed(session: BitfinexSession,
                                                               frame: str) -> None:
    message = json.loads(frame)
    reason = re.escape(f"exchange error: {message['msg']} (code {message['code']})")
    with pytest.raises(MalformedFrame, match=reason):
        session.receive(frame, T0)


# Malformed frames ----------------------------------------------------------------------------


@pytest.mark.parametrize(("frame", "reason"), [
    ("not json", "not JSON"),
    ("42", "neither an event nor channel data"),
    ('"hb"', "neither an event nor channel data"),
    ("[]", "IndexError"),
    ("[232950]", "IndexError"),
    ("[232950,[278200,1.7,282030]]", "IndexError"),
    ('[232950,["x",1,282030,2,0,0,282780,0,0,0]]', "not a decimal number"),
    ("[232950,[null,1,282030,2,0,0,282780,0,0,0]]", "not a decimal"),
    ('[232950,"te",[1,1574694478808,0.005,7245.3]]', "'te' message on a ticker channel"),
    ('[232962,"cs",123]', "'cs' message on a trades channel"),
    ('[232962,{"a":1}]', "message on a trades channel"),
    ('[232962,"te"]', "IndexError"),
    ('[232962,"te",[401597395,1574694478808,0.005]]', "IndexError"),
    ('[232962,"te",{"id":1}]', "KeyError"),
    ('[232962,"te",[1.5,1574694478808,0.005,7245.3]]', "not a trade id"),
    ('[232962,"te",[1,"1574694478808",0.005,7245.3]]', "not a time"),
    ('[232962,"te",[1,100000000000000000000,0.005,7245.3]]', "not a time"),
    ('[232962,"te",[1,1574694478808,0,7245.3]]', "zero"),
    ("[232962,[[1,1574694478808,0.005,7245.3],5]]", "TypeError"),
    ('{"event":"subscribed","channel":"book","chanId":1,"symbol":"tDOGUSD"}', "did not ask"),
    ('{"event":"subscribed","channel":"ticker","chanId":1,"symbol":"tETHUSD"}', "did not ask"),
    ('{"event":"subscribed","channel":"ticker","chanId":"1","symbol":"tDOGUSD"}', "did not ask"),
    ('{"event":"subscribed","channel":"ticker","symbol":"tDOGUSD"}', "KeyError"),
    ('{"event":"nope"}', "unknown event 'nope'"),
    ('{"result":"ok"}', "unknown event None"),
    ('{"event":["info"]}', "unknown event"),
    ('{"event":"error","msg":"symbol: invalid","symbol":"tDOGUSD"}', "KeyError"),
    ('{"event":"info","version":2,"platform":5}', "TypeError"),
])
def test_malformed_frames(session: BitfinexSession, frame: str, reason: str) -> None:
    with pytest.raises(MalformedFrame, match=reason):
        session.receive(frame, T0)


# The stream's frames read from their text ----------------------------------------------------

# ``read_stream_frame``'s map: the acks' channels by chanId as frames spell it
CHANNELS_BY_TEXT = {str(ack["chanId"]): Channel(ack["channel"], ack["symbol"], FEEDS[ack["symbol"]])
                    for ack in map(json.loads, ACKS)}


def outcome(read: Callable[[], list[Record]]) -> tuple[Any, ...]:
    """What reading a frame gives: the records and their JSON (which shows a ``-0``), or the
    type of what it raised."""
    try:
        records = read()
    except Exception as exc:
        return ("raises", type(exc))
    return ("records", records, [record.to_json() for record in records])


def test_every_frame_reads_as_the_general_path_reads_it() -> None:
    """Differential: ``receive`` against ``decode`` + ``receive_message``, frame by frame."""
    fast, general = BitfinexSession(FEEDS), BitfinexSession(FEEDS)
    frames = [*ACKS, *RECORDED, *DOCS.values()]
    for frame in frames:
        assert outcome(lambda f=frame: fast.receive(f, T0)) == outcome(
            lambda f=frame: general.receive_message(decode(f), T0)), frame


@pytest.mark.parametrize("frame", [
    *[frame for frame in RECORDED if re.match(r'\[(23295[02],\[\d|\d+,"hb")', frame)],
    DOCS["te"], DOCS["tu"],
])
def test_the_streams_recorded_and_documented_frames_take_the_text_path(frame: str) -> None:
    assert read_stream_frame(frame, CHANNELS_BY_TEXT, T0) is not None


TICKER = "[232950,[277530,1.7954053099999998,282030,2.2626716,-66440,-0.1903,282780,32.20946748,{}]"
TE = '[17470,"te",[401597395,1574694478808,{}'
# the largest number the text path's tokens take (20 integer digits, 19 decimals), and 1e-19
LARGEST, SMALLEST = "9" * 20 + "." + "9" * 19, "0." + "0" * 18 + "1"


def ticker_frame(**fields: str) -> str:
    """A ticker frame on the recording's ticker channel, these fields replacing the usual."""
    values = {"bid": "277530", "bid_size": "1.79", "ask": "282030", "ask_size": "2.26",
              "change": "-66440", "relative": "-0.1903", "last": "282780", "volume": "32.2",
              "high": "402510", "low": "231840"} | fields
    return f"[232950,[{','.join(values.values())}],273]"


def te_frame(amount: str = "0.005", price: str = "7245.3") -> str:
    return TE.format(f"{amount},{price}],42]")


# (frame, whether the text path reads it); either way ``receive`` must give what the general
# path gives, records or error
STREAM_VARIANTS = [
    # tickers
    (TICKER.format("402510,231840],273"), True),
    (TICKER.format("402510,231840]"), True),  # without SEQ_ALL
    (TICKER.format("402510,231840],273,1618677543951"), True),  # SEQ_ALL and TIMESTAMP
    (TICKER.format("402510,231840,null,5.5,-1E-3],273"), True),  # appended fields
    (TICKER.format('402510,231840,"new"],273'), False),  # an appended string
    (TICKER.format("402510],273"), False),  # LOW missing: still a ticker to the general path
    (TICKER.format("402510,231840],-1"), False),
    (TICKER.format("402510,231840],null"), False),
    (TICKER.format("402510,231840],273]"), False),
    (TICKER.format("402510,231840,],273"), False),
    (TICKER.format("402510,231840],273 "), False),
    (TICKER.format("402510,231840],273x"), False),
    (TICKER.format("402510,231840"), False),  # truncated
    ("[232950,[277530,null,282030,2.2626716,0,0,282780,32.2,0,0],1", False),  # a null size
    ("[232950,[277530,1.79,282030,2.26,0,0,282780,32.2,0,0],1]".replace("[2775", "[ 2775"), False),
    # exponents: the general path reads them (or refuses them)
    ("[232950,[2.7753E5,1.79e-0,282030,2.26,0,0,282780,3.2E+1,0,0],1]", False),
    ("[232950,[277530,1.79,282030,2.26,0,0,282780,1e999,0,0],1]", False),
    ("[232950,[277530,1.79,282030,2.26,0,0,282780,1e99999999999999999999,0,0],1]", False),
    ("[232950,[277530,1.79,282030,2.26,0,0,282780,NaN,0,0],1]", False),
    ("[232950,[277530,1.79,282030,2.26,0,0,282780,Infinity,0,0],1]", False),
    ("[232950,[277530,1.79,282030,2.26,0,0,282780,-Infinity,0,0],1]", False),
    ("[232950,[0277530,1.79,282030,2.26,0,0,282780,32.2,0,0],1]", False),  # a leading zero
    ("[232950,[+277530,1.79,282030,2.26,0,0,282780,32.2,0,0],1]", False),
    ("[232950,[277530,.79,282030,2.26,0,0,282780,32.2,0,0],1]", False),
    ("[232950,[277530,1.,282030,2.26,0,0,282780,32.2,0,0],1]", False),
    ("[232950,[277530,1.79,282030,2.26,--1,0,282780,32.2,0,0],1]", False),  # unused, still JSON
    ("[232950,[277530,1.79,282030,2.26,1e,0,282780,32.2,0,0],1]", False),
    ("[232950,[-0,1.79,282030,2.26,0,0,282780,32.2,0,0],1]", False),  # int -0: decode gives 0
    ("[232950,[-0.0,1.79,282030,-0e1,0,0,282780,32.2,0,0],1]", False),
    ("[232950,[277530,-0.0,282030,2.26,-0.0,0,282780,32.2,-0.0,0],1]", False),  # -0.0: general
    ('[232950,["277530",1.79,282030,2.26,0,0,282780,32.2,0,0],1]', False),
    ("[232950,[true,1.79,282030,2.26,0,0,282780,32.2,0,0],1]", False),
    ("[0232950,[277530,1.79,282030,2.26,0,0,282780,32.2,0,0],1]", False),
    ("[999,[277530,1.79,282030,2.26,0,0,282780,32.2,0,0],1]", False),  # unknown chanId
    ("[232962,[277530,1.79,282030,2.26,0,0,282780,32.2,0,0],1]", False),  # on a trades channel
    (TICKER.format(",".join(["0"] * 600) + "]"), False),  # longer than any ticker: general path
    # an integer past int()'s 4300 digits, which decode refuses
    ("[232950,[1" + "0" * 5000 + ",1.79,282030,2.26,0,0,282780,32.2,0,0],1]", False),
    # zeros where a size or a statistic may be 0, and the 0.0 bid no price may be
    (ticker_frame(bid_size="0", ask_size="0.0", volume="0.000", high="0", low="0.0"), True),
    (ticker_frame(high="-1.5", low="-0.5"), True),  # statistics below zero: unknown
    (ticker_frame(bid="0.0"), False),
    (ticker_frame(ask="0"), False),
    (ticker_frame(last="-282780"), False),
    (ticker_frame(bid_size="-1.79"), False),
    # the open, LAST_PRICE - DAILY_CHANGE, at the tokens' bounds
    (ticker_frame(last=LARGEST, change="-" + LARGEST), True),  # 40 digits before rounding
    (ticker_frame(last=LARGEST, change=LARGEST), True),  # 0: unknown
    (ticker_frame(last="0." + "0" * 17 + "2", change=SMALLEST), True),  # 1e-19
    (ticker_frame(last="1", change="1.0000000000000000001"), True),  # below zero: unknown
    (ticker_frame(last=SMALLEST, change="-" + LARGEST), True),
    # heartbeats
    ('[232950,"hb"]', True),
    ('[232950,"hb",135]', True),
    ('[232954,"hb",139]', True),  # a channel we never subscribed: nothing either way
    ('[232950,"hb",135,1618677543951]', True),
    ('[232950,"hb",null]', False),
    ('[232950,"hb",135', False),
    ('["x","hb"]', False),
    ('[232950,"hb"] ', False),
    # trades
    (TE.format("0.005,7245.3]]"), True),
    (TE.format("0.005,7245.3],42]"), True),
    (TE.format("0.005,7245.3]]").replace('"te"', '"tu"'), True),
    (TE.format("-0.005,7245.3,null,3],42]"), True),  # appended fields
    (TE.format("-0.005,7.2453E3,null,3],42]"), False),  # an exponent: the general path
    (TE.format('0.005,7245.3,"x"],42]'), False),
    (TE.format("0,7245.3],42]"), False),
    (TE.format("-0.0,7245.3],42]"), False),  # amount 0: the general path refuses
    (TE.format("0.005,0],42]"), False),  # price 0: the general path refuses
    (TE.format("0.005,-7245.3],42]"), False),
    (TE.format("0.005]"), False),
    (TE.format("0.005,NaN]]"), False),
    (TE.format("0.005,1e99999999999999999999]]"), False),
    ('[17470,"te",[401597395.5,1574694478808,0.005,7245.3]]', False),
    ('[17470,"te",[-5,1574694478808,0.005,7245.3]]', False),  # the general path reads it
    ('[17470,"te",[123456789012345678901234567890,1574694478808,0.005,7245.3]]', True),
    ('[17470,"te",[401597395,-1,0.005,7245.3]]', False),
    ('[17470,"te",[401597395,1230940800000,0.005,7245.3]]', True),  # 2009-01-03: the earliest
    ('[17470,"te",[401597395,1230940799999,0.005,7245.3]]', False),  # before it: refused
    ('[17470,"te",[401597395,253402300799999,0.005,7245.3]]', False),  # year 9999: refused
    ('[17470,"te",[401597395,253402300800000,0.005,7245.3]]', False),  # past year 9999
    ('[17470,"te",[401597395,01574694478808,0.005,7245.3]]', False),
    ('[232950,"te",[401597395,1574694478808,0.005,7245.3]]', False),  # te on a ticker channel
    ('[999,"te",[401597395,1574694478808,0.005,7245.3]]', False),  # an unknown chanId
    ('[17470,"fte",[401597395,1574694478808,0.005,7245.3,2]]', False),
    ('[17470,"te",{"id":1}]', False),
    (te_frame(LARGEST, SMALLEST), True),
    (te_frame("-" + SMALLEST, LARGEST), True),
]


def contexts() -> dict[str, decimal.Context]:
    """Decimal contexts to read in: the fast path must agree with the general path in any."""
    trapping = decimal.Context()
    trapping.traps[decimal.Inexact] = True
    return {"default": decimal.Context(), "precision 60": decimal.Context(prec=60),
            "precision 3": decimal.Context(prec=3), "rounding trapped": trapping}


def assert_reads_as_the_general_path(frame: str) -> list[Record] | None:
    """``receive`` gives what the general path gives, and so does the text path if it reads the
    frame; returns what the text path read (None: it left the frame to the general path)."""
    fast, general = subscribed_session(), subscribed_session()
    expected = outcome(lambda: general.receive_message(decode(frame), T0))
    assert outcome(lambda: fast.receive(frame, T0)) == expected, frame
    from_text = read_stream_frame(frame, CHANNELS_BY_TEXT, T0)
    if from_text is not None:
        assert ("records", from_text, [record.to_json() for record in from_text]) == expected
    return from_text


@pytest.mark.parametrize("context", contexts().values(), ids=contexts().keys())
@pytest.mark.parametrize(("frame", "reads"), STREAM_VARIANTS,
                         ids=[f"{n}:{frame[:48]}" for n, (frame, _) in enumerate(STREAM_VARIANTS)])
def test_variants_of_the_streams_frames_read_as_the_general_path_reads_them(
        frame: str, reads: bool, context: decimal.Context) -> None:
    """A variant the text path doesn't take, or takes but can't read, goes the general way."""
    with decimal.localcontext(context):
        from_text = assert_reads_as_the_general_path(frame)
    if context.prec == decimal.DefaultContext.prec and not context.traps[decimal.Inexact]:
        assert (from_text is not None) == reads


# Number texts at the bounds of ``market_number`` (finite, at most 40 significant digits, an
# adjusted exponent within +-30) and of the text path's tokens (no exponent, at most 20
# integer digits and 19 decimals), and spellings JSON has or hasn't.
BOUND_NUMBERS = [
    "0", "0.0", "0.000", "-0", "-0.0", "1", "-1", "0.5", "-0.5", "7245.3",
    "1" + "0" * 19, "9" * 20, "1" + "0" * 20, "-" + "9" * 20, "-1" + "0" * 20,  # 20, 21 digits
    "1" + "0" * 30, "1" + "0" * 31,  # adjusted exponent 30 (a market's), 31 (none's)
    "1" * 40, "1" * 41,  # 40 digits, but adjusted exponent 39
    SMALLEST, "0." + "0" * 19 + "1", "-" + SMALLEST,  # 19 decimals, 20
    "0." + "0" * 29 + "1", "0." + "0" * 30 + "1",  # adjusted exponent -30, -31
    LARGEST, "-" + LARGEST, "1" + LARGEST,  # 39 digits, 40 with 21 integer digits
    "1." + "2" * 18, "1." + "2" * 19, "1." + "2" * 20,  # 19 digits, 20, 21 with 20 decimals
    "1234567890." + "1" * 30, "1234567890." + "1" * 31,  # 40 digits, 41
    "0." + "1" * 40, "0." + "1" * 41,  # 40 digits, 41
    "1e5", "1E5", "1e+5", "1e-5", "-1e5", "0e0", "0E-5", "1.5e3", "1e30", "1e31", "1e-30",
    "1e-31", "9.99e30", "1" * 40 + "e-20", "1" * 41 + "e-20", "1e999", "-1e999",
    "00", "01", "-01", "00.5", "0.", ".5", "+1", "1.5.5", "--1", "0x10", "NaN", "Infinity",
]
# the fields the parsers read, and the token each takes: price, size, signed or amount
TICKER_FIELDS = {"bid": "price", "bid_size": "size", "ask": "price", "ask_size": "size",
                 "change": "signed", "last": "price", "volume": "size", "high": "signed",
                 "low": "signed"}
TRADE_FIELDS = {"amount": "amount", "price": "price"}


def takes(text: str, token: str) -> bool:
    """Whether the text path's ``token`` takes ``text``, by the bounds bitfinex.py states."""
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, decimals = digits.partition(".")
    if not (re.fullmatch(r"0|[1-9][0-9]{0,19}", whole)
            and (not dot or re.fullmatch(r"[0-9]{1,19}", decimals))):
        return False
    value = Decimal(text)
    return {"price": not sign and value > 0, "size": not sign, "amount": value != 0,
            "signed": not sign or value != 0}[token]


@pytest.mark.parametrize("context", contexts().values(), ids=contexts().keys())
@pytest.mark.parametrize("field", [*TICKER_FIELDS, *TRADE_FIELDS])
def test_numbers_at_the_bounds_read_as_the_general_path_reads_them(
        field: str, context: decimal.Context) -> None:
    """Every field the parsers read, at every bound: the same records or the same refusal, and
    the text path reads exactly the texts its token takes."""
    for text in BOUND_NUMBERS:
        if field in TICKER_FIELDS:
            frame, token = ticker_frame(**{field: text}), TICKER_FIELDS[field]
        else:
            frame = te_frame(**{field: text})
            token = TRADE_FIELDS[field]
        with decimal.localcontext(context):
            from_text = assert_reads_as_the_general_path(frame)
        if context.prec == decimal.DefaultContext.prec and not context.traps[decimal.Inexact]:
            assert (from_text is not None) == takes(text, token), (field, text)


def test_numbers_read_from_the_text_keep_their_digits(session: BitfinexSession) -> None:
    frame = "[232950,[277530.50,1.7954053099999998,282030,0.0,0,0,282780,0.00000001,0,0],1]"
    (ticker,) = read_stream_frame(frame, CHANNELS_BY_TEXT, T0) or []
    assert ticker.to_json() | {"time": None} == {
        "exchange": "bitfinex", "pair": "DOG-USD", "symbol": "tDOGUSD", "time": None,
        "bid": "277530.50", "ask": "282030", "last": "282780", "bid_size": "1.7954053099999998",
        "ask_size": "0.0", "volume_24h": "0.00000001", "open_24h": "282780",
        "high_24h": None, "low_24h": None,  # 0: a pair that hasn't traded for a day
    }


def test_numbers_with_exponents_keep_their_digits_on_the_general_path(
        session: BitfinexSession) -> None:
    frame = "[232950,[2.7753E5,1.7954053099999998,282030,-0.0,0,0,282780,1E-8,0,0],1]"
    assert read_stream_frame(frame, CHANNELS_BY_TEXT, T0) is None
    (ticker,) = session.receive(frame, T0)
    assert ticker.to_json() | {"time": None} == {
        "exchange": "bitfinex", "pair": "DOG-USD", "symbol": "tDOGUSD", "time": None,
        "bid": "277530", "ask": "282030", "last": "282780", "bid_size": "1.7954053099999998",
        "ask_size": "-0.0", "volume_24h": "0.00000001", "open_24h": "282780",
        "high_24h": None, "low_24h": None,
    }


def test_pair_list_is_read_back_into_our_spellings():
    from exchanges.bitfinex import parse_pair_list

    assert parse_pair_list([["BTCUSD", "BTCUST", "DOGE:USD", "TESTBTC:TESTUSD", "BCHN:USD"]]) == {
        "tBTCUSD": "BTC-USD", "tBTCUST": "BTC-USDT", "tDOGE:USD": "DOGE-USD",
        "tTESTBTC:TESTUSD": "TESTBTC-TESTUSD", "tBCHN:USD": "BCH-USD"}
    with pytest.raises(MalformedFrame):
        parse_pair_list([["btc/usd"]])
    with pytest.raises(MalformedFrame):
        parse_pair_list({"pairs": []})
