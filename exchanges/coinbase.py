"""Coinbase Exchange websocket feed, channels ``ticker``, ``matches`` and ``heartbeat``.

Follows docs.cdp.coinbase.com/exchange/docs/websocket-overview and websocket-channels. Every
frame is a JSON object tagged by ``type``; prices and sizes are JSON strings, read as exact
``Decimal``s; ``time`` is ISO-8601 UTC with microseconds, the exchange's event time. Since prices
and sizes are strings and ids are integers, which orjson reads exactly up to 64 bits, frames are
decoded by orjson (``decode_fast``); should a price come as a JSON number or an id be longer,
orjson's float is refused and the frame is read again exactly (``InexactNumber``).

- ``ticker`` is sent on every match: best bid/ask, last price, and the trade that caused it,
  whose ``side`` is the TAKER's.
- ``matches`` sends every trade (a ``last_match`` first, then ``match``); its ``side`` is the
  MAKER's ("If the side is sell this indicates the maker was a sell order and the match is
  considered an up-tick"), so the taker's side is the opposite.
- ``heartbeat`` comes once a second per product, which keeps the listener's silence watchdog
  fed on a product that doesn't trade.

REST (docs.cdp.coinbase.com/api-reference/exchange-api/rest-api/products) gives the snapshot
taken before streaming: ``GET /products/{product_id}/ticker`` (last trade, best bid/ask, 24 h
volume) and ``GET /products/{product_id}/trades?limit=N`` (newest first, ``side`` the MAKER's as
in ``matches``). A product Coinbase doesn't list answers HTTP 404 ``{"message":"NotFound"}``.

A trade thus arrives twice, in ``ticker`` and in ``match``; both become the same ``Trade``
(same id, time and taker side) and the listener's ``RecentIds`` shows it once.

One subscribe frame per product: when any product of a subscribe is invalid the feed answers
``{"type":"error","message":"Failed to subscribe","reason":"XRP-USD is not a valid product"}``
and subscribes nothing of that message, so batching would let one bad pair take every pair down.
The cost is one inbound message per pair on connect, paced at 8 a second: the rate-limits page
allows 10 per second with bursts of 1000, an older overview page 8 a second with bursts of 20.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from .base import ExchangeListener, Feed, InstrumentsRequest, JsonSession, RestRequest
from .pairs import PairError
from .parsing import (
    MalformedFrame,
    exact,
    market_number,
    market_time,
    optional_size,
    optional_statistic,
    parse_iso_time,
    price,
    reads_frame,
)
from .records import FeedState, Record, Side, Status, Ticker, Trade

NAME = "coinbase"
CHANNELS = ("ticker", "matches", "heartbeat")

_PRODUCT_ID = re.compile(r"[A-Z0-9]+-[A-Z0-9]+")
# product-id-shaped words in an error text; whole words, so BTC-USDT never reads as BTC-USD
_NAMED_PRODUCT = re.compile(r"(?<![A-Za-z0-9-])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+(?![A-Za-z0-9-])")
_TAKER_SIDE = {"buy": Side.SELL, "sell": Side.BUY}  # match ``side`` (the maker's) -> taker's
_SIDE = {"buy": Side.BUY, "sell": Side.SELL}  # ticker ``side``: the taker's already
_ZERO = Decimal(0)

Parser = Callable[[dict[str, Any], Mapping[str, str], datetime], list[Record]]


# Parsers -------------------------------------------------------------------------------------


@reads_frame
def parse_ticker(message: dict[str, Any], feeds: Mapping[str, str],
                 received_at: datetime) -> list[Record]:
    """Read a ``ticker`` (Ticker Channel): the top of book, plus the trade it reports.

    ``{"type":"ticker","sequence":471056965,"product_id":"NMR-EUR","price":"67.021",...,
    "best_bid":"66.9082","best_ask":"67.0210","side":"buy","time":"2021-04-17T16:43:37.207503Z",
    "trade_id":868599,"last_size":"0.148"}``

    The trade needs ``trade_id``, ``last_size``, ``side`` and ``time``; a ticker without them
    (the first one after subscribing may lack them) gives the ``Ticker`` alone. ``time`` is
    required for the trade so that it equals, field by field, the one ``match`` reports.
    """
    symbol = message["product_id"]
    pair = feeds.get(symbol)
    if pair is None:
        return []
    at = message.get("time")
    time = received_at if at is None else _time(at, received_at)
    last = price(message["price"])
    ticker = Ticker(NAME, pair, symbol, time, price(message["best_bid"], "best_bid"),
                    price(message["best_ask"], "best_ask"), last,
                    optional_size(message.get("best_bid_size"), "best_bid_size"),
                    optional_size(message.get("best_ask_size"), "best_ask_size"),
                    optional_size(message.get("volume_24h"), "volume_24h"),
                    optional_statistic(message.get("open_24h"), "open_24h"),
                    optional_statistic(message.get("high_24h"), "high_24h"),
                    optional_statistic(message.get("low_24h"), "low_24h"))
    trade_id, size, side = message.get("trade_id"), message.get("last_size"), message.get("side")
    if trade_id is None or size is None or side is None or at is None:
        return [ticker]
    return [ticker, _trade(pair, symbol, time, trade_id, last, size, _SIDE[side])]


@reads_frame
def parse_match(message: dict[str, Any], feeds: Mapping[str, str],
                received_at: datetime) -> list[Record]:
    """Read a ``match`` or ``last_match`` (Matches Channel); ``side`` is the maker's.

    ``{"type":"match","trade_id":868599,...,"side":"sell","size":"0.148","price":"67.021",
    "product_id":"NMR-EUR","sequence":471056965,"time":"2021-04-17T16:43:37.207503Z"}``
    """
    symbol = message["product_id"]
    pair = feeds.get(symbol)
    if pair is None:
        return []
    return [_trade(pair, symbol, _time(message["time"], received_at), message["trade_id"],
                   price(message["price"]), message["size"], _TAKER_SIDE[message["side"]])]


@reads_frame
def parse_rest_ticker(body: dict[str, Any], feed: Feed, received_at: datetime) -> list[Record]:
    """Read ``GET /products/{product_id}/ticker`` (Get product ticker): top of book, last trade.

    ``{"trade_id":4729088,"price":"333.99","size":"0.193","bid":"333.98","ask":"333.99",
    "volume":"5957.11914015","time":"2015-11-14T20:46:03.511254Z"}``

    ``time`` is the last trade's, as in the websocket ticker. The answer names no side, so its
    trade can't be a ``Trade``: the trades endpoint brings it.
    """
    return [Ticker(NAME, feed.pair, feed.symbol, _time(body["time"], received_at),
                   bid=price(body["bid"], "bid"), ask=price(body["ask"], "ask"),
                   last=price(body["price"]),
                   volume_24h=optional_size(body.get("volume"), "volume"))]


@reads_frame
def parse_rest_trades(rows: list[dict[str, Any]], feed: Feed,
                      received_at: datetime) -> list[Record]:
    """Read ``GET /products/{product_id}/trades`` (Get product trades), returned oldest first.

    ``[{"time":"2014-11-07T22:19:28.578544Z","trade_id":74,"price":"10.00000000",
    "size":"0.01000000","side":"buy"},...]``, newest first on the wire.

    ``side`` is the MAKER's, as in ``matches``: "The side of a trade indicates the maker order
    side... A buy side indicates a down-tick because the maker was a buy order and their order
    was removed. A sell side indicates an up-tick." So the taker's side is the opposite: a
    ``buy`` row is a taker sell. ``trade_id`` is the websocket's, so both copies dedupe.
    """
    if not isinstance(rows, list):
        raise MalformedFrame(f"trades are not a list: {type(rows).__name__}")
    return [_trade(feed.pair, feed.symbol, _time(row["time"], received_at), row["trade_id"],
                   price(row["price"]), row["size"], _TAKER_SIDE[row["side"]])
            for row in reversed(rows)]


@reads_frame
def parse_products(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Read ``GET /products`` (Get all known trading pairs): the products that trade now.

    ``[{"id":"BTC-USD","base_currency":"BTC","quote_currency":"USD","status":"online",
    "trading_disabled":false,...},...]``; a product ``delisted`` or with trading disabled is
    left out. The product id is our pair already.
    """
    return {row["id"]: row["id"] for row in rows
            if row["status"] == "online" and not row.get("trading_disabled")}


