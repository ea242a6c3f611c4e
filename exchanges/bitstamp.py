"""Bitstamp WebSocket API v2, public channels ``order_book`` and ``live_trades`` (bitstamp.net).

Follows https://www.bitstamp.net/websocket/v2/ and the REST API reference
https://www.bitstamp.net/api/. Every frame is a JSON object ``{"event":..,"channel":..,"data":..}``
routed by its ``channel`` string (``order_book_btcusd``); market symbols are lower case, base
and quote run together (``btcusd``).

- ``order_book_[market]`` (event ``data``): "Top 100 levels", each message a full snapshot,
  sent on every change of the book; ``bids[0]`` and ``asks[0]`` are the best bid and ask. There
  is no ticker or best-bid-offer channel, so the top of book is a ``Quote`` and the listener's
  ``QuoteBook`` (``merges_quotes``) adds the last price from the trades. No snapshot is sent at
  the moment of subscription: a quiet book stays unknown until it changes, so the REST ticker
  seeds it.
- ``live_trades_[market]`` (event ``trade``): one message per trade. ``price`` and ``amount``
  are JSON numbers a float wrote (``0.014140160000000001``), so the exact ``price_str`` and
  ``amount_str`` are read instead; ``type`` is "0 - buy; 1 - sell", the taker's side (in the
  recorded frames the newer of ``buy_order_id`` and ``sell_order_id``, the taker's order, is
  always on that side); ``microtimestamp`` is the trade time in microseconds; ``id`` may exceed
  2^53 (perpetual markets), so it is kept as the exact integer, or ``id_str``.

Frames carry prices as strings and ids as integers, which orjson reads exactly up to 64 bits,
so they are decoded by orjson (``decode_fast``); a frame where a float turns up where an exact
number belongs (an id beyond 64 bits, a price level sent as a number) is read again exactly.

Subscribing: ``{"event":"bts:subscribe","data":{"channel":"order_book_btcusd"}}``, one channel
per frame, each answered ``{"event":"bts:subscription_succeeded","channel":"order_book_btcusd",
"data":{}}``. A well-formed channel of a market Bitstamp doesn't list is acked all the same and
then stays silent; only the instrument list (``GET /api/v2/markets/``) tells, and the listener
checks it before subscribing. A malformed channel name (upper case, a slash) gets
``{"event":"bts:error","channel":"","data":{"code":null,"message":"Invalid channel provided."}}``,
which names no channel: it is put on the oldest subscribe not yet answered, since the server
answers a connection's frames in order. Client frames must be under 512 bytes (a longer one
closes the socket, code 1009), and a connection carries at most 1,024 channels.

Keepalive: ``{"event":"bts:heartbeat"}``, answered ``{"event":"bts:heartbeat","channel":"",
"data":{"status":"success"}}``. A quiet book can be silent for about 50 s (a third-party probe
measured 49.2 s), longer than the listener's silence watchdog, so a heartbeat goes every 20 s
(more often when the watchdog is shorter: ``keepalive_interval``) and its answer keeps the
watchdog fed. ``{"event":"bts:request_reconnect","channel":"","data":
null}`` (older docs: ``"data":""``) gives "a few seconds to reconnect": the listener reconnects.

REST (``https://www.bitstamp.net/api/v2``): ``GET /markets/`` lists the markets (the changelog
calls ``/trading-pairs-info/`` obsolete, replaced by ``/markets/``), only ``market_type`` SPOT
with ``trading`` Enabled are streamed; ``GET /ticker/{market}/`` gives last, bid, ask and the
24 h statistics (a complete ``Ticker``); ``GET /transactions/{market}/?time=hour`` the last
hour's trades, newest first, ``type`` "0 (buy) or 1 (sell)" and ``tid`` the websocket trade's
``id``, so the two copies of a trade are shown once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

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
    optional_size,
    optional_statistic,
    price,
    reads_frame,
    size,
)
from .records import FeedState, Quote, Record, Side, Status, Ticker, Trade, time_from_us

NAME = "bitstamp"
BOOK = "order_book"
TRADES = "live_trades"
CHANNELS = (BOOK, TRADES)
MAX_CLIENT_FRAME = 511  # bytes: client frames must be "under 512 bytes"
HEARTBEAT = '{"event":"bts:heartbeat"}'
REST_TRADES_WINDOW = "hour"  # /transactions/ ``time``: minute, hour (the default) or day

_CODE = re.compile(r"[A-Z0-9]+")
_DIGITS = re.compile(r"[0-9]{1,20}")
_TAKER_SIDES = {0: Side.BUY, 1: Side.SELL}  # live_trades ``type``: the taker's side
_REST_TAKER_SIDES = {"0": Side.BUY, "1": Side.SELL}  # transactions ``type``, a string

Parser = Callable[[dict[str, Any], "Channel", datetime], list[Record]]


@dataclass(frozen=True, slots=True)
class Channel:
    """One channel we subscribe to: its kind (``order_book``), market symbol and our pair."""

    kind: str
    symbol: str
    pair: str

    @property
    def name(self) -> str:
        """``order_book_btcusd``: the channel's name on the wire."""
        return f"{self.kind}_{self.symbol}"


