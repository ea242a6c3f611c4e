"""Binance Spot and Binance.US combined streams, ``<symbol>@bookTicker`` and ``<symbol>@trade``.

Written from binance/binance-spot-api-docs (web-socket-streams.md, rest-api.md, errors.md at
a5e0bc3) and binance-us/binance-us-api-docs (web-socket-streams.md, rest-api.md at 6b62304),
and from the frames recorded from both venues (cryptofeed's BINANCE.ws.1.0, BINANCE_US.ws.1.0).
One peer class serves two paths, ``/binance`` and ``/binanceus`` (one ``Venue`` each). Each
connection is a combined stream (``wss://stream.binance.com:9443/stream``): payloads wrapped as
``{"stream":"<streamName>","data":<rawPayload>}`` until ``SET_PROPERTY ["combined", false]``.

    {"method":"SUBSCRIBE","params":["btcusdt@bookTicker","btcusdt@trade"],"id":1}
    {"result":null,"id":1}                                     ack (also of UNSUBSCRIBE)
    {"result":["btcusdt@bookTicker","btcusdt@trade"],"id":3}   LIST_SUBSCRIPTIONS
    {"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":1}
    {"stream":"btcusdt@bookTicker","data":{"u":400900217,"s":"BTCUSDT","b":"25.35190000",
     "B":"31.21000000","a":"25.36520000","A":"40.66000000"}}   when the best bid or ask changed
    {"stream":"btcusdt@trade","data":{"e":"trade","E":1672515782136,"s":"BTCUSDT","t":12345,
     "p":"0.00100000","q":"100.00000000","T":1672515782136,"m":true,"M":true}}
                                                               Binance.US adds "b" and "a"
    {"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}}

Rules kept from the real feed: a well-formed stream of a symbol the venue doesn't list (or not
in lower case) is acked and then silent; a stream name that isn't ``<symbol>@<stream type>``
is refused with code 2 "Invalid request: invalid stream" (as client authors logged it); a
request without a readable ``method`` or ``id`` gets the documented code 2 / 3 errors (``id``:
64-bit integer, alphanumeric string of at most 36 or null on Binance; an unsigned integer on
Binance.US), ``SET_PROPERTY``/``GET_PROPERTY`` the codes 0-2; ``m`` is "Is the buyer the market
maker?" (true when the taker sold); no snapshot on subscribe; prices and quantities written
with 8 decimals, as both venues do; at most 1024 streams per connection; more than 5 incoming
messages in a second cut the connection; a connection lives 24 hours. Binance lists only the
USDT pairs of the catalogue (it has no USD spot), Binance.US the USD pairs.

Protocol pings (``ProtocolPing``, sent and checked by the server): Binance sends "a ping frame
every 20 seconds" and disconnects a connection that sends no pong "within a minute"; the pong
must carry "a copy of ping's payload", and unsolicited pongs "will not prevent disconnection".
Binance.US: every 3 minutes, within 10 minutes, and unsolicited pongs "are allowed" (whether
they keep a connection is not said: here they don't, as on Binance). Each ping carries 8
random bytes; a connection whose ping is unanswered at the deadline is closed with 1008 "Pong
timeout", the close frame clients report (neither venue documents one).
``--protocol-ping-interval`` and ``--pong-timeout`` shorten both for tests.

Not simulated: pings and pongs counted in the 5 messages a second (only JSON messages are),
streams other than ``bookTicker`` and ``trade`` (acked, then silent), raw ``/ws/`` endpoints
and URL-listed streams, ``timeUnit``, and the text of errors the docs don't give (our own
wording, marked).

Fast mode (``FAST``, ``simulator.fast``): per pair the round ``trade, bookTicker``, one trade; a
book ticker comes with every trade, changed or not; Binance.US's buyer and seller order ids are
the market moment's, not hashed from each trade's id.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from simulator import wire
from simulator.catalogue import PRODUCTS, SIZE_STEP, Product, split_pair
from simulator.market import Market, PairState, Side, Trade
from simulator.peer import (
    Action,
    Close,
    ExchangeSpec,
    FastSpec,
    FastStep,
    Peer,
    PeerOptions,
    ProtocolPing,
    RestReply,
    Send,
)

BOOK_TICKER, TRADE = "bookTicker", "trade"
MAX_STREAMS = 1024  # "A single connection can listen to a maximum of 1024 streams"
MESSAGE_LIMIT = 5  # "a limit of 5 incoming messages per second"
CONNECTION_LIFETIME = 24 * 3600.0  # "only valid for 24 hours"
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_EIGHT = Decimal("0.00000001")
_DAY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INT64 = range(-(2**63), 2**63)
_UINT64 = range(2**64)

# A stream name of the documented stream types (web-socket-streams.md, "Stream Name"); the
# symbol part is any letters and digits: a symbol nobody lists is acked and stays silent.
_STREAM = re.compile(
    r"(?P<symbol>[A-Za-z0-9]+)@(?P<kind>aggTrade|trade|blockTrade|bookTicker|miniTicker|ticker"
    r"|ticker_(?:1h|4h|1d)|avgPrice|referencePrice|depth(?:5|10|20)?(?:@100ms)?"
    r"|kline_(?:1s|1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w|1M)"
    r"(?:@\+08:00)?)|!(?:miniTicker|ticker|ticker_(?:1h|4h|1d))@arr"
)
_ALPHANUMERIC_ID = re.compile(r"[A-Za-z0-9]{1,36}")
_REST_SYMBOL = re.compile(r"[A-Z0-9\-_.]{1,20}")


@dataclass(frozen=True, slots=True)
class Venue:
    """What differs between Binance and Binance.US."""

    name: str
    quote: str  # the catalogue quote it lists: binance.com has no USD spot pairs
    delisted: str  # one symbol listed with status BREAK, for the instrument check
    string_ids: bool  # request ids may be alphanumeric strings or null (binance.com)
    order_ids: bool  # trade payloads carry buyer/seller order ids "b"/"a" (Binance.US)
    current_info: bool  # exchangeInfo has the 2024-26 fields and parameters (binance.com)
    protocol_ping: ProtocolPing  # the server's ping frames and the pong deadline

    @property
    def products(self) -> tuple[Product, ...]:
        return tuple(p for p in PRODUCTS.values() if split_pair(p.pair)[1] == self.quote)


BINANCE = Venue("binance", "USDT", "BCCUSDT", string_ids=True, order_ids=False,
                current_info=True, protocol_ping=ProtocolPing(interval=20.0, timeout=60.0))
BINANCE_US = Venue("binanceus", "USD", "PAXUSD", string_ids=False, order_ids=True,
                   current_info=False, protocol_ping=ProtocolPing(interval=180.0, timeout=600.0))


def symbol_of(pair: str) -> str:
    """``BTC-USDT`` -> ``BTCUSDT`` (REST and payload spelling; streams use it in lower case)."""
    return pair.replace("-", "")


class RequestError(ValueError):
    """A request the venue refuses: the error's ``code`` and ``msg``."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