@reads_frame
def subscribed_products(message: dict[str, Any], feeds: Mapping[str, str]) -> list[str]:
    """Our products that a ``subscriptions`` ack lists under ``ticker``, in its order.

    ``{"type":"subscriptions","channels":[{"name":"ticker","product_ids":["NMR-EUR",...]},
    {"name":"matches","product_ids":[...]},...]}``

    The ack lists every subscription of the connection so far, not only the last subscribe's;
    after a refused subscribe it may be empty: ``{"type":"subscriptions","channels":[]}``.
    """
    listed = [product for channel in message["channels"] if channel["name"] == "ticker"
              for product in channel["product_ids"]]
    return [product for product in dict.fromkeys(listed) if product in feeds]


@reads_frame
def named_products(message: dict[str, Any], feeds: Mapping[str, str]) -> list[str]:
    """Our products that an ``error`` names, in its ``reason`` or ``message``.

    ``{"type":"error","message":"Failed to subscribe","reason":"XRP-USD is not a valid product"}``
    """
    text = f"{message.get('reason') or ''} {message['message']}"
    return [product for product in dict.fromkeys(_NAMED_PRODUCT.findall(text)) if product in feeds]


@reads_frame
def error_text(message: dict[str, Any]) -> str:
    """``"Failed to subscribe: Invalid product ID provided"``, or the message alone."""
    reason = message.get("reason")
    return f"{message['message']}: {reason}" if reason else str(message["message"])


