"""Bybit V5 public spot websocket (``/v5/public/spot``) and its market REST API, USDT pairs.

Written from bybit-exchange/docs @072c197 (docs/v5/websocket/wss-authentication.mdx "Connect",
docs/v5/websocket/public/{orderbook,trade}.mdx, docs/v5/market/{instrument,tickers,
recent-trade}.mdx). Frames are JSON objects; prices and sizes are strings; times epoch ms.

    client  {"req_id":"BTCUSDT","op":"subscribe","args":["orderbook.1.BTCUSDT",
             "publicTrade.BTCUSDT"]}
    ack     {"success":true,"ret_msg":"subscribe","conn_id":"...","req_id":"BTCUSDT",
             "op":"subscribe"}
    refusal {"success":false,"ret_msg":"error:handler not found,topic:orderbook.1.FOOUSDT",
             "conn_id":"...","req_id":"FOOUSDT","op":"subscribe"}
    book    {"topic":"orderbook.1.BTCUSDT","ts":..,"type":"snapshot","data":{"s":"BTCUSDT",
             "b":[["43010.5","0.012"]],"a":[["43010.6","0.3"]],"u":..,"seq":..},"cts":..}
    trade   {"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":..,"data":[{"T":..,
             "s":"BTCUSDT","S":"Buy","v":"0.001","p":"43010.6","i":"..","BT":false,"seq":..}]}
    ping    {"req_id":"100001","op":"ping"}  ->  {"success":true,"ret_msg":"pong","conn_id":"..",
             "req_id":"100001","op":"ping"}

Rules kept from the real feed:

- one request carries at most 10 ``args`` ("Spot can input up to 10 args for each subscription
  request"); more are refused with ``ret_msg`` "args size >10" (as client test fixtures quote
  it);
- a request naming a topic the feed doesn't serve (an unknown or lower-case symbol, a depth
  other than 1, another channel) fails as a whole, naming the first such topic, and subscribes
  nothing; so does one naming a topic already subscribed ("error:already subscribed,topic:...")
  (a topic named twice in one request counts once: our choice, the real rule is unknown);
- ``orderbook.1`` sends a ``snapshot`` of the best bid and ask at once, then another whenever
  they change (level 1 "has snapshot message only"; ``ts`` before ``type`` on spot);
  ``publicTrade`` sends nothing until a trade, ``S`` being the taker's side;
- the spot ack's ``ret_msg`` is "subscribe" and the pong's "pong" with ``op`` "ping"; both echo
  ``req_id`` when the request had one (the spot examples of the docs, and wire logs);
- an unknown ``op`` is answered "error:invalid op", a frame that is not JSON "Failed to decode
  incoming data: ..." and the socket stays open (third-party probe notes, read_file id
  70985813755, section 4);
- a trade's ``i`` and its REST ``execId`` are the same id (assumed: the docs call both the
  trade's id, and the listener de-duplicates by it).

A client's pings are counted (``BybitPeer.pings``) for tests.

REST (answers HTTP 200 ``{"retCode":0,"retMsg":"OK","result":{...},"retExtInfo":{},"time":MS}``):

    GET /v5/market/instruments-info?category=spot[&symbol=]   {"category":"spot","list":[...]}
    GET /v5/market/tickers?category=spot[&symbol=]            with bid1Price/ask1Price
    GET /v5/market/recent-trade?category=spot&symbol=&limit=N  newest first, limit 1..60, 60
    unknown symbol (tickers, recent-trade)                     retCode 10001 "Not supported symbols"
    category other than spot                                   retCode 10001 "Illegal category"

Not simulated: other topics and depths (refused as "handler not found", as the real feed refuses
a depth it lacks), the level-1 re-send after 3 s without change, the 10-minute cut of a
connection without ping-pong or data, and the system-status stream. Our own wording (no source
for the real one): the refusal of a request without valid ``args``, of a bad REST ``limit`` or
a missing ``symbol``, the answer to ``unsubscribe``, and the 404 of an unknown REST path.

Fast mode (``FAST``, ``simulator.fast``): per pair the round ``publicTrade, orderbook.1``, one
trade; a level-1 snapshot comes with every trade, changed or not.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from simulator import wire
from simulator.catalogue import PRODUCTS, split_pair
from simulator.market import Market, PairState, Trade
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

MAX_ARGS = 10
BOOK = "orderbook.1"
TRADES = "publicTrade"
PRODUCTS_USDT = tuple(product for product in PRODUCTS.values() if product.pair.endswith("-USDT"))
_PAIR_BY_SYMBOL: dict[str, str] = {
    "".join(split_pair(product.pair)): product.pair for product in PRODUCTS_USDT
}
_SIDE = {"buy": "Buy", "sell": "Sell"}  # the taker's side, as ``S`` and ``side`` spell it


def symbol_for(pair: str) -> str:
    """Bybit's spot symbol: ``BTC-USDT`` -> ``BTCUSDT``."""
    return "".join(split_pair(pair))