class BinancePeer(Peer):
    """One connection to the simulated ``wss://stream.binance.com:9443/stream`` (or .us)."""

    def __init__(self, market: Market, rng: random.Random, options: PeerOptions, now: float, *,
                 venue: Venue = BINANCE) -> None:
        super().__init__(market, rng, options, now)
        self.venue = venue
        self.combined = True  # a /stream connection: payloads wrapped with their stream name
        self.requests = 0  # JSON messages the client sent (the server sees pings and pongs)
        self._streams: list[str] = []  # in the order subscribed, as LIST_SUBSCRIPTIONS shows
        self._received: deque[float] = deque()  # times of the last second's messages
        self._closing = False
        self._last_book: dict[str, tuple[Decimal, ...]] = {}  # pair -> b, B, a, A last sent
        self._pairs = {symbol_of(pair).lower(): pair for pair in PRODUCTS if market.knows(pair)}

    # Peer interface

    def opened(self, now: float) -> list[Action]:
        return []  # a combined stream says nothing until asked

    def receive(self, text: str, now: float) -> list[Action]:
        if self._closing:
            return []
        self.requests += 1
        self._received.append(now)
        while self._received and self._received[0] <= now - 1.0:
            self._received.popleft()
        if len(self._received) > MESSAGE_LIMIT:  # "A connection that goes beyond the limit
            self._closing = True  # will be disconnected" (the close code is our choice)
            return [Close(1008, "Too many requests")]
        request_id: Any = None
        try:
            message = _request(text)
            request_id = self._request_id(message)
            answer = self._answer(message)
        except RequestError as exc:
            return [_send({"error": {"code": exc.code, "msg": exc.msg}, "id": request_id})]
        return [_send({"result": answer, "id": request_id})]

    def tick(self, now: float) -> list[Action]:
        if not self._closing and now - self.opened_at >= CONNECTION_LIFETIME:
            self._closing = True  # "expect to be disconnected at the 24 hour mark"
            return [Close(1001, "")]
        return []

    def on_trade(self, pair: str, trade: Trade, now: float) -> list[Action]:
        actions: list[Action] = []
        name = f"{symbol_of(pair).lower()}@{TRADE}"
        if name in self._streams:
            actions.append(self._data(name, trade_payload(self.venue, pair, trade, now)))
        return actions + self.on_quote(pair, now)

    def on_quote(self, pair: str, now: float) -> list[Action]:
        """A bookTicker when the best bid or ask, or a quantity, changed since the last one."""
        name = f"{symbol_of(pair).lower()}@{BOOK_TICKER}"
        if name not in self._streams:
            return []
        state = self.market.state(pair)
        book = (state.bid, state.bid_size, state.ask, state.ask_size)
        if self._last_book.get(pair) == book:
            return []
        self._last_book[pair] = book
        return [self._data(name, book_ticker(pair, state))]

    def fast_wrap(self, channel: str, pair: str) -> tuple[str, str] | None:
        name = f"{symbol_of(pair).lower()}@{channel}"
        if self._closing or name not in self._streams:
            return None
        return (f'{{"stream":"{name}","data":', "}") if self.combined else ("", "")

    def subscriptions(self) -> list[tuple[str, str]]:
        """(stream type, pair) of the subscribed streams that carry data."""
        found = []
        for name in self._streams:
            symbol, _, kind = name.partition("@")
            if kind in (BOOK_TICKER, TRADE) and symbol in self._pairs:
                found.append((kind, self._pairs[symbol]))
        return found

    # Requests

    def _request_id(self, message: dict[str, Any]) -> Any:
        """The request's ``id``; "Invalid request: request ID must be an unsigned integer"
        when it is missing or of a kind the venue doesn't take."""
        if "id" in message:
            value = message["id"]
            if type(value) is int and value in (_INT64 if self.venue.string_ids else _UINT64):
                return value
            readable = value is None or (
                isinstance(value, str) and _ALPHANUMERIC_ID.fullmatch(value) is not None)
            if self.venue.string_ids and readable:
                return value
        raise RequestError(2, "Invalid request: request ID must be an unsigned integer")

    def _answer(self, message: dict[str, Any]) -> Any:
        """The ``result`` of a well-formed request (the message has a known ``method``)."""
        method = message["method"]
        params = message.get("params")
        if method == "LIST_SUBSCRIPTIONS":
            return list(self._streams)
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            names = _stream_names(params)
            if method == "UNSUBSCRIBE":
                self._streams = [name for name in self._streams if name not in names]
                return None
            new = [name for name in dict.fromkeys(names) if name not in self._streams]
            if len(self._streams) + len(new) > MAX_STREAMS:  # our wording: undocumented
                raise RequestError(2, f"Invalid request: more than {MAX_STREAMS} streams")
            self._streams += new
            return None
        name, value = _property(params, method == "SET_PROPERTY")
        if name != "combined":
            raise RequestError(0, "Unknown property")
        if method == "GET_PROPERTY":
            return self.combined
        if not isinstance(value, bool):
            raise RequestError(1, "Invalid value type: expected Boolean")
        self.combined = value
        return None

    # Frames

    def _data(self, stream: str, payload: dict[str, Any]) -> Send:
        return _send({"stream": stream, "data": payload} if self.combined else payload)


