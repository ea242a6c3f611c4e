"""Gemini WebSocket API (``wss://ws.gemini.com``): ``{symbol}@bookTicker`` and ``{symbol}@trade``.

Written from developer.gemini.com (websocket/streams, websocket/message-format) and Gemini's
AsyncAPI spec 0.10.7 (github.com/gemini/developer-platform ``specs/asyncapi/websocket.yaml``),
with the replies as a 2026-09 probe of the live API captured them (protocols doc §8b). Requests
and replies share an ``id``, echoed as it was sent; market data are bare stream events:

    {"id":1,"method":"subscribe","params":["btcusd@bookTicker","btcusd@trade"]}
    {"id":1,"status":200}
    {"id":4,"status":400,"error":{"code":-1013,"msg":"Invalid stream name: btcxyz@bookTicker"}}
    {"u":..,"E":<ns>,"s":"btcusd","b":"43210.10","B":"0.50000000","a":..,"A":..,"c":..,"C":..}
    {"E":<ns>,"s":"btcusd","t":..,"p":"43210.50","q":"0.00012000","m":true}
    {"id":1000000,"method":"ping"}  ->  {"id":1000000,"status":200}

Rules kept from the real API: a subscribe naming any stream Gemini doesn't know (an unlisted
symbol, an undocumented stream) is refused whole with ``-1013 Invalid stream name: <the first
bad stream>`` and subscribes nothing; symbols are lower-case on the wire (an upper-case
subscribe is accepted and routed under the lower-case ``s``); ``E`` is in NANOseconds; ``m``
is "whether the buyer is the maker" (``true``: the taker sold); a book ticker carries ``c`` and
``C``, the last trade's price and size, once the book has traded (every simulated book has);
prices are padded with zeros to the product's tick and sizes to 8 decimals, as the live feed
pads them (``"77401.500"``); an unknown method gets ``-1020 Unsupported operation``; ``ping``,
``time``, ``conninfo`` and ``list_subscriptions`` are answered. The server says nothing on
connect. A book ticker is sent when the book or last price changes, none on subscribe (the docs
don't say that one comes; the live feed's busy books send one within milliseconds anyway).

REST (REST Market Data, OpenAPI ``specs/openapi/rest.yaml``), from the same market; symbols in
either case, as the live API takes them:

    GET /v1/symbols                     ["btcusd","btceur",...], lower-case
    GET /v1/symbols/details/btcusd      {"symbol":"BTCUSD","base_currency":"BTC",...,"status":..}
    GET /v1/pubticker/btcusd            {"bid","ask","last","volume":{"BTC","USD","timestamp"}}
    GET /v1/trades/btcusd?limit_trades=N  [{"timestamp","timestampms","tid","price","amount",
                                        "exchange":"gemini","type":<the taker's side>}], newest
                                        first; default 50, at most 500 (30 are kept)
    unknown symbol                      HTTP 400 {"result":"error","reason":"Bad Request",
                                        "message":"Supplied value 'BTCXYZ' is not a valid symbol"}
                                        (details: "reason":"InvalidSymbol")
    unknown path                        HTTP 404 {"result":"error","reason":"EndpointNotFound",...}

The listed pairs are the catalogue's that Gemini lists (its ``/v1/symbols``, 2026): BTC and ETH
against USD, EUR and USDT, and SOL, LTC, XRP and DOGE against USD.

Not simulated: the server's protocol pings (the simulator's server sends none), depth streams
(documented names are acked and stay silent), the ``depth`` method (``-1020``), the
``snapshot`` connection parameter, private streams, and rate limits. Replies to requests that
aren't JSON or lack a method, and the ``pubticker`` volume timestamp (the last trade's), are our
own choices; the wording of the details refusal and of a bad ``limit_trades`` is ours.

Fast mode (``FAST``, ``simulator.fast``): per pair the round ``trade, bookTicker``, one trade; a
book ticker comes with every trade.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from simulator import wire
from simulator.catalogue import PRODUCTS, SIZE_STEP, split_pair
from simulator.market import Market, PairState, Side, Trade
from simulator.peer import (
    Action,
    ExchangeSpec,
    FastSpec,
    FastStep,
    Peer,
    PeerOptions,
    RestReply,
    Send,
)

NAME = "gemini"
LISTED = ("BTC-USD", "BTC-EUR", "BTC-USDT", "ETH-USD", "ETH-EUR", "ETH-USDT", "SOL-USD",
          "LTC-USD", "XRP-USD", "DOGE-USD")  # fmt: skip
SIMULATED = ("bookTicker", "trade")  # streams that send data
# documented streams (Stream Reference) that are acked but send nothing here
SILENT = ("depth5", "depth10", "depth20", "depth5@100ms", "depth10@100ms", "depth20@100ms",
          "depth", "depth@100ms")  # fmt: skip
OK = 200
INVALID = -1013  # "Invalid stream name"; also our answer to a request we can't read
UNSUPPORTED = -1020
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# conninfo's limits, as the live API reported them (profile note, 2026-09-15)
_RATE_LIMITS = (("REQUEST_WEIGHT", "SECOND", 10, 7000), ("ORDERS", "SECOND", 10, 3500),
                ("ORDERS", "DAY", 1, 10_000_000), ("CONNECTION_ATTEMPTS", "MINUTE", 5, 300))


def symbol_for(pair: str) -> str:
    """``BTC-USD`` -> ``btcusd``."""
    return pair.replace("-", "").lower()


_PAIR_BY_SYMBOL = {symbol_for(pair): pair for pair in LISTED}


class GeminiPeer(Peer):
    """One connection to the simulated ``wss://ws.gemini.com``."""

    def __init__(
        self, market: Market, rng: random.Random, options: PeerOptions, now: float
    ) -> None:
        super().__init__(market, rng, options, now)
        self._streams: dict[str, str] = {}  # "btcusd@trade" -> pair, in subscribe order
        self.requests = 0  # requests of any kind, for conninfo's count
        self.pings = 0  # ``ping`` requests answered, for tests

    # Peer interface

    def opened(self, now: float) -> list[Action]:
        return []

    def receive(self, text: str, now: float) -> list[Action]:
        self.requests += 1
        try:
            message = json.loads(text)
        except ValueError:
            return [_error(None, 400, INVALID, "Invalid JSON")]
        if not isinstance(message, dict) or not isinstance(message.get("method"), str):
            request_id = message.get("id") if isinstance(message, dict) else None
            return [_error(request_id, 400, INVALID, "Invalid request")]
        request_id, method = message.get("id"), message["method"]
        handler = {
            "subscribe": self._subscribe,
            "SUBSCRIBE": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "UNSUBSCRIBE": self._unsubscribe,
            "list_subscriptions": self._list,
            "LIST_SUBSCRIPTIONS": self._list,
            "ping": self._ping,
            "time": self._time,
            "conninfo": self._conninfo,
        }.get(method)
        if handler is None:
            return [_error(request_id, 400, UNSUPPORTED, "Unsupported operation")]
        return [handler(request_id, message.get("params"), now)]

    def tick(self, now: float) -> list[Action]:
        return []

    def on_trade(self, pair: str, trade: Trade, now: float) -> list[Action]:
        symbol = symbol_for(pair)
        actions: list[Action] = []
        if f"{symbol}@trade" in self._streams:
            actions.append(Send(wire.dumps(trade_event(symbol, trade, self.market.state(pair)))))
        return actions + self.on_quote(pair, now)

    def on_quote(self, pair: str, now: float) -> list[Action]:
        symbol = symbol_for(pair)
        if f"{symbol}@bookTicker" not in self._streams:
            return []
        return [Send(wire.dumps(book_ticker(symbol, self.market.state(pair), now)))]

    def subscriptions(self) -> list[tuple[str, str]]:
        return [(stream.partition("@")[2], pair) for stream, pair in self._streams.items()]

    def stats(self) -> dict[str, int]:
        """This connection's counters (pings answered, requests read)."""
        return {"pings": self.pings, "requests": self.requests}

    # Requests

    def _subscribe(self, request_id: Any, params: Any, now: float) -> Send:
        """All or nothing: the first stream we can't serve refuses the whole frame."""
        if not _is_names(params):
            return _error(request_id, 400, INVALID, "Invalid params")
        wanted: dict[str, str] = {}
        for name in params:
            stream = self._stream(name)
            if stream is None:
                return _error(request_id, 400, INVALID, f"Invalid stream name: {name}")
            wanted[stream] = _PAIR_BY_SYMBOL[stream.partition("@")[0]]
        for stream, pair in wanted.items():
            self._streams.setdefault(stream, pair)
        return _reply(request_id)

    def _unsubscribe(self, request_id: Any, params: Any, now: float) -> Send:
        if not _is_names(params):
            return _error(request_id, 400, INVALID, "Invalid params")
        for name in params:
            stream = self._stream(name)
            if stream is not None:
                self._streams.pop(stream, None)
        return _reply(request_id)

    def _list(self, request_id: Any, params: Any, now: float) -> Send:
        return _reply(request_id, result=list(self._streams))

    def _ping(self, request_id: Any, params: Any, now: float) -> Send:
        self.pings += 1
        return _reply(request_id)

    def _time(self, request_id: Any, params: Any, now: float) -> Send:
        return _reply(request_id, result={"serverTime": int(now * 1000)})

    def _conninfo(self, request_id: Any, params: Any, now: float) -> Send:
        limits = [{"rateLimitType": kind, "interval": interval, "intervalNum": number,
                   "limit": limit, "count": self.requests if kind == "REQUEST_WEIGHT" else 0}
                  for kind, interval, number, limit in _RATE_LIMITS]
        return Send(wire.dumps({"id": request_id, "status": OK, "rateLimits": limits}))

    def _stream(self, name: str) -> str | None:
        """``name`` as we key it (lower-case symbol), or None when Gemini has no such stream."""
        symbol, _, kind = name.partition("@")
        symbol = symbol.lower()
        if symbol not in _PAIR_BY_SYMBOL or kind not in SIMULATED + SILENT:
            return None
        return f"{symbol}@{kind}"


