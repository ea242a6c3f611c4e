"""Bitstamp WebSocket API v2, public channels ``order_book`` and ``live_trades``, and its REST API.

Frames follow https://www.bitstamp.net/websocket/v2/ and the wire as recorded (cryptofeed's
``BITSTAMP.ws.1.0``, 2022, and a 2026 probe): JSON objects ``{event, channel, data}``, compact,
channel names ``<kind>_<market>`` with lower-case market symbols (``btcusd``).

    {"event":"bts:subscribe","data":{"channel":"order_book_btcusd"}}           client
    {"event":"bts:subscription_succeeded","channel":"order_book_btcusd","data":{}}
    {"data":{"timestamp":"..","microtimestamp":"..","bids":[["43000.00","0.41122000"],...],
     "asks":[...]},"channel":"order_book_btcusd","event":"data"}    top 100 levels, on a change
    {"data":{"id":..,"timestamp":"..","amount":0.0792,"amount_str":"0.07920000","price":3805.44,
     "price_str":"3805.44","type":0,"microtimestamp":"..","buy_order_id":..,"sell_order_id":..},
     "channel":"live_trades_btcusd","event":"trade"}                type: 0 buy, 1 sell (taker)
    {"event":"bts:heartbeat"}                                                    client
    {"event":"bts:heartbeat","channel":"","data":{"status":"success"}}
    {"event":"bts:request_reconnect","channel":"","data":null}      control ``reconnect``
    {"event":"bts:error","channel":"","data":{"code":null,"message":"Invalid channel provided."}}

Rules kept from the real feed: one channel per subscribe frame, each acked on its own; a book
sends no snapshot at the moment of subscription, only a full book (up to 100 levels a side) on
each later change of its top; a well-formed channel of a market not listed here (``order_book_
fooxyz``, ``order_book_btcusd-perp``) is acked and then silent; a malformed channel name (upper
case, a slash, an unknown kind) gets ``Invalid channel provided.``, text that is not JSON
``Incorrect JSON format.``, a frame without a channel or with another event (``bts:ping``)
``Bad subscription string.``, and the socket stays open; a client frame over 512 bytes closes
it with 1009 "read limited at 513 bytes". ``price``/``amount`` are JSON numbers written from a
float beside the exact ``price_str``/``amount_str``; amounts have 8 decimals and prices the
market's, as Bitstamp pads them (a value with more digits keeps them all); the taker's order is
the newer one (``buy_order_id`` above ``sell_order_id`` on a buy).

REST (``/api/v2``), from the same market:

    GET /api/v2/markets/                      [{"name":"BTC/USD","market_symbol":"btcusd",
                                              "base_currency":"BTC",...,"trading":"Enabled",
                                              ...,"market_type":"SPOT"},...] plus two perpetuals
    GET /api/v2/ticker/btcusd/                {"timestamp","open","high","low","last","volume",
                                              "vwap","bid","ask","side","open_24",
                                              "percent_change_24"}, strings
    GET /api/v2/transactions/btcusd/?time=hour
                                              [{"date","tid","price","type","amount"},...],
                                              newest first, strings; time minute|hour|day
    unknown market                            HTTP 404 {"error":"Not found"} (our wording)

Simplifications: the ticker's ``open`` (first price of the day) equals ``open_24``, ``vwap`` is
the mean of high, low and last; ``time`` does not cut the transactions (at most the last 30
trades are kept anyway); the perpetuals are listed only, their REST routes answer 404. Levels
below the top of book are made up, deterministically from the market and the price. Not
simulated: other channels (their well-formed names are acked and stay silent), private
channels, the 1,024-channel limit, the server's protocol pings, the 90-day connection age.
A client's heartbeats are counted (``BitstampPeer.heartbeats``) for tests.

Fast mode (``FAST``, ``simulator.fast``): per pair the round ``live_trades, order_book``, one
trade; the book comes with every trade, changed or not; the order ids are the market moment's,
not derived from each trade's id.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
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
    RestReply,
    Send,
)

BOOK = "order_book"
TRADES = "live_trades"
SERVED = (BOOK, TRADES)
# the public channel kinds of the docs: a well-formed name is one of these, "_", a market symbol
KINDS = ("live_trades", "live_orders", "order_book", "detail_order_book", "diff_order_book",
         "funding_rate")
BOOK_DEPTH = 100  # "Top 100 levels"
MAX_FRAME = 512  # bytes a client frame may have; a longer one closes the socket
_TOO_LONG = Close(1009, "read limited at 513 bytes")
_WELL_FORMED = re.compile(rf"({'|'.join(KINDS)})_([a-z0-9]+(?:-[a-z0-9]+)*)")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TYPES = {Side.BUY: 0, Side.SELL: 1}  # live_trades ``type``: the taker's side
_BASE_DECIMALS = 8  # every catalogue coin: amounts in 8 decimals
_ORDER_IDS = 1_400_000_000_000_000  # where made-up order ids start
_PERPETUALS = ("BTC", "ETH")  # listed as USD perpetuals, to show ``market_type``
_NAMES = {"BTC": "Bitcoin", "ETH": "Ether", "SOL": "Solana", "LTC": "Litecoin", "XRP": "XRP",
          "DOGE": "Dogecoin", "ADA": "Cardano", "USD": "U.S. dollar", "EUR": "Euro",
          "USDT": "Tether"}


def symbol_for(pair: str) -> str:
    """Bitstamp's market symbol for a catalogue pair: ``BTC-USD`` -> ``btcusd``."""
    return pair.replace("-", "").lower()


