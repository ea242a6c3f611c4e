"""Gemini WebSocket API at ``wss://ws.gemini.com``: ``{symbol}@bookTicker`` and ``{symbol}@trade``.

Follows developer.gemini.com (websocket/introduction, websocket/streams, websocket/message-format)
and Gemini's machine-readable contract of the same API, the AsyncAPI spec 0.10.7
``specs/asyncapi/websocket.yaml`` in github.com/gemini/developer-platform. The older Market Data
v1 and v2 sockets (``wss://api.gemini.com/v1|v2/marketdata``) are marked archived there and are
not used.

The API is Binance-style: requests and replies share an ``id``; market data comes as bare
stream events. Every frame is a JSON object; prices and sizes are JSON strings, read as exact
``Decimal``s, and may be zero-padded (``"77401.500"``: kept as sent); ``E`` is the event time in
NANOseconds, a JSON integer above 2**53 that orjson reads exactly (64 bits), truncated to the
microsecond a ``datetime`` holds.

- Subscribe: ``{"id":1,"method":"subscribe","params":["btcusd@bookTicker","btcusd@trade"]}``,
  answered ``{"id":1,"status":200}``. A frame naming any stream Gemini doesn't know is refused
  whole: ``{"id":4,"status":400,"error":{"code":-1013,"msg":"Invalid stream name: ..."}}``.
  So there is one subscribe per pair, carrying that pair's two streams (they stand or fall
  together), with the id n for the connection's n-th symbol: ``subscribe_frames`` and the
  session number the same list of symbols alike, and the refusal names the stream anyway.
- ``{symbol}@bookTicker`` (``{"u":..,"E":..,"s":"btcusd","b":..,"B":..,"a":..,"A":..}``, with
  ``c``/``C``, the last trade's price and size, "once the book has traded") becomes a ``Quote``;
  ``{symbol}@trade`` (``{"E":..,"s":..,"t":..,"p":..,"q":..,"m":..}``) a ``Trade``. There is no
  ticker channel, so ``merges_quotes``: the listener's ``QuoteBook`` joins the two.
- ``m`` is "whether the buyer is the maker": ``true`` means the taker sold.
- An empty bid (``"b":""``) was seen in production (a 347-symbol subscribe, dp_exchange_webull
  changelog): a side sent empty, or at a price of zero, is unknown (``None``), not an error.
- What no market sends is malformed: a negative price or size, a number beyond 1e-30 .. 1e30
  or of more than 40 digits, a time before the first bitcoin block or a day after receipt.

Keepalive: the server sends protocol pings (every 20 s in a 2026-09 probe), which
websocket-client answers inside ``recv``, so they never reach the listener's silence watchdog;
and a bookTicker only comes when the top of book changes, a trade when one happens: a quiet
symbol can be silent for longer than ``FEED_TIMEOUT`` (probes saw 28 s on a quiet book). So
the listener pings: ``{"id":N,"method":"ping"}`` (the documented ``ping`` method), answered
``{"id":N,"status":200}``, every 10 s, or a third of ``FEED_TIMEOUT`` when that is shorter,
so a healthy but quiet connection always speaks well within the watchdog's window. Ping ids
start at 1,000,000, apart from the subscribes' ids.

Limits: none per message is published; ``conninfo`` reports a request weight of 7,000 per 10 s
and 300 connection attempts per 5 minutes (probed 2026-09). Subscribes are paced at 10 a second
to stay far below any of them. A reply ``-1003`` (rate limit, HTTP 429) or ``-1000`` (internal
error) to a subscribe is not a refusal of the pair: the session sends that subscribe again
after a backoff. No stream limit per connection is published; 347 symbols on one connection
were delivered in production (the same changelog), so one connection carries every pair.

REST (``https://api.gemini.com``): the public limit is "120 requests per minute", and Gemini
"recommend[s] that you do not exceed 1 request per second"; five more are queued, then HTTP
429. The listener's REST calls are few and made once per start, never on a reconnect: ONE
``GET /v1/symbols`` for the instrument check (there is no bulk ``symbols/details`` call, and a
details call per symbol would be ~350), then two per pair, ``GET /v1/pubticker/{symbol}``
(bid, ask, last, 24 h volume) and ``GET /v1/trades/{symbol}?limit_trades=N``; ``/v2/ticker``
(open/high/low, no volume) would be a third per pair and is not used. So a start costs 1 + 2 x
pairs calls: 5 with the default pairs, within even the burst allowance, and the base class
paces them one a second (``rest_interval``), the rate Gemini recommends. ``/v1/symbols`` carries
no status: a listed symbol whose book is closed is caught by the acknowledgement timeout. An
unknown symbol gets HTTP 400 ``{"result":"error","reason":"Bad Request","message":"Supplied
value '...' is not a valid symbol"}``: a refusal.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from .base import (
    ExchangeListener,
    Feed,
    InstrumentsRequest,
    JsonSession,
    Publish,
    RestRequest,
)
from .pairs import PairError, split_pair
from .parsing import (
    MalformedFrame,
    exact,
    market_number,
    market_time,
    reads_frame,
)
from .records import (
    FeedState,
    Quote,
    Record,
    Side,
    Status,
    Ticker,
    Trade,
    time_from_ms,
    time_from_ns,
)

NAME = "gemini"
STREAMS = ("bookTicker", "trade")
PING_INTERVAL = 10.0  # seconds, at most; see the module docstring
PING_FIRST_ID = 1_000_000  # keepalive ids count up from here, apart from the subscribes' 1..n
OK = 200
# reply codes that say "not now" rather than "no such stream": the subscribe is sent again
_RETRIED_CODES = {-1000, -1003}  # internal error, rate limit exceeded (message-format.md)
_RETRY_FIRST = timedelta(seconds=2)
_RETRY_CAP = timedelta(seconds=60)

_CODE = re.compile(r"[A-Z0-9]+")
# a stream name in an error's text: "Invalid stream name: btcxyz@bookTicker" -> btcxyz
_NAMED_STREAM = re.compile(r"([A-Za-z0-9]+)@[A-Za-z0-9@]+")
# Gemini's quote currencies, as they end its symbols (GET /v1/symbols, 2021 and 2026 lists)
_QUOTES = ("gusd", "usdt", "usdc", "usd", "eur", "gbp", "sgd", "btc", "eth", "dai", "bch",
           "ltc", "fil")  # fmt: skip
_PERPETUAL = "perp"  # perpetual swaps end in "perp" (btcgusdperp): not spot pairs
_SIDE = {"buy": Side.BUY, "sell": Side.SELL}  # REST trade ``type``: the taker's side


# Parsers -------------------------------------------------------------------------------------


@reads_frame
def parse_book_ticker(message: dict[str, Any], feeds: Mapping[str, str],
                      received_at: datetime) -> list[Record]:
    """Read a ``{symbol}@bookTicker`` event (Stream Reference, Book Ticker) into a ``Quote``.

    ``{"u":1751505576085,"E":1751508438600117161,"s":"btcusd","b":"45000.50","B":"1.25000000",
    "a":"45001.00","A":"0.75000000"}``

    ``c`` and ``C`` (the last trade's price and size, "present once the book has traded",
    AsyncAPI BookTicker) give the last price too. A side sent empty or at a price of zero is
    unknown: the ``QuoteBook`` keeps what it knew of it.
    """
    found = _our_symbol(message["s"], feeds)
    if found is None:
        return []
    symbol, pair = found
    bid, bid_size = _side(message["b"], message["B"])
    ask, ask_size = _side(message["a"], message["A"])
    return [Quote(NAME, pair, symbol, _event_time(message["E"], received_at), bid=bid, ask=ask,
                  last=_price(message.get("c")), bid_size=bid_size, ask_size=ask_size)]


@reads_frame
def parse_trade(message: dict[str, Any], feeds: Mapping[str, str],
                received_at: datetime) -> list[Record]:
    """Read a ``{symbol}@trade`` event (Stream Reference, Trade Stream; AsyncAPI Trade).

    ``{"E":1751508438600117161,"s":"btcusd","t":2840140800042677,"p":"45001.00",
    "q":"0.00121425","m":false}``

    ``m``, "whether the buyer is the maker": ``false`` means the buyer took, a taker buy.
    """
    found = _our_symbol(message["s"], feeds)
    if found is None:
        return []
    symbol, pair = found
    buyer_is_maker = message["m"]
    if type(buyer_is_maker) is not bool:
        raise MalformedFrame(f"'m' is not a boolean: {buyer_is_maker!r}")
    side = Side.SELL if buyer_is_maker else Side.BUY
    return [_trade(pair, symbol, _event_time(message["E"], received_at), message["t"],
                   message["p"], message["q"], side)]


@reads_frame
def parse_reply(message: dict[str, Any]) -> tuple[str | None, int, tuple[int, str] | None]:
    """Read a reply to a request (Message Format): (id as text, status, (code, msg) or None).

    ``{"id":1,"status":200}``;
    ``{"id":4,"status":400,"error":{"code":-1013,"msg":"Invalid stream name: nosuchperp@depth"}}``

    The id comes back as it was sent, a number or a string; ``"1"`` and ``1`` are the same id.
    """
    status = message["status"]
    if type(status) is not int:
        raise MalformedFrame(f"'status' is not an integer: {status!r}")
    request = exact(message.get("id"))
    request_id = None if request is None or type(request) is bool else str(request)
    if status == OK:
        return request_id, status, None
    error = message["error"]
    code, text = error["code"], error["msg"]
    if type(code) is not int or not isinstance(text, str):
        raise MalformedFrame(f"not an error code and message: {error!r}")
    return request_id, status, (code, text)


def named_symbol(text: str) -> str | None:
    """The symbol of the first stream an error's text names, lower-case, or None.

    ``"Invalid stream name: BTCXYZ@bookTicker"`` -> ``"btcxyz"``.
    """
    match = _NAMED_STREAM.search(text)
    return match.group(1).lower() if match else None


@reads_frame
def parse_rest_ticker(body: dict[str, Any], feed: Feed, received_at: datetime) -> list[Record]:
    """Read ``GET /v1/pubticker/{symbol}`` (REST Market Data, Get Ticker).

    ``{"bid":"977.59","ask":"977.35","last":"977.65","volume":{"BTC":"2210.505328803",
    "USD":"2135477.463379586263","timestamp":1483018200000}}``

    ``volume`` holds the 24 h volume under each currency's code: the base's is ``volume_24h``.
    Its ``timestamp`` (ms) is "the end of the 24-hour period over which volume was measured":
    the ticker's time. A side missing or empty gives a ``Quote`` instead of a ``Ticker``.
    """
    volume = body["volume"]
    base = split_pair(feed.pair)[0]
    stamp = volume.get("timestamp")
    moment = received_at if stamp is None else _ms_time(stamp, received_at)
    values = {"bid": _price(body.get("bid")), "ask": _price(body.get("ask")),
              "last": _price(body.get("last")), "volume_24h": _size(volume.get(base))}
    if values["bid"] is None or values["ask"] is None or values["last"] is None:
        return [Quote(NAME, feed.pair, feed.symbol, moment, **values)]
    return [Ticker(NAME, feed.pair, feed.symbol, moment, **values)]


@reads_frame
def parse_rest_trades(rows: list[dict[str, Any]], feed: Feed,
                      received_at: datetime) -> list[Record]:
    """Read ``GET /v1/trades/{symbol}`` (REST Market Data, List Trades), returned oldest first.

    ``[{"timestamp":1547146811,"timestampms":1547146811357,"tid":5335307668,"price":"3610.85",
    "amount":"0.27413495","exchange":"gemini","type":"buy"}]``, newest first on the wire.

    ``type``: "``buy`` means that an ask was removed from the book by an incoming buy order":
    the taker's side. ``tid`` is the websocket trade's ``t``, so both copies dedupe. A row of
    another ``type`` (auction and block trades have no taker) or marked ``broken`` is left out.
    """
    if not isinstance(rows, list):
        raise MalformedFrame(f"trades are not a list: {type(rows).__name__}")
    trades: list[Record] = []
    for row in reversed(rows):
        side = _SIDE.get(row["type"])
        if side is None or row.get("broken") is True:
            continue
        trades.append(_trade(feed.pair, feed.symbol, _ms_time(row["timestampms"], received_at),
                             row["tid"], row["price"], row["amount"], side))
    return trades


@reads_frame
def parse_symbols(body: list[str]) -> dict[str, str]:
    """Read ``GET /v1/symbols`` (REST Market Data, List Symbols) into {symbol: canonical pair}.

    ``["btcusd","btcgusd","ethbtc",...,"btcgusdperp"]``: lower-case, base and quote run
    together, perpetual swaps (``...perp``) among them, which are left out. The list names no
    currencies, so each symbol is split at a quote code it ends with (``split_symbol``).
    """
    if not isinstance(body, list) or not all(isinstance(item, str) for item in body):
        raise MalformedFrame("the symbol list is not a list of strings")
    spot = [symbol for symbol in body if not symbol.endswith(_PERPETUAL)]
    listed = frozenset(spot)
    pairs: dict[str, str] = {}
    for symbol in spot:
        split = split_symbol(symbol, listed)
        if split is not None:
            pairs[symbol] = f"{split[0].upper()}-{split[1].upper()}"
    return pairs


def split_symbol(symbol: str, listed: frozenset[str] = frozenset()) -> tuple[str, str] | None:
    """Split a Gemini symbol into (base, quote), or None when no known quote ends it.

    Of several splits, the one whose base is the base of the most ``listed`` symbols, then the
    longest base: ``moodengusd`` is MOODENG-USD (``moodenggusd`` shares MOODENG), ``btcgusd``
    BTC-GUSD (``btcusd``, ``btceur``, ... share BTC), and ``paxgusd``, alone in the 2021 list,
    PAXG-USD, as its details say.
    """
    splits = [(symbol[: -len(quote)], quote) for quote in _QUOTES
              if symbol.endswith(quote) and len(symbol) - len(quote) >= 2
              and symbol[: -len(quote)].isalnum()]
    if not splits:
        return None

    def shared(split: tuple[str, str]) -> tuple[int, int]:
        base = split[0]
        return sum(base + quote in listed for quote in _QUOTES), len(base)

    return max(splits, key=shared)


def subscribe_frame(request_id: int, symbol: str) -> str:
    """``{"id":1,"method":"subscribe","params":["btcusd@bookTicker","btcusd@trade"]}``."""
    return json.dumps({"id": request_id, "method": "subscribe",
                       "params": [f"{symbol}@{stream}" for stream in STREAMS]},
                      separators=(",", ":"))


def request_ids(symbols: Sequence[str]) -> dict[str, str]:
    """{id as text: symbol}: the n-th symbol of a connection subscribes with id n."""
    return {str(number): symbol for number, symbol in enumerate(symbols, 1)}


# Session and listener ------------------------------------------------------------------------


class GeminiSession(JsonSession):
    """One connection: which subscribe id is which symbol, what was acked, what to resend.

    Made by ``Gemini.new_session`` on every connect, numbering the symbols as
    ``Gemini.subscribe_frames`` does. A pair is ``live`` from its subscribe's ack, ``error``
    from its refusal (the stream the error names, else the request's id); a subscribe answered
    "rate limit" or "internal error" is sent again after a backoff (``tick``).
    """

    def __init__(self, feeds: Mapping[str, str]) -> None:
        super().__init__()
        self._feeds = dict(feeds)  # symbol we subscribed to -> our pair
        self._requests = request_ids(list(self._feeds))  # subscribe id -> symbol
        self._ids = {symbol: int(number) for number, symbol in self._requests.items()}
        self._settled: set[str] = set()  # symbols acked or refused
        self._retry_at: dict[str, datetime] = {}  # symbol -> when to subscribe it again
        self._retries: dict[str, int] = {}


    def receive_message(self, message: Any, received_at: datetime) -> list[Record]:
        """Read one decoded frame: a reply (it has a ``status``), a trade or a book ticker.

        Events name their stream by ``e`` where they carry one; the docs' book ticker and trade
        carry none and are told apart by their fields (a trade has ``m``). An event of another
        stream (``depthUpdate``, ``markPrice``) gives nothing.
        """
        if not isinstance(message, dict):
            raise MalformedFrame(f"not a JSON object: {type(message).__name__}")
        if "status" in message:
            return self._on_reply(message, received_at)
        kind = message.get("e")
        if kind == "trade" or (kind is None and "m" in message):
            return parse_trade(message, self._feeds, received_at)
        if kind == "bookTicker" or (kind is None and ("b" in message or "a" in message)):
            return parse_book_ticker(message, self._feeds, received_at)
        if isinstance(kind, str):
            return []
        raise MalformedFrame("neither a reply, a trade nor a book ticker")

    def tick(self, now: datetime) -> list[Record]:
        """Send again each subscribe whose backoff has passed."""
        for symbol, due in list(self._retry_at.items()):
            if now >= due:
                del self._retry_at[symbol]
                self.send(subscribe_frame(self._ids[symbol], symbol))
        return []

    def _on_reply(self, message: dict[str, Any], received_at: datetime) -> list[Record]:
        request_id, status, error = parse_reply(message)
        symbol = self._requests.get(request_id) if request_id is not None else None
        if error is None:  # an ack, or the answer to a ping
            if symbol is None or symbol in self._settled:
                return []
            self._settled.add(symbol)
            self._retries.pop(symbol, None)
            return [Status(NAME, self._feeds[symbol], FeedState.LIVE,
                           f"subscribed to {' and '.join(f'{symbol}@{s}' for s in STREAMS)}",
                           received_at)]
        code, text = error
        named = named_symbol(text)
        if named in self._feeds:
            symbol = named
        if symbol is None:
            raise MalformedFrame(f"exchange error: {text} (code {code}, status {status})")
        if code in _RETRIED_CODES or status == 429 or status >= 500:
            tries = self._retries[symbol] = self._retries.get(symbol, 0) + 1
            self._retry_at[symbol] = received_at + min(_RETRY_CAP, _RETRY_FIRST * 2 ** (tries - 1))
            return []
        self._settled.add(symbol)
        self._retry_at.pop(symbol, None)
        return [Status(NAME, self._feeds[symbol], FeedState.ERROR, f"{text} (code {code})",
                       received_at)]


class Gemini(ExchangeListener):
    """Gemini public market data: ``bookTicker`` for the top of book, ``trade`` for executions."""

    name = NAME
    default_url = "wss://ws.gemini.com"
    default_rest_url = "https://api.gemini.com"
    channels_per_pair = len(STREAMS)
    subscribe_interval = 0.1  # 10 a second: see "Limits" in the module docstring
    # "120 requests per minute" with a queue of 5: one GET a second stays well inside it
    rest_interval = 1.0
    ping_interval = PING_INTERVAL
    merges_quotes = True  # no ticker channel: book ticker and trades are merged

    def __init__(self, pairs: Sequence[str], publish: Publish, **options: Any) -> None:
        super().__init__(pairs, publish, **options)
        # answered pings keep the watchdog fed, so they must come well within FEED_TIMEOUT
        self.ping_interval = min(PING_INTERVAL, self.feed_timeout / 3)
        self._ping_ids = itertools.count(PING_FIRST_ID)

    def symbol_for(self, pair: str) -> str:
        """``BTC-USD`` -> ``btcusd``: base and quote run together, lower-case (``1inchusd``,
        ``btcgusd``). Whether Gemini lists it is checked against ``/v1/symbols``, and an
        unknown one is refused on subscribe with "Invalid stream name"."""
        base, quote = split_pair(pair)
        for code in (base, quote):
            if not _CODE.fullmatch(code):
                raise PairError(f"Gemini has no symbol for {pair!r}: {code!r} is not a "
                                "currency code of upper-case letters and digits")
        return f"{base}{quote}".lower()

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        """One subscribe per symbol, its two streams together, with id n for the n-th symbol."""
        return [subscribe_frame(int(number), symbol)
                for number, symbol in request_ids(symbols).items()]

    def new_session(self, feeds: Mapping[str, str]) -> GeminiSession:
        return GeminiSession(feeds)

    def ping_frame(self) -> str:
        """``{"id":1000000,"method":"ping"}``, with the next id each time."""
        return json.dumps({"id": next(self._ping_ids), "method": "ping"}, separators=(",", ":"))

    def rest_snapshot_requests(self, symbol: str, trades_limit: int) -> list[RestRequest]:
        return [RestRequest(f"/v1/pubticker/{symbol}", parse_rest_ticker),
                RestRequest(f"/v1/trades/{symbol}?limit_trades={trades_limit}",
                            parse_rest_trades)]

    def instruments_request(self) -> InstrumentsRequest:
        """One ``GET /v1/symbols`` for every pair (see the module docstring)."""
        return InstrumentsRequest("/v1/symbols", parse_symbols)


# Field readers -------------------------------------------------------------------------------


def _our_symbol(value: Any, feeds: Mapping[str, str]) -> tuple[str, str] | None:
    """(our symbol, pair) for an event's ``s``, matched without regard to case, or None."""
    if not isinstance(value, str):
        raise MalformedFrame(f"'s' is not a symbol: {value!r}")
    pair = feeds.get(value)
    if pair is not None:
        return value, pair
    lower = value.lower()
    pair = feeds.get(lower)
    return None if pair is None else (lower, pair)


def _side(price: Any, size: Any) -> tuple[Decimal | None, Decimal | None]:
    """A book side's (price, size); both unknown when the price is empty or zero."""
    value = _price(price)
    return (None, None) if value is None else (value, _size(size))


def _price(value: Any) -> Decimal | None:
    """A price, or None when absent, empty (``""``) or zero."""
    if value is None or value == "":
        return None
    price = market_number(value, "price")
    if price < 0:
        raise MalformedFrame(f"negative price: {value!r}")
    return price or None


def _size(value: Any) -> Decimal | None:
    """A size or volume, or None when absent or empty."""
    if value is None or value == "":
        return None
    size = market_number(value, "size")
    if size < 0:
        raise MalformedFrame(f"negative size: {value!r}")
    return size


def _event_time(value: Any, received_at: datetime) -> datetime:
    """``E``: epoch nanoseconds, a JSON integer."""
    if type(exact(value)) is not int:
        raise MalformedFrame(f"'E' is not a time in nanoseconds: {value!r}")
    return market_time(time_from_ns(value), value, received_at)


def _ms_time(value: Any, received_at: datetime) -> datetime:
    """A REST ``timestampms`` or ``volume.timestamp``: epoch milliseconds, a JSON integer."""
    if type(exact(value)) is not int:
        raise MalformedFrame(f"not a time in milliseconds: {value!r}")
    return market_time(time_from_ms(value), value, received_at)



def _trade(pair: str, symbol: str, time: datetime, trade_id: Any, price: Any, size: Any,
           side: Side) -> Trade:
    """The trade a stream event or a REST row reports; both spell id, price and size alike."""
    amount = market_number(size, "trade size")
    if amount <= 0:
        raise MalformedFrame(f"trade size is not positive: {size!r}")
    value = market_number(price, "trade price")
    if value <= 0:
        raise MalformedFrame(f"trade price is not positive: {price!r}")
    return Trade(NAME, pair, symbol, time, _trade_id(trade_id), value, amount, side)


def _trade_id(value: Any) -> str:
    """``t`` / ``tid`` as text: an integer in the docs; a non-empty string is kept as it is."""
    if type(exact(value)) is int or (type(value) is str and value):
        return str(value)
    raise MalformedFrame(f"not a trade id: {value!r}")
