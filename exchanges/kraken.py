"""Kraken Spot WebSocket API v2, public channels ``ticker`` and ``trade`` (docs.kraken.com).

Follows docs.kraken.com/api/docs/websocket-v2/{ticker,trade,heartbeat,status,ping} and the REST
pages get-tradable-asset-pairs, get-ticker-information and get-recent-trades. Every frame is a
JSON object: channel data carry ``channel`` (``{"channel":"ticker","type":"update","data":[...]}``),
answers to our requests carry ``method`` (``subscribe``, ``pong``). Prices and quantities are
JSON **numbers**, so frames are decoded exactly (``decode``: a number with a fraction becomes
the ``Decimal`` of its text); times are RFC 3339 strings.

- ``ticker`` with ``event_trigger: "bbo"``: bid, ask, their sizes, last price and the 24 h
  statistics, on every change of the best bid or offer price (the default, ``trades``, only moves
  on trades, so a quiet book would show a stale bid/ask). Each update is a complete ``Ticker``.
  The 24 h open is ``last - change``: the docs define ``change`` as the 24-hour price change in
  quote currency and their example agrees with it (ALGO/USD: last 0.10035, change -0.00017,
  change_pct -0.17 = -0.00017 / 0.10052).
- ``trade``: every trade; ``side`` is the taker's ("The side of the taker order"), ``trade_id``
  "a sequence number, unique per book", so a message's trades are returned in id order.
- ``heartbeat`` about once a second when nothing else was sent (after any subscription), which
  keeps the listener's silence watchdog fed; ``status`` on connect and on every change of the
  trading engine: ``maintenance``, ``cancel_only`` and ``post_only`` ("No order matching will
  occur") make the exchange ``stale``; ``online`` after one of them makes it live again.
- ``snapshot`` is sent explicitly on both subscribes, because the trade page's default changed
  (``true`` on the older docs, ``false`` on the newer): a reconnect then gets the last 50 trades,
  which fill the gap and are de-duplicated by trade id.

Symbols: v2 spells bitcoin ``BTC`` and dogecoin ``DOGE`` (``BTC/USD``), while REST AssetPairs'
``wsname`` still says ``XBT/USD`` and ``XDG/USD``; a v2 subscribe with the old name is refused
(``"Currency pair not supported XBT/EUR"``, nautilus_trader issue #3509, Kraken.Net #126). So
symbols are built from our pairs (``XBT`` typed by a user is read as ``BTC``) and the
instrument list maps ``wsname`` back the same way.

Subscribes: one per channel for all of a connection's symbols, since Kraken answers each symbol
with an ack of its own (``success: false`` with the symbol for one it refuses, the others go on).
Each carries a ``req_id`` naming the channel, for an error that names no symbol.

Keepalive: "An inactive connection is normally closed after about one minute" (Kraken's
websocket FAQ) and "any valid request such as an application ping keeps it active", so the
listener sends ``{"method":"ping","req_id":N}`` every 30 s: two chances per minute, so one late
or lost ping does not let the connection go idle (nautilus_trader's Kraken client uses 30 s too).

REST (``https://api.kraken.com/0/public``): ``AssetPairs`` lists the instruments (only
``status: "online"`` pairs trade); ``Ticker?pair=XBTUSD`` and ``Trades?pair=XBTUSD&count=N``
give the snapshot taken before streaming, keyed by Kraken's internal name (``XXBTZUSD``), not the
pair sent. The REST API answers with ``{"error":[...],"result":{...}}`` and reports an unknown
pair as ``{"error":["EQuery:Unknown asset pair"]}``, not with an HTTP error status.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from . import rest
from .base import ExchangeListener, Feed, InstrumentsRequest, RestRequest, Session
from .pairs import PairError, parse_pair, split_pair
from .parsing import (
    MalformedFrame,
    decode,
    market_number,
    market_time,
    optional_size,
    optional_statistic,
    parse_iso_time,
    price,
    reads_frame,
    size,
)
from .records import FeedState, Record, Side, Status, Ticker, Trade, time_from_us

NAME = "kraken"
CHANNELS = ("ticker", "trade")

# The req_id of each channel's subscribe: an error ack that names no symbol still says which.
SUBSCRIBE_REQ_IDS = {"ticker": 1, "trade": 2}
_CHANNEL_OF_REQ_ID = {req_id: channel for channel, req_id in SUBSCRIBE_REQ_IDS.items()}
FIRST_PING_REQ_ID = 100  # pings count up from here, apart from the subscribes' ids

# Codes REST ``wsname`` (and WS v1) still spell the old way -> what v2 and our pairs use.
_LEGACY_CODES = {"XBT": "BTC", "XDG": "DOGE"}
_REST_CODES = {new: old for old, new in _LEGACY_CODES.items()}
_NATIVE_CODE = re.compile(r"[A-Z0-9]+")

_TAKER_SIDES = {"buy": Side.BUY, "sell": Side.SELL}  # trade ``side``: the taker's
_REST_TAKER_SIDES = {"b": Side.BUY, "s": Side.SELL}  # REST Trades ``<buy/sell>``: the same
_HEARTBEAT = '{"channel":"heartbeat"}'
# status ``system`` values in which no order matching occurs (websocket-v2/status)
_PAUSED = {
    "maintenance": "Kraken maintenance (status channel): markets are offline",
    "cancel_only": "Kraken is cancel_only (status channel): no order matching",
    "post_only": "Kraken is post_only (status channel): no order matching",
}
# REST errors worth another try later: the service is unwell, not the request wrong
_TRANSIENT_REST_ERRORS = ("EService:", "EAPI:Rate limit", "EGeneral:Too many requests")

Parser = Callable[[dict[str, Any], Mapping[str, str], datetime], list[Record]]


# Symbols -------------------------------------------------------------------------------------


def v2_code(code: str) -> str:
    """A currency code as WS v2 and our pairs spell it: ``XBT`` -> ``BTC``, ``XDG`` -> ``DOGE``."""
    return _LEGACY_CODES.get(code, code)


def rest_pair(symbol: str) -> str:
    """The REST ``pair`` parameter for a v2 symbol: its ``altname``, ``BTC/USD`` -> ``XBTUSD``.

    AssetPairs' ``altname`` is its ``wsname`` without the slash, in the old codes.
    """
    base, _, quote = symbol.partition("/")
    return _REST_CODES.get(base, base) + _REST_CODES.get(quote, quote)


# Parsers -------------------------------------------------------------------------------------


def _entries(message: dict[str, Any]) -> list[Any]:
    data = message["data"]
    if not isinstance(data, list):
        raise MalformedFrame(f"data is not a list: {type(data).__name__}")
    return data


@reads_frame
def parse_ticker(message: dict[str, Any], feeds: Mapping[str, str],
                 received_at: datetime) -> list[Record]:
    """Read a ``ticker`` snapshot or update: one complete ``Ticker`` per entry of ours.

    ``{"channel":"ticker","type":"update","data":[{"symbol":"ALGO/USD","bid":0.10025,
    "bid_qty":740.0,"ask":0.10035,"ask_qty":740.0,"last":0.10035,"volume":997038.98383185,
    "vwap":0.10148,"low":0.09979,"high":0.10285,"change":-0.00017,"change_pct":-0.17,
    "timestamp":"2023-09-25T09:04:31.742648Z"}]}``

    ``timestamp`` is missing from some documented examples; then the receive time stands in.
    """
    records: list[Record] = []
    for entry in _entries(message):
        symbol = entry["symbol"]
        pair = feeds.get(symbol)
        if pair is None:
            continue
        at = entry.get("timestamp")
        last = price(entry["last"], "last")
        change = entry.get("change")
        open_24h = None if change is None else last - market_number(change, "change")
        records.append(Ticker(
            NAME, pair, symbol, received_at if at is None else _time(at, received_at),
            price(entry["bid"], "bid"), price(entry["ask"], "ask"), last,
            optional_size(entry.get("bid_qty"), "bid_qty"),
            optional_size(entry.get("ask_qty"), "ask_qty"),
            optional_size(entry.get("volume"), "volume"),
            optional_statistic(open_24h, "open"), optional_statistic(entry.get("high"), "high"),
            optional_statistic(entry.get("low"), "low")))
    return records


@reads_frame
def parse_trades(message: dict[str, Any], feeds: Mapping[str, str],
                 received_at: datetime) -> list[Record]:
    """Read a ``trade`` snapshot or update: its trades of our pairs, in ``trade_id`` order.

    ``{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"sell",
    "price":0.5117,"qty":40.0,"ord_type":"market","trade_id":4665906,
    "timestamp":"2023-09-25T07:49:37.708706Z"}]}``

    ``side`` is the taker's. Trade ids are a sequence per book, so sorting by id puts a snapshot
    in the order the trades happened whatever order it is sent in.
    """
    trades: list[Trade] = []
    for entry in _entries(message):
        symbol = entry["symbol"]
        pair = feeds.get(symbol)
        if pair is None:
            continue
        trades.append(_trade(pair, symbol, _time(entry["timestamp"], received_at),
                             entry["trade_id"], entry["price"], entry["qty"],
                             _TAKER_SIDES[entry["side"]]))
    records: list[Record] = sorted(trades, key=lambda trade: int(trade.id))
    return records


@reads_frame
def parse_subscribe_ack(message: dict[str, Any], feeds: Mapping[str, str],
                        received_at: datetime) -> list[Record]:
    """Read a ``subscribe`` answer: Kraken sends one per symbol, accepted or refused.

    ``{"method":"subscribe","req_id":1,"result":{"channel":"ticker","event_trigger":"bbo",
    "snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"...","time_out":"..."}``
    ``{"error":"Currency pair not supported XBT/EUR","method":"subscribe","success":false,
    "symbol":"XBT/EUR"}``

    A refusal naming one of our symbols is that pair's error, in Kraken's words. One that names
    none but carries one of our subscribes' ``req_id`` refused the whole subscribe: shown on the
    exchange (its pairs then go unacknowledged and are reported by the ack timeout).
    """
    success = message["success"]
    if success is True:
        result = message["result"]
        pair = feeds.get(result["symbol"])
        if pair is None:
            raise MalformedFrame(f"ack for a symbol we did not ask for: {result['symbol']!r}")
        return [Status(NAME, pair, FeedState.LIVE, f"subscribed to {result['channel']}",
                       received_at)]
    if success is not False:
        raise MalformedFrame(f"success is not a boolean: {success!r}")
    error = str(message["error"])
    pair = feeds.get(message.get("symbol"))  # type: ignore[arg-type]
    if pair is not None:
        return [Status(NAME, pair, FeedState.ERROR, error, received_at)]
    channel = _CHANNEL_OF_REQ_ID.get(message.get("req_id"))  # type: ignore[arg-type]
    if channel is None:
        raise MalformedFrame(f"exchange error: {error}")
    return [Status(NAME, None, FeedState.ERROR, f"{channel} subscribe refused: {error}",
                   received_at)]


@reads_frame
def parse_system_status(message: dict[str, Any]) -> str:
    """The trading engine's state from a ``status`` update: ``online``, ``maintenance``, ...

    ``{"channel":"status","data":[{"api_version":"v2","connection_id":13834774380200032777,
    "system":"online","version":"2.0.0"}],"type":"update"}`` ("The status element is always the
    first and only item in the data payload").
    """
    system = _entries(message)[0]["system"]
    if not isinstance(system, str):
        raise MalformedFrame(f"system is not a string: {system!r}")
    return system


@reads_frame
def parse_asset_pairs(body: dict[str, Any]) -> dict[str, str]:
    """Read ``GET /0/public/AssetPairs`` into {v2 symbol: our pair} of the pairs that trade.

    ``{"error":[],"result":{"XXBTZUSD":{"altname":"XBTUSD","wsname":"XBT/USD",...,
    "status":"online"},...}}``

    ``wsname`` is mapped to v2 (``XBT/USD`` -> ``BTC/USD``). Left out: pairs whose ``status`` is
    not ``online`` (``cancel_only``, ``post_only``, ``limit_only``, ``reduce_only``), pairs
    without a ``wsname`` (the old dark-pool ``.d`` pairs) and codes no pair of ours can spell
    (``ETH2.S``). Answers from before ``status`` existed (2021) list only trading pairs.
    """
    listed: dict[str, str] = {}
    for entry in _result(body).values():
        wsname, status = entry.get("wsname"), entry.get("status", "online")
        if not isinstance(wsname, str) or status != "online":
            continue
        base, _, quote = wsname.partition("/")
        try:
            pair = parse_pair(f"{v2_code(base)}-{v2_code(quote)}")
        except PairError:
            continue
        listed[pair.replace("-", "/")] = pair
    return listed


@reads_frame
def parse_rest_ticker(body: dict[str, Any], feed: Feed, received_at: datetime) -> list[Record]:
    """Read ``GET /0/public/Ticker?pair=XBTUSD`` (Get Ticker Information): one complete ticker.

    ``{"error":[],"result":{"XXBTZUSD":{"a":["30300.10000","1","1.000"],
    "b":["30300.00000","1","1.000"],"c":["30303.20000","0.00067643"],
    "v":["4083.67001100","4412.73601799"],...,"l":["29868.30000","29868.30000"],
    "h":["31631.00000","31631.00000"],"o":"30502.80000"}}}``

    The result is keyed by Kraken's internal name, so the one entry is read whatever its key.
    ``a``/``b`` are [price, whole lot volume, lot volume], ``c`` [price, lot volume]; ``v``, ``l``
    and ``h`` are [today, last 24 hours]. ``o`` is today's open (since midnight UTC), not the
    open of the last 24 hours, so ``open_24h`` stays unknown. No time: the receive time.
    """
    entries = list(_result(body).values())
    if len(entries) != 1:
        raise MalformedFrame(f"expected one ticker, got {len(entries)}")
    (entry,) = entries
    ask, bid = entry["a"], entry["b"]
    return [Ticker(NAME, feed.pair, feed.symbol, received_at, price(bid[0], "bid"),
                   price(ask[0], "ask"), price(entry["c"][0], "last"), size(bid[2], "bid size"),
                   size(ask[2], "ask size"), size(entry["v"][1], "volume"), None,
                   optional_statistic(entry["h"][1], "high"),
                   optional_statistic(entry["l"][1], "low"))]


@reads_frame
def parse_rest_trades(body: dict[str, Any], feed: Feed, received_at: datetime) -> list[Record]:
    """Read ``GET /0/public/Trades?pair=XBTUSD&count=N`` (Get Recent Trades), oldest first.

    ``{"error":[],"result":{"XXBTZUSD":[["30243.40000","0.34507674",1688669597.8277369,"b","m",
    "",61044952],...],"last":"1688671969993150842"}}``

    Rows are [price, volume, time, buy/sell, market/limit, miscellaneous, trade_id], oldest
    first; the side is the taker's, as in the websocket, and ``trade_id`` the websocket's id, so
    a trade seen in both is shown once. ``time`` is a JSON number of seconds, read exactly.
    """
    lists = [rows for key, rows in _result(body).items() if key != "last"]
    if len(lists) != 1 or not isinstance(lists[0], list):
        raise MalformedFrame("expected one list of trades in the result")
    return [_trade(feed.pair, feed.symbol, _time_from_seconds(row[2], received_at), row[6],
                   row[0], row[1], _REST_TAKER_SIDES[row[3]])
            for row in lists[0]]


def _result(body: dict[str, Any]) -> dict[str, Any]:
    """The ``result`` of a REST answer, or the refusal its ``error`` list holds.

    Kraken answers an unknown pair with HTTP 200 ``{"error":["EQuery:Unknown asset pair"]}``:
    a refusal. ``EService:Unavailable``, ``EService:Busy`` and rate limits are the service's
    trouble, a download failure like an HTTP 5xx.
    """
    errors = body["error"]
    if errors:
        text = "; ".join(str(error) for error in errors)
        if any(text.startswith(prefix) for prefix in _TRANSIENT_REST_ERRORS):
            raise rest.DownloadFailed(text)
        raise rest.Refused(text)
    result = body["result"]
    if not isinstance(result, dict):
        raise MalformedFrame(f"result is not an object: {type(result).__name__}")
    return result


def _trade(pair: str, symbol: str, time: datetime, trade_id: Any, trade_price: Any, qty: Any,
           side: Side) -> Trade:
    """A trade as the websocket and REST both give it: integer id, positive quantity."""
    if type(trade_id) is not int:
        raise MalformedFrame(f"not a trade id: {trade_id!r}")
    return Trade(NAME, pair, symbol, time, str(trade_id), price(trade_price), price(qty, "qty"),
                 side)


def _time(text: Any, received_at: datetime) -> datetime:
    """An RFC 3339 time of the feed, within the range any market's time is."""
    if not isinstance(text, str):
        raise MalformedFrame(f"time is not a string: {text!r}")
    return market_time(parse_iso_time(text), text, received_at)


def _time_from_seconds(value: Any, received_at: datetime) -> datetime:
    """REST trade time, epoch seconds as a JSON number (``1688669597.8277369``), to the µs."""
    seconds: Decimal = market_number(value, "time")
    return market_time(time_from_us(int(seconds * 1_000_000)), value, received_at)


def _no_records(message: dict[str, Any], feeds: Mapping[str, str],
                received_at: datetime) -> list[Record]:
    return []


# Channel data that needs no session state; ``heartbeat`` only proves the feed is alive.
_CHANNEL_PARSERS: dict[str, Parser] = {
    "ticker": parse_ticker,
    "trade": parse_trades,
    "heartbeat": _no_records,
}


# Session and listener ------------------------------------------------------------------------


class KrakenSession(Session):
    """The protocol state of one connection: its symbols, and whether Kraken said it paused.

    Made by ``Kraken.new_session`` on every connect. A pair is ``live`` from its first ack and
    ``error`` when Kraken refuses its symbol; answers to our pings, unsubscribe acks and
    channels we never asked for yield nothing.
    """

    def __init__(self, feeds: Mapping[str, str]) -> None:
        super().__init__()
        self._feeds = dict(feeds)  # v2 symbol we subscribed to -> our pair
        self._paused = False  # the status channel said no matching occurs

    def receive(self, frame: str, received_at: datetime) -> list[Record]:
        """Read one frame (decoded exactly: prices are JSON numbers)."""
        if frame == _HEARTBEAT:  # the most frequent frame on a quiet connection
            return []
        return self.receive_message(decode(frame), received_at)

    def receive_message(self, message: Any, received_at: datetime) -> list[Record]:
        """Read one decoded frame: channel data, or the answer to one of our requests."""
        if not isinstance(message, dict):
            raise MalformedFrame(f"not a JSON object: {type(message).__name__}")
        channel = message.get("channel")
        if isinstance(channel, str):
            if channel == "status":
                return self._on_status(message, received_at)
            return _CHANNEL_PARSERS.get(channel, _no_records)(message, self._feeds, received_at)
        method = message.get("method")
        if method == "subscribe":
            return parse_subscribe_ack(message, self._feeds, received_at)
        if isinstance(method, str):  # pong, unsubscribe
            return []
        raise MalformedFrame("neither channel data nor an answer to a request")

    def _on_status(self, message: dict[str, Any], received_at: datetime) -> list[Record]:
        system = parse_system_status(message)
        if system in _PAUSED:
            self._paused = True
            return [Status(NAME, None, FeedState.STALE, _PAUSED[system], received_at)]
        if system == "online" and self._paused:
            self._paused = False
            return [Status(NAME, None, FeedState.LIVE, "Kraken is online again (status channel)",
                           received_at)]
        return []


class Kraken(ExchangeListener):
    """Kraken Spot public market data over WS v2: ``ticker`` (bbo) and ``trade``."""

    name = NAME
    default_url = "wss://ws.kraken.com/v2"
    default_rest_url = "https://api.kraken.com"
    channels_per_pair = len(CHANNELS)
    ping_interval = 30.0  # see the module docstring
    # with ``event_trigger: bbo`` a ticker comes when the best prices move, not on every trade:
    # a trade also sets the pair's last price (the base class's QuoteBook), so it never lags
    merges_quotes = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ping_ids = itertools.count(FIRST_PING_REQ_ID)

    def symbol_for(self, pair: str) -> str:
        """``BTC-USD`` -> ``BTC/USD``; the old codes read as v2's: ``XBT-EUR`` -> ``BTC/EUR``.

        Whether the pair is listed is Kraken's call: the instrument list says so before
        subscribing, and a subscribe it refuses says "Currency pair not supported BTC/XYZ".
        """
        base, quote = (v2_code(code) for code in split_pair(pair))
        for code in (base, quote):
            if not _NATIVE_CODE.fullmatch(code):
                raise PairError(f"Kraken has no symbol for {pair!r}: {code!r} is not a currency "
                                "code of upper-case letters and digits")
        return f"{base}/{quote}"

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        """One subscribe per channel for every symbol (Kraken acks each symbol on its own).

        ``{"method":"subscribe","params":{"channel":"ticker","symbol":["BTC/USD"],
        "event_trigger":"bbo","snapshot":true},"req_id":1}``
        """
        if not symbols:
            return []
        params: dict[str, dict[str, Any]] = {
            "ticker": {"channel": "ticker", "symbol": list(symbols), "event_trigger": "bbo",
                       "snapshot": True},
            "trade": {"channel": "trade", "symbol": list(symbols), "snapshot": True},
        }
        return [json.dumps({"method": "subscribe", "params": params[channel],
                            "req_id": SUBSCRIBE_REQ_IDS[channel]}, separators=(",", ":"))
                for channel in CHANNELS]

    def new_session(self, feeds: Mapping[str, str]) -> KrakenSession:
        return KrakenSession(feeds)

    def ping_frame(self) -> str:
        """``{"method":"ping","req_id":N}`` (websocket-v2/ping), N counting up."""
        return json.dumps({"method": "ping", "req_id": next(self._ping_ids)},
                          separators=(",", ":"))

    def rest_snapshot_requests(self, symbol: str, trades_limit: int) -> list[RestRequest]:
        """Get Ticker Information, then Get Recent Trades (``count`` 1..1000), by ``altname``."""
        pair = rest_pair(symbol)
        return [RestRequest(f"/0/public/Ticker?pair={pair}", parse_rest_ticker),
                RestRequest(f"/0/public/Trades?pair={pair}&count={trades_limit}",
                            parse_rest_trades)]

    def instruments_request(self) -> InstrumentsRequest:
        """Get Tradable Asset Pairs: every pair, with its ``wsname`` and ``status``."""
        return InstrumentsRequest("/0/public/AssetPairs", parse_asset_pairs)
