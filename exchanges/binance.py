"""Binance Spot and Binance.US combined websocket streams ``<symbol>@bookTicker`` and ``@trade``.

Follows binance/binance-spot-api-docs (web-socket-streams.md, rest-api.md, errors.md, enums.md,
CHANGELOG.md at a5e0bc3, 2026-07-21) and, for Binance.US, binance-us/binance-us-api-docs
(web-socket-streams.md, rest-api.md at 6b62304, documents dated 2023-09-06): the two venues
speak the same protocol, so ``BinanceUS`` is ``Binance`` with its own endpoints and defaults.

Connection: the combined-stream endpoint ``/stream``; "Combined stream events are wrapped as
follows: {"stream":"<streamName>","data":<rawPayload>}", and stream names are lower case
(``btcusdt@bookTicker``). Prices and quantities are JSON strings, read as exact ``Decimal``s,
so frames are decoded by orjson (``decode_fast``) and read again exactly should a number with
a fraction turn up where an exact one belongs. Times are epoch milliseconds.

- ``<symbol>@bookTicker`` "Pushes any update to the best bid or ask's price or quantity in
  real-time": ``{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000",
  "a":"25.36520000","A":"40.66000000"}``. It has no last price and, on spot, no event time:
  it becomes a ``Quote`` at the receive time.
- ``<symbol>@trade``: ``{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001",
  "q":"100","T":1672515782136,"m":true,"M":true}``. ``m`` is "Is the buyer the market maker?",
  so ``m: true`` means the seller took: the TAKER's side is sell (``false``: buy). ``T`` is the
  trade time. ``merges_quotes`` makes each trade the pair's last price, and the listener's
  ``QuoteBook`` publishes a whole ``Ticker`` once bid, ask and last are known.
- ``serverShutdown`` (``{"stream":"!serverShutdown","data":{"e":"serverShutdown",
  "E":1770123456789}}``, added 2026-05): "Please establish a new connection as soon as
  possible": ``ReconnectRequested``.

Subscribing (Live Subscribing/Unsubscribing): ``{"method":"SUBSCRIBE","params":
["btcusdt@bookTicker","btcusdt@trade"],"id":1}``, answered ``{"result":null,"id":1}``; a
request Binance can't read is answered ``{"error":{"code":2,"msg":"Invalid request: invalid
stream"},"id":1}`` (the documented codes 0-3, wrapped so on the wire). A well-formed stream of a
symbol Binance doesn't list is acknowledged all the same and then stays silent, so an ack proves
nothing about a pair and makes no pair live: data does. Such a pair is caught by the REST
instrument check (``exchangeInfo``: "BTC-USD is not listed on binance; did you mean BTC-USDT?")
and, when the list can't be had, by the listener's ack timeout. ``id``: Binance accepts a 64-bit
integer, an alphanumeric string or null; Binance.US documents "an unsigned INT", so ours are
1, 2, 3... per connection, and the session maps each back to the symbols it carried.

Limits (WebSocket Limits, the same on both): "WebSocket connections have a limit of 5 incoming
messages per second" (pings, pongs and JSON control messages count; beyond it the connection is
cut) and "A single connection can listen to a maximum of 1024 streams". So subscribes are paced
3 a second (room for the pong to the server's ping), a connection carries at most 512 pairs
(two streams each; the listener opens more connections beyond), and one SUBSCRIBE names at most
50 streams: about 1 kB; clients saw a 437-stream SUBSCRIBE fail without an answer
(altangent/ccxws issue #161). Binance answers for a whole request, so an error is put on every
pair of that request; ``symbol_for`` only makes well-formed names (``[a-z0-9]+@bookTicker``), and
an unknown symbol is never refused by an error, so one bad pair can't fail the others of its
request.

Keepalive and lifetime: "The WebSocket server will send a ping frame every 20 seconds" (Binance.US:
every 3 minutes) and disconnects without a pong within a minute (Binance.US: 10 minutes);
websocket-client answers protocol pings itself, with the ping's payload, so nothing is sent from
here. There is no application ping to send. "A single connection ... is only valid for 24
hours": the cut is a network fault the listener reconnects from. A connection can also stay
open and go silent; the listener's silence watchdog replaces it.

REST (``/api/v3``; errors are ``{"code":-1121,"msg":"Invalid symbol."}`` with HTTP 400):
``GET /api/v3/exchangeInfo`` (symbols whose ``status`` is TRADING, with ``baseAsset`` and
``quoteAsset``), ``GET /api/v3/ticker/24hr?symbol=BTCUSDT`` (best bid/ask with sizes, last price,
the 24 h rolling window's open, high, low and base volume: a whole ``Ticker``) and
``GET /api/v3/trades?symbol=BTCUSDT&limit=N`` (oldest first, ``isBuyerMaker`` as ``m``, ``id``
the stream's ``t``, so both copies of a trade dedupe).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar

from . import rest
from .base import (
    ExchangeListener,
    Feed,
    InstrumentsRequest,
    JsonSession,
    ReconnectRequested,
    RestRequest,
)
from .pairs import PairError, split_pair
from .parsing import (
    MalformedFrame,
    exact,
    market_time,
    price,
    reads_frame,
    size,
)
from .records import FeedState, Quote, Record, Side, Status, Ticker, Trade, time_from_ms

BOOK_TICKER = "bookTicker"
TRADE = "trade"
STREAMS = (BOOK_TICKER, TRADE)  # the streams each pair subscribes to, in this order
MAX_STREAMS = 1024  # per connection (WebSocket Limits)
STREAMS_PER_REQUEST = 50  # our choice: see the module docstring
PAIRS_PER_REQUEST = STREAMS_PER_REQUEST // len(STREAMS)
SERVER_SHUTDOWN = "serverShutdown"

_CODE = re.compile(r"[A-Z0-9]{2,12}")  # a currency code our pairs can spell (see ``pairs``)
_MS_MAX = 253_402_300_800_000  # 10000-01-01, where datetime's range ends

Parser = Callable[[dict[str, Any], str, Mapping[str, str], datetime], list[Record]]


# Parsers -------------------------------------------------------------------------------------


@reads_frame
def parse_book_ticker(data: dict[str, Any], exchange: str, feeds: Mapping[str, str],
                      received_at: datetime) -> list[Record]:
    """Read a ``<symbol>@bookTicker`` payload (Individual Symbol Book Ticker Streams).

    ``{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000",
    "A":"40.66000000"}``: the order book update id, the symbol, best bid and its quantity, best
    ask and its quantity. No event time: the ``Quote`` gets ``received_at``.
    """
    symbol = data["s"]
    pair = feeds.get(symbol)
    _integer(data["u"], "update id")  # unused, but it says the payload is what we think
    if pair is None:
        return []
    return [Quote(exchange, pair, symbol, received_at, bid=_price(data["b"]),
                  ask=_price(data["a"]), bid_size=size(data["B"], "B"),
                  ask_size=size(data["A"], "A"))]


@reads_frame
def parse_trade(data: dict[str, Any], exchange: str, feeds: Mapping[str, str],
                received_at: datetime) -> list[Record]:
    """Read a ``<symbol>@trade`` payload (Trade Streams).

    ``{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100",
    "T":1672515782136,"m":true,"M":true}``; Binance.US adds ``"b":88,"a":50`` (buyer and seller
    order ids), which Binance removed in 2024. ``m`` true: the buyer was the maker, so the
    taker sold.
    """
    if data["e"] != TRADE:
        raise MalformedFrame(f"a {data['e']!r} event on a trade stream")
    pair = feeds.get(data["s"])
    if pair is None:
        return []
    return [_trade(exchange, pair, data["s"], data["t"], data["p"], data["q"], data["T"],
                   data["m"], received_at)]


@reads_frame
def parse_rest_ticker(body: dict[str, Any], feed: Feed, received_at: datetime, *,
                      exchange: str) -> list[Record]:
    """Read ``GET /api/v3/ticker/24hr?symbol=...`` (24hr ticker price change statistics, FULL).

    ``{"symbol":"BNBBTC","priceChange":"-94.99999800","priceChangePercent":"-95.960",
    "weightedAvgPrice":"0.29628482","prevClosePrice":"0.10002000","lastPrice":"4.00000200",
    "lastQty":"200.00000000","bidPrice":"4.00000000","bidQty":"100.00000000",
    "askPrice":"4.00000200","askQty":"100.00000000","openPrice":"99.00000000",
    "highPrice":"100.00000000","lowPrice":"0.10000000","volume":"8913.30000000",
    "quoteVolume":"15.30000000","openTime":1499783499040,"closeTime":1499869899040,
    "firstId":28385,"lastId":28460,"count":76}``

    The 24 h rolling window ends at ``closeTime``, the ticker's time. ``volume`` is in the base
    asset. A price of zero is what Binance shows where there is none (no bid, no trade in the
    window): it stays unknown, and the answer is then a ``Quote`` the stream completes.
    """
    if body["symbol"] != feed.symbol:
        raise MalformedFrame(f"ticker of {body['symbol']!r} asked for {feed.symbol}")
    bid, ask, last = (_price(body[name]) for name in ("bidPrice", "askPrice", "lastPrice"))
    values = {"bid_size": size(body["bidQty"], "bidQty"),
              "ask_size": size(body["askQty"], "askQty"),
              "volume_24h": size(body["volume"], "volume"), "open_24h": _price(body["openPrice"]),
              "high_24h": _price(body["highPrice"]), "low_24h": _price(body["lowPrice"])}
    time = _time(body["closeTime"], received_at)
    if bid is None or ask is None or last is None:
        return [Quote(exchange, feed.pair, feed.symbol, time, bid, ask, last, **values)]
    return [Ticker(exchange, feed.pair, feed.symbol, time, bid, ask, last, **values)]


@reads_frame
def parse_rest_trades(rows: list[dict[str, Any]], feed: Feed, received_at: datetime, *,
                      exchange: str) -> list[Record]:
    """Read ``GET /api/v3/trades?symbol=...&limit=N`` (Recent trades list), oldest first.

    ``[{"id":28457,"price":"4.00000100","qty":"12.00000000","quoteQty":"48.000012",
    "time":1499865549590,"isBuyerMaker":true,"isBestMatch":true}]``

    "Data is returned in chronological order"; ``isBuyerMaker`` is the stream's ``m``.
    """
    if not isinstance(rows, list):
        raise MalformedFrame(f"trades are not a list: {type(rows).__name__}")
    return [_trade(exchange, feed.pair, feed.symbol, row["id"], row["price"], row["qty"],
                   row["time"], row["isBuyerMaker"], received_at) for row in rows]


@reads_frame
def parse_instruments(body: dict[str, Any]) -> dict[str, str]:
    """Read ``GET /api/v3/exchangeInfo`` (Exchange information) into {symbol: ``BASE-QUOTE``}.

    ``{"timezone":"UTC","serverTime":1565246363776,"rateLimits":[...],"exchangeFilters":[],
    "symbols":[{"symbol":"ETHBTC","status":"TRADING","baseAsset":"ETH",...,"quoteAsset":"BTC",
    ...}]}``

    Only symbols whose ``status`` is TRADING (the others: END_OF_DAY, HALT, BREAK, CANCEL_ONLY),
    and only those whose assets a pair can spell (Binance lists a few one-letter or non-ASCII
    assets, which no configured pair can name).
    """
    listed: dict[str, str] = {}
    for row in body["symbols"]:
        base, quote = row["baseAsset"], row["quoteAsset"]
        if row["status"] == "TRADING" and _CODE.fullmatch(base) and _CODE.fullmatch(quote):
            listed[row["symbol"]] = f"{base}-{quote}"
    return listed


@reads_frame
def refusal(message: dict[str, Any]) -> str:
    """The words of an error answer: ``{"error":{"code":2,"msg":"Invalid request: invalid
    stream"},"id":1}`` -> ``Invalid request: invalid stream (code 2)``. The REST shape
    ``{"code":-1121,"msg":"Invalid symbol.","id":1}`` is read too."""
    error = message.get("error", message)
    code, text = exact(error["code"]), error["msg"]
    if not isinstance(text, str):
        raise MalformedFrame(f"error message is not text: {text!r}")
    return f"{text} (code {code})"


def requests_of(symbols: Sequence[str]) -> list[list[str]]:
    """The symbols each SUBSCRIBE carries, in order: request ``id`` n carries the n-th list."""
    return [list(symbols[start:start + PAIRS_PER_REQUEST])
            for start in range(0, len(symbols), PAIRS_PER_REQUEST)]


def stream_names(symbol: str) -> list[str]:
    """``BTCUSDT`` -> ``["btcusdt@bookTicker", "btcusdt@trade"]`` (stream names are lower case)."""
    return [f"{symbol.lower()}@{stream}" for stream in STREAMS]


# Session and listener ------------------------------------------------------------------------


_STREAM_PARSERS: dict[str, Parser] = {BOOK_TICKER: parse_book_ticker, TRADE: parse_trade}


class BinanceSession(JsonSession):
    """The protocol state of one connection: which symbols each of our requests carried.

    Made by ``Binance.new_session`` on every connect, with the same request ids that
    ``subscribe_frames`` numbers. An ack makes no pair live (Binance acks unknown symbols too);
    the first data does, in the listener. An error answer to a request makes each of its pairs
    an error with Binance's words. Stream data needs no state: its payload names the symbol.
    """

    def __init__(self, exchange: str, feeds: Mapping[str, str]) -> None:
        super().__init__()
        self._exchange = exchange
        self._feeds = dict(feeds)  # symbol we subscribed to (BTCUSDT) -> our pair
        self._requests = dict(enumerate(requests_of(list(self._feeds)), start=1))


    def receive_message(self, message: Any, received_at: datetime) -> list[Record]:
        """Read one decoded frame: stream data by its ``stream``, an answer by its ``id``."""
        if not isinstance(message, dict):
            raise MalformedFrame(f"not an object: {type(message).__name__}")
        stream = message.get("stream")
        if isinstance(stream, str):
            return self._on_stream(stream, message.get("data"), received_at)
        if "id" in message:
            return self._on_answer(message, received_at)
        if message.get("e") == SERVER_SHUTDOWN:  # the raw stream's spelling
            raise ReconnectRequested("serverShutdown: Binance is shutting this server down")
        raise MalformedFrame("neither stream data nor an answer to a request")

    def _on_stream(self, stream: str, data: Any, received_at: datetime) -> list[Record]:
        if not isinstance(data, dict):
            raise MalformedFrame(f"{stream} data is not an object")
        if stream == "!" + SERVER_SHUTDOWN:
            raise ReconnectRequested("serverShutdown: Binance is shutting this server down")
        parser = _STREAM_PARSERS.get(stream.partition("@")[2])
        if parser is None:  # a stream we did not ask for
            return []
        return parser(data, self._exchange, self._feeds, received_at)

    def _on_answer(self, message: dict[str, Any], received_at: datetime) -> list[Record]:
        if "error" not in message and "code" not in message:
            return []  # {"result":null,"id":1}: an ack, or the answer to another request
        reason = refusal(message)
        request_id = message["id"]
        symbols = self._requests.get(request_id) if type(request_id) is int else None
        if not symbols:
            raise MalformedFrame(f"exchange error: {reason}")
        return [Status(self._exchange, self._feeds[symbol], FeedState.ERROR, reason, received_at)
                for symbol in symbols]


class Binance(ExchangeListener):
    """Binance Spot public market data: ``bookTicker`` for the top of book, ``trade``."""

    name = "binance"
    default_url = "wss://stream.binance.com:9443/stream"
    default_rest_url = "https://api.binance.com"
    default_pairs = ("BTC-USDT", "ETH-USDT")  # binance.com lists no USD spot pairs
    channels_per_pair = len(STREAMS)
    max_subscriptions = MAX_STREAMS
    subscribe_interval = 1 / 3  # 5 incoming messages a second, pongs included
    merges_quotes = True
    # Only TRADING symbols, without ``permissionSets`` (long lists per symbol): the answer is a
    # fraction of the whole (``symbolStatus`` and ``showPermissionSets`` are binance.com's).
    instruments_path: ClassVar[str] = (
        "/api/v3/exchangeInfo?symbolStatus=TRADING&showPermissionSets=false")

    def symbol_for(self, pair: str) -> str:
        """``BTC-USDT`` -> ``BTCUSDT``: base and quote asset joined, as ``exchangeInfo`` lists
        them. Whether it is listed is for the instrument check (or the ack timeout) to say."""
        base, quote = split_pair(pair)
        for code in (base, quote):
            if not _CODE.fullmatch(code):
                raise PairError(f"{self.name} has no symbol for {pair!r}: {code!r} is not an "
                                "asset code of upper-case letters and digits")
        return base + quote

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        """One SUBSCRIBE per ``PAIRS_PER_REQUEST`` symbols, ``id`` 1, 2, ... in order."""
        return [json.dumps({"method": "SUBSCRIBE",
                            "params": [name for symbol in batch for name in stream_names(symbol)],
                            "id": number}, separators=(",", ":"))
                for number, batch in enumerate(requests_of(symbols), start=1)]

    def new_session(self, feeds: Mapping[str, str]) -> BinanceSession:
        return BinanceSession(self.name, feeds)

    def rest_snapshot_requests(self, symbol: str, trades_limit: int) -> list[RestRequest]:
        """24hr ticker (a ``Ticker`` with the window's statistics), then the recent trades
        (limit 1..1000)."""
        return [
            RestRequest(f"/api/v3/ticker/24hr?symbol={symbol}",
                        partial(parse_rest_ticker, exchange=self.name)),
            RestRequest(f"/api/v3/trades?symbol={symbol}&limit={min(trades_limit, 1000)}",
                        partial(parse_rest_trades, exchange=self.name)),
        ]

    def instruments_request(self) -> InstrumentsRequest:
        return InstrumentsRequest(self.instruments_path, parse_instruments)

    def rest_refusal(self, error: rest.HttpError) -> str | None:
        """A 4xx (other than 429, "breaking a request rate limit") with Binance's error body is
        a refusal in Binance's words: ``Invalid symbol. (code -1121, HTTP 400)``."""
        body = error.body
        if (error.status >= 500 or error.status == 429 or not isinstance(body, dict)
                or not isinstance(body.get("msg"), str)):
            return None
        return f"{body['msg']} (code {body.get('code')}, HTTP {error.status})"


class BinanceUS(Binance):
    """Binance.US: the same streams and REST API at its own endpoints; it lists USD pairs."""

    name = "binanceus"
    default_url = "wss://stream.binance.us:9443/stream"
    default_rest_url = "https://api.binance.us"
    default_pairs = None  # BTC-USD and ETH-USD are listed: the dashboard's defaults apply
    # The Binance.US exchangeInfo documents neither ``symbolStatus`` nor ``showPermissionSets``.
    instruments_path = "/api/v3/exchangeInfo"


def _trade(exchange: str, pair: str, symbol: str, trade_id: Any, trade_price: Any,
           quantity: Any, ms: Any, buyer_is_maker: Any, received_at: datetime) -> Trade:
    """The trade a stream payload or a REST row reports; ``buyer_is_maker`` is ``m``."""
    if type(buyer_is_maker) is not bool:
        raise MalformedFrame(f"'buyer is maker' is not a boolean: {buyer_is_maker!r}")
    return Trade(exchange, pair, symbol, _time(ms, received_at),
                 str(_integer(trade_id, "trade id")), price(trade_price),
                 price(quantity, "trade quantity"), Side.SELL if buyer_is_maker else Side.BUY)


def _integer(value: Any, what: str) -> int:
    """A JSON integer; a float is orjson's reading of one beyond 64 bits: read it again."""
    if type(value) is not int:
        exact(value)
        raise MalformedFrame(f"not a {what}: {value!r}")
    return value


def _time(ms: Any, received_at: datetime) -> datetime:
    """Epoch milliseconds (an integer) as a UTC time, within the window of a sane clock."""
    if not 0 <= _integer(ms, "time in ms") < _MS_MAX:
        raise MalformedFrame(f"time out of range: {ms}")
    return market_time(time_from_ms(ms), ms, received_at)


def _price(value: Any) -> Decimal | None:
    """A price of the book or of REST; zero, Binance's "none", is None."""
    number = size(value, "price")
    return number if number else None
