"""Bitfinex WebSocket API v2, public channels ``ticker`` and ``trades`` (protocols doc, section 1).

Frames follow the docs and the recorded session ``BITFINEX.ws.11.0``: events are JSON objects,
channel data are arrays led by a per-connection ``chanId``, and numbers are JSON numbers (the
real server writes doubles; we write the exact decimal in its shortest form).

    {"event":"subscribed","channel":"ticker","chanId":232949,"symbol":"tBTCUSD","pair":"BTCUSD"}
    [232949,[BID,BID_SIZE,ASK,ASK_SIZE,DAILY_CHANGE,DAILY_CHANGE_RELATIVE,LAST_PRICE,VOLUME,HIGH,LOW]]
    [17470,[[401597393,1574694475039,0.005,7244.9],...]]      trades snapshot, newest first
    [17470,"te",[401597395,1574694478808,0.005,7245.3]]       then the same values as "tu"
    [765277,"hb"]                                              channel idle for 15 s

REST (docs.bitfinex.com rest-public-ticker, rest-public-trades), from the same market:

    GET /v2/ticker/tBTCUSD                the ticker array above, without the chanId
    GET /v2/trades/tBTCUSD/hist?limit=N   [[ID,MTS,AMOUNT,PRICE],...], newest first (sort=1:
                                          oldest first); limit 1..10000, default 125
    unknown symbol on /ticker             HTTP 500 ["error",10020,"symbol: invalid"] (as probed)
    unknown symbol on /trades/.../hist    HTTP 200 [] (the real API answers "nothing")

Not simulated: ``book``/``candles`` channels (answered ``channel: unknown``) and ``conf`` flags
(acknowledged, but frames keep the default shape).

Fast mode (``FAST``, ``simulator.fast``): per pair the round ``te, tu, te, tu, ticker`` (two
trades, each as ``te`` and ``tu``, then the ticker), all sent at once; ``tu`` follows its ``te``
without the 0.1 s wait.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simulator import wire
from simulator.catalogue import PRODUCTS, split_pair
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

MAX_CHANNELS = 25  # public channels per connection (BFX-P)
CHANNELS = ("ticker", "trades")
_RELATIVE_STEP = Decimal("0.0001")
_CHAN_ID_RANGE = (10_000, 999_999)

# documented info codes and their texts (BFX-G)
INFO_MESSAGES: dict[int, str] = {
    20051: "Stop/Restart Websocket Server (please reconnect)",
    20060: (
        "Entering in Maintenance mode. Please pause any activity and resume after receiving "
        "the info message 20061 (it should take 120 seconds at most)."
    ),
    20061: (
        "Maintenance ended. You can resume normal activity. It is advised to "
        "unsubscribe/subscribe again all channels."
    ),
}
RESTART_CODE = 20051
_RESTART_CLOSE = 1012  # "service restart": the socket closes right after info 20051


def symbol_for(pair: str) -> str:
    """Bitfinex's trading symbol for a canonical pair: ``tBTCUSD``, ``tBTCUST``, ``tDOGE:USD``."""
    base, quote = split_pair(pair)
    quote = "UST" if quote == "USDT" else quote
    joined = f"{base}:{quote}" if len(base) > 3 or len(quote) > 3 else f"{base}{quote}"
    return f"t{joined}"


_PAIR_BY_SYMBOL: dict[str, str] = {symbol_for(pair): pair for pair in PRODUCTS}


@dataclass(slots=True)
class _Channel:
    chan_id: int
    channel: str
    symbol: str
    pair: str
    last_sent: float  # when this channel last had a frame, for the 15 s heartbeat