def trade_payload(venue: Venue, pair: str, trade: Trade, now: float) -> dict[str, Any]:
    """The Trade Streams payload; ``E`` (event time) is when it is sent."""
    traded = epoch_ms(trade.time)
    fields: dict[str, Any] = {"e": "trade", "E": max(int(now * 1000), traded),
                              "s": symbol_of(pair), "t": trade.id,
                              "p": text8(trade.price), "q": text8(trade.size)}
    if venue.order_ids:
        fields["b"], fields["a"] = _order_id(pair, trade.id, "buyer"), _order_id(
            pair, trade.id, "seller")
    fields |= {"T": traded, "m": buyer_is_maker(trade), "M": True}
    return fields


def book_ticker(pair: str, state: PairState) -> dict[str, Any]:
    """The Individual Symbol Book Ticker payload; ``u`` is the pair's sequence number."""
    return {"u": state.sequence, "s": symbol_of(pair), "b": text8(state.bid),
            "B": text8(state.bid_size), "a": text8(state.ask), "A": text8(state.ask_size)}


def buyer_is_maker(trade: Trade) -> bool:
    """``m``: "Is the buyer the market maker?" Yes exactly when the taker sold."""
    return trade.side is Side.SELL


def text8(value: Decimal) -> str:
    """A price or quantity as both venues write it: 8 decimals (``"25.35190000"``); a value
    with more digits keeps them all."""
    padded = value.quantize(_EIGHT)
    return wire.decimal_text(padded if padded == value else value)


def epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _order_id(pair: str, trade_id: int, role: str) -> int:
    """A buyer or seller order id, the same for every connection that sees the trade."""
    digest = hashlib.sha256(f"{pair}:{trade_id}:{role}".encode()).digest()
    return int.from_bytes(digest[:5], "big")


def _send(fields: dict[str, Any]) -> Send:
    return Send(wire.dumps(fields))


def _request(text: str) -> dict[str, Any]:
    """The decoded request, or the documented error for one that can't be read.

    Column numbers are 1-based positions in the text, like the server's JSON reader gives.
    """
    try:
        message = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestError(3, f"Invalid JSON: expected value at line {exc.lineno} column "
                              f"{exc.colno}") from None
    if not isinstance(message, dict):  # our wording
        raise RequestError(2, "Invalid request: expected a JSON object")
    method = message.get("method")
    if "method" not in message:
        raise RequestError(2, f"Invalid request: missing field `method` at line 1 column "
                              f"{len(text)}")
    if method not in METHODS:
        expected = ", ".join(f"`{name}`" for name in METHODS)
        raise RequestError(2, f"Invalid request: unknown variant `{method}`, expected one of "
                              f"{expected} at line 1 column {_column_after(text, method)}")
    return message


def _column_after(text: str, value: Any) -> int:
    """The column just after ``value``'s JSON text in ``text`` (its end when not found)."""
    token = json.dumps(value)
    found = text.find(token)
    return found + len(token) if found >= 0 else len(text)


def _stream_names(params: Any) -> list[str]:
    """The stream names of a SUBSCRIBE/UNSUBSCRIBE, each of a documented stream type."""
    if not isinstance(params, list):  # our wording
        raise RequestError(2, "Invalid request: params must be a list of stream names")
    for name in params:
        if not isinstance(name, str) or not _STREAM.fullmatch(name):
            raise RequestError(2, "Invalid request: invalid stream")
    return list(params)


def _property(params: Any, setting: bool) -> tuple[Any, Any]:
    """(name, value) of SET_PROPERTY ``["combined", true]`` or GET_PROPERTY ``["combined"]``."""
    count = 2 if setting else 1
    if not isinstance(params, list) or not params or not isinstance(params[0], str):
        raise RequestError(2, "Invalid request: property name must be a string")
    if len(params) > count:
        raise RequestError(2, "Invalid request: too many parameters")
    if len(params) < count:  # our wording
        raise RequestError(1, "Invalid value type: expected Boolean")
    return params[0], params[1] if setting else None


def shutdown_command(params: Mapping[str, str]) -> list[Action]:
    """Control route ``/control/<venue>/shutdown[?close_after=S]``: the ``serverShutdown``
    event on every connection (combined form), then each is closed after S seconds (default 1)."""
    try:
        delay = float(params.get("close_after", "1"))
    except ValueError:
        raise ValueError("close_after must be a number of seconds") from None
    if not 0 <= delay < 3600:
        raise ValueError("close_after must be between 0 and 3600 seconds")
    event_ms = epoch_ms(datetime.now(UTC))
    frame = {"stream": "!serverShutdown", "data": {"e": "serverShutdown", "E": event_ms}}
    return [_send(frame), Close(1001, "", delay=delay)]


# REST ----------------------------------------------------------------------------------------

_TRADES_LIMIT = (1, 500, 1000)  # least, default, most
_SYMBOL_STATUSES = ("TRADING", "HALT", "BREAK")
_RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
]
_ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"]


def _error(code: int, msg: str) -> RestReply:
    return RestReply(400, {"code": code, "msg": msg})


_INVALID_SYMBOL = _error(-1121, "Invalid symbol.")


def rest(market: Market, parts: Sequence[str], params: Mapping[str, str], *,
         venue: Venue = BINANCE) -> RestReply:
    """Answer ``exchangeInfo``, ``ticker/24hr`` and ``trades`` (see the module docstring)."""
    now = datetime.now(UTC)
    try:
        match list(parts):
            case ["api", "v3", "exchangeInfo"]:
                return RestReply(200, _exchange_info(market, params, venue, now))
            case ["api", "v3", "ticker", "24hr"]:
                return _tickers(market, params, now)
            case ["api", "v3", "trades"]:
                return _trades(market, params)
    except RequestError as exc:
        return _error(exc.code, exc.msg)
    return RestReply(404, {"code": -1, "msg": "Not found"})  # our wording