# Frames


def book_ticker(symbol: str, state: PairState, now: float) -> dict[str, Any]:
    """A ``{symbol}@bookTicker`` event: the docs' fields, then the last trade's ``c`` and ``C``."""
    tick = _tick(state.pair)
    return {
        "u": state.sequence,
        "E": int(now * 1_000_000) * 1000,
        "s": symbol,
        "b": _padded(state.bid, tick),
        "B": _padded(state.bid_size, SIZE_STEP),
        "a": _padded(state.ask, tick),
        "A": _padded(state.ask_size, SIZE_STEP),
        "c": _padded(state.last, tick),
        "C": _padded(state.last_trade.size, SIZE_STEP),
    }


def trade_event(symbol: str, trade: Trade, state: PairState) -> dict[str, Any]:
    """A ``{symbol}@trade`` event; ``m`` (the buyer made) is true when the taker sold."""
    return {
        "E": epoch_ns(trade.time),
        "s": symbol,
        "t": trade.id,
        "p": _padded(trade.price, _tick(state.pair)),
        "q": _padded(trade.size, SIZE_STEP),
        "m": trade.side is Side.SELL,
    }


def epoch_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch (of a time known to the microsecond)."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def _padded(value: Decimal, step: Decimal) -> str:
    """``value`` with zeros added up to ``step``'s decimals, never rounded: 43210.5 -> 43210.50."""
    if value.as_tuple().exponent > step.as_tuple().exponent:
        value = value.quantize(step)
    return wire.decimal_text(value)