class BybitPeer(Peer):
    """One connection to the simulated ``wss://stream.bybit.com/v5/public/spot``."""

    def __init__(
        self, market: Market, rng: random.Random, options: PeerOptions, now: float
    ) -> None:
        super().__init__(market, rng, options, now)
        self.conn_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.pings = 0  # keepalive pings received, for tests
        self._topics: dict[str, tuple[str, str]] = {}  # topic -> (channel, pair), in order
        self._books_sent: dict[str, tuple[Decimal, ...]] = {}  # pair -> the book last sent

    # Peer interface

    def opened(self, now: float) -> list[Action]:
        return []  # the feed says nothing until asked

    def receive(self, text: str, now: float) -> list[Action]:
        try:
            message = json.loads(text)
        except ValueError as exc:
            return [self._answer("", False, f"Failed to decode incoming data: {exc}")]
        if not isinstance(message, dict):
            return [self._answer("", False, "Failed to decode incoming data: not an object")]
        op = message.get("op")
        req_id = message.get("req_id")
        req_id = req_id if isinstance(req_id, str) else None
        if op == "ping":
            self.pings += 1
            return [self._answer("ping", True, "pong", req_id)]
        if op in ("subscribe", "unsubscribe"):
            args = message.get("args")
            if not (isinstance(args, list) and args and all(isinstance(a, str) for a in args)):
                return [self._answer(op, False, "error:args must be a list of topics", req_id)]
            if op == "unsubscribe":
                for topic in args:
                    self._topics.pop(topic, None)
                return [self._answer(op, True, "", req_id)]
            return self._subscribe(args, req_id, now)
        return [self._answer(op if isinstance(op, str) else "", False, "error:invalid op",
                             req_id)]

    def tick(self, now: float) -> list[Action]:
        return []

    def on_trade(self, pair: str, trade: Trade, now: float) -> list[Action]:
        actions: list[Action] = []
        if f"{TRADES}.{symbol_for(pair)}" in self._topics:
            actions.append(Send(wire.dumps(_trade_frame(pair, trade, now))))
        actions += self._book_if_changed(pair, now)  # a trade may move the touch
        return actions

    def on_quote(self, pair: str, now: float) -> list[Action]:
        return self._book_if_changed(pair, now)

    def subscriptions(self) -> list[tuple[str, str]]:
        return list(self._topics.values())

    # Subscriptions

    def _subscribe(self, args: list[str], req_id: str | None, now: float) -> list[Action]:
        """All of ``args`` or nothing: the first topic that can't be subscribed fails them all."""
        if len(args) > MAX_ARGS:
            return [self._answer("subscribe", False, f"args size >{MAX_ARGS}", req_id)]
        wanted: dict[str, tuple[str, str]] = {}
        for topic in args:
            parsed = _parse_topic(topic)
            if parsed is None:
                reason = f"error:handler not found,topic:{topic}"
                return [self._answer("subscribe", False, reason, req_id)]
            if topic in self._topics:
                reason = f"error:already subscribed,topic:{topic}"
                return [self._answer("subscribe", False, reason, req_id)]
            wanted[topic] = parsed
        self._topics.update(wanted)
        actions: list[Action] = [self._answer("subscribe", True, "subscribe", req_id)]
        for channel, pair in wanted.values():
            if channel == BOOK:
                self._books_sent.pop(pair, None)
                actions += self._book_if_changed(pair, now)
        return actions

    # Frames

    def _answer(self, op: str, success: bool, ret_msg: str, req_id: str | None = None) -> Send:
        """``{"success":..,"ret_msg":..,"conn_id":..,"req_id":..,"op":..}``, the order of the
        docs' spot ack; ``req_id`` only when the request had one."""
        frame: dict[str, Any] = {"success": success, "ret_msg": ret_msg,
                                 "conn_id": self.conn_id}
        if req_id is not None:
            frame["req_id"] = req_id
        frame["op"] = op
        return Send(wire.dumps(frame))

    def _book_if_changed(self, pair: str, now: float) -> list[Action]:
        """A level-1 snapshot of ``pair`` if subscribed and its touch moved since the last."""
        symbol = symbol_for(pair)
        if f"{BOOK}.{symbol}" not in self._topics:
            return []
        state = self.market.state(pair)
        book = (state.bid, state.bid_size, state.ask, state.ask_size)
        if self._books_sent.get(pair) == book:
            return []
        self._books_sent[pair] = book
        return [Send(wire.dumps(_book_frame(symbol, state, now)))]