# Parsers -------------------------------------------------------------------------------------


@reads_frame
def parse_book(message: dict[str, Any], channel: Channel, received_at: datetime) -> list[Record]:
    """Read a full book (Order Book, event ``data``): its best bid and ask as a ``Quote``.

    ``{"data":{"timestamp":"1789457617","microtimestamp":"1789457617906487","bids":[["77188",
    "0.41122"],["77183","0.32386"],...],"asks":[["77189","0.41124"],...]},"channel":
    "order_book_btcusd","event":"data"}``

    A side with no levels leaves that side of the quote unknown; a book with none gives nothing.
    A crossed book is passed on as it is: the docs say it "will self-correct within the next
    message".
    """
    data = message["data"]
    bid, bid_size = _best(data["bids"], "bid")
    ask, ask_size = _best(data["asks"], "ask")
    time = _time(_integer(data["microtimestamp"]), received_at)
    if bid is None and ask is None:
        return []
    return [Quote(NAME, channel.pair, channel.symbol, time, bid=bid, ask=ask,
                  bid_size=bid_size, ask_size=ask_size)]


@reads_frame
def parse_trade(message: dict[str, Any], channel: Channel, received_at: datetime) -> list[Record]:
    """Read a trade (Live ticker, event ``trade``); ``type`` 0 is a taker buy, 1 a taker sell.

    ``{"data":{"id":216000477,"timestamp":"1641343699","amount":0.0792,"amount_str":"0.07920000",
    "price":3805.44,"price_str":"3805.44","type":0,"microtimestamp":"1641343699596000",
    "buy_order_id":1443875737346049,"sell_order_id":1443875731320832},"channel":
    "live_trades_ethusd","event":"trade"}``
    """
    data = message["data"]
    amount = price(_text(data["amount_str"]), "trade amount")
    kind = data["type"]
    if type(kind) is not int or kind not in _TAKER_SIDES:
        exact(kind)
        raise MalformedFrame(f"not a trade type: {kind!r}")
    return [Trade(NAME, channel.pair, channel.symbol,
                  _time(_integer(data["microtimestamp"]), received_at), _trade_id(data),
                  price(_text(data["price_str"]), "trade price"), amount, _TAKER_SIDES[kind])]


@reads_frame
def parse_rest_ticker(body: dict[str, Any], feed: Feed, received_at: datetime) -> list[Record]:
    """Read ``GET /api/v2/ticker/{market_symbol}/`` (Market ticker): a complete ``Ticker``.

    ``{"timestamp":"1723398353","open":"60940","high":"61868","low":"59959","last":"60192",
    "volume":"1008.29813067","vwap":"60962","bid":"60173","ask":"60175","side":"1",
    "open_24":"60652","percent_change_24":"-0.76"}``

    ``high``, ``low`` and ``volume`` are of the last 24 hours; ``open`` is the "first price of
    the day" and ``open_24`` the price 24 hours ago, which is the 24 h open.
    """
    if not isinstance(body, dict):
        raise MalformedFrame(f"ticker is not an object: {type(body).__name__}")
    time = _time(_integer(body["timestamp"]) * 10**6, received_at)
    return [Ticker(NAME, feed.pair, feed.symbol, time, bid=price(body["bid"], "bid"),
                   ask=price(body["ask"], "ask"), last=price(body["last"], "last"),
                   volume_24h=optional_size(body.get("volume"), "volume"),
                   open_24h=optional_statistic(body.get("open_24"), "open_24"),
                   high_24h=optional_statistic(body.get("high"), "high"),
                   low_24h=optional_statistic(body.get("low"), "low"))]