def _listed(market: Market) -> dict[str, str]:
    """{symbol: pair} of the pairs the venue trades."""
    return {symbol_of(pair): pair for pair in PRODUCTS if market.knows(pair)}


def _symbol(params: Mapping[str, str], name: str = "symbol") -> str:
    text = params.get(name, "")
    if not text:
        raise RequestError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, "
                                  "or malformed.")
    if not _REST_SYMBOL.fullmatch(text):
        raise RequestError(-1100, f"Illegal characters found in parameter '{name}'; legal range "
                                  "is '^[A-Z0-9-_.]{1,20}$'.")
    return text


def _symbols(params: Mapping[str, str]) -> list[str] | None:
    """``symbol=BTCUSDT`` or ``symbols=["BTCUSDT","ETHUSDT"]``; None when neither is given."""
    if "symbol" in params and "symbols" in params:
        raise RequestError(-1128, "Combination of optional parameters invalid.")
    if "symbol" in params:
        return [_symbol(params)]
    if "symbols" not in params:
        return None
    try:
        names = json.loads(params["symbols"])
    except ValueError:
        names = None
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise RequestError(-1100, "Illegal characters found in parameter 'symbols'; legal "
                                  "range is '^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\")"
                                  "*)?\\]$'.")
    return [_symbol({"symbol": name}) for name in names]


def _exchange_info(market: Market, params: Mapping[str, str], venue: Venue,
                   now: datetime) -> dict[str, Any]:
    listed = _listed(market)
    entries = [(symbol, "TRADING") for symbol in listed] + [(venue.delisted, "BREAK")]
    wanted = _symbols(params)
    if wanted is not None:
        known = dict(entries)
        if any(symbol not in known for symbol in wanted):
            raise RequestError(-1121, "Invalid symbol.")
        entries = [(symbol, known[symbol]) for symbol in wanted]
    status = params.get("symbolStatus") if venue.current_info else None
    if status is not None:
        if wanted is not None:
            raise RequestError(-1128, "Combination of optional parameters invalid.")
        if status not in _SYMBOL_STATUSES:
            raise RequestError(-1122, "Invalid symbolStatus.")
        entries = [entry for entry in entries if entry[1] == status]
    show_sets = params.get("showPermissionSets", "true") != "false"
    return {
        "timezone": "UTC",
        "serverTime": epoch_ms(now),
        "rateLimits": _RATE_LIMITS,
        "exchangeFilters": [],
        "symbols": [_symbol_info(market, listed.get(symbol), symbol, status_, venue, show_sets)
                    for symbol, status_ in entries],
    }