class BitfinexPeer(Peer):
    """One connection to the simulated ``wss://api-pub.bitfinex.com/ws/2``."""

    def __init__(
        self, market: Market, rng: random.Random, options: PeerOptions, now: float
    ) -> None:
        super().__init__(market, rng, options, now)
        self._channels: dict[int, _Channel] = {}
        self._events: dict[str, Callable[[dict[str, Any], float], list[Action]]] = {
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "ping": self._ping,
            "conf": self._conf,
        }

    # Peer interface

    def opened(self, now: float) -> list[Action]:
        server_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        info = {"event": "info", "version": 2, "serverId": server_id, "platform": {"status": 1}}
        return [Send(wire.dumps(info))]

    def receive(self, text: str, now: float) -> list[Action]:
        try:
            message = json.loads(text, parse_float=Decimal)
        except ValueError:
            message = None
        event = message.get("event") if isinstance(message, dict) else None
        handler = self._events.get(event) if isinstance(event, str) else None
        if handler is None:
            return [_event({"event": "error", "msg": "event: invalid", "code": 10000})]
        return handler(message, now)

    def tick(self, now: float) -> list[Action]:
        return [
            self._frame(channel, ["hb"], now)
            for channel in self._channels.values()
            if now - channel.last_sent >= self.options.heartbeat_interval
        ]

    def on_trade(self, pair: str, trade: Trade, now: float) -> list[Action]:
        delay = self.options.update_delay
        subscribed = [channel for channel in self._channels.values() if channel.pair == pair]
        actions: list[Action] = []
        # te, then tu, then the refreshed ticker, whatever order the channels were subscribed in
        for channel in subscribed:
            if channel.channel == "trades":
                row = _trade_row(trade)
                actions.append(self._frame(channel, ["te", row], now))
                actions.append(self._frame(channel, ["tu", row], now, delay))
        for channel in subscribed:
            if channel.channel == "ticker":
                actions.append(self._ticker(channel, now, delay))
        return actions

    def on_quote(self, pair: str, now: float) -> list[Action]:
        return [
            self._ticker(channel, now)
            for channel in self._channels.values()
            if channel.pair == pair and channel.channel == "ticker"
        ]

    def subscriptions(self) -> list[tuple[str, str]]:
        return [(channel.channel, channel.pair) for channel in self._channels.values()]

    def fast_wrap(self, channel: str, pair: str) -> tuple[str, str] | None:
        found = self._find(channel, pair)
        return None if found is None else (f"[{found.chan_id},", "]")

    def fast_sent(self, channel: str, pair: str, now: float) -> None:
        found = self._find(channel, pair)
        if found is not None:
            found.last_sent = max(found.last_sent, now)

    def _find(self, channel: str, pair: str) -> _Channel | None:
        for candidate in self._channels.values():
            if candidate.channel == channel and candidate.pair == pair:
                return candidate
        return None

    # Client events

    def _subscribe(self, message: dict[str, Any], now: float) -> list[Action]:
        channel_name = message.get("channel")
        if channel_name not in CHANNELS:
            return [_event({"event": "error", "msg": "channel: unknown", "code": 10300})]
        symbol = _symbol_of(message)
        pair = _PAIR_BY_SYMBOL.get(symbol)
        if pair is None and not symbol.startswith(("t", "f")):
            # the real server accepts a symbol without its ``t`` and acks it as ``t...``
            pair = _PAIR_BY_SYMBOL.get(f"t{symbol}")
            symbol = f"t{symbol}" if pair else symbol
        echo = {key: value for key, value in message.items() if key != "event"}
        if pair is None:
            return [_error(echo, "symbol: invalid", 10300, pair=symbol[1:])]
        for channel in self._channels.values():
            if channel.channel == channel_name and channel.pair == pair:
                return [
                    _error(echo, "subscribe: dup", 10301, chanId=channel.chan_id, pair=symbol[1:])
                ]
        if len(self._channels) >= MAX_CHANNELS:
            return [_error(echo, "subscribe: limit", 10305, pair=symbol[1:])]
        channel = _Channel(self._new_chan_id(), channel_name, symbol, pair, now)
        self._channels[channel.chan_id] = channel
        ack: dict[str, Any] = {
            "event": "subscribed",
            "channel": channel_name,
            "chanId": channel.chan_id,
            "symbol": symbol,
            "pair": symbol[1:],
        }
        if "subId" in message:
            ack["subId"] = message["subId"]
        if channel_name == "ticker":
            return [_event(ack), self._ticker(channel, now)]
        rows = [_trade_row(trade) for trade in self.market.state(pair).recent]
        return [_event(ack), self._frame(channel, [rows], now)]

    def _unsubscribe(self, message: dict[str, Any], now: float) -> list[Action]:
        chan_id = message.get("chanId")
        if not isinstance(chan_id, int) or self._channels.pop(chan_id, None) is None:
            error = {
                "event": "error",
                "msg": "unsubscribe: invalid",
                "code": 10400,
                "chanId": chan_id,
            }
            return [_event(error)]
        return [_event({"event": "unsubscribed", "status": "OK", "chanId": chan_id})]

    def _ping(self, message: dict[str, Any], now: float) -> list[Action]:
        pong: dict[str, Any] = {"event": "pong", "ts": int(now * 1000)}
        if "cid" in message:
            pong["cid"] = message["cid"]
        return [_event(pong)]

    def _conf(self, message: dict[str, Any], now: float) -> list[Action]:
        return [_event({"event": "conf", "status": "OK", "flags": message.get("flags", 0)})]

    # Frames

    def _ticker(self, channel: _Channel, now: float, delay: float = 0.0) -> Send:
        return self._frame(channel, [_ticker_row(self.market.state(channel.pair))], now, delay)

    def _frame(self, channel: _Channel, body: list[Any], now: float, delay: float = 0.0) -> Send:
        """``[chanId, *body]``; also notes when the channel last spoke, for the heartbeat."""
        channel.last_sent = max(channel.last_sent, now + delay)
        return Send(wire.dumps([channel.chan_id, *body]), delay)

    def _new_chan_id(self) -> int:
        while True:
            chan_id = self.rng.randint(*_CHAN_ID_RANGE)
            if chan_id not in self._channels:
                return chan_id


