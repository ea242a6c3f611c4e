"""OKX API v5 public websocket, channels ``tickers`` and ``trades`` (www.okx.com/docs-v5).

Follows the docs' sections Overview > WebSocket (Connect, Subscribe, Notification), Order Book
Trading > Market Data (WS / Tickers channel, WS / Trades channel, GET / Ticker, GET / Trades),
Public Data (Get instruments) and Error Code > WebSocket > Public. Frames are JSON objects; an
``event`` object answers a request or announces something, a channel push is
``{"arg":{"channel":..,"instId":..},"data":[...]}``. Prices and sizes are JSON strings, read as
exact ``Decimal``s (orjson first, the exact decoder where a float turns up: see coinbase.py);
``ts`` is epoch milliseconds as a string.

- ``tickers`` (at most every 100 ms, on a trade or a change of best bid/ask) carries
  ``bidPx``/``askPx``/``last`` with their sizes and the 24 h ``open24h``/``high24h``/``low24h``/
  ``vol24h`` (base currency for spot): a complete ``Ticker`` on its own, so the listener does not
  merge quotes. A ticker with an empty ``bidPx``, ``askPx`` or ``last`` (an empty book side, an
  instrument that has not traded) becomes a ``Quote`` of what it does say.
- ``trades``: ``side`` is the TAKER's ("Trade side of taker"). One push per taker order, price
  and source; ``tradeId`` is the last trade id of that aggregation and ``count`` how many fills
  it holds, so the amount is the aggregated one. (``GET /market/trades`` lists the fills one by
  one, ids included, so a snapshot's trade may share its id with a pushed aggregate; the first
  copy shown wins, as for any trade the listener sees twice.)

One subscribe request per pair, carrying its ``tickers`` and ``trades`` args and an ``id``
(``BTCxUSDT`` for ``BTC-USDT``: alphanumeric, at most 32, as the docs ask) that OKX echoes in its
answers. OKX acks every arg on its own (``{"event":"subscribe","arg":{...},"connId":..}``); a pair
is ``live`` once both of its args are acked. An unknown instrument is refused with error 60018,
"Wrong URL or {0} doesn't exist. Please use the correct URL, channel and parameters referring to
API document.", whose ``{0}`` is ``channel:tickers,instId:FOO-USDT``; wire captures show the msg
also as "Subscribe failed, wrong URL or channel:...,instId:... doesn't exist..." and, in 2023, as
"channel:tickers,instId:LTC-USD doesn't exist". The refusal goes to the pair of the request ``id``
it echoes, else to the ``instId`` its msg names; one that names no pair of ours is shown on the
connection. 60014 "Requests too frequent" and 64007 (internal error, "try again later") refuse
nothing for good: the session asks for a new connection instead. The docs do not say whether one
bad arg fails the other args of its request (third-party reports say it does not); one request
per pair makes that moot.

Keepalive: "The connection will break automatically if the subscription is not established or
data has not been pushed for more than 30 seconds"; the client is to send the literal text
``ping`` when nothing came for N < 30 s and expect the literal text ``pong``. A quiet pair is the
one that dies, so the listener sends ``ping`` every 20 s whatever the traffic: the answer then
reaches OKX's 30 s limit with 10 s to spare for the listener's one-second timer and the round
trip, and it keeps the listener's own 30 s silence watchdog fed on a connection of quiet pairs.

Maintenance: ``{"event":"notice","code":"64008","msg":"The connection will soon be closed for a
service upgrade. Please reconnect."}`` comes 60 s before a service upgrade cuts the connection;
the session asks the listener to reconnect at once (``ReconnectRequested``).

Limits (Connect): 3 connection requests per second per IP (the base class starts connections
one second apart); 480 subscribe/unsubscribe/login requests per connection per hour: each pair
costs one request on its connection, so a connection carries at most 480 pairs; the args of one
request may total 64 KB, far above the two args of ours. No per-second rate for subscribe
requests is documented, but error 60014 "Requests too frequent" exists: requests are sent 20 a
second.

REST (``https://www.okx.com``): ``GET /api/v5/public/instruments?instType=SPOT`` lists the spot
instruments (``state`` ``live`` trades), ``GET /api/v5/market/ticker?instId=..`` answers the
channel's ticker and ``GET /api/v5/market/trades?instId=..&limit=N`` (at most 500) the recent
fills, newest first. Every answer is ``{"code":"0","msg":"","data":[...]}``; an unknown
instrument is HTTP 200 with ``{"code":"51001","msg":"Instrument ID, Instrument ID code, or Spread
ID doesn't exist.","data":[]}``.

Global OKX lists no USD spot market: its default pairs are BTC-USDT and ETH-USDT. (The US and
EEA stacks, ``wsus``/``wseea.okx.com``, list USD and EUR pairs: point ``OKX_WS_URL`` there.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from . import rest
from .base import (
    ExchangeListener,
    Feed,
    InstrumentsRequest,
    JsonSession,
    ReconnectRequested,
    RestRequest,
)
from .pairs import PairError
from .parsing import (
    MalformedFrame,
    market_time,
    price,
    reads_frame,
    size,
)
from .records import FeedState, Quote, Record, Side, Status, Ticker, Trade, time_from_ms

NAME = "okx"
CHANNELS = ("tickers", "trades")
MAX_REQUESTS_PER_CONNECTION = 480  # subscribe/unsubscribe/login requests per connection per hour
REST_TRADES_LIMIT = 500  # GET /market/trades: "The maximum is 500"
SERVICE_UPGRADE = "64008"  # notice: "The connection will soon be closed for a service upgrade"

_INST_ID = re.compile(r"[A-Z0-9]+-[A-Z0-9]+")
# "...channel:tickers,instId:FOO-USDT doesn't exist..." (every wording of error 60018)
_NAMED_CHANNEL = re.compile(r"\bchannel:([^,\s]+)")
_NAMED_INST_ID = re.compile(r"\binstId:([^,\s]+)")
_MILLIS = re.compile(r"[0-9]{1,16}")
_SIDE = {"buy": Side.BUY, "sell": Side.SELL}  # "Trade side of taker"
_REQUEST_ID_MAX = 32  # "alphanumerics ... of up to 32 characters"
# websocket errors that mean "not now" (60014 "Requests too frequent", 64007 "Operation {0}
# failed due to WebSocket internal error. Please try again later."): not a refusal of the pair
_WS_TRY_LATER = {"60014", "64007"}
# REST codes that mean "busy, try later" (Error Code > REST API > Public): not a refusal
_REST_BUSY = {"50001", "50004", "50011", "50013", "50026"}
# ticker fields: (record field, OKX field); bid, ask and last make it complete
_TICKER_FIELDS = (("bid", "bidPx"), ("ask", "askPx"), ("last", "last"), ("bid_size", "bidSz"),
                  ("ask_size", "askSz"), ("volume_24h", "vol24h"), ("open_24h", "open24h"),
                  ("high_24h", "high24h"), ("low_24h", "low24h"))
_REQUIRED = ("bid", "ask", "last")
_PRICES = ("bid", "ask", "last", "open_24h", "high_24h", "low_24h")

Parser = Callable[[dict[str, Any], Mapping[str, str], datetime], list[Record]]


# Parsers -------------------------------------------------------------------------------------


@reads_frame
def parse_tickers(message: dict[str, Any], feeds: Mapping[str, str],
                  received_at: datetime) -> list[Record]:
    """Read a ``tickers`` push (WS / Tickers channel): one ticker per element of ``data``.

    ``{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":
    "BTC-USDT","last":"9999.99","lastSz":"0.1","askPx":"9999.99","askSz":"11","bidPx":"8888.88",
    "bidSz":"5","open24h":"9000","high24h":"10000","low24h":"8888.88","volCcy24h":"2222",
    "vol24h":"2222","sodUtc0":"2222","sodUtc8":"2222","ts":"1597026383085"}]}``
    """
    symbol = message["arg"]["instId"]
    pair = feeds.get(symbol)
    if pair is None:
        return []
    return [ticker_from(item, pair, symbol, received_at) for item in _list(message["data"])]


@reads_frame
def parse_trades(message: dict[str, Any], feeds: Mapping[str, str],
                 received_at: datetime) -> list[Record]:
    """Read a ``trades`` push (WS / Trades channel); ``side`` is the taker's.

    ``{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":
    "130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897","count":"3",
    "source":"0","seqId":1234}]}``
    """
    symbol = message["arg"]["instId"]
    pair = feeds.get(symbol)
    if pair is None:
        return []
    return [trade_from(item, pair, symbol, received_at) for item in _list(message["data"])]


@reads_frame
def ticker_from(item: Mapping[str, Any], pair: str, symbol: str,
                received_at: datetime) -> Ticker | Quote:
    """One ticker object of a push or of ``GET /market/ticker``, at its ``ts``.

    ``bidPx``, ``askPx`` and ``last`` must be there; an empty one (no bid, no ask, no trade yet,
    or a price of 0) makes the result a ``Quote`` of the fields that are not. Sizes and 24 h
    fields are optional.
    """
    values = {name: _price_or_size(item[key] if name in _REQUIRED else item.get(key), name)
              for name, key in _TICKER_FIELDS}
    time = _ms_time(item["ts"], received_at)
    if values["bid"] is None or values["ask"] is None or values["last"] is None:
        return Quote(NAME, pair, symbol, time, **values)
    return Ticker(NAME, pair, symbol, time, **values)


@reads_frame
def trade_from(item: Mapping[str, Any], pair: str, symbol: str, received_at: datetime) -> Trade:
    """One trade object of a push or of ``GET /market/trades``: ``tradeId``, ``px``, ``sz``,
    ``side`` (the taker's) and ``ts``; price and size positive."""
    trade_id = item["tradeId"]
    if not ((type(trade_id) is str and trade_id) or type(trade_id) is int):
        raise MalformedFrame(f"not a trade id: {trade_id!r}")
    trade_price, amount = price(item["px"], "trade price"), price(item["sz"], "trade size")
    return Trade(NAME, pair, symbol, _ms_time(item["ts"], received_at), str(trade_id),
                 trade_price, amount, _SIDE[item["side"]])


@reads_frame
def acked_arg(message: dict[str, Any]) -> tuple[str, str | None]:
    """(channel, instId) of a subscribe ack: ``{"id":"1512","event":"subscribe","arg":
    {"channel":"tickers","instId":"BTC-USDT"},"connId":"a4d3ae55"}``."""
    arg = message["arg"]
    channel, inst_id = arg["channel"], arg.get("instId")
    if not isinstance(channel, str) or not (inst_id is None or isinstance(inst_id, str)):
        raise MalformedFrame(f"not a subscribed channel: {arg!r}")
    return channel, inst_id


@reads_frame
def error_detail(message: dict[str, Any]) -> str:
    """``"<msg> (code <code>)"`` of an ``error`` event: the exchange's own words.

    ``{"event":"error","code":"60018","msg":"Wrong URL or channel:tickers,instId:FOO-USDT doesn't
    exist. Please use the correct URL, channel and parameters referring to API document.",
    "connId":"a4d3ae55"}``
    """
    code, text = message["code"], message.get("msg") or ""
    if not isinstance(code, str | int) or isinstance(code, bool) or not isinstance(text, str):
        raise MalformedFrame(f"not an error event: {message!r}")
    return f"{text} (code {code})" if text else f"code {code}"


def named_inst_id(message: Mapping[str, Any]) -> str | None:
    """The ``instId`` an error's msg names (``...channel:tickers,instId:FOO-USDT doesn't
    exist...``), or None; None too when it names a channel other than ours (the error is then
    about no subscription of ours)."""
    text = message.get("msg")
    if not isinstance(text, str):
        return None
    channel, inst_id = _NAMED_CHANNEL.search(text), _NAMED_INST_ID.search(text)
    if inst_id is None or (channel is not None and channel.group(1) not in CHANNELS):
        return None
    return inst_id.group(1)


@reads_frame
def parse_notice(message: dict[str, Any]) -> list[Record]:
    """Read a ``notice`` event (Overview > WebSocket > Notification); 64008 asks for a reconnect.

    ``{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service
    upgrade. Please reconnect.","connId":"a4d3ae55"}``, 60 s before the connection is cut.
    Raises ``ReconnectRequested`` for it; another notice is only news.
    """
    if str(message["code"]) == SERVICE_UPGRADE:
        text = " ".join(str(message.get("msg") or "service upgrade").split())
        raise ReconnectRequested(f"OKX asked for a reconnect (notice 64008: {text})")
    return []


@reads_frame
def parse_rest_ticker(body: Any, feed: Feed, received_at: datetime) -> list[Record]:
    """Read ``GET /api/v5/market/ticker?instId=..`` (GET / Ticker): the channel's ticker.

    ``{"code":"0","msg":"","data":[{"instType":"SWAP","instId":"BTC-USD-SWAP","last":"9999.99",
    ...,"ts":"1597026383085"}]}``
    """
    items = _rest_data(body)
    if not items:
        raise MalformedFrame("the ticker answer holds no ticker")
    item = items[0]
    if item["instId"] != feed.symbol:
        raise MalformedFrame(f"ticker of {item['instId']!r}, not of {feed.symbol!r}")
    return [ticker_from(item, feed.pair, feed.symbol, received_at)]


@reads_frame
def parse_rest_trades(body: Any, feed: Feed, received_at: datetime) -> list[Record]:
    """Read ``GET /api/v5/market/trades?instId=..&limit=N`` (GET / Trades), returned oldest first.

    ``{"code":"0","msg":"","data":[{"instId":"BTC-USDT","side":"sell","sz":"0.00001","source":
    "0","px":"29963.2","tradeId":"242720720","ts":"1654161646974"},...]}``, newest first on the
    wire; ``side`` is the taker's, as in the channel.
    """
    return [trade_from(item, feed.pair, feed.symbol, received_at)
            for item in reversed(_rest_data(body))]


@reads_frame
def parse_instruments(body: Any) -> dict[str, str]:
    """Read ``GET /api/v5/public/instruments?instType=SPOT`` (Get instruments) into
    {instId: pair} of the spot instruments whose ``state`` is ``live``.

    ``{"code":"0","msg":"","data":[{"baseCcy":"BTC","instId":"BTC-USDT","instType":"SPOT",
    "quoteCcy":"USDT","state":"live",...}]}``; other states are ``suspend``, ``preopen``,
    ``test`` (can't be traded), ``rebase``, ``post_only``, ``settling``.
    """
    listed: dict[str, str] = {}
    for item in _rest_data(body):
        if item["instType"] != "SPOT" or item["state"] != "live":
            continue
        base, quote = str(item["baseCcy"]).upper(), str(item["quoteCcy"]).upper()
        if base and quote:
            listed[item["instId"]] = f"{base}-{quote}"
    return listed


def request_id(symbol: str) -> str | None:
    """The ``id`` of a pair's subscribe request: its instId with ``x`` for ``-`` (``BTCxUSDT``).

    instIds are upper case, so the lower-case ``x`` can't be mistaken for a letter of one and the
    id names exactly one instId. None where the docs' rule (alphanumerics, at most 32) forbids.
    """
    text = symbol.replace("-", "x")
    return text if text.isascii() and text.isalnum() and len(text) <= _REQUEST_ID_MAX else None


def _rest_data(body: Any) -> list[Any]:
    """``data`` of a REST answer whose ``code`` is ``"0"``.

    A non-zero code in an HTTP 200 answer is a refusal (51001, instrument unknown), raised as
    ``rest.Refused``; the busy codes (50011 rate limit, 50013 systems busy, ...) are download
    failures, raised as ``rest.DownloadFailed``.
    """
    if not isinstance(body, dict):
        raise MalformedFrame(f"not an OKX answer: {type(body).__name__}")
    code, data = body["code"], body["data"]
    if str(code) != "0":
        text = " ".join(str(body.get("msg") or "refused").split())
        reason = f"{text} (code {code})"
        raise rest.DownloadFailed(reason) if str(code) in _REST_BUSY else rest.Refused(reason)
    return _list(data)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedFrame(f"not a list: {type(value).__name__}")
    return value


def _price_or_size(value: Any, name: str) -> Decimal | None:
    """A ticker field: None where OKX sends ``""`` (or null, or nothing), and for a price of 0
    (no such price); a negative or absurd number is malformed (``size``'s checks)."""
    if value is None or value == "":
        return None
    number = size(value, name)
    return None if not number and name in _PRICES else number


def _ms_time(value: Any, received_at: datetime) -> datetime:
    """``ts``: epoch milliseconds, a string of digits (an integer is accepted too), between
    the first bitcoin block and a day after the frame came."""
    if not ((type(value) is str and _MILLIS.fullmatch(value)) or type(value) is int):
        raise MalformedFrame(f"not a time in ms: {value!r}")
    return market_time(time_from_ms(int(value)), value, received_at)


_CHANNEL_PARSERS: dict[str, Parser] = {"tickers": parse_tickers, "trades": parse_trades}


# Session and listener ------------------------------------------------------------------------


class OkxSession(JsonSession):
    """The protocol state of one connection: which args of which pair OKX has acked or refused.

    Made by ``Okx.new_session`` on every connect. ``pong`` (the answer to the listener's
    ``ping``) and events that change nothing yield nothing; an event we don't know is ignored
    too, since OKX adds events (``channel-conn-count`` came that way).
    """

    def __init__(self, feeds: Mapping[str, str]) -> None:
        super().__init__()
        self._feeds = dict(feeds)  # instId we subscribed to -> our pair
        ids = [(request_id(symbol), symbol) for symbol in self._feeds]
        counts: dict[str | None, int] = {}
        for key, _ in ids:
            counts[key] = counts.get(key, 0) + 1
        # request id -> instId, for the ids that name one instId
        self._requests = {key: symbol for key, symbol in ids
                          if key is not None and counts[key] == 1}
        self._acked: dict[str, set[str]] = {}  # instId -> its channels acked so far
        self._live: set[str] = set()  # instIds reported live
        self._refused: set[str] = set()  # instIds reported refused

    def receive(self, frame: str, received_at: datetime) -> list[Record]:
        """Read one frame: the text ``pong``, or JSON (``JsonSession.receive``)."""
        if frame == "pong":
            return []
        return super().receive(frame, received_at)

    def receive_message(self, message: Any, received_at: datetime) -> list[Record]:
        """Read one decoded frame: an event, or a channel push."""
        if not isinstance(message, dict):
            raise MalformedFrame(f"not an object: {type(message).__name__}")
        event = message.get("event")
        if event is not None:
            return self._on_event(event, message, received_at)
        arg = message.get("arg")
        if not isinstance(arg, dict) or "data" not in message:
            raise MalformedFrame("neither an event nor a channel push")
        channel = arg.get("channel")
        parser = _CHANNEL_PARSERS.get(channel) if isinstance(channel, str) else None
        return [] if parser is None else parser(message, self._feeds, received_at)

    def _on_event(self, event: Any, message: dict[str, Any],
                  received_at: datetime) -> list[Record]:
        if event == "subscribe":
            return self._on_ack(message, received_at)
        if event == "error":
            return self._on_error(message, received_at)
        if event == "notice":
            return parse_notice(message)
        if not isinstance(event, str):
            raise MalformedFrame(f"not an event name: {event!r}")
        return []  # unsubscribe, login, channel-conn-count(-error), and events OKX may add

    def _on_ack(self, message: dict[str, Any], received_at: datetime) -> list[Record]:
        channel, symbol = acked_arg(message)
        if symbol not in self._feeds or channel not in CHANNELS:
            return []
        acked = self._acked.setdefault(symbol, set())
        acked.add(channel)
        if len(acked) < len(CHANNELS) or symbol in self._live or symbol in self._refused:
            return []
        self._live.add(symbol)
        return [Status(NAME, self._feeds[symbol], FeedState.LIVE,
                       f"subscribed to {' and '.join(CHANNELS)}", received_at)]

    def _on_error(self, message: dict[str, Any], received_at: datetime) -> list[Record]:
        detail = error_detail(message)
        if str(message["code"]) in _WS_TRY_LATER:  # a pair refused for now: ask again anew
            raise ReconnectRequested(f"OKX: {detail}; subscribing again on a new connection")
        key = message.get("id")
        symbol = self._requests.get(key) if isinstance(key, str) else None
        if symbol is None:
            named = named_inst_id(message)
            symbol = named if named in self._feeds else None
        if symbol is None:
            return [Status(NAME, None, FeedState.ERROR, detail, received_at)]
        if symbol in self._refused:
            return []  # its other arg's refusal: said once
        self._refused.add(symbol)
        return [Status(NAME, self._feeds[symbol], FeedState.ERROR, detail, received_at)]


class Okx(ExchangeListener):
    """OKX public market data: ``tickers`` (top of book, last, 24 h) and ``trades``."""

    name = NAME
    default_url = "wss://ws.okx.com:8443/ws/v5/public"
    default_rest_url = "https://www.okx.com"
    default_pairs = ("BTC-USDT", "ETH-USDT")  # global OKX lists no USD spot market
    channels_per_pair = len(CHANNELS)
    # one subscribe request per pair, 480 requests per connection per hour
    max_subscriptions = MAX_REQUESTS_PER_CONNECTION * len(CHANNELS)
    subscribe_interval = 1 / 20
    ping_interval = 20.0  # < 30 s: see the module docstring
    merges_quotes = False  # ``tickers`` has bid, ask and last together

    def symbol_for(self, pair: str) -> str:
        """``BTC-USDT`` is OKX's spot instId already; whether it is listed is OKX's call (an
        unlisted one is refused with 60018, reported on that pair)."""
        if not _INST_ID.fullmatch(pair):
            raise PairError(f"OKX has no spot instId for {pair!r}: expected BASE-QUOTE in "
                            "upper-case letters and digits")
        return pair

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        """One request per pair: ``{"id":"BTCxUSDT","op":"subscribe","args":[{"channel":
        "tickers","instId":"BTC-USDT"},{"channel":"trades","instId":"BTC-USDT"}]}``."""
        frames = []
        for symbol in symbols:
            request: dict[str, Any] = {"op": "subscribe",
                                       "args": [{"channel": channel, "instId": symbol}
                                                for channel in CHANNELS]}
            key = request_id(symbol)
            if key is not None:
                request = {"id": key, **request}
            frames.append(json.dumps(request, separators=(",", ":")))
        return frames

    def new_session(self, feeds: Mapping[str, str]) -> OkxSession:
        return OkxSession(feeds)

    def ping_frame(self) -> str:
        """The literal text ``ping``, not JSON (Overview > WebSocket > Connect)."""
        return "ping"

    def rest_snapshot_requests(self, symbol: str, trades_limit: int) -> list[RestRequest]:
        """GET / Ticker, then GET / Trades (at most 500)."""
        limit = max(1, min(trades_limit, REST_TRADES_LIMIT))
        return [RestRequest(f"/api/v5/market/ticker?instId={symbol}", parse_rest_ticker),
                RestRequest(f"/api/v5/market/trades?instId={symbol}&limit={limit}",
                            parse_rest_trades)]

    def instruments_request(self) -> InstrumentsRequest:
        """Get instruments, spot: the pairs whose ``state`` is ``live``."""
        return InstrumentsRequest("/api/v5/public/instruments?instType=SPOT", parse_instruments)

    def rest_refusal(self, error: rest.HttpError) -> str | None:
        """A 4xx (not 429) answer in OKX's shape, ``{"code":"50014","msg":"Parameter instId can
        not be empty.","data":[]}``, said in OKX's words; anything else as HTTP decides."""
        body = error.body
        if error.status >= 500 or error.status == 429 or not isinstance(body, dict):
            return None
        if "code" not in body or not isinstance(body.get("msg"), str):
            return None
        text = " ".join(body["msg"].split()) or "refused"
        return f"{text} (code {body['code']}, HTTP {error.status})"
