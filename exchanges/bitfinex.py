"""Bitfinex WebSocket API v2, public ``ticker`` and ``trades`` channels (docs.bitfinex.com).

Events are JSON objects (``info``, ``subscribed``, ``error``, ...); channel data are JSON arrays
led by a ``chanId`` that only the ``subscribed`` ack ties to a symbol, so reading them needs a
per-connection map: ``BitfinexSession``. Numbers are JSON numbers, read as exact ``Decimal``s.
The docs warn that array lengths must never be hard-coded (fields get appended, and conf flags
such as SEQ_ALL add a trailing sequence number), so parsers index from the front and ignore
whatever follows.

Nearly every frame of a subscribed connection is a ticker update, a trade or a heartbeat, so
those three shapes are read straight from the frame's text (``read_stream_frame``): a JSON
decoder that keeps decimals exact costs more than the rest of the message, and orjson, fast, would
turn ``1.7023900800000002`` into a float. Everything else, and any of those three that isn't
exactly in its documented shape, goes through ``decode`` and the parsers below.

REST (docs.bitfinex.com rest-public-ticker, rest-public-trades) gives the snapshot taken before
streaming: ``GET /v2/ticker/{symbol}`` answers the websocket ticker's array, and
``GET /v2/trades/{symbol}/hist?limit=N`` the ``[ID, MTS, AMOUNT, PRICE]`` rows, newest first.

Limit: "You can subscribe to 25 channels at the same time on the same connection" (ws-public;
the official bitfinex-api-py uses 25 too), and a pair takes two, so one connection carries 12
pairs and the base class opens as many connections as the pairs need. Bitfinex would refuse a
26th channel with error 10305 "subscribe: limit", reported on that pair.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from . import rest
from .base import (
    ExchangeListener,
    Feed,
    InstrumentsRequest,
    ReconnectRequested,
    RestRequest,
    Session,
)
from .pairs import PairError, split_pair
from .parsing import (
    JSON_INT,
    JSON_NUMBER,
    MalformedFrame,
    decode,
    market_number,
    market_time,
    optional_size,
    optional_statistic,
    price,
    reads_frame,
)
from .records import (
    FeedState,
    Record,
    Side,
    Status,
    Ticker,
    Trade,
    time_from_ms,
)

NAME = "bitfinex"
CHANNELS = ("ticker", "trades")

# Bitfinex's own spelling of common currency codes (the reverse of ccxt bitfinex commonCurrencies)
_NATIVE_CODES = {"USDT": "UST", "USDC": "UDC", "TUSD": "TSD", "BCH": "BCHN"}
_NATIVE_CODE = re.compile(r"[A-Z0-9]+")
_OUR_CODES = {native: ours for ours, native in _NATIVE_CODES.items()}

# info codes (ws-general "Info Codes"); the docs say to rely on the code, never on ``msg``
_RECONNECT_INFO = {
    20051: "Bitfinex asked for a reconnect (info 20051: server stop/restart)",
    20061: "Bitfinex maintenance ended (info 20061): resubscribing on a new connection",
}
_MAINTENANCE_START = 20060
_ALREADY_SUBSCRIBED = 10301  # "subscribe: dup": the channel works, nothing to report
# REST: ``["error",10020,"symbol: invalid"]`` with HTTP 500 for a symbol Bitfinex doesn't list
# (also "prec: invalid", "len: invalid", "limit: invalid"): a bad request, not an outage
_REST_BAD_REQUEST = 10020

# ticker fields (ws-public-ticker, rest-public-ticker): BID, BID_SIZE, ASK, ASK_SIZE,
# DAILY_CHANGE, DAILY_CHANGE_RELATIVE, LAST_PRICE, VOLUME, HIGH, LOW, ...
_BID, _BID_SIZE, _ASK, _ASK_SIZE, _DAILY_CHANGE, _LAST_PRICE, _VOLUME, _HIGH, _LOW = (
    0, 1, 2, 3, 4, 6, 7, 8, 9)
_MTS_END = 253_402_300_800_000  # 10000-01-01, where datetime's range ends

# The stream's frequent frames, as text (see ``read_stream_frame``), by the grammar of JSON. After
# the documented fields an array may carry appended numbers or nulls, and the frame appended
# integers (SEQ_ALL's sequence number, TIMESTAMP's MTS); anything else appended, or any other
# spelling, sends the frame the general way.
#
# The numbers the parsers read are matched by narrower tokens, parts of ``JSON_NUMBER``'s language
# chosen so that whatever they match passes every check of the general path (``market_number``,
# ``price``, ``size``): the text path only has to make each ``Decimal``, with no call per number.
# - At most 20 integer digits and 19 decimals, no exponent: at most 39 digits, below 1e20, and
#   1e-19 or more unless zero, well within ``market_number``'s 40 digits and 1e-30 .. 1e31. The
#   open, LAST_PRICE - DAILY_CHANGE, is then below 2e20 and a multiple of 1e-19: at most 40
#   digits, adjusted exponent -19 .. 20, in any context (rounding only drops digits).
# - ``_POSITIVE``: above zero (a price). ``_UNSIGNED``: zero or more (a size). ``_SIGNED``: those
#   and the negatives of ``_POSITIVE``, so no negative zero (``-0`` is an int 0 to ``decode`` but
#   ``Decimal("-0")`` to the text path; ``-0.0`` is left to the general path as well).
# A number outside them (``1e-8``, 25 digits, ``-0.0``, a price of 0 or below) fails the match:
# the frame takes the general path, which reads it exactly or refuses it with its reason.
_INT, _NUM = JSON_INT, JSON_NUMBER
_POSITIVE = r"(?:[1-9][0-9]{0,19}+(?:\.[0-9]{1,19}+)?+|0\.(?=0{0,18}+[1-9])[0-9]{1,19}+)"
_UNSIGNED = r"(?:0|[1-9][0-9]{0,19}+)(?:\.[0-9]{1,19}+)?+"
_SIGNED = rf"(?:-?+{_POSITIVE}|{_UNSIGNED})"
_APPENDED = rf"(?:,(?:{_NUM}|null))*+"
_STREAM_FRAME = re.compile(rf"""
    \[ (?P<chan_id>{_INT}) ,
    (?:
        "hb"                                                      # [CHAN_ID,"hb"]
      | \[ (?P<bid>{_POSITIVE}) , (?P<bid_size>{_UNSIGNED}) ,
          (?P<ask>{_POSITIVE}) , (?P<ask_size>{_UNSIGNED}) ,
          (?P<change>{_SIGNED}) , {_NUM} ,                        # DAILY_CHANGE(_RELATIVE)
          (?P<last>{_POSITIVE}) , (?P<volume>{_UNSIGNED}) ,       # LAST_PRICE, VOLUME
          (?P<high>{_SIGNED}) , (?P<low>{_SIGNED}) {_APPENDED} \]  # HIGH, LOW
      | "t[eu]" ,                                                 # [CHAN_ID,"te",[...]]
          \[ (?P<id>{_INT}) , (?P<mts>{_INT}) , (?P<amount>-?+{_POSITIVE}) ,
          (?P<price>{_POSITIVE}) {_APPENDED} \]
    )
    (?: , {_INT} )*+ \]
    """, re.VERBOSE)
_HEARTBEAT_GROUPS = 1  # ``lastindex`` of a heartbeat's match: chan_id is the only group in it
# where a ticker's numbers are in ``match.groups()``, BID to LOW (one slice: cheaper than names)
_TICKER_NUMBERS = slice(_STREAM_FRAME.groupindex["bid"] - 1, _STREAM_FRAME.groupindex["low"])
_ZERO = Decimal(0)
# Longer frames go the general way: a ticker is about 110 characters, and with this bound no
# integer in a frame can reach the 4300 digits past which ``decode`` (``int``) refuses it.
_STREAM_FRAME_MAX = 1000


@dataclass(frozen=True, slots=True)
class Channel:
    """One subscribed channel of a connection, as its ``subscribed`` ack announced it."""

    name: str  # "ticker" or "trades"
    symbol: str
    pair: str


# Parsers -------------------------------------------------------------------------------------


@reads_frame
def parse_ticker(values: list[Any], channel: Channel, received_at: datetime) -> Ticker:
    """Read a ticker update (ws-public-ticker); it carries no time, so it gets ``received_at``.

    ``[232950,[278200,1.7023900800000002,282030,2.2626931299999997,-66440,-0.1903,282780,...],3]``
    """
    return _ticker(channel, received_at, values[_BID], values[_BID_SIZE], values[_ASK],
                   values[_ASK_SIZE], values[_DAILY_CHANGE], values[_LAST_PRICE],
                   values[_VOLUME], values[_HIGH], values[_LOW])


def _ticker(channel: Channel, received_at: datetime, bid: Any, bid_size: Any, ask: Any,
            ask_size: Any, change: Any, last: Any, volume: Any, high: Any, low: Any) -> Ticker:
    """The ticker of these fields, as JSON numbers decoded or ``Decimal``s read from the text.

    DAILY_CHANGE is "the amount that the last price has changed since yesterday", so the price
    24 hours ago, ``open_24h``, is LAST_PRICE minus DAILY_CHANGE. A statistic of 0 or below
    (HIGH and LOW of a pair that hasn't traded for a day) is unknown, not a price.
    """
    last_price = price(last, "LAST_PRICE")
    opened = None if change is None else last_price - market_number(change, "DAILY_CHANGE")
    return Ticker(NAME, channel.pair, channel.symbol, received_at, price(bid, "BID"),
                  price(ask, "ASK"), last_price, optional_size(bid_size, "BID_SIZE"),
                  optional_size(ask_size, "ASK_SIZE"), optional_size(volume, "VOLUME"),
                  optional_statistic(opened, "open"), optional_statistic(high, "HIGH"),
                  optional_statistic(low, "LOW"))


@reads_frame
def parse_trade(values: list[Any], channel: Channel, received_at: datetime) -> Trade:
    """Read one ``[ID, MTS, AMOUNT, PRICE]`` (ws-public-trades); AMOUNT's sign is the taker's side.

    ``[17470,"te",[401597395,1574694478808,0.005,7245.3]]``
    """
    trade_id, mts = values[0], values[1]
    if not _is_int(trade_id):
        raise MalformedFrame(f"not a trade id: {trade_id!r}")
    if not _is_int(mts):
        raise MalformedFrame(f"not a time in ms: {mts!r}")
    return _trade(channel, received_at, str(trade_id), mts, values[2], values[3])


def _trade(channel: Channel, received_at: datetime, trade_id: str, mts: int, amount: Any,
           trade_price: Any) -> Trade:
    """The trade of these fields, as JSON numbers decoded or ``Decimal``s read from the text."""
    signed = market_number(amount, "AMOUNT")
    if signed == 0:
        raise MalformedFrame("trade amount is zero: no taker side")
    if not 0 <= mts < _MTS_END:
        raise MalformedFrame(f"not a time in ms: {mts!r}")
    return Trade(NAME, channel.pair, channel.symbol,
                 market_time(time_from_ms(mts), mts, received_at), trade_id,
                 price(trade_price, "PRICE"), signed.copy_abs(),
                 Side.BUY if signed > 0 else Side.SELL)


@reads_frame
def parse_trades_snapshot(rows: list[Any], channel: Channel,
                          received_at: datetime) -> list[Record]:
    """Read the recent trades sent on subscribe: newest first on the wire, returned oldest first.

    ``[232962,[[670155031,1618677442819,-0.00023057,60410],[670154206,...],...],10]``
    """
    return [parse_trade(row, channel, received_at) for row in reversed(rows)]


@reads_frame
def parse_rest_ticker(values: list[Any], feed: Feed, received_at: datetime) -> list[Record]:
    """Read ``GET /v2/ticker/{symbol}`` (rest-public-ticker): the websocket ticker's array.

    ``[7616.5,31.89055171,7617.5,43.358118629999986,-550.8,-0.0674,7617.1,8314.71200815,8257.8,
    7500]``; it carries no time either, so the ticker gets ``received_at``.
    """
    if values[:1] == ["error"]:  # the error envelope, should it ever come with a 2xx
        raise MalformedFrame(f"exchange error: {values[2]} (code {values[1]})")
    return [parse_ticker(values, Channel("ticker", feed.symbol, feed.pair), received_at)]


@reads_frame
def parse_rest_trades(rows: list[Any], feed: Feed, received_at: datetime) -> list[Record]:
    """Read ``GET /v2/trades/{symbol}/hist`` (rest-public-trades): rows as in the websocket.

    ``[[401597395,1574694478808,0.005,7245.3],[401597393,1574694475039,-0.01,7244.9]]``; newest
    first on the wire (the default ``sort=-1``), returned oldest first like the trades snapshot.
    AMOUNT's sign is the taker's side, and ID is the websocket trade's, so the two dedupe.
    """
    if not isinstance(rows, list):
        raise MalformedFrame(f"trades are not a list: {type(rows).__name__}")
    return parse_trades_snapshot(rows, Channel("trades", feed.symbol, feed.pair), received_at)


@reads_frame
def parse_pair_list(body: list[Any]) -> dict[str, str]:
    """Read ``GET /v2/conf/pub:list:pair:exchange`` (ws-general "Symbols"): the pairs that trade.

    ``[["AAABBB","AAVE:USD","BTCUSD","BTCUST","DOGE:USD",...]]``, symbols without their ``t``:
    returned as {``tBTCUSD``: ``BTC-USD``}, Bitfinex's spellings turned back into ours.
    """
    (names,) = body
    listed = {}
    for name in names:
        base, _, quote = name.partition(":") if ":" in name else (name[:3], "", name[3:])
        if not (_NATIVE_CODE.fullmatch(base) and _NATIVE_CODE.fullmatch(quote)):
            raise MalformedFrame(f"not a pair: {name!r}")
        listed[f"t{name}"] = f"{_OUR_CODES.get(base, base)}-{_OUR_CODES.get(quote, quote)}"
    return listed


def read_stream_frame(frame: str, channels: Mapping[str, Channel],
                      received_at: datetime) -> list[Record] | None:
    """Read a heartbeat, ticker update or trade from the frame's text, or return None.

    ``channels`` maps a chanId, as text (``"232950"``), to its channel.

    Gives exactly what ``decode`` and ``parse_channel_frame`` give for the same frame, at a
    fraction of the cost. It reads a frame only when ``_STREAM_FRAME``, written in the grammar
    of JSON, matches all of it: the documented shape, with every number a JSON number. Anything
    else (a null size, a string appended, a chanId we don't know, a trade of amount 0, an ack, a
    snapshot, a frame that isn't JSON) returns None, for the general path to read or refuse.
    """
    match = _STREAM_FRAME.fullmatch(frame) if len(frame) <= _STREAM_FRAME_MAX else None
    if match is None:
        return None
    if match.lastindex == _HEARTBEAT_GROUPS:
        return []
    channel = channels.get(match["chan_id"])
    if channel is None:
        return None
    if match["bid"] is not None:
        return _ticker_update(match, channel, received_at)
    return _trade_update(match, channel, received_at)


def _ticker_update(match: re.Match[str], channel: Channel,
                   received_at: datetime) -> list[Record] | None:
    """``parse_ticker`` of a ``_STREAM_FRAME`` ticker match, if it came on a ticker channel.

    What ``_ticker`` checks the tokens have checked already (see ``_POSITIVE``): what is left
    is the open, LAST_PRICE - DAILY_CHANGE, and the statistics, 0 or below being unknown.
    """
    if channel.name != "ticker":
        return None
    bid, bid_size, ask, ask_size, change, last, volume, high, low = map(
        Decimal, match.groups()[_TICKER_NUMBERS])
    try:
        opened = last - change
    except ArithmeticError:  # a context that traps the rounding, say: the general path says why
        return None
    return [Ticker(NAME, channel.pair, channel.symbol, received_at, bid, ask, last, bid_size,
                   ask_size, volume, opened if opened > _ZERO else None,
                   high if high > _ZERO else None, low if low > _ZERO else None)]


def _trade_update(match: re.Match[str], channel: Channel,
                  received_at: datetime) -> list[Record] | None:
    """``parse_trade`` of a ``_STREAM_FRAME`` trade match, if it came on a trades channel.

    AMOUNT is a nonzero number and PRICE a price by their tokens; MTS is left to check.
    """
    if channel.name != "trades":
        return None
    mts = int(match["mts"])
    if mts >= _MTS_END:  # past datetime's range: the general path says why
        return None
    try:
        time = market_time(time_from_ms(mts), mts, received_at)
    except ValueError:  # a MalformedFrame (out of the window) included
        return None
    amount = match["amount"]
    signed = Decimal(amount)
    return [Trade(NAME, channel.pair, channel.symbol, time, match["id"], Decimal(match["price"]),
                  signed.copy_abs(), Side.SELL if amount[0] == "-" else Side.BUY)]


# What each message on a channel becomes, by (channel, message type); "data" is ``[chanId, [...]]``.
_CHANNEL_PARSERS: dict[tuple[str, str], Callable[[list[Any], Channel, datetime], list[Record]]] = {
    ("ticker", "data"): lambda frame, channel, at: [parse_ticker(frame[1], channel, at)],
    ("trades", "data"): lambda frame, channel, at: parse_trades_snapshot(frame[1], channel, at),
    ("trades", "te"): lambda frame, channel, at: [parse_trade(frame[2], channel, at)],
    ("trades", "tu"): lambda frame, channel, at: [parse_trade(frame[2], channel, at)],
    ("trades", "fte"): lambda frame, channel, at: [],  # funding trades: not a market we show
    ("trades", "ftu"): lambda frame, channel, at: [],
}


@reads_frame
def parse_channel_frame(frame: list[Any], channels: Mapping[int, Channel],
                        received_at: datetime) -> list[Record]:
    """Read a ``[chanId, ...]`` frame: data, a trade, or a heartbeat (``[232952,"hb",137]``).

    A chanId we don't know yields nothing: it is normal right after an unsubscribe, and it is
    how frames of channels we never asked for look.
    """
    chan_id, body = frame[0], frame[1]
    channel = channels.get(chan_id)
    if body == "hb" or channel is None:
        return []
    kind = "data" if isinstance(body, list) else body
    parser = _CHANNEL_PARSERS.get((channel.name, kind)) if isinstance(kind, str) else None
    if parser is None:
        raise MalformedFrame(f"unexpected {kind!r} message on a {channel.name} channel")
    return parser(frame, channel, received_at)


@reads_frame
def parse_subscribed(message: dict[str, Any], feeds: Mapping[str, str]) -> tuple[int, Channel]:
    """Read a subscribe ack (ws-general "Subscribe to Channels") into (chanId, channel).

    ``{"event":"subscribed","channel":"ticker","chanId":232952,"symbol":"tTESTBTC:TESTUSD",...}``
    """
    chan_id, name, symbol = message["chanId"], message["channel"], message["symbol"]
    if not _is_int(chan_id) or name not in CHANNELS or symbol not in feeds:
        raise MalformedFrame(f"ack for a channel we did not ask for: {name} {symbol}")
    return chan_id, Channel(name, symbol, feeds[symbol])


@reads_frame
def parse_info(message: dict[str, Any], feeds: Mapping[str, str],
               received_at: datetime) -> list[Record]:
    """Read an ``info`` event: the greeting on connect, or a restart or maintenance notice.

    ``{"event":"info","version":2,"serverId":"083bd8d4-...","platform":{"status":1}}``

    Raises ``ReconnectRequested`` for 20051 (server restart) and 20061 (maintenance over: the
    docs advise resubscribing everything, which a new connection does). 20060, or platform
    status 0 on connect, makes the exchange ``stale`` until data flows again.
    """
    code = message.get("code")
    if code in _RECONNECT_INFO:
        raise ReconnectRequested(_RECONNECT_INFO[code])
    if code == _MAINTENANCE_START:
        detail = "exchange maintenance (info 20060): pausing until it ends"
    elif "platform" in message and message["platform"]["status"] == 0:
        detail = "exchange maintenance (platform status 0)"
    else:
        return []
    return [Status(NAME, None, FeedState.STALE, detail, received_at)]


@reads_frame
def parse_error(message: dict[str, Any], feeds: Mapping[str, str],
                received_at: datetime) -> list[Record]:
    """Read an ``error`` event: a subscription the exchange refused becomes that pair's error.

    ``{"channel":"trades","symbol":"tFAKEPAIRXYZ","event":"error","msg":"symbol: invalid",
    "code":10300,"pair":"FAKEPAIRXYZ"}``

    The error echoes the symbol we sent, which maps back to our pair. An error that names no
    pair of ours (``event: invalid`` 10000, ``channel: unknown``) can't be put on any feed, so
    it raises ``MalformedFrame``: the listener counts it and logs it once per incident.
    """
    code, text = message["code"], message["msg"]
    pair = feeds.get(message.get("symbol"))
    if pair is None:
        raise MalformedFrame(f"exchange error: {text} (code {code})")
    if code == _ALREADY_SUBSCRIBED:
        return []
    return [Status(NAME, pair, FeedState.ERROR, f"{text} (code {code})", received_at)]


def _no_records(message: dict[str, Any], feeds: Mapping[str, str],
                received_at: datetime) -> list[Record]:
    return []


# Events other than ``subscribed`` (which changes the session's state), by name.
_EVENT_PARSERS: dict[str, Callable[[dict[str, Any], Mapping[str, str], datetime], list[Record]]] = {
    "info": parse_info,
    "error": parse_error,
    "conf": _no_records,
    "pong": _no_records,
    "unsubscribed": _no_records,
}


# Session and listener ------------------------------------------------------------------------


class BitfinexSession(Session):
    """The protocol state of one connection: which chanId carries which channel of which pair.

    Made by ``Bitfinex.new_session`` on every connect, so chanIds of an old connection can't leak
    into a new one. Bitfinex sends each trade twice, as ``te`` and then as ``tu`` with the same
    ID; both become the same ``Trade`` here and the listener's ``RecentIds`` drops the second
    (it also drops trades a resubscribe's snapshot repeats), so the page shows each trade once.
    """

    def __init__(self, feeds: Mapping[str, str]) -> None:
        super().__init__()
        self._feeds = dict(feeds)  # symbol we subscribed to -> our pair
        self._channels: dict[int, Channel] = {}  # filled from ``subscribed`` acks
        self._channels_by_text: dict[str, Channel] = {}  # the same, by chanId as frames spell it

    def receive(self, frame: str, received_at: datetime) -> list[Record]:
        """Read one frame; see ``Session.receive`` for what it raises.

        The stream's frequent frames are read from their text (``read_stream_frame``); the
        others are decoded and read by ``receive_message``, with the same result.
        """
        records = read_stream_frame(frame, self._channels_by_text, received_at)
        if records is None:
            records = self.receive_message(decode(frame), received_at)
        return records

    def receive_message(self, message: Any, received_at: datetime) -> list[Record]:
        """Read one frame decoded by ``decode``: the general path of ``receive``."""
        if isinstance(message, list):
            return parse_channel_frame(message, self._channels, received_at)
        if not isinstance(message, dict):
            raise MalformedFrame(f"neither an event nor channel data: {type(message).__name__}")
        event = message.get("event")
        if event == "subscribed":
            chan_id, channel = parse_subscribed(message, self._feeds)
            self._channels[chan_id] = self._channels_by_text[str(chan_id)] = channel
            return [Status(NAME, channel.pair, FeedState.LIVE, f"subscribed to {channel.name}",
                           received_at)]
        parser = _EVENT_PARSERS.get(event) if isinstance(event, str) else None
        if parser is None:
            raise MalformedFrame(f"unknown event {event!r}")
        return parser(message, self._feeds, received_at)


class Bitfinex(ExchangeListener):
    """Bitfinex public market data: ``ticker`` for the top of book, ``trades`` for executions."""

    name = NAME
    default_url = "wss://api-pub.bitfinex.com/ws/2"
    default_rest_url = "https://api-pub.bitfinex.com"
    channels_per_pair = len(CHANNELS)
    max_subscriptions = 25

    def symbol_for(self, pair: str) -> str:
        """``BTC-USD`` -> ``tBTCUSD``; a code longer than 3 letters needs a colon: ``tDOGE:USD``.

        Bitfinex spells USDT ``UST``, USDC ``UDC``, TUSD ``TSD`` and BCH ``BCHN``. Whether the
        pair is listed is Bitfinex's call: an unlisted one is refused with 10300 "symbol:
        invalid", which the session reports on that pair.
        """
        base, quote = (_NATIVE_CODES.get(code, code) for code in split_pair(pair))
        for code in (base, quote):
            if not _NATIVE_CODE.fullmatch(code):
                raise PairError(f"Bitfinex has no symbol for {pair!r}: {code!r} is not a "
                                "currency code of upper-case letters and digits")
        return f"t{base}:{quote}" if len(base) > 3 or len(quote) > 3 else f"t{base}{quote}"

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        """One ``subscribe`` per channel and symbol (ws-public-ticker, ws-public-trades)."""
        return [json.dumps({"event": "subscribe", "channel": channel, "symbol": symbol},
                           separators=(",", ":"))
                for symbol in symbols for channel in CHANNELS]

    def new_session(self, feeds: Mapping[str, str]) -> BitfinexSession:
        return BitfinexSession(feeds)

    def instruments_request(self) -> InstrumentsRequest:
        """The trading pairs of the exchange (ws-general "Symbols")."""
        return InstrumentsRequest("/v2/conf/pub:list:pair:exchange", parse_pair_list)

    def rest_snapshot_requests(self, symbol: str, trades_limit: int) -> list[RestRequest]:
        """The ticker first: it is what refuses a symbol Bitfinex doesn't list (the trades
        endpoint answers such a symbol with an empty list)."""
        return [RestRequest(f"/v2/ticker/{symbol}", parse_rest_ticker),
                RestRequest(f"/v2/trades/{symbol}/hist?limit={trades_limit}", parse_rest_trades)]

    def rest_refusal(self, error: rest.HttpError) -> str | None:
        """Bitfinex answers a symbol it doesn't list with HTTP 500 ``["error",10020,"symbol:
        invalid"]``, which HTTP rules would retry; any other 5xx is an outage, retried."""
        body = error.body
        if isinstance(body, list) and body[:2] == ["error", _REST_BAD_REQUEST]:
            return rest.error_text(error)
        return None


def _is_int(value: Any) -> bool:
    """A JSON integer as ``decode`` gives it; ``type`` because a bool is an int too."""
    return type(value) is int