_PAIRS: dict[str, str] = {symbol_for(pair): pair for pair in PRODUCTS}


@dataclass(slots=True)
class _Subscription:
    kind: str
    pair: str | None  # None: a market this simulator doesn't list (acked, then silent)
    top: tuple[Decimal, Decimal, Decimal, Decimal] | None = None  # the book last shown


class BitstampPeer(Peer):
    """One connection to the simulated ``wss://ws.bitstamp.net``."""

    def __init__(
        self, market: Market, rng: random.Random, options: PeerOptions, now: float
    ) -> None:
        super().__init__(market, rng, options, now)
        self._subscriptions: dict[str, _Subscription] = {}  # by channel name, in order
        self.heartbeats = 0  # bts:heartbeat frames the client sent

    # Peer interface

    def opened(self, now: float) -> list[Action]:
        return []  # nothing until the client subscribes

    def receive(self, text: str, now: float) -> list[Action]:
        if len(text.encode("utf-8", "surrogatepass")) > MAX_FRAME:
            return [_TOO_LONG]
        try:
            message = json.loads(text)
        except ValueError:
            return [error("Incorrect JSON format.")]
        event = message.get("event") if isinstance(message, dict) else None
        if event == "bts:heartbeat":
            self.heartbeats += 1
            return [Send(wire.dumps({"event": "bts:heartbeat", "channel": "",
                                     "data": {"status": "success"}}))]
        if event not in ("bts:subscribe", "bts:unsubscribe"):
            return [error("Bad subscription string.")]
        data = message.get("data")
        channel = data.get("channel") if isinstance(data, dict) else None
        if not isinstance(channel, str):
            return [error("Bad subscription string.")]
        well_formed = _WELL_FORMED.fullmatch(channel)
        if well_formed is None:
            return [error("Invalid channel provided.")]
        if event == "bts:unsubscribe":
            self._subscriptions.pop(channel, None)
            return [_answer("bts:unsubscription_succeeded", channel)]
        if channel not in self._subscriptions:
            self._subscriptions[channel] = self._subscription(*well_formed.groups())
        return [_answer("bts:subscription_succeeded", channel)]

    def tick(self, now: float) -> list[Action]:
        return []  # no server heartbeats: Bitstamp only answers the client's

    def on_trade(self, pair: str, trade: Trade, now: float) -> list[Action]:
        actions: list[Action] = []
        symbol = symbol_for(pair)
        if f"{TRADES}_{symbol}" in self._subscriptions:
            tick = self.market.pair(pair).product.tick
            actions.append(Send(wire.dumps(trade_frame(pair, tick, trade))))
        return actions + self.on_quote(pair, now)

    def on_quote(self, pair: str, now: float) -> list[Action]:
        """The full book, when its top changed since this connection last saw it."""
        subscription = self._subscriptions.get(f"{BOOK}_{symbol_for(pair)}")
        if subscription is None or subscription.pair is None:
            return []
        state = self.market.state(pair)
        top = (state.bid, state.bid_size, state.ask, state.ask_size)
        if top == subscription.top:
            return []
        subscription.top = top
        return [Send(wire.dumps(book_frame(state, self.market.pair(pair).product, now)))]

    def subscriptions(self) -> list[tuple[str, str]]:
        return [(sub.kind, sub.pair) for sub in self._subscriptions.values()
                if sub.pair is not None]

    # Private methods

    def _subscription(self, kind: str, symbol: str) -> _Subscription:
        """A new subscription; a book remembers the top it starts from (no snapshot is sent)."""
        pair = _PAIRS.get(symbol)
        if kind not in SERVED or pair is None or not self.market.knows(pair):
            return _Subscription(kind, None)
        subscription = _Subscription(kind, pair)
        if kind == BOOK:
            state = self.market.state(pair)
            subscription.top = (state.bid, state.bid_size, state.ask, state.ask_size)
        return subscription