def _tick(pair: str) -> Decimal:
    return PRODUCTS[pair].tick


def _is_names(params: Any) -> bool:
    return isinstance(params, list) and all(isinstance(name, str) for name in params)


def _reply(request_id: Any, **fields: Any) -> Send:
    return Send(wire.dumps({"id": request_id, "status": OK, **fields}))


def _error(request_id: Any, status: int, code: int, msg: str) -> Send:
    return Send(wire.dumps({"id": request_id, "status": status,
                            "error": {"code": code, "msg": msg}}))


# REST

_REST_TRADES_LIMIT = (0, 50, 500)  # least, default, most ("Each request will show at most 500")
_REST_NOT_FOUND = RestReply(
    404, {"result": "error", "reason": "EndpointNotFound", "message": "API entry point not found"})


def rest(market: Market, parts: Sequence[str], params: Mapping[str, str]) -> RestReply:
    """Answer the market data GETs in the module docstring; any other path is a 404."""
    match list(parts):
        case ["v1", "symbols"]:
            return RestReply(200, list(_PAIR_BY_SYMBOL))
        case ["v1", "symbols", "details", symbol]:
            pair = _PAIR_BY_SYMBOL.get(symbol.lower())
            if pair is None:
                return RestReply(400, {"result": "error", "reason": "InvalidSymbol",
                                       "message": f"Received unsupported symbol '{symbol}'"})
            return RestReply(200, _details(pair))
        case ["v1", ("pubticker" | "trades") as kind, symbol]:
            pair = _PAIR_BY_SYMBOL.get(symbol.lower())
            if pair is None:
                return RestReply(400, {
                    "result": "error", "reason": "Bad Request",
                    "message": f"Supplied value '{symbol.upper()}' is not a valid symbol"})
            state = market.state(pair)
            if kind == "pubticker":
                return RestReply(200, _pubticker(state))
            least, default, most = _REST_TRADES_LIMIT
            text = params.get("limit_trades", str(default))
            if not (text.isascii() and text.isdigit()):
                return RestReply(400, {"result": "error", "reason": "Bad Request",
                                       "message": f"Invalid limit_trades '{text}'"})
            limit = min(max(int(text), least), most)
            return RestReply(200, [_rest_trade(trade) for trade in state.recent[:limit]])
    return _REST_NOT_FOUND