@reads_frame
def parse_rest_trades(rows: list[dict[str, Any]], feed: Feed, received_at: datetime,
                      limit: int | None = None) -> list[Record]:
    """Read ``GET /api/v2/transactions/{market_symbol}/`` (Transactions), returned oldest first.

    ``[{"date":"1551814435","tid":"83581898","price":"0.03532850","type":"1",
    "amount":"0.85945907"},{"date":"1551814434",...},...]``, newest first on the wire.

    ``type`` is "0 (buy) or 1 (sell)", the taker's side as on the websocket; ``tid`` is the
    websocket trade's ``id``. ``limit`` keeps the newest ``limit`` rows.
    """
    if not isinstance(rows, list):
        raise MalformedFrame(f"transactions are not a list: {type(rows).__name__}")
    newest = rows if limit is None else rows[:limit]
    return [_rest_trade(row, feed, received_at) for row in reversed(newest)]


@reads_frame
def parse_markets(body: list[dict[str, Any]]) -> dict[str, str]:
    """Read ``GET /api/v2/markets/`` (Markets): {market_symbol: ``BASE-QUOTE``} of the spot
    markets whose trading engine is ``Enabled``.

    ``[{"name":"BTC/USD","market_symbol":"btcusd","base_currency":"BTC","base_decimals":8,
    "counter_currency":"USD","counter_decimals":0,"minimum_order_value":"10","trading":"Enabled",
    "instant_order_counter_decimals":2,"instant_and_market_orders":"Enabled","description":
    "Bitcoin / U.S. dollar","market_type":"SPOT"},...]``; perpetuals (``btcusd-perp``) are
    ``"market_type":"PERPETUAL"``.
    """
    if not isinstance(body, list):
        raise MalformedFrame(f"markets are not a list: {type(body).__name__}")
    return {row["market_symbol"]: f"{row['base_currency']}-{row['counter_currency']}".upper()
            for row in body
            if row.get("market_type", "SPOT") == "SPOT" and row["trading"] == "Enabled"}


@reads_frame
def error_text(message: dict[str, Any]) -> str:
    """``Invalid channel provided.``, with the code where one is given (``(code 4009)``).

    ``{"event":"bts:error","channel":"","data":{"code":null,"message":"Invalid channel
    provided."}}``
    """
    data = message["data"]
    text, code = str(data["message"]), data.get("code")
    return text if code is None else f"{text} (code {code})"


# What each of our channels reads, by (channel kind, event).
_PARSERS: dict[tuple[str, str], Parser] = {
    (BOOK, "data"): parse_book,
    (TRADES, "trade"): parse_trade,
}


# Session and listener ------------------------------------------------------------------------