# Frames


def error(message: str) -> Send:
    """``{"event":"bts:error","channel":"","data":{"code":null,"message":"..."}}``."""
    return Send(wire.dumps({"event": "bts:error", "channel": "",
                            "data": {"code": None, "message": message}}))


def request_reconnect() -> Send:
    """The maintenance notice: ``{"event":"bts:request_reconnect","channel":"","data":null}``."""
    return Send(wire.dumps({"event": "bts:request_reconnect", "channel": "", "data": None}))


def _answer(event: str, channel: str) -> Send:
    return Send(wire.dumps({"event": event, "channel": channel, "data": {}}))


def trade_frame(pair: str, tick: Decimal, trade: Trade) -> dict[str, Any]:
    """A ``live_trades`` message for ``trade`` of ``pair``, in the recorded field order."""
    micros = _micros(trade.time)
    maker = _ORDER_IDS + trade.id * 16
    taker = maker + 7  # the taker's order came last
    buyer, seller = (taker, maker) if trade.side is Side.BUY else (maker, taker)
    return {
        "data": {
            "id": trade.id,
            "timestamp": str(micros // 1_000_000),
            "amount": _float(trade.size),
            "amount_str": amount_text(trade.size),
            "price": _float(trade.price),
            "price_str": price_text(trade.price, tick),
            "type": _TYPES[trade.side],
            "microtimestamp": str(micros),
            "buy_order_id": buyer,
            "sell_order_id": seller,
        },
        "channel": f"{TRADES}_{symbol_for(pair)}",
        "event": "trade",
    }


def book_frame(state: PairState, product: Product, now: float) -> dict[str, Any]:
    """An ``order_book`` message: the top of book, then made-up levels, 100 a side at most."""
    micros = round(now * 1_000_000)
    return {
        "data": {
            "timestamp": str(micros // 1_000_000),
            "microtimestamp": str(micros),
            "bids": _levels(state, product, state.bid, state.bid_size, -1),
            "asks": _levels(state, product, state.ask, state.ask_size, 1),
        },
        "channel": f"{BOOK}_{symbol_for(state.pair)}",
        "event": "data",
    }


def _levels(state: PairState, product: Product, best: Decimal, size: Decimal,
            direction: int) -> list[list[str]]:
    levels = [[price_text(best, product.tick), amount_text(size)]]
    for index in range(1, BOOK_DEPTH):
        price = best + direction * index * product.tick
        if price <= 0:
            break
        levels.append([price_text(price, product.tick),
                       amount_text(_depth_size(state.pair, price))])
    return levels


def _depth_size(pair: str, price: Decimal) -> Decimal:
    """A resting amount worth 50 to 20,000 in the quote currency, the same for every look."""
    digest = hashlib.sha256(f"bitstamp:{pair}:{price}".encode()).digest()
    notional = Decimal(50 + int.from_bytes(digest[:4], "big") % 19_951)
    return max((notional / price).quantize(SIZE_STEP), SIZE_STEP)


def amount_text(value: Decimal) -> str:
    """An amount as Bitstamp writes it, with 8 decimals (``0.07920000``), digits never lost."""
    return _padded(value, Decimal(1).scaleb(-_BASE_DECIMALS))


def price_text(value: Decimal, tick: Decimal) -> str:
    """A price in the market's decimals (``3805.40``), digits never lost."""
    return _padded(value, tick)


def _padded(value: Decimal, step: Decimal) -> str:
    padded = value.quantize(step, rounding=ROUND_HALF_EVEN)
    return wire.decimal_text(padded if padded == value else value)


def _float(value: Decimal) -> float | int:
    """The JSON number beside a ``_str`` field: a float, an integer when it has no fraction."""
    number = float(value)
    return int(number) if number.is_integer() else number


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


# Control


def reconnect_command(params: Mapping[str, str]) -> list[Action]:
    """``/control/bitstamp/reconnect``: send ``bts:request_reconnect`` to every connection.

    Only the notice: the real server gives "a few seconds to reconnect", so a client that
    reconnects here did so because of the frame.
    """
    return [request_reconnect()]


# REST

_NOT_FOUND = RestReply(404, {"error": "Not found"})
_TRANSACTION_WINDOWS = ("minute", "hour", "day")


def rest(market: Market, parts: Sequence[str], params: Mapping[str, str],
         clock: Callable[[], float] = time.time) -> RestReply:
    """Answer Markets, Market ticker and Transactions (see the module docstring); a trailing
    slash is optional, any other path is a 404. ``clock`` gives the ticker's ``timestamp``."""
    path = list(parts[:-1] if parts and parts[-1] == "" else parts)
    match path:
        case ["api", "v2", "markets"]:
            return RestReply(200, _markets(market))
        case ["api", "v2", ("ticker" | "transactions") as kind, symbol]:
            pair = _PAIRS.get(symbol)
            if pair is None or not market.knows(pair):
                return _NOT_FOUND
            state = market.state(pair)
            tick = market.pair(pair).product.tick
            if kind == "ticker":
                return RestReply(200, _ticker(state, tick, clock()))
            window = params.get("time", "hour")
            if window not in _TRANSACTION_WINDOWS:
                return RestReply(400, {"error": f"time must be one of "
                                                f"{', '.join(_TRANSACTION_WINDOWS)}"})
            return RestReply(200, [_transaction(trade, tick) for trade in state.recent])
    return _NOT_FOUND


def _markets(market: Market) -> list[dict[str, Any]]:
    rows = [_market_row(product, "SPOT") for product in PRODUCTS.values()
            if market.knows(product.pair)]
    rows += [_market_row(PRODUCTS[f"{base}-USD"], "PERPETUAL") for base in _PERPETUALS]
    return rows


def _market_row(product: Product, market_type: str) -> dict[str, Any]:
    base, quote = split_pair(product.pair)
    perpetual = market_type == "PERPETUAL"
    counter_decimals = -product.tick.as_tuple().exponent
    return {
        "name": f"{base}/{quote}" + ("-PERP" if perpetual else ""),
        "market_symbol": symbol_for(product.pair) + ("-perp" if perpetual else ""),
        "base_currency": base,
        "base_decimals": 5 if perpetual else _BASE_DECIMALS,
        "counter_currency": quote,
        "counter_decimals": counter_decimals,
        "minimum_order_value": "10",
        "trading": "Enabled",
        "instant_order_counter_decimals": counter_decimals,
        "instant_and_market_orders": "Enabled",
        "description": f"{_NAMES[base]} / {_NAMES[quote]}" + (" Perpetual" if perpetual else ""),
        "market_type": market_type,
    }


def _ticker(state: PairState, tick: Decimal, now: float) -> dict[str, Any]:
    """Market ticker: 24 h statistics, all strings (see the docstring's simplifications)."""
    trade = state.last_trade
    vwap = ((state.high_24h + state.low_24h + state.last) / 3).quantize(tick)
    change = ((state.last - state.open_24h) / state.open_24h * 100).quantize(Decimal("0.01"))
    return {
        "timestamp": str(int(now)),
        "open": price_text(state.open_24h, tick),
        "high": price_text(state.high_24h, tick),
        "low": price_text(state.low_24h, tick),
        "last": price_text(state.last, tick),
        "volume": amount_text(state.volume_24h),
        "vwap": price_text(vwap, tick),
        "bid": price_text(state.bid, tick),
        "ask": price_text(state.ask, tick),
        "side": str(_TYPES[trade.side]),
        "open_24": price_text(state.open_24h, tick),
        "percent_change_24": wire.decimal_text(change),
    }


def _transaction(trade: Trade, tick: Decimal) -> dict[str, Any]:
    return {
        "date": str(_micros(trade.time) // 1_000_000),
        "tid": str(trade.id),
        "price": price_text(trade.price, tick),
        "type": str(_TYPES[trade.side]),  # the taker's side, as on the websocket
        "amount": amount_text(trade.size),
    }


def fast_render(market: Market, pair: str, state: PairState, now: float) -> dict[str, str]:
    """Fast mode's frames: the ``live_trades`` message of the moment's last trade, the book."""
    product = market.pair(pair).product
    return {
        TRADES: wire.dumps(trade_frame(pair, product.tick, state.last_trade)),
        BOOK: wire.dumps(book_frame(state, product, now)),
    }


FAST = FastSpec(
    steps=(FastStep(TRADES, TRADES, new_trade=True, has_trade=True), FastStep(BOOK, BOOK)),
    render=fast_render,
)

SPEC = ExchangeSpec(name="bitstamp", peer=BitstampPeer,
                    commands={"reconnect": reconnect_command}, rest=rest, fast=FAST)
