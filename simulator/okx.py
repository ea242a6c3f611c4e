"""OKX API v5 public websocket (``/ws/v5/public``), channels ``tickers`` and ``trades``, and the
market REST routes, USDT pairs (global OKX lists no USD spot market).

Written from the OKX docs (https://www.okx.com/docs-v5/en/, markdown copy qiuham/crypto-api-docs
@ad484e4, pages updated 2026-06-27: Overview > WebSocket > Connect, Subscribe, Unsubscribe,
Notification; Order Book Trading > Market Data > WS / Tickers channel, WS / Trades channel,
GET / Ticker, GET / Trades; Public Data > Get instruments; Error Code > WebSocket > Public and
REST API > Public) and the recorded session ``OKX.ws.1.0`` of cryptofeed. Frames are JSON
objects, prices and sizes strings, ``ts`` epoch milliseconds as a string.

    client  {"id":"BTCxUSDT","op":"subscribe","args":[{"channel":"tickers","instId":"BTC-USDT"},
             {"channel":"trades","instId":"BTC-USDT"}]}
    ack     {"id":"BTCxUSDT","event":"subscribe","arg":{"channel":"tickers","instId":"BTC-USDT"},
             "connId":"a4d3ae55"}                                   one per arg
    refusal {"id":"..","event":"error","code":"60018","msg":"Wrong URL or channel:tickers,
             instId:FOO-USDT doesn't exist. Please use the correct URL, channel and parameters
             referring to API document.","connId":".."}             one per unknown arg
    ticker  {"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT",
             "instId":"BTC-USDT","last":..,"lastSz":..,"askPx":..,"askSz":..,"bidPx":..,"bidSz":..,
             "open24h":..,"high24h":..,"low24h":..,"volCcy24h":..,"vol24h":..,"sodUtc0":..,
             "sodUtc8":..,"ts":".."}]}
    trade   {"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT",
             "tradeId":"..","px":..,"sz":..,"side":"buy","ts":"..","count":"1","source":"0",
             "seqId":..}]}                                         ``side``: the taker's
    ping    the text ``ping``  ->  the text ``pong``
    notice  {"event":"notice","code":"64008","msg":"The connection will soon be closed for a
             service upgrade. Please reconnect.","connId":".."}

Rules kept from the real feed:

- every arg of a request is answered on its own, in order: an ack, or error 60018 with the docs'
  text ("Wrong URL or {0} doesn't exist...", ``{0}`` = ``channel:X,instId:Y`` as live answers
  show it) for an unknown channel or instrument; the answers echo the request's ``id``. A bad arg
  does not fail the others (the docs are silent; third-party reports describe it so);
- a new ``tickers`` subscription gets the current ticker at once and a new ``trades`` one the
  latest trade (as the recording shows); an arg already subscribed is acked again and gets
  nothing more (likewise);
- a trade sends the ``trades`` push, then a ``tickers`` push; a book change a ``tickers`` push;
- "The connection will break automatically if the subscription is not established or data has
  not been pushed for more than 30 seconds": a connection that was sent nothing (no ack, no
  data, no ``pong``) for ``IDLE_TIMEOUT`` seconds is closed with code 4004 "No data received in
  30s" (the close code table). ``/control/okx/idle_timeout?seconds=S`` shortens it for tests;
- 480 subscribe/unsubscribe/login requests per connection per hour: more get error 60014
  "Requests too frequent"; a request whose ``args`` exceed 64 KB is closed with 1009 "Request
  message exceeds the maximum frame length";
- ``/control/okx/notice`` sends each connection the 64008 notice (with its own ``connId``),
  and with ``close_after=S`` closes it S seconds later with 1012 "Service Restart" (our choice:
  the docs say only that the connection "will soon be disconnected").

REST, from the same market (HTTP 200 ``{"code":"0","msg":"","data":[...]}``):

    GET /api/v5/public/instruments?instType=SPOT   the USDT pairs, ``state`` ``live``; other
                                                    instTypes (no derivatives here): ``[]``
    GET /api/v5/market/ticker?instId=BTC-USDT      the channel's ticker object
    GET /api/v5/market/trades?instId=..&limit=N    newest first; limit 1..500, default 100
    unknown instId                                  HTTP 200 code 51001 "Instrument ID,
                                                    Instrument ID code, or Spread ID doesn't
                                                    exist." (a captured live answer)
    parameter missing                               HTTP 400 code 50014 "Parameter {0} can not
                                                    be empty."

Not simulated: other channels (refused with 60018, as the real public path refuses a channel it
lacks), login, the ``books`` family, the US/EEA stacks. Our own wording: the answer to a text
that is neither ``ping`` nor a request (60012 "Invalid request: <text>", the documented code and
prefix), the refusal of a bad ``instType`` or ``limit`` (51000 "Parameter {0} error"), the 404
of an unknown path, ``volCcy24h`` (24 h volume times the last price) and ``sodUtc0``/``sodUtc8``
(the 24 h open: the market keeps no day opens). A client's pings are counted
(``OkxPeer.pings``) for tests.

Fast mode (``FAST``, ``simulator.fast``): per pair the round ``trades, tickers``, one trade; a
fast push restarts the 30 s idle timer like any other.
"""