def _details(pair: str) -> dict[str, Any]:
    base, quote = split_pair(pair)
    return {
        "symbol": symbol_for(pair).upper(),
        "base_currency": base,
        "quote_currency": quote,
        "tick_size": SIZE_STEP,
        "quote_increment": _tick(pair),
        "min_order_size": "0.00001",
        "status": "open",
        "wrap_enabled": False,
        "product_type": "spot",
        "contract_type": "vanilla",
        "contract_price_currency": quote,
    }


def _pubticker(state: PairState) -> dict[str, Any]:
    """``volume`` under each currency's code: the base's traded amount, and its quote value."""
    base, quote = split_pair(state.pair)
    text = wire.decimal_text
    return {
        "bid": text(state.bid),
        "ask": text(state.ask),
        "last": text(state.last),
        "volume": {
            base: text(state.volume_24h),
            quote: text(state.volume_24h * state.last),
            "timestamp": wire.epoch_ms(state.last_trade.time),
        },
    }


def _rest_trade(trade: Trade) -> dict[str, Any]:
    ms = wire.epoch_ms(trade.time)
    return {
        "timestamp": ms // 1000,
        "timestampms": ms,
        "tid": trade.id,
        "price": wire.decimal_text(trade.price),
        "amount": wire.decimal_text(trade.size),
        "exchange": "gemini",
        "type": trade.side.value,  # the taker's: "buy" means an ask was removed by a buy order
    }


def fast_render(market: Market, pair: str, state: PairState, now: float) -> dict[str, str]:
    """Fast mode's frames: the trade event of the moment's last trade, the book ticker."""
    symbol = symbol_for(pair)
    return {
        "trade": wire.dumps(trade_event(symbol, state.last_trade, state)),
        "bookTicker": wire.dumps(book_ticker(symbol, state, now)),
    }


FAST = FastSpec(
    steps=(FastStep("trade", "trade", new_trade=True, has_trade=True),
           FastStep("bookTicker", "bookTicker")),
    render=fast_render,
)

SPEC = ExchangeSpec(
    name=NAME, peer=GeminiPeer, rest=rest, products=tuple(PRODUCTS[pair] for pair in LISTED),
    fast=FAST)