def _symbol_info(market: Market, pair: str | None, symbol: str, status: str, venue: Venue,
                 show_sets: bool) -> dict[str, Any]:
    """One ``symbols`` entry, in the field order of the venue's documentation."""
    if pair is None:  # the delisted one: its quote is the venue's
        base, quote = symbol.removesuffix(venue.quote), venue.quote
        tick = Decimal("0.0001")
    else:
        (base, quote), tick = split_pair(pair), market.pair(pair).product.tick
    info: dict[str, Any] = {
        "symbol": symbol, "status": status, "baseAsset": base, "baseAssetPrecision": 8,
        "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": _ORDER_TYPES, "icebergAllowed": True, "ocoAllowed": True,
    }
    if venue.current_info:
        info |= {"otoAllowed": True, "opoAllowed": True}
    info |= {"quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True,
             "cancelReplaceAllowed": True}
    if venue.current_info:
        info |= {"amendAllowed": True, "pegInstructionsAllowed": True}
    info |= {
        "isSpotTradingAllowed": True, "isMarginTradingAllowed": venue.current_info,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": text8(tick),
             "maxPrice": "1000000.00000000", "tickSize": text8(tick)},
            {"filterType": "LOT_SIZE", "minQty": text8(SIZE_STEP), "maxQty": "9000.00000000",
             "stepSize": text8(SIZE_STEP)},
        ],
    }
    if not venue.current_info:
        return info | {"permissions": ["SPOT"]}
    return info | {
        "permissions": [], "permissionSets": [["SPOT", "MARGIN"]] if show_sets else [],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def _tickers(market: Market, params: Mapping[str, str], now: datetime) -> RestReply:
    kind = params.get("type", "FULL")
    if kind not in ("FULL", "MINI"):  # our wording
        raise RequestError(-1100, "Illegal characters found in parameter 'type'; legal range "
                                  "is 'FULL, MINI'.")
    listed = _listed(market)
    wanted = _symbols(params)
    if wanted is not None and any(symbol not in listed for symbol in wanted):
        return _INVALID_SYMBOL
    symbols = list(listed) if wanted is None else wanted
    bodies = [_ticker(listed[symbol], market.state(listed[symbol]), kind, now)
              for symbol in symbols]
    return RestReply(200, bodies[0] if "symbol" in params else bodies)


def _ticker(pair: str, state: PairState, kind: str, now: datetime) -> dict[str, Any]:
    """24hr ticker price change statistics of the rolling window ending now."""
    recent = state.recent  # newest first
    change = state.last - state.open_24h
    quote_volume = (state.volume_24h * (state.high_24h + state.low_24h) / 2).quantize(_EIGHT)
    window = {"openTime": epoch_ms(now - _DAY), "closeTime": epoch_ms(now),
              "firstId": recent[-1].id, "lastId": recent[0].id,
              "count": recent[0].id - recent[-1].id + 1}
    if kind == "MINI":
        return {"symbol": symbol_of(pair), "openPrice": text8(state.open_24h),
                "highPrice": text8(state.high_24h), "lowPrice": text8(state.low_24h),
                "lastPrice": text8(state.last), "volume": text8(state.volume_24h),
                "quoteVolume": text8(quote_volume), **window}
    return {
        "symbol": symbol_of(pair),
        "priceChange": text8(change),
        "priceChangePercent": wire.decimal_text((change / state.open_24h * 100).quantize(
            Decimal("0.001"))),
        "weightedAvgPrice": text8((quote_volume / state.volume_24h).quantize(_EIGHT)),
        "prevClosePrice": text8(state.open_24h),
        "lastPrice": text8(state.last),
        "lastQty": text8(state.last_trade.size),
        "bidPrice": text8(state.bid),
        "bidQty": text8(state.bid_size),
        "askPrice": text8(state.ask),
        "askQty": text8(state.ask_size),
        "openPrice": text8(state.open_24h),
        "highPrice": text8(state.high_24h),
        "lowPrice": text8(state.low_24h),
        "volume": text8(state.volume_24h),
        "quoteVolume": text8(quote_volume),
        **window,
    }


def _trades(market: Market, params: Mapping[str, str]) -> RestReply:
    symbol = _symbol(params)
    pair = _listed(market).get(symbol)
    if pair is None:
        return _INVALID_SYMBOL
    least, default, most = _TRADES_LIMIT
    text = params.get("limit", str(default))
    if not (text.isascii() and text.isdigit()):
        raise RequestError(-1100, "Illegal characters found in parameter 'limit'; legal range "
                                  "is '^[0-9]{1,20}$'.")
    limit = min(max(int(text), least), most)
    recent = market.state(pair).recent[:limit]  # newest first
    return RestReply(200, [_rest_trade(trade) for trade in reversed(recent)])


def _rest_trade(trade: Trade) -> dict[str, Any]:
    return {
        "id": trade.id,
        "price": text8(trade.price),
        "qty": text8(trade.size),
        "quoteQty": wire.plain_number(trade.price * trade.size),
        "time": epoch_ms(trade.time),
        "isBuyerMaker": buyer_is_maker(trade),
        "isBestMatch": True,
    }


def fast_render(market: Market, pair: str, state: PairState, now: float, *,
                venue: Venue = BINANCE) -> dict[str, str]:
    """Fast mode's bodies: the raw payloads (``BinancePeer.fast_wrap`` names the stream)."""
    return {
        TRADE: wire.dumps(trade_payload(venue, pair, state.last_trade, now)),
        BOOK_TICKER: wire.dumps(book_ticker(pair, state)),
    }


def _spec(venue: Venue) -> ExchangeSpec:
    fast = FastSpec(steps=(FastStep(TRADE, TRADE, new_trade=True, has_trade=True),
                           FastStep(BOOK_TICKER, BOOK_TICKER)),
                    render=partial(fast_render, venue=venue))
    return ExchangeSpec(name=venue.name, peer=partial(BinancePeer, venue=venue),
                        commands={"shutdown": shutdown_command},
                        rest=partial(rest, venue=venue), products=venue.products, fast=fast,
                        protocol_ping=venue.protocol_ping)


SPEC = _spec(BINANCE)
SPEC_US = _spec(BINANCE_US)