class BitstampSession(JsonSession):
    """The protocol state of one connection: our channels, and which subscribes are unanswered.

    Made by ``Bitstamp.new_session`` on every connect, for the symbols ``subscribe_frames`` was
    given in the same order. Each subscribe is answered by an ack naming its channel, or by a
    ``bts:error`` naming none; the error is put on the oldest subscribe still unanswered.
    """

    def __init__(self, feeds: Mapping[str, str]) -> None:
        super().__init__()
        self._feeds = dict(feeds)  # market symbol we subscribed to -> our pair
        channels = [Channel(kind, symbol, pair) for symbol, pair in self._feeds.items()
                    for kind in CHANNELS]
        self._channels = {channel.name: channel for channel in channels}
        self._unanswered = [channel.name for channel in channels]  # in subscribe order
        self._events: dict[str, Callable[[dict[str, Any], datetime], list[Record]]] = {
            "bts:subscription_succeeded": self._on_ack,
            "bts:error": self._on_error,
            "bts:request_reconnect": self._on_reconnect,
        }


    def receive_message(self, message: Any, received_at: datetime) -> list[Record]:
        """Read one decoded frame: data by its ``channel``, a ``bts:`` event by its name.

        Events we don't need (the heartbeat's answer, ``bts:unsubscription_succeeded``) and
        frames of channels we did not ask for yield nothing.
        """
        if not isinstance(message, dict):
            raise MalformedFrame(f"not an object: {type(message).__name__}")
        event, name = message.get("event"), message.get("channel")
        if not isinstance(event, str):
            raise MalformedFrame(f"'event' is not a string: {event!r}")
        handler = self._events.get(event)
        if handler is not None:
            return handler(message, received_at)
        channel = self._channels.get(name) if isinstance(name, str) else None
        if channel is None:
            return []
        parser = _PARSERS.get((channel.kind, event))
        if parser is None:
            if event.startswith("bts:"):
                return []
            raise MalformedFrame(f"unexpected {event!r} message on {name}")
        return parser(message, channel, received_at)

    def _on_ack(self, message: dict[str, Any], received_at: datetime) -> list[Record]:
        """``{"event":"bts:subscription_succeeded","channel":"live_trades_ethusd","data":{}}``:
        the pair is live (an unlisted market is acked too: see the module docstring)."""
        name = message.get("channel")
        if not isinstance(name, str):
            raise MalformedFrame(f"ack without a channel: {name!r}")
        channel = self._channels.get(name)
        if channel is None:
            return []  # a channel we did not ask for
        if name in self._unanswered:
            self._unanswered.remove(name)
        return [Status(NAME, channel.pair, FeedState.LIVE, f"subscribed to {channel.kind}",
                       received_at)]

    def _on_error(self, message: dict[str, Any], received_at: datetime) -> list[Record]:
        """A refusal: the pair of the channel it names, else of the oldest unanswered subscribe.

        An error that can be tied to no subscribe of ours (one answering something else) raises
        ``MalformedFrame``: the listener counts and logs it.
        """
        text = error_text(message)
        name = message.get("channel")
        if isinstance(name, str) and name in self._channels:
            if name in self._unanswered:
                self._unanswered.remove(name)
        elif self._unanswered:
            name = self._unanswered.pop(0)
        else:
            raise MalformedFrame(f"exchange error: {text}")
        channel = self._channels[name]
        return [Status(NAME, channel.pair, FeedState.ERROR, f"{text} ({name})", received_at)]

    def _on_reconnect(self, message: dict[str, Any], received_at: datetime) -> list[Record]:
        """``{"event":"bts:request_reconnect","channel":"","data":null}``: reconnect now."""
        raise ReconnectRequested("Bitstamp asked for a reconnect (bts:request_reconnect)")


class Bitstamp(ExchangeListener):
    """Bitstamp public market data: ``order_book`` for the top of book, ``live_trades``."""

    name = NAME
    default_url = "wss://ws.bitstamp.net"
    default_rest_url = "https://www.bitstamp.net"
    channels_per_pair = len(CHANNELS)
    max_subscriptions = 1024  # "a 1025th subscription" silently closes the connection
    ping_interval = 20.0  # quiet books can be silent ~50 s: see the module docstring
    merges_quotes = True  # no ticker channel: the book and the trades are merged

    def symbol_for(self, pair: str) -> str:
        """``BTC-USD`` -> ``btcusd``: the market symbol, lower case. Whether the market exists
        is Bitstamp's call: the instrument list says, since a subscribe to an unlisted market
        is acked and then silent."""
        base, quote = split_pair(pair)
        if not (_CODE.fullmatch(base) and _CODE.fullmatch(quote)):
            raise PairError(f"Bitstamp has no market symbol for {pair!r}: expected BASE-QUOTE "
                            "in upper-case letters and digits")
        symbol = f"{base}{quote}".lower()
        if max(len(subscribe_frame(kind, symbol)) for kind in CHANNELS) > MAX_CLIENT_FRAME:
            raise PairError(f"Bitstamp has no market symbol for {pair!r}: its subscribe frame "
                            f"would be over the {MAX_CLIENT_FRAME} bytes a client may send")
        return symbol

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        """One ``bts:subscribe`` per channel ("one channel per frame"), the book first."""
        return [subscribe_frame(kind, symbol) for symbol in symbols for kind in CHANNELS]

    def new_session(self, feeds: Mapping[str, str]) -> BitstampSession:
        return BitstampSession(feeds)

    def ping_frame(self) -> str:
        """The documented heartbeat, ``{"event":"bts:heartbeat"}``."""
        return HEARTBEAT

    def rest_snapshot_requests(self, symbol: str, trades_limit: int) -> list[RestRequest]:
        """Market ticker, then the last hour's Transactions (the newest ``trades_limit``)."""

        def trades(body: Any, feed: Feed, received_at: datetime) -> list[Record]:
            return parse_rest_trades(body, feed, received_at, trades_limit)

        return [RestRequest(f"/api/v2/ticker/{symbol}/", parse_rest_ticker),
                RestRequest(f"/api/v2/transactions/{symbol}/?time={REST_TRADES_WINDOW}", trades)]

    def instruments_request(self) -> InstrumentsRequest:
        """Markets: every market, spot and perpetual, with its trading status."""
        return InstrumentsRequest("/api/v2/markets/", parse_markets)