from __future__ import annotations

import json
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator import wire
from simulator.catalogue import PRODUCTS, SIZE_STEP, split_pair
from simulator.market import Market, PairState, Trade
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

CHANNELS = ("tickers", "trades")
PRODUCTS_USDT = tuple(product for product in PRODUCTS.values() if product.pair.endswith("-USDT"))
IDLE_TIMEOUT = 30.0  # seconds without a push before the server closes the connection
MAX_REQUESTS = 480  # subscribe/unsubscribe/login requests per connection per hour
MAX_ARGS_BYTES = 64 * 1024  # "the total length of multiple channels cannot exceed 64 KB"
_HOUR = 3600.0
_IDLE_CLOSE = Close(4004, "No data received in 30s")
_TOO_LONG_CLOSE = Close(1009, "Request message exceeds the maximum frame length")
_UPGRADE_CLOSE = Close(1012, "Service Restart")
NOTICE_TEXT = "The connection will soon be closed for a service upgrade. Please reconnect."
WRONG_URL = (
    "Wrong URL or {0} doesn't exist. Please use the correct URL, channel and parameters "
    "referring to API document."
)
_ID_MAX = 32
_REST_TRADES_LIMIT = (1, 100, 500)  # least, default, most
_INSTRUMENT_TYPES = ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION", "EVENTS")
_LIST_TIME = "1606468572000"  # the docs' example listTime, for every simulated instrument
_PAIRS = frozenset(product.pair for product in PRODUCTS_USDT)  # instId == our pair, spot


@dataclass
class Control:
    """What the control commands change, read by every connection on its next tick."""

    idle_timeout: float = IDLE_TIMEOUT
    notices: int = 0  # notices ordered so far; a connection sends the ones it has not seen
    close_after: float | None = None  # seconds from a notice to the close, None: no close


CONTROL = Control()  # the simulator process's; a test may give a peer its own