def _no_records(message: dict[str, Any], feeds: Mapping[str, str],
                received_at: datetime) -> list[Record]:
    return []


# Frame types that need no session state; ``heartbeat`` only proves the feed is alive.
_PARSERS: dict[str, Parser] = {
    "ticker": parse_ticker,
    "match": parse_match,
    "last_match": parse_match,
    "heartbeat": _no_records,
}


# Session and listener ------------------------------------------------------------------------


class CoinbaseSession(JsonSession):
    """The protocol state of one connection: which of our subscribes the feed has answered.

    Made by ``Coinbase.new_session`` on every connect. ``Coinbase.subscribe_frames`` sends one
    subscribe per product and the feed answers each with exactly one ``subscriptions`` ack,
    listing everything subscribed so far. A pair is ``live`` from the first ack that lists it.
    A refusal naming the product makes that pair ``error`` at once; one that names none (the
    old ``"reason":"Invalid product ID provided"``) can't be tied to a frame, since the docs
    don't promise that an error arrives next to its ack, so it is shown on the exchange and,
    once every subscribe has been acked, each pair no ack listed becomes ``error`` with it.
    """

    def __init__(self, feeds: Mapping[str, str]) -> None:
        super().__init__()
        self._feeds = dict(feeds)  # product_id we subscribed to -> our pair
        self._unanswered = len(self._feeds)  # subscribes not yet acked: one per product
        self._settled: set[str] = set()  # products already reported live or refused
        self._refusal = "not listed in any subscriptions ack"  # why an unlisted pair failed
        self._handlers: dict[str, Parser] = {
            **_PARSERS, "subscriptions": self._on_subscriptions, "error": self._on_error,
        }


    def receive_message(self, message: Any, received_at: datetime) -> list[Record]:
        """Read one decoded frame: what ``receive`` does after decoding."""
        kind = message.get("type") if isinstance(message, dict) else None
        if not isinstance(kind, str):
            raise MalformedFrame("not an object with a string 'type'")
        return self._handlers.get(kind, _no_records)(message, self._feeds, received_at)

    def _on_subscriptions(self, message: dict[str, Any], feeds: Mapping[str, str],
                          received_at: datetime) -> list[Record]:
        new = [product for product in subscribed_products(message, feeds)
               if product not in self._settled]
        self._settled.update(new)
        records: list[Record] = [Status(NAME, feeds[product], FeedState.LIVE, "subscribed",
                                        received_at) for product in new]
        self._unanswered -= 1
        if self._unanswered == 0:  # every subscribe answered: the rest were refused
            unlisted = [product for product in feeds if product not in self._settled]
            self._settled.update(unlisted)
            records += [Status(NAME, feeds[product], FeedState.ERROR, self._refusal, received_at)
                        for product in unlisted]
        return records

    def _on_error(self, message: dict[str, Any], feeds: Mapping[str, str],
                  received_at: datetime) -> list[Record]:
        named = named_products(message, feeds)
        if not named:
            self._refusal = error_text(message)
            return [Status(NAME, None, FeedState.ERROR, self._refusal, received_at)]
        self._settled.update(named)
        detail = str(message.get("reason") or message["message"])
        return [Status(NAME, feeds[product], FeedState.ERROR, detail, received_at)
                for product in named]