def _parse_topic(topic: str) -> tuple[str, str] | None:
    """(channel, pair) of a topic this feed serves, or None ("handler not found")."""
    channel, _, symbol = topic.rpartition(".")
    pair = _PAIR_BY_SYMBOL.get(symbol)
    if pair is None or channel not in (BOOK, TRADES):
        return None
    return channel, pair


def _ms(now: float) -> int:
    return int(now * 1000)


def _book_frame(symbol: str, state: PairState, now: float) -> dict[str, Any]:
    """An ``orderbook.1`` snapshot; ``u`` and ``seq`` follow the pair's sequence number, which
    moves with every book change and trade."""
    text = wire.decimal_text
    return {
        "topic": f"{BOOK}.{symbol}",
        "ts": _ms(now),
        "type": "snapshot",
        "data": {
            "s": symbol,
            "b": [[text(state.bid), text(state.bid_size)]],
            "a": [[text(state.ask), text(state.ask_size)]],
            "u": state.sequence,
            "seq": state.sequence,
        },
        "cts": _ms(now),
    }


def _trade_frame(pair: str, trade: Trade, now: float) -> dict[str, Any]:
    """A ``publicTrade`` push of one trade; ``S`` is the taker's side."""
    symbol = symbol_for(pair)
    return {
        "topic": f"{TRADES}.{symbol}",
        "type": "snapshot",
        "ts": _ms(now),
        "data": [
            {
                "T": wire.epoch_ms(trade.time),
                "s": symbol,
                "S": _SIDE[trade.side.value],
                "v": wire.decimal_text(trade.size),
                "p": wire.decimal_text(trade.price),
                "i": str(trade.id),
                "BT": False,
                "RPI": False,
                "seq": trade.sequence,
            }
        ],
    }


# REST ----------------------------------------------------------------------------------------

_REST_TRADES_LIMIT = (1, 60, 60)  # least, default, most (spot)
_RELATIVE_STEP = Decimal("0.0001")
_TURNOVER_STEP = Decimal("0.00000001")


def rest(market: Market, parts: Sequence[str], params: Mapping[str, str],
         clock: Callable[[], float] = time.time) -> RestReply:
    """Answer the three market routes (see the module docstring); ``clock`` gives ``time``."""
    now = _ms(clock())

    def ok(result: dict[str, Any]) -> RestReply:
        return RestReply(200, {"retCode": 0, "retMsg": "OK", "result": result,
                               "retExtInfo": {}, "time": now})

    def refused(code: int, text: str) -> RestReply:
        return RestReply(200, {"retCode": code, "retMsg": text, "result": {},
                               "retExtInfo": {}, "time": now})

    route = list(parts)
    if route[:2] != ["v5", "market"] or len(route) != 3 or route[2] not in _ROUTES:
        return RestReply(404, {"retCode": 404, "retMsg": f"path not found: /{'/'.join(parts)}"})
    if params.get("category") != "spot":
        return refused(10001, "Illegal category")
    symbol = params.get("symbol")
    if route[2] == "instruments-info":
        rows = [_instrument(market, pair) for pair in _listed(market, symbol)]
        return ok({"category": "spot", "list": rows})
    if symbol is not None and symbol not in _PAIR_BY_SYMBOL:
        return refused(10001, "Not supported symbols")
    if route[2] == "tickers":
        rows = [_ticker(symbol_for(pair), market.state(pair)) for pair in _listed(market, symbol)]
        return ok({"category": "spot", "list": rows})
    if symbol is None:
        return refused(10001, "params error: symbol is required for spot")
    least, default, most = _REST_TRADES_LIMIT
    text = params.get("limit", str(default))
    if not (text.isascii() and text.isdigit() and least <= int(text) <= most):
        return refused(10001, f"params error: limit must be {least}..{most}")
    recent = market.state(_PAIR_BY_SYMBOL[symbol]).recent[: int(text)]
    return ok({"category": "spot", "list": [_rest_trade(symbol, trade) for trade in recent]})