class OkxPeer(Peer):
    """One connection to the simulated ``wss://ws.okx.com:8443/ws/v5/public``."""

    def __init__(
        self,
        market: Market,
        rng: random.Random,
        options: PeerOptions,
        now: float,
        *,
        control: Control = CONTROL,
    ) -> None:
        super().__init__(market, rng, options, now)
        self.conn_id = f"{rng.getrandbits(32):08x}"
        self.pings = 0  # literal ``ping`` texts received, for tests
        self._control = control
        self._subscribed: dict[str, list[str]] = {}  # channel -> instIds, in subscribe order
        self._requests: deque[float] = deque()  # when the last hour's requests came
        self._last_push = now
        self._notices_seen = control.notices
        self._close_at: float | None = None
        self._closed = False

    # Peer interface

    def opened(self, now: float) -> list[Action]:
        return []  # OKX says nothing until asked

    def receive(self, text: str, now: float) -> list[Action]:
        if self._closed:
            return []
        if text == "ping":
            self.pings += 1
            return self._pushed([Send("pong")], now)
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        return self._pushed(self._request(message, text, now), now)

    def tick(self, now: float) -> list[Action]:
        if self._closed:
            return []
        actions: list[Action] = []
        if self._control.notices > self._notices_seen:
            self._notices_seen = self._control.notices
            actions.append(self._event({"event": "notice", "code": "64008", "msg": NOTICE_TEXT}))
            if self._control.close_after is not None:
                self._close_at = now + self._control.close_after
            self._pushed(actions, now)
        if self._close_at is not None and now >= self._close_at:
            return [*actions, self._close(_UPGRADE_CLOSE)]
        if now - self._last_push >= self._control.idle_timeout:
            return [*actions, self._close(_IDLE_CLOSE)]
        return actions

    def on_trade(self, pair: str, trade: Trade, now: float) -> list[Action]:
        if self._closed:
            return []
        actions: list[Action] = []
        if pair in self._subscribed.get("trades", ()):
            actions.append(self._push("trades", pair, _trade_item(pair, trade)))
        if pair in self._subscribed.get("tickers", ()):
            actions.append(self._ticker(pair, now))
        return self._pushed(actions, now)

    def on_quote(self, pair: str, now: float) -> list[Action]:
        if self._closed or pair not in self._subscribed.get("tickers", ()):
            return []
        return self._pushed([self._ticker(pair, now)], now)

    def subscriptions(self) -> list[tuple[str, str]]:
        return [(channel, pair) for channel, pairs in self._subscribed.items() for pair in pairs]

    def fast_wrap(self, channel: str, pair: str) -> tuple[str, str] | None:
        return None if self._closed else super().fast_wrap(channel, pair)

    def fast_sent(self, channel: str, pair: str, now: float) -> None:
        self._last_push = max(self._last_push, now)

    # Requests

    def _request(self, message: Any, text: str, now: float) -> list[Action]:
        """Answer one request: ``{"id"?,"op":"subscribe"|"unsubscribe","args":[...]}``."""
        op = message.get("op") if isinstance(message, dict) else None
        request_id = message.get("id") if isinstance(message, dict) else None
        if op is None or not _valid_id(request_id):
            return [self._error("60012", f"Invalid request: {text}")]
        if op not in ("subscribe", "unsubscribe", "login"):
            return [self._error("60019", f"Invalid op: {op}", request_id)]
        while self._requests and now - self._requests[0] >= _HOUR:
            self._requests.popleft()
        if len(self._requests) >= MAX_REQUESTS:
            return [self._error("60014", "Requests too frequent.", request_id)]
        self._requests.append(now)
        if op == "login":
            return [self._error("60009", "Login failure", request_id)]
        args = message.get("args")
        if not isinstance(args, list) or not args or not all(isinstance(a, dict) for a in args):
            return [self._error("60012", f"Invalid request: {text}", request_id)]
        if len(json.dumps(args, separators=(",", ":"))) > MAX_ARGS_BYTES:
            return [self._close(_TOO_LONG_CLOSE)]
        answers: list[Action] = []
        first_pushes: list[Action] = []
        for arg in args:
            channel, inst_id = arg.get("channel"), arg.get("instId")
            if channel not in CHANNELS or not _listed(self.market, inst_id):
                answers.append(self._error("60018", WRONG_URL.format(_arg_text(arg)), request_id))
                continue
            answers.append(self._event(
                {"event": op, "arg": {"channel": channel, "instId": inst_id}}, request_id))
            subscribed = self._subscribed.setdefault(channel, [])
            if op == "unsubscribe":
                if inst_id in subscribed:
                    subscribed.remove(inst_id)
            elif inst_id not in subscribed:
                subscribed.append(inst_id)
                first_pushes.append(self._first_push(channel, inst_id, now))
        return [*answers, *first_pushes]

    def _first_push(self, channel: str, pair: str, now: float) -> Send:
        """What a new subscription gets at once: the ticker, or the latest trade."""
        if channel == "tickers":
            return self._ticker(pair, now)
        return self._push("trades", pair, _trade_item(pair, self.market.state(pair).last_trade))

    # Frames

    def _ticker(self, pair: str, now: float) -> Send:
        return self._push("tickers", pair, ticker_item(self.market.state(pair), now))

    def _push(self, channel: str, pair: str, item: dict[str, Any]) -> Send:
        return Send(push_text(channel, pair, item))

    def _event(self, fields: dict[str, Any], request_id: Any = None) -> Send:
        """An event with the request's ``id`` first (when it had one) and ``connId`` last."""
        head = {"id": request_id} if request_id is not None else {}
        return Send(wire.dumps({**head, **fields, "connId": self.conn_id}))

    def _error(self, code: str, text: str, request_id: Any = None) -> Send:
        return self._event({"event": "error", "code": code, "msg": text}, request_id)

    def _close(self, close: Close) -> Close:
        self._closed = True
        return close

    def _pushed(self, actions: list[Action], now: float) -> list[Action]:
        """Note that something was sent (the 30 s timer restarts); return ``actions``."""
        if any(isinstance(action, Send) for action in actions):
            self._last_push = now
        return actions