class Coinbase(ExchangeListener):
    """Coinbase Exchange public market data: ``ticker``, ``matches`` and ``heartbeat``."""

    name = NAME
    default_url = "wss://ws-feed.exchange.coinbase.com"
    default_rest_url = "https://api.exchange.coinbase.com"
    channels_per_pair = len(CHANNELS)
    subscribe_interval = 1 / 8  # the stricter of the two documented rates (module docstring)

    def symbol_for(self, pair: str) -> str:
        """``BTC-USD`` is already Coinbase's product_id; whether it is listed is Coinbase's call
        (an unlisted one is refused with "<P> is not a valid product", reported on that pair)."""
        if not _PRODUCT_ID.fullmatch(pair):
            raise PairError(f"Coinbase has no product_id for {pair!r}: expected BASE-QUOTE "
                            "in upper-case letters and digits")
        return pair

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        """One subscribe per product (see the module docstring), product_ids in each channel.

        Root-level ``product_ids`` are documented too, but a channel object with an empty list
        is refused (" is not a valid product"), so each channel names its product itself.
        """
        return [json.dumps({"type": "subscribe",
                            "channels": [{"name": name, "product_ids": [symbol]}
                                         for name in CHANNELS]},
                           separators=(",", ":"))
                for symbol in symbols]

    def new_session(self, feeds: Mapping[str, str]) -> CoinbaseSession:
        return CoinbaseSession(feeds)

    def instruments_request(self) -> InstrumentsRequest:
        """Get all known trading pairs."""
        return InstrumentsRequest("/products", parse_products)

    def rest_snapshot_requests(self, symbol: str, trades_limit: int) -> list[RestRequest]:
        """Get product ticker, then Get product trades (its first page: at most 1000)."""
        return [RestRequest(f"/products/{symbol}/ticker", parse_rest_ticker),
                RestRequest(f"/products/{symbol}/trades?limit={trades_limit}",
                            parse_rest_trades)]


def _trade(pair: str, symbol: str, time: datetime, trade_id: Any, trade_price: Decimal,
           size: Any, side: Side) -> Trade:
    """The trade a ticker, match or REST trade reports; all spell id, price and time alike."""
    amount = market_number(size, "size")
    if amount <= _ZERO:  # a Decimal: comparing with the int 0 costs a conversion
        raise MalformedFrame(f"trade size is not positive: {size!r}")
    return Trade(NAME, pair, symbol, time, _trade_id(trade_id), trade_price, amount, side)


def _time(text: str, received_at: datetime) -> datetime:
    """``time``: ISO-8601 UTC, within the window of a sane clock."""
    return market_time(parse_iso_time(text), text, received_at)


def _trade_id(value: Any) -> str:
    """``trade_id`` as text: the docs send an integer; a non-empty string is kept as it is."""
    if type(value) is int or (type(value) is str and value):
        return str(value)
    exact(value)  # a float is orjson's reading of an integer beyond 64 bits: read it again
    raise MalformedFrame(f"not a trade id: {value!r}")