_ROUTES = ("instruments-info", "tickers", "recent-trade")


def _listed(market: Market, symbol: str | None) -> list[str]:
    """The pairs a REST answer lists: one symbol's, or every one (none for an unknown)."""
    if symbol is None:
        return [pair for pair in _PAIR_BY_SYMBOL.values() if market.knows(pair)]
    pair = _PAIR_BY_SYMBOL.get(symbol)
    return [pair] if pair is not None and market.knows(pair) else []


def _instrument(market: Market, pair: str) -> dict[str, Any]:
    """One spot instrument, in the docs' field order (lot sizes: the simulator's 8 decimals)."""
    base, quote = split_pair(pair)
    product = market.pair(pair).product
    return {
        "symbol": symbol_for(pair),
        "baseCoin": base,
        "quoteCoin": quote,
        "innovation": "0",
        "status": "Trading",
        "marginTrading": "utaOnly",
        "stTag": "0",
        "lotSizeFilter": {"basePrecision": "0.00000001", "quotePrecision": "0.00000001",
                          "minOrderQty": "0.00000001", "minOrderAmt": "1"},
        "priceFilter": {"tickSize": wire.decimal_text(product.tick)},
        "symbolType": "",
    }


def _ticker(symbol: str, state: PairState) -> dict[str, Any]:
    """The spot REST ticker: top of book, last price and the 24 h statistics."""
    text = wire.decimal_text
    change = ((state.last - state.open_24h) / state.open_24h).quantize(_RELATIVE_STEP)
    turnover = (state.volume_24h * state.last).quantize(_TURNOVER_STEP)
    return {
        "symbol": symbol,
        "bid1Price": text(state.bid),
        "bid1Size": text(state.bid_size),
        "ask1Price": text(state.ask),
        "ask1Size": text(state.ask_size),
        "lastPrice": text(state.last),
        "prevPrice24h": text(state.open_24h),
        "price24hPcnt": text(change),
        "highPrice24h": text(state.high_24h),
        "lowPrice24h": text(state.low_24h),
        "turnover24h": text(turnover),
        "volume24h": text(state.volume_24h),
        "usdIndexPrice": text(state.last),
    }


def _rest_trade(symbol: str, trade: Trade) -> dict[str, Any]:
    """One recent trade; ``side`` the taker's, ``time`` ms as a string, ``execId`` = ``i``."""
    return {
        "execId": str(trade.id),
        "symbol": symbol,
        "price": wire.decimal_text(trade.price),
        "size": wire.decimal_text(trade.size),
        "side": _SIDE[trade.side.value],
        "time": str(wire.epoch_ms(trade.time)),
        "isBlockTrade": False,
        "isRPITrade": False,
        "seq": str(trade.sequence),
    }


def fast_render(market: Market, pair: str, state: PairState, now: float) -> dict[str, str]:
    """Fast mode's frames: the ``publicTrade`` push of the moment's last trade, the book."""
    return {
        TRADES: wire.dumps(_trade_frame(pair, state.last_trade, now)),
        BOOK: wire.dumps(_book_frame(symbol_for(pair), state, now)),
    }


FAST = FastSpec(
    steps=(FastStep(TRADES, TRADES, new_trade=True, has_trade=True), FastStep(BOOK, BOOK)),
    render=fast_render,
)

SPEC = ExchangeSpec(name="bybit", peer=BybitPeer, rest=rest, products=PRODUCTS_USDT,
                    fast=FAST)