def push_text(channel: str, pair: str, item: dict[str, Any]) -> str:
    """A push of one object: ``{"arg":{"channel":..,"instId":..},"data":[item]}``."""
    return wire.dumps({"arg": {"channel": channel, "instId": pair}, "data": [item]})


def ticker_item(state: PairState, now: float) -> dict[str, Any]:
    """The ticker object of a ``tickers`` push and of ``GET /market/ticker``, at ``now``."""
    text = wire.decimal_text
    return {
        "instType": "SPOT",
        "instId": state.pair,
        "last": text(state.last),
        "lastSz": text(state.last_trade.size),
        "askPx": text(state.ask),
        "askSz": text(state.ask_size),
        "bidPx": text(state.bid),
        "bidSz": text(state.bid_size),
        "open24h": text(state.open_24h),
        "high24h": text(state.high_24h),
        "low24h": text(state.low_24h),
        "volCcy24h": text((state.volume_24h * state.last).quantize(SIZE_STEP)),
        "vol24h": text(state.volume_24h),
        "sodUtc0": text(state.open_24h),
        "sodUtc8": text(state.open_24h),
        "ts": str(_ms(now)),
    }


def _trade_item(pair: str, trade: Trade) -> dict[str, Any]:
    """A ``trades`` push object; ``side`` is the taker's, one fill per push (``count`` 1)."""
    return {
        "instId": pair,
        "tradeId": str(trade.id),
        "px": wire.decimal_text(trade.price),
        "sz": wire.decimal_text(trade.size),
        "side": trade.side.value,
        "ts": str(wire.epoch_ms(trade.time)),
        "count": "1",
        "source": "0",
        "seqId": trade.sequence,
    }


def _arg_text(arg: Mapping[str, Any]) -> str:
    """``channel:tickers,instId:FOO-USDT``: the ``{0}`` of error 60018."""
    return ",".join(f"{key}:{value}" for key, value in arg.items())


def _listed(market: Market, inst_id: Any) -> bool:
    """Whether ``inst_id`` is a spot instId of ours (it is the pair, ``BTC-USDT``)."""
    return isinstance(inst_id, str) and inst_id in _PAIRS and market.knows(inst_id)


def _valid_id(value: Any) -> bool:
    """No ``id``, or one of up to 32 ASCII letters and digits (the docs' rule)."""
    return value is None or (isinstance(value, str) and value.isascii() and value.isalnum()
                             and len(value) <= _ID_MAX)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


# Control commands


def notice_command(params: Mapping[str, str], control: Control = CONTROL) -> list[Action]:
    """``/control/okx/notice[?close_after=S]``: every connection gets the 64008 notice on its
    next tick (each with its own ``connId``), and is closed S seconds later if asked."""
    text = params.get("close_after")
    try:
        close_after = None if text is None else float(text)
    except ValueError:
        close_after = -1.0
    if close_after is not None and not 0 <= close_after < float("inf"):
        raise ValueError(f"close_after must be a number >= 0, not {text!r}")
    control.close_after = close_after
    control.notices += 1
    return []


def idle_timeout_command(params: Mapping[str, str], control: Control = CONTROL) -> list[Action]:
    """``/control/okx/idle_timeout?seconds=S``: close connections after S seconds without a
    push instead of 30, from now on (existing connections too)."""
    text = params.get("seconds", "")
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise ValueError(f"seconds must be a number > 0, not {text!r}")
    control.idle_timeout = seconds
    return []


# REST


