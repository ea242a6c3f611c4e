"""Kraken Spot WebSocket API v2, public channels ``ticker`` and ``trade``, and its REST API.

Frames follow docs.kraken.com/api/docs/websocket-v2/{ticker,trade,heartbeat,status,ping} and
the wire as client authors logged it: JSON objects, channel data tagged by ``channel``, answers
to requests by ``method``; prices and quantities are JSON numbers (written here as the exact
decimal), times RFC 3339 with microseconds.

    {"channel":"status","data":[{"api_version":"v2","connection_id":..,"system":"online",
     "version":"2.0.0"}],"type":"update"}                       on connect, and on a change
    {"method":"subscribe","req_id":1,"result":{"channel":"ticker","event_trigger":"bbo",
     "snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"..","time_out":".."}
    {"error":"Currency pair not supported XBT/USD","method":"subscribe","req_id":1,
     "success":false,"symbol":"XBT/USD","time_in":"..","time_out":".."}
    {"channel":"ticker","type":"snapshot","data":[{"symbol":"BTC/USD","bid":..,"bid_qty":..,
     "ask":..,"ask_qty":..,"last":..,"volume":..,"vwap":..,"low":..,"high":..,"change":..,
     "change_pct":..,"timestamp":".."}]}                        then "type":"update"
    {"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":..,
     "qty":..,"ord_type":"market","trade_id":..,"timestamp":".."}]}
    {"channel":"heartbeat"}                                     after 1 s without other frames
    {"method":"pong","req_id":101,"time_in":"..","time_out":".."}   answer to a ping

Rules kept from the real feed: v2 symbols are ``BTC/USD`` and ``DOGE/USD``; the v1 names REST
still gives (``XBT/USD``, ``XDG/USD``) and unknown pairs are refused per symbol with "Currency
pair not supported <symbol>", while the other symbols of the same subscribe are acked; one ack
per symbol, then its snapshot when asked (``snapshot`` defaults to true for ``ticker``, false for
``trade`` as the current trade page says; a trade snapshot is the last trades, oldest first);
``event_trigger`` ``trades`` (default) sends a ticker on every trade, ``bbo`` whenever the best
bid or ask price changed; heartbeats only once something is subscribed; keys of acks and
errors in alphabetical order, as the live server writes them.

REST (``/0/public``), from the same market, in Kraken's envelope ``{"error":[],"result":...}``:

    GET /0/public/AssetPairs                  {"XXBTZUSD":{"altname":"XBTUSD","wsname":"XBT/USD",
                                              ...,"status":"online"},...} (v1 names, internal keys)
    GET /0/public/Ticker?pair=XBTUSD          {"XXBTZUSD":{"a":[..],"b":[..],"c":[..],"v":[..],
                                              "p":[..],"t":[..],"l":[..],"h":[..],"o":".."}}
    GET /0/public/Trades?pair=XBTUSD&count=N  {"XXBTZUSD":[[price,volume,time,"b"|"s","m"|"l","",
                                              trade_id],...],"last":"<ns>"}, oldest first
    unknown pair                              HTTP 200 {"error":["EQuery:Unknown asset pair"]}

``pair`` may be the altname (``XBTUSD``), the internal name (``XXBTZUSD``) or the wsname
(``XBT/USD``). Today's and the last 24 hours' values are the same market here.

Not simulated: other channels and methods (answered with an error in our own words), an
``instrument`` channel, rate limits. Error texts for malformed requests are our own wording.
A client's pings are counted (``KrakenPeer.pings``) for tests.

Fast mode (``FAST``, ``simulator.fast``): per pair the round ``trade, ticker``, one trade; the
ticker comes with every trade, whatever ``event_trigger`` the subscription asked for.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from simulator import wire
from simulator.catalogue import PRODUCTS, split_pair
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

CHANNELS = ("ticker", "trade")
HEARTBEAT_INTERVAL = 1.0  # "approximately once every second in the absence of ... updates"
SNAPSHOT_DEFAULTS = {"ticker": True, "trade": False}
EVENT_TRIGGERS = ("trades", "bbo")
SYSTEM_STATES = ("online", "maintenance", "cancel_only", "post_only")
API_VERSION, VERSION = "v2", "2.0.0"
_PCT_STEP = Decimal("0.01")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# v2 codes that REST (wsname, altname) and WS v1 spell the old way
_V1_CODES = {"BTC": "XBT", "DOGE": "XDG"}
# Kraken's internal asset names (AssetPairs ``base``/``quote``, result keys): X/Z-prefixed for
# the old assets, plain for the newer ones
_ASSETS = {"BTC": "XXBT", "ETH": "XETH", "LTC": "XLTC", "XRP": "XXRP", "DOGE": "XXDG",
           "SOL": "SOL", "ADA": "ADA", "USD": "ZUSD", "EUR": "ZEUR", "USDT": "USDT"}
_LEGACY_KEY_BASES = ("BTC", "ETH", "LTC", "XRP")
_LEGACY_KEY_QUOTES = ("USD", "EUR")
_PRICE_DECIMALS_COST = 5  # cost_decimals of the USD/EUR/USDT pairs


@dataclass(frozen=True, slots=True)
class Names:
    """Every name Kraken gives one pair."""

    pair: str  # ours: BTC-USD
    symbol: str  # WS v2: BTC/USD
    wsname: str  # REST and WS v1: XBT/USD
    altname: str  # REST: XBTUSD
    key: str  # REST result key (internal name): XXBTZUSD


def names_for(pair: str) -> Names:
    """Kraken's names for a catalogue pair.

    The internal name joins the X/Z internal asset names for the pairs Kraken listed first
    (``XXBTZUSD``, ``XETHZEUR``: BTC, ETH, LTC, XRP against USD and EUR) and is the altname for
    the others (``XBTUSDT``, ``SOLUSD``, ``XDGUSD``), as AssetPairs lists them.
    """
    base, quote = split_pair(pair)
    old_base, old_quote = _V1_CODES.get(base, base), _V1_CODES.get(quote, quote)
    altname = old_base + old_quote
    legacy = base in _LEGACY_KEY_BASES and quote in _LEGACY_KEY_QUOTES
    key = _ASSETS[base] + _ASSETS[quote] if legacy else altname
    return Names(pair, f"{base}/{quote}", f"{old_base}/{old_quote}", altname, key)


_NAMES: dict[str, Names] = {pair: names_for(pair) for pair in PRODUCTS}
_PAIR_BY_SYMBOL: dict[str, str] = {names.symbol: pair for pair, names in _NAMES.items()}
# REST accepts a pair by altname, internal name or wsname
_PAIR_BY_REST_NAME: dict[str, str] = {
    name: pair for pair, names in _NAMES.items()
    for name in (names.altname, names.key, names.wsname)
}


@dataclass(slots=True)
class _Subscription:
    channel: str
    symbol: str
    pair: str
    event_trigger: str = "trades"  # ticker only
    last_bbo: tuple[Decimal, Decimal] | None = None  # the bid/ask the last ticker showed


def _epoch_us(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (REST trade times and ``last``)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _moment(now: float) -> str:
    """An RFC 3339 time with microseconds, as the v2 feed writes ``time_in`` and ``timestamp``."""
    return wire.iso_micros(datetime.fromtimestamp(now, UTC))


class KrakenPeer(Peer):
    """One connection to the simulated ``wss://ws.kraken.com/v2``."""

    def __init__(
        self, market: Market, rng: random.Random, options: PeerOptions, now: float
    ) -> None:
        super().__init__(market, rng, options, now)
        self._subscriptions: dict[tuple[str, str], _Subscription] = {}  # (channel, symbol)
        self._connection_id = rng.getrandbits(64)
        self._last_sent = now
        self.pings = 0  # application pings the client sent
        self._methods: dict[str, Callable[[dict[str, Any], float], list[Action]]] = {
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "ping": self._ping,
        }

    # Peer interface

    def opened(self, now: float) -> list[Action]:
        return [self._send(status_frame("online", self._connection_id), now)]

    def receive(self, text: str, now: float) -> list[Action]:
        try:
            message = json.loads(text, parse_float=Decimal)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            return [self._send(_answer({"error": "Malformed request", "success": False}, now),
                               now)]
        method = message.get("method")
        handler = self._methods.get(method) if isinstance(method, str) else None
        if handler is None:
            fields = {"error": f"Method not supported: {method!r}", "method": method,
                      "success": False}
            return [self._send(_answer(_with_req_id(fields, message), now), now)]
        return handler(message, now)

    def tick(self, now: float) -> list[Action]:
        if self._subscriptions and now - self._last_sent >= HEARTBEAT_INTERVAL:
            return [self._send(wire.dumps({"channel": "heartbeat"}), now)]
        return []

    def on_trade(self, pair: str, trade: Trade, now: float) -> list[Action]:
        symbol = _NAMES[pair].symbol
        actions: list[Action] = []
        subscription = self._subscriptions.get(("trade", symbol))
        if subscription is not None:
            frame = _channel_frame("trade", "update", [_trade_entry(symbol, trade)])
            actions.append(self._send(frame, now))
        ticker = self._subscriptions.get(("ticker", symbol))
        if ticker is not None and (ticker.event_trigger == "trades" or self._bbo_moved(ticker)):
            actions.append(self._ticker(ticker, "update", now))
        return actions

    def on_quote(self, pair: str, now: float) -> list[Action]:
        ticker = self._subscriptions.get(("ticker", _NAMES[pair].symbol))
        if ticker is not None and ticker.event_trigger == "bbo" and self._bbo_moved(ticker):
            return [self._ticker(ticker, "update", now)]
        return []

    def subscriptions(self) -> list[tuple[str, str]]:
        return [(sub.channel, sub.pair) for sub in self._subscriptions.values()]

    def fast_sent(self, channel: str, pair: str, now: float) -> None:
        self._last_sent = max(self._last_sent, now)

    # Requests

    def _subscribe(self, message: dict[str, Any], now: float) -> list[Action]:
        params = message.get("params")
        request = _subscription_request(params)
        if isinstance(request, str):
            fields = {"error": request, "method": "subscribe", "success": False}
            return [self._send(_answer(_with_req_id(fields, message), now), now)]
        channel, symbols = request
        snapshot = params.get("snapshot", SNAPSHOT_DEFAULTS[channel])
        trigger = params.get("event_trigger", "trades")
        actions: list[Action] = []
        for symbol in symbols:
            pair = _PAIR_BY_SYMBOL.get(symbol)
            if pair is None or (channel, symbol) in self._subscriptions:
                error = ("Already subscribed" if pair is not None
                         else f"Currency pair not supported {symbol}")
                fields = {"error": error, "method": "subscribe", "success": False,
                          "symbol": symbol}
                actions.append(self._send(_answer(_with_req_id(fields, message), now), now))
                continue
            subscription = _Subscription(channel, symbol, pair, trigger)
            self._subscriptions[channel, symbol] = subscription
            result: dict[str, Any] = {"channel": channel}
            if channel == "ticker":
                result["event_trigger"] = trigger
            result |= {"snapshot": snapshot, "symbol": symbol}
            fields = {"method": "subscribe", "result": result, "success": True}
            actions.append(self._send(_answer(_with_req_id(fields, message), now), now))
            if snapshot:
                actions.append(self._snapshot(subscription, now))
        return actions

    def _unsubscribe(self, message: dict[str, Any], now: float) -> list[Action]:
        request = _subscription_request(message.get("params"))
        if isinstance(request, str):
            fields = {"error": request, "method": "unsubscribe", "success": False}
            return [self._send(_answer(_with_req_id(fields, message), now), now)]
        channel, symbols = request
        actions: list[Action] = []
        for symbol in symbols:
            if self._subscriptions.pop((channel, symbol), None) is None:
                fields = {"error": "Subscription Not Found", "method": "unsubscribe",
                          "success": False, "symbol": symbol}
            else:
                fields = {"method": "unsubscribe",
                          "result": {"channel": channel, "symbol": symbol}, "success": True}
            actions.append(self._send(_answer(_with_req_id(fields, message), now), now))
        return actions

    def _ping(self, message: dict[str, Any], now: float) -> list[Action]:
        """``{"method":"pong","req_id":101,"time_in":"..","time_out":".."}`` (websocket-v2/ping
        example: no ``success`` field)."""
        self.pings += 1
        return [self._send(_answer(_with_req_id({"method": "pong"}, message), now), now)]

    # Frames

    def _snapshot(self, subscription: _Subscription, now: float) -> Send:
        if subscription.channel == "ticker":
            return self._ticker(subscription, "snapshot", now)
        recent = self.market.state(subscription.pair).recent  # newest first
        entries = [_trade_entry(subscription.symbol, trade) for trade in reversed(recent)]
        return self._send(_channel_frame("trade", "snapshot", entries), now)

    def _ticker(self, subscription: _Subscription, kind: str, now: float) -> Send:
        state = self.market.state(subscription.pair)
        subscription.last_bbo = (state.bid, state.ask)
        tick = self.market.pair(subscription.pair).product.tick
        entry = _ticker_entry(subscription.symbol, state, tick, now)
        return self._send(_channel_frame("ticker", kind, [entry]), now)

    def _bbo_moved(self, subscription: _Subscription) -> bool:
        state = self.market.state(subscription.pair)
        return subscription.last_bbo != (state.bid, state.ask)

    def _send(self, text: str, now: float) -> Send:
        """A frame to send now; notes the time, since a heartbeat is due only after silence."""
        self._last_sent = max(self._last_sent, now)
        return Send(text)