def _symbol_of(message: Mapping[str, Any]) -> str:
    symbol = message.get("symbol")
    if symbol is None and isinstance(message.get("pair"), str):
        symbol = f"t{message['pair']}"  # v1-style ``pair`` key, still accepted by v2
    return symbol if isinstance(symbol, str) else ""


def _event(fields: Mapping[str, Any]) -> Send:
    return Send(wire.dumps(fields))


def _error(echo: Mapping[str, Any], msg: str, code: int, **extra: Any) -> Send:
    """A subscribe error: the request's own fields first, then the error, as the wire shows."""
    return _event({**echo, "event": "error", "msg": msg, "code": code, **extra})


def _trade_row(trade: Trade) -> list[Any]:
    """``[ID, MTS, AMOUNT, PRICE]``; AMOUNT is negative when the taker sold."""
    amount = trade.size if trade.side is Side.BUY else -trade.size
    return [trade.id, wire.epoch_ms(trade.time), amount, trade.price]


def _ticker_row(state: PairState) -> list[Decimal]:
    """The ticker array: BID, BID_SIZE, ASK, ASK_SIZE, DAILY_CHANGE, DAILY_CHANGE_RELATIVE,
    LAST_PRICE, VOLUME, HIGH, LOW (BFX-T); the relative change is rounded to 4 decimals."""
    change = state.last - state.open_24h
    relative = (change / state.open_24h).quantize(_RELATIVE_STEP)
    return [
        state.bid,
        state.bid_size,
        state.ask,
        state.ask_size,
        change,
        relative,
        state.last,
        state.volume_24h,
        state.high_24h,
        state.low_24h,
    ]


def info_command(params: Mapping[str, str]) -> list[Action]:
    """Control route ``/control/bitfinex/info?code=20051|20060|20061``.

    Sends the documented info event to every connection; after 20051 the sockets close, as
    the real server does when it restarts (clients are expected to reconnect).
    """
    try:
        code = int(params.get("code", ""))
        text = INFO_MESSAGES[code]
    except (ValueError, KeyError):
        raise ValueError(f"code must be one of {sorted(INFO_MESSAGES)}") from None
    actions: list[Action] = [_event({"event": "info", "code": code, "msg": text})]
    if code == RESTART_CODE:
        actions.append(Close(_RESTART_CLOSE, "Service Restart"))
    return actions


_REST_TRADES_LIMIT = (1, 125, 10_000)  # least, default, most
_REST_SYMBOL_INVALID = RestReply(500, ["error", 10020, "symbol: invalid"])
_REST_LIMIT_INVALID = RestReply(500, ["error", 10020, "limit: invalid"])


def rest(market: Market, parts: Sequence[str], params: Mapping[str, str]) -> RestReply:
    """Answer ``GET /v2/conf/pub:list:pair:exchange``, ``GET /v2/ticker/{symbol}`` and ``GET
    /v2/trades/{symbol}/hist`` (see the module docstring); any other path is a 404."""
    match list(parts):
        case ["v2", "conf", "pub:list:pair:exchange"]:
            # one list inside a list, pairs without the ``t``: [["BTCUSD","DOGE:USD",...]]
            return RestReply(200, [[symbol[1:] for symbol, pair in _PAIR_BY_SYMBOL.items()
                                    if market.knows(pair)]])
        case ["v2", "ticker", symbol]:
            pair = _PAIR_BY_SYMBOL.get(symbol)
            if pair is None:
                return _REST_SYMBOL_INVALID
            return RestReply(200, _ticker_row(market.state(pair)))
        case ["v2", "trades", symbol, "hist"]:
            least, default, most = _REST_TRADES_LIMIT
            text = params.get("limit", str(default))
            if not (text.isascii() and text.isdigit() and least <= int(text) <= most):
                return _REST_LIMIT_INVALID
            pair = _PAIR_BY_SYMBOL.get(symbol)
            if pair is None:
                return RestReply(200, [])
            rows = [_trade_row(trade) for trade in market.state(pair).recent[: int(text)]]
            return RestReply(200, rows[::-1] if params.get("sort") == "1" else rows)
    return RestReply(404, {"error": f"Cannot GET /{'/'.join(parts)}"})


def fast_render(market: Market, pair: str, state: PairState, now: float) -> dict[str, str]:
    """Fast mode's bodies: a channel frame without its ``[chanId,`` and ``]``."""
    row = _trade_row(state.last_trade)
    return {
        "te": wire.dumps(["te", row])[1:-1],
        "tu": wire.dumps(["tu", row])[1:-1],
        "ticker": wire.dumps([_ticker_row(state)])[1:-1],
    }


_TE = FastStep("te", "trades", new_trade=True, has_trade=True)
_TU = FastStep("tu", "trades", has_trade=True)
FAST = FastSpec(steps=(_TE, _TU, _TE, _TU, FastStep("ticker", "ticker")), render=fast_render)

SPEC = ExchangeSpec(
    name="bitfinex", peer=BitfinexPeer, commands={"info": info_command}, rest=rest, fast=FAST)