def rest(market: Market, parts: Sequence[str], params: Mapping[str, str],
         clock: Callable[[], float] = time.time) -> RestReply:
    """Answer the three routes of the module docstring; ``clock`` gives the ticker's ``ts``."""
    match list(parts):
        case ["api", "v5", "public", "instruments"]:
            return _instruments(market, params)
        case ["api", "v5", "market", ("ticker" | "trades") as kind]:
            inst_id = params.get("instId")
            if not inst_id:
                return _refused(400, "50014", "Parameter instId can not be empty.")
            if not _listed(market, inst_id):
                return _refused(
                    200, "51001", "Instrument ID, Instrument ID code, or Spread ID doesn't exist.")
            state = market.state(inst_id)
            if kind == "ticker":
                return _ok([ticker_item(state, clock())])
            least, default, most = _REST_TRADES_LIMIT
            text = params.get("limit", str(default))
            if not (text.isascii() and text.isdigit() and least <= int(text) <= most):
                return _refused(400, "51000", "Parameter limit error")
            return _ok([_rest_trade(inst_id, trade) for trade in state.recent[: int(text)]])
    return _refused(404, "404", "Not Found")


def _instruments(market: Market, params: Mapping[str, str]) -> RestReply:
    kind = params.get("instType")
    if not kind:
        return _refused(400, "50014", "Parameter instType can not be empty.")
    if kind not in _INSTRUMENT_TYPES:
        return _refused(400, "51000", "Parameter instType error")
    if kind != "SPOT":
        return _ok([])
    return _ok([_instrument(product.pair, product.tick) for product in PRODUCTS_USDT
                if market.knows(product.pair)])


def _instrument(pair: str, tick: Any) -> dict[str, Any]:
    """A spot instrument as Get instruments lists it (the docs' example's fields)."""
    base, quote = split_pair(pair)
    return {
        "alias": "", "auctionEndTime": "", "baseCcy": base, "category": "1", "ctMult": "",
        "ctType": "", "ctVal": "", "ctValCcy": "", "contTdSwTime": "", "expTime": "",
        "futureSettlement": False, "groupId": "1", "instFamily": "", "instId": pair,
        "instType": "SPOT", "lever": "10", "listTime": _LIST_TIME,
        "lotSz": wire.decimal_text(SIZE_STEP), "maxIcebergSz": "9999999999",
        "maxLmtAmt": "1000000", "maxLmtSz": "9999999999", "maxMktAmt": "1000000",
        "maxMktSz": "1000000", "maxStopSz": "1000000", "maxTriggerSz": "9999999999",
        "maxTwapSz": "9999999999", "minSz": "0.00001", "optType": "", "openType": "",
        "preMktSwTime": "", "quoteCcy": quote, "tradeQuoteCcyList": [quote], "settleCcy": "",
        "state": "live", "ruleType": "normal", "stk": "", "tickSz": wire.decimal_text(tick),
        "uly": "",
    }


def _rest_trade(pair: str, trade: Trade) -> dict[str, Any]:
    """A row of ``GET /market/trades`` (the docs' field order); ``side`` is the taker's."""
    return {
        "instId": pair,
        "side": trade.side.value,
        "sz": wire.decimal_text(trade.size),
        "source": "0",
        "px": wire.decimal_text(trade.price),
        "tradeId": str(trade.id),
        "ts": str(wire.epoch_ms(trade.time)),
    }


def _ok(data: list[Any]) -> RestReply:
    return RestReply(200, {"code": "0", "msg": "", "data": data})


def _refused(status: int, code: str, text: str) -> RestReply:
    return RestReply(status, {"code": code, "msg": text, "data": []})


def fast_render(market: Market, pair: str, state: PairState, now: float) -> dict[str, str]:
    """Fast mode's frames: the ``trades`` push of the moment's last trade, the ``tickers`` one."""
    return {
        "trades": push_text("trades", pair, _trade_item(pair, state.last_trade)),
        "tickers": push_text("tickers", pair, ticker_item(state, now)),
    }


FAST = FastSpec(
    steps=(FastStep("trades", "trades", new_trade=True, has_trade=True),
           FastStep("tickers", "tickers")),
    render=fast_render,
)

SPEC = ExchangeSpec(
    name="okx",
    peer=OkxPeer,
    commands={"notice": notice_command, "idle_timeout": idle_timeout_command},
    rest=rest,
    products=PRODUCTS_USDT,
    fast=FAST,
)