def _subscription_request(params: Any) -> tuple[str, list[str]] | str:
    """(channel, symbols) of a subscribe/unsubscribe's ``params``, or the error text."""
    if not isinstance(params, dict):
        return "Invalid request: params must be an object"
    channel = params.get("channel")
    if channel not in CHANNELS:
        return f"Channel not supported: {channel!r}"
    symbols = params.get("symbol")
    if not (isinstance(symbols, list) and symbols and all(isinstance(s, str) for s in symbols)):
        return "Invalid request: symbol must be a non-empty list of strings"
    if channel == "ticker" and params.get("event_trigger", "trades") not in EVENT_TRIGGERS:
        return "Invalid request: event_trigger must be bbo or trades"
    if not isinstance(params.get("snapshot", True), bool):
        return "Invalid request: snapshot must be a boolean"
    return channel, symbols


def _with_req_id(fields: dict[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    """The answer's fields with the request's ``req_id`` (when it had one)."""
    return fields | {"req_id": request["req_id"]} if "req_id" in request else fields


def _answer(fields: dict[str, Any], now: float) -> str:
    """An answer to a request, keys sorted as the live server writes them, with the times it
    received the request and sent the answer (the same moment here)."""
    moment = _moment(now)
    return wire.dumps(dict(sorted((fields | {"time_in": moment, "time_out": moment}).items())))


def _channel_frame(channel: str, kind: str, entries: list[dict[str, Any]]) -> str:
    return wire.dumps({"channel": channel, "type": kind, "data": entries})


def status_frame(system: str, connection_id: int) -> str:
    """The ``status`` update (websocket-v2/status example, keys in its order)."""
    return wire.dumps({
        "channel": "status",
        "data": [{"api_version": API_VERSION, "connection_id": connection_id, "system": system,
                  "version": VERSION}],
        "type": "update",
    })


def _ticker_entry(symbol: str, state: PairState, tick: Decimal, now: float) -> dict[str, Any]:
    """One ticker: ``change`` is the 24 h change in quote currency (last - open 24 h ago),
    ``change_pct`` that change in percent of the open, to two decimals."""
    change = state.last - state.open_24h
    return {
        "symbol": symbol,
        "bid": state.bid,
        "bid_qty": state.bid_size,
        "ask": state.ask,
        "ask_qty": state.ask_size,
        "last": state.last,
        "volume": state.volume_24h,
        "vwap": _vwap(state, tick),
        "low": state.low_24h,
        "high": state.high_24h,
        "change": change,
        "change_pct": (change / state.open_24h * 100).quantize(_PCT_STEP),
        "timestamp": _moment(now),
    }


def _trade_entry(symbol: str, trade: Trade) -> dict[str, Any]:
    """One trade; ``side`` is the taker's, ``ord_type`` the taker order's (ours cross: market)."""
    return {
        "symbol": symbol,
        "side": trade.side.value,
        "price": trade.price,
        "qty": trade.size,
        "ord_type": "market",
        "trade_id": trade.id,
        "timestamp": wire.iso_micros(trade.time),
    }


def _vwap(state: PairState, tick: Decimal) -> Decimal:
    """Volume-weighted average price of the recent trades, on the pair's price grid."""
    volume = sum((trade.size for trade in state.recent), Decimal(0))
    if not volume:
        return state.last
    value = sum((trade.price * trade.size for trade in state.recent), Decimal(0))
    return (value / volume).quantize(tick, rounding=ROUND_FLOOR)


def status_command(params: Mapping[str, str]) -> list[Action]:
    """Control route ``/control/kraken/status?system=maintenance|cancel_only|post_only|online``:
    the ``status`` update Kraken pushes when the trading engine changes state. A broadcast is one
    frame for every connection, so its ``connection_id`` is 0 rather than each connection's."""
    system = params.get("system", "")
    if system not in SYSTEM_STATES:
        raise ValueError(f"system must be one of {', '.join(SYSTEM_STATES)}")
    return [Send(status_frame(system, 0))]


# REST ----------------------------------------------------------------------------------------

_REST_TRADES_COUNT = (1, 1000, 1000)  # least, default, most ("Return specific number of trades,
# up to 1000", default 1000)
_UNKNOWN_PAIR = RestReply(200, {"error": ["EQuery:Unknown asset pair"]})
_FEES = [[0, Decimal("0.26")], [50000, Decimal("0.24")], [100000, Decimal("0.22")]]
_FEES_MAKER = [[0, Decimal("0.16")], [50000, Decimal("0.14")], [100000, Decimal("0.12")]]


def rest(market: Market, parts: Sequence[str], params: Mapping[str, str]) -> RestReply:
    """Answer ``GET /0/public/AssetPairs``, ``/0/public/Ticker`` and ``/0/public/Trades`` (see
    the module docstring); any other path gets Kraken's unknown-method error."""
    match list(parts):
        case ["0", "public", "AssetPairs"]:
            pairs = [pair for pair in PRODUCTS if market.knows(pair)]
            return _ok({_NAMES[pair].key: _asset_pair(market, pair) for pair in pairs})
        case ["0", "public", "Ticker"]:
            pair = _rest_pair(market, params)
            if pair is None:
                return _UNKNOWN_PAIR
            tick = market.pair(pair).product.tick
            return _ok({_NAMES[pair].key: _rest_ticker(market.state(pair), tick)})
        case ["0", "public", "Trades"]:
            pair = _rest_pair(market, params)
            if pair is None:
                return _UNKNOWN_PAIR
            least, default, most = _REST_TRADES_COUNT
            text = params.get("count", str(default))
            if not (text.isascii() and text.isdigit() and least <= int(text) <= most):
                return RestReply(200, {"error": ["EGeneral:Invalid arguments"]})
            recent = market.state(pair).recent[: int(text)]  # newest first
            rows = [_rest_trade(trade) for trade in reversed(recent)]
            last = str(_epoch_us(recent[0].time) * 1000) if recent else "0"  # ns, newest
            return _ok({_NAMES[pair].key: rows, "last": last})
    return RestReply(404, {"error": ["EGeneral:Unknown method"]})


def _ok(result: Any) -> RestReply:
    return RestReply(200, {"error": [], "result": result})


def _rest_pair(market: Market, params: Mapping[str, str]) -> str | None:
    pair = _PAIR_BY_REST_NAME.get(params.get("pair", "").upper())
    return pair if pair is not None and market.knows(pair) else None


def _asset_pair(market: Market, pair: str) -> dict[str, Any]:
    """One AssetPairs entry, in the documented field order (Get Tradable Asset Pairs)."""
    names = _NAMES[pair]
    base, quote = split_pair(pair)
    tick = market.pair(pair).product.tick
    return {
        "altname": names.altname,
        "wsname": names.wsname,
        "aclass_base": "currency",
        "base": _ASSETS[base],
        "aclass_quote": "currency",
        "quote": _ASSETS[quote],
        "lot": "unit",
        "cost_decimals": _PRICE_DECIMALS_COST,
        "pair_decimals": -tick.as_tuple().exponent,
        "lot_decimals": 8,
        "lot_multiplier": 1,
        "leverage_buy": [],
        "leverage_sell": [],
        "fees": _FEES,
        "fees_maker": _FEES_MAKER,
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": "0.0001",
        "costmin": "0.5",
        "tick_size": wire.decimal_text(tick),
        "status": "online",
    }


def _rest_ticker(state: PairState, tick: Decimal) -> dict[str, Any]:
    """Get Ticker Information: strings, [today, last 24 hours] pairs (the same market here)."""
    text = wire.decimal_text
    trades = len(state.recent)
    return {
        "a": [text(state.ask), str(int(state.ask_size)), text(state.ask_size)],
        "b": [text(state.bid), str(int(state.bid_size)), text(state.bid_size)],
        "c": [text(state.last), text(state.last_trade.size)],
        "v": [text(state.volume_24h), text(state.volume_24h)],
        "p": [text(_vwap(state, tick)), text(_vwap(state, tick))],
        "t": [trades, trades],
        "l": [text(state.low_24h), text(state.low_24h)],
        "h": [text(state.high_24h), text(state.high_24h)],
        "o": text(state.open_24h),
    }


def _rest_trade(trade: Trade) -> list[Any]:
    """[price, volume, time, buy/sell, market/limit, miscellaneous, trade_id]; the time is a
    JSON number of seconds with microseconds; ``b``/``s`` is the taker's side."""
    seconds = Decimal(_epoch_us(trade.time)).scaleb(-6)
    return [
        wire.decimal_text(trade.price),
        wire.decimal_text(trade.size),
        seconds,
        "b" if trade.side is Side.BUY else "s",
        "m",
        "",
        trade.id,
    ]


def fast_render(market: Market, pair: str, state: PairState, now: float) -> dict[str, str]:
    """Fast mode's frames: the trade update of the moment's last trade, and the ticker update."""
    symbol = _NAMES[pair].symbol
    tick = market.pair(pair).product.tick
    return {
        "trade": _channel_frame("trade", "update", [_trade_entry(symbol, state.last_trade)]),
        "ticker": _channel_frame("ticker", "update", [_ticker_entry(symbol, state, tick, now)]),
    }


FAST = FastSpec(
    steps=(FastStep("trade", "trade", new_trade=True, has_trade=True),
           FastStep("ticker", "ticker")),
    render=fast_render,
)

SPEC = ExchangeSpec(name="kraken", peer=KrakenPeer, commands={"status": status_command},
                    rest=rest, fast=FAST)