# Helpers -------------------------------------------------------------------------------------


def subscribe_frame(kind: str, symbol: str) -> str:
    """``{"event":"bts:subscribe","data":{"channel":"order_book_btcusd"}}`` (ASCII only)."""
    return json.dumps({"event": "bts:subscribe", "data": {"channel": f"{kind}_{symbol}"}},
                      separators=(",", ":"))


def _best(levels: Any, side: str) -> tuple[Decimal | None, Decimal | None]:
    """The first ``[price, amount]`` of one side of the book, or (None, None) when it is empty."""
    if not isinstance(levels, list):
        raise MalformedFrame(f"book side is not a list: {type(levels).__name__}")
    if not levels:
        return None, None
    best = levels[0]
    if not isinstance(best, list):
        raise MalformedFrame(f"book level is not a [price, amount] list: {best!r}")
    return price(best[0], side), size(best[1], f"{side} amount")


def _time(micros: int, received_at: datetime) -> datetime:
    """Epoch microseconds as a UTC time, within the window of a sane clock."""
    return market_time(time_from_us(micros), micros, received_at)


def _integer(value: Any) -> int:
    """``microtimestamp`` or ``timestamp``: a string of digits (an integer accepted too)."""
    if type(value) is int and value >= 0:
        return value
    if type(value) is str and _DIGITS.fullmatch(value):
        return int(value)
    exact(value)  # a float is orjson's reading of a number with a fraction: read it again
    raise MalformedFrame(f"not a whole number: {value!r}")


def _text(value: Any) -> str:
    """A ``_str`` field: the exact decimal as a string."""
    if type(value) is not str:
        raise MalformedFrame(f"not a decimal string: {value!r}")
    return value


def _trade_id(data: dict[str, Any]) -> str:
    """``id`` as text, exactly; ``id_str`` where ``id`` is missing."""
    value = data.get("id")
    if value is None:
        value = data["id_str"]
        if type(value) is str and _DIGITS.fullmatch(value):
            return value
    elif type(value) is int and value >= 0:
        return str(value)
    exact(value)  # a float is orjson's reading of an integer beyond 64 bits: read it again
    raise MalformedFrame(f"not a trade id: {value!r}")


def _rest_trade(row: dict[str, Any], feed: Feed, received_at: datetime) -> Trade:
    """One row of Transactions."""
    amount = price(row["amount"], "trade amount")
    tid, kind = row["tid"], row["type"]
    if type(tid) is int:
        tid = str(tid)
    if type(tid) is not str or not _DIGITS.fullmatch(tid):
        raise MalformedFrame(f"not a trade id: {tid!r}")
    side = _REST_TAKER_SIDES.get(str(kind)) if type(kind) in (str, int) else None
    if side is None:
        raise MalformedFrame(f"not a trade type: {kind!r}")
    return Trade(NAME, feed.pair, feed.symbol, _time(_integer(row["date"]) * 10**6, received_at),
                 tid, price(row["price"], "trade price"), amount, side)
