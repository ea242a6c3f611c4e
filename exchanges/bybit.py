"""Bybit V5 public spot websocket, topics ``orderbook.1`` and ``publicTrade``.

Follows bybit-exchange/docs (docs/v5/websocket/wss-authentication.mdx "Connect",
docs/v5/websocket/public/{orderbook,trade}.mdx, docs/v5/market/{instrument,tickers,
recent-trade}.mdx). Every frame is a JSON object: data frames carry a ``topic``, answers to our
requests an ``op``. Prices and sizes are JSON strings, read as exact ``Decimal``s, so frames are
decoded by orjson (``decode_fast``) and read again exactly should a number with a fraction turn up.
Times are epoch milliseconds.

- Spot ``tickers.<SYMBOL>`` has NO bid or ask (only ``lastPrice`` and the 24 h statistics), so
  the top of book comes from the level-1 order book, ``orderbook.1.<SYMBOL>``: every push is a
  ``snapshot`` of the best bid and ask (``b``/``a``: ``[[price, size]]``, empty when that side
  is empty), pushed at most every 10 ms and again after 3 s without change. Its ``u`` = 1
  announces a restart of Bybit's service and asks to overwrite the local book: a level-1
  snapshot always overwrites, so nothing else is needed. It becomes a ``Quote``.
- ``publicTrade.<SYMBOL>``: ``data`` is a list of trades, oldest first; ``S`` is the TAKER's
  side ("Side of taker. Buy,Sell"), ``T`` the fill time in ms, ``i`` the trade id.
  ``merges_quotes`` makes each trade the pair's last price, and the listener's ``QuoteBook``
  publishes a whole ``Ticker`` once bid, ask and last are known.

Subscribing: "Spot can input up to 10 args for each subscription request", and a request that
names one topic Bybit doesn't serve fails as a whole (``"success":false,"ret_msg":"error:handler
not found,topic:orderbook.1.FOOUSDT"``), subscribing nothing of it. So each symbol gets a request
of its own, with its two topics (2 args, within the 10) and ``req_id`` set to the symbol: a bad
pair fails only its own request, and the answer, which echoes ``req_id``, names the pair. The
ack is ``{"success":true,"ret_msg":"subscribe","conn_id":"...","req_id":"BTCUSDT",
"op":"subscribe"}``.

Limits (Connect, "IP Limits" and "Public channel - Args limits"; rate-limit/rate-limit.mdx):
the "args" of one public connection may not exceed 21,000 characters, no more than 500
connections may be opened in 5 minutes per domain, nor more than 1,000 spot market-data
connections held per IP. A topic is at most about 40 characters (``publicTrade.`` plus a symbol,
quoted, with its comma), so 200 topics (100 pairs) take at most about 8,000: well within the
limit however it is counted, and 100 pairs need one connection, 1,000 pairs ten (staggered
1 s apart by the listener). Bybit documents no rate for public subscribe requests, so they go
unpaced.

Keepalive: "we recommend that you send the ping heartbeat packet every 20 seconds":
``{"req_id":"ping","op":"ping"}``, answered on spot by ``{"success":true,"ret_msg":"pong",
"conn_id":"...","op":"ping"}``, which is ignored. Without ping-pong or data Bybit cuts a
connection after 10 minutes.

REST (api.bybit.com, every answer ``{"retCode":0,"retMsg":"OK","result":{...},"time":MS}``, and
HTTP 200 with a non-zero ``retCode`` when refused, e.g. 10001 "Not supported symbols"):
``GET /v5/market/instruments-info?category=spot`` (spot is not paginated; ``status`` Trading),
``GET /v5/market/tickers?category=spot&symbol=BTCUSDT`` (unlike the websocket ticker it has
``bid1Price``/``ask1Price``, so it gives a whole ``Ticker`` with the 24 h statistics) and
``GET /v5/market/recent-trade?category=spot&symbol=BTCUSDT&limit=N`` (``side`` the taker's,
limit 1..60 on spot). A trade's ``execId`` there is taken to be the ``i`` of the same trade on
the websocket (both are "the" trade id in the docs), so a trade that both bring is shown once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from .base import ExchangeListener, Feed, InstrumentsRequest, JsonSession, RestRequest
from .pairs import PairError, split_pair
from .parsing import (
    MalformedFrame,
    exact,
    market_time,
    price,
    reads_frame,
    size,
)
from .records import FeedState, Quote, Record, Side, Status, Ticker, Trade, time_from_ms

NAME = "bybit"
BOOK_TOPIC = "orderbook.1"  # level 1: the best bid and ask, snapshots only
TRADE_TOPIC = "publicTrade"
REST_TRADES_MAX = 60  # recent-trade ``limit`` on spot: [1, 60]

_SIDES = {"Buy": Side.BUY, "Sell": Side.SELL}  # ``S`` / ``side``: the taker's
_PAIR = re.compile(r"[A-Z0-9]+-[A-Z0-9]+")
# the topic a refusal names: "error:handler not found,topic:orderbook.1.FOOUSDT"
_NAMED_TOPIC = re.compile(r"topic:([A-Za-z]+)(?:\.\d+)?\.([A-Za-z0-9]+)")
_ALREADY_SUBSCRIBED = "already subscribed"
_MS_MAX = 253_402_300_800_000  # 10000-01-01, where datetime's range ends

Parser = Callable[[dict[str, Any], str, str, datetime], list[Record]]


# Parsers -------------------------------------------------------------------------------------


@reads_frame
def parse_book(message: dict[str, Any], pair: str, symbol: str,
               received_at: datetime) -> list[Record]:
    """Read an ``orderbook.1`` push (Orderbook): the best bid and ask as a ``Quote``.

    ``{"topic":"orderbook.1.BTCUSDT","ts":1672304484978,"type":"snapshot","data":{"s":"BTCUSDT",
    "b":[["16493.50","0.006"]],"a":[["16611.00","0.029"]],"u":18521288,"seq":7961638724},
    "cts":1672304484976}``

    The time is ``cts``, "the timestamp from the matching engine when this orderbook data is
    produced", else ``ts``. A side with no order is an empty list, and stays unknown (None) in
    the ``Quote``. Level 1 "has snapshot message only", so anything else is refused.
    """
    if message["type"] != "snapshot":
        raise MalformedFrame(f"a {message['type']!r} on a level-1 book, which sends snapshots")
    data = message["data"]
    if data["s"] != symbol:
        raise MalformedFrame(f"book of {data['s']!r} on the topic of {symbol}")
    bid, bid_size = _level(data["b"])
    ask, ask_size = _level(data["a"])
    exact(data["u"])  # the update id: "u"=1 is a restart of Bybit's service; a snapshot resets
    moment = message.get("cts")
    return [Quote(NAME, pair, symbol,
                  _time(message["ts"] if moment is None else moment, received_at),
                  bid=bid, ask=ask, bid_size=bid_size, ask_size=ask_size)]


@reads_frame
def parse_trades(message: dict[str, Any], pair: str, symbol: str,
                 received_at: datetime) -> list[Record]:
    """Read a ``publicTrade`` push (Trade): one or more trades, oldest first.

    ``{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":
    1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick",
    "i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false,"seq":1783284617}]}``

    ``S`` is the taker's side, ``T`` the fill time in ms, ``i`` the trade id. "A single message
    may have up to 1024 trades."
    """
    rows = message["data"]
    if not isinstance(rows, list):
        raise MalformedFrame(f"trades are not a list: {type(rows).__name__}")
    trades: list[Record] = []
    for row in rows:
        if row["s"] != symbol:
            raise MalformedFrame(f"trade of {row['s']!r} on the topic of {symbol}")
        trades.append(_trade(pair, symbol, _time(row["T"], received_at), row["i"], row["p"],
                             row["v"], row["S"]))
    return trades


@reads_frame
def parse_rest_ticker(body: dict[str, Any], feed: Feed, received_at: datetime) -> list[Record]:
    """Read ``GET /v5/market/tickers?category=spot&symbol=...`` (Get Tickers, Spot).

    ``{"retCode":0,"retMsg":"OK","result":{"category":"spot","list":[{"symbol":"BTCUSDT",
    "bid1Price":"20517.96","bid1Size":"2","ask1Price":"20527.77","ask1Size":"1.862172",
    "lastPrice":"20533.13","prevPrice24h":"20393.48","price24hPcnt":"0.0068","highPrice24h":
    "21128.12","lowPrice24h":"20318.89","turnover24h":"243765620.65899866","volume24h":
    "11801.27771","usdIndexPrice":"20784.12009279"}]},"retExtInfo":{},"time":1673859087947}``

    ``prevPrice24h`` is the price 24 hours ago: ``open_24h``. The time is the answer's
    ``time``. A ``Ticker`` when bid, ask and last are all there, else a ``Quote`` of what is.
    """
    rows = _result(body)["list"]
    if len(rows) != 1:
        raise MalformedFrame(f"{len(rows)} tickers for {feed.symbol}, not one")
    row = rows[0]
    if row["symbol"] != feed.symbol:
        raise MalformedFrame(f"ticker of {row['symbol']!r} asked for {feed.symbol}")
    values = {"bid": _price(row.get("bid1Price")), "ask": _price(row.get("ask1Price")),
              "last": _price(row.get("lastPrice")), "bid_size": _price(row.get("bid1Size")),
              "ask_size": _price(row.get("ask1Size")),
              "volume_24h": _price(row.get("volume24h")),
              "open_24h": _price(row.get("prevPrice24h")),
              "high_24h": _price(row.get("highPrice24h")),
              "low_24h": _price(row.get("lowPrice24h"))}
    moment = _time(body["time"], received_at) if "time" in body else received_at
    if values["bid"] is None or values["ask"] is None or values["last"] is None:
        return [Quote(NAME, feed.pair, feed.symbol, moment, **values)]
    return [Ticker(NAME, feed.pair, feed.symbol, moment, **values)]


@reads_frame
def parse_rest_trades(body: dict[str, Any], feed: Feed, received_at: datetime) -> list[Record]:
    """Read ``GET /v5/market/recent-trade?category=spot&symbol=...`` (Get Recent Public Trades).

    ``{"retCode":0,"retMsg":"OK","result":{"category":"spot","list":[{"execId":
    "2100000000007764263","symbol":"BTCUSDT","price":"16618.49","size":"0.00012","side":"Buy",
    "time":"1672052955758","isBlockTrade":false,"isRPITrade":true,"seq":"123456"}]},...}``

    ``side`` is the taker's; ``time`` is ms as a string. The docs don't state the order of
    ``list``, so the trades are returned sorted by time, oldest first (the wire's newest-first
    order kept among trades of the same millisecond).
    """
    trades = [_rest_trade(row, feed, received_at) for row in reversed(_result(body)["list"])]
    return sorted(trades, key=lambda trade: trade.time)


@reads_frame
def parse_instruments(body: dict[str, Any]) -> dict[str, str]:
    """Read ``GET /v5/market/instruments-info?category=spot`` (Get Instruments Info, Spot).

    ``{"retCode":0,"retMsg":"OK","result":{"category":"spot","list":[{"symbolId":9,"symbol":
    "BTCUSDT","baseCoin":"BTC","quoteCoin":"USDT","innovation":"0","status":"Trading",...}]},
    ...}``

    {symbol: ``BASE-QUOTE``} of the instruments whose ``status`` is Trading ("Spot has Trading
    only", but a status is checked all the same).
    """
    return {row["symbol"]: f"{row['baseCoin']}-{row['quoteCoin']}"
            for row in _result(body)["list"] if row["status"] == "Trading"}


@reads_frame
def refused_symbol(message: dict[str, Any], feeds: Mapping[str, str]) -> str | None:
    """Our symbol a subscribe answer is about: its ``req_id`` (we set it to the symbol), else
    the symbol of the topic its ``ret_msg`` names; None when it names none of ours.

    ``{"success":false,"ret_msg":"error:handler not found,topic:publicTrade.NOTASYMBOL",
    "conn_id":"...","req_id":"","op":"subscribe"}``
    """
    req_id = message.get("req_id")
    if isinstance(req_id, str) and req_id in feeds:
        return req_id
    named = _NAMED_TOPIC.search(str(message.get("ret_msg") or ""))
    if named and named.group(2) in feeds:
        return named.group(2)
    return None


# Session and listener ------------------------------------------------------------------------


class BybitSession(JsonSession):
    """The protocol state of one connection: which of our subscribe requests were answered.

    Made by ``Bybit.new_session`` on every connect. Each symbol's request is answered once: a
    success makes the pair live, a failure makes it an error with Bybit's own words (a failure
    saying the topic is "already subscribed" means it streams). Data frames need no state: the
    topic names the symbol.
    """

    def __init__(self, feeds: Mapping[str, str]) -> None:
        super().__init__()
        self._feeds = dict(feeds)  # symbol we subscribed to -> our pair
        self._parsers: dict[str, Parser] = {BOOK_TOPIC: parse_book, TRADE_TOPIC: parse_trades}


    def receive_message(self, message: Any, received_at: datetime) -> list[Record]:
        """Read one decoded frame: a data push by its ``topic``, an answer by its ``op``."""
        if not isinstance(message, dict):
            raise MalformedFrame(f"not an object: {type(message).__name__}")
        topic = message.get("topic")
        if isinstance(topic, str):
            return self._on_data(topic, message, received_at)
        op = message.get("op")
        if op == "subscribe":
            return self._on_subscribe(message, received_at)
        if isinstance(op, str):  # the pong ("op":"ping", "ret_msg":"pong"), unsubscribe, auth
            return []
        raise MalformedFrame("neither a 'topic' nor an 'op'")

    def _on_data(self, topic: str, message: dict[str, Any],
                 received_at: datetime) -> list[Record]:
        name, _, symbol = topic.rpartition(".")
        parser = self._parsers.get(name)
        pair = self._feeds.get(symbol)
        if parser is None or pair is None:  # a topic or symbol we did not ask for
            return []
        return parser(message, pair, symbol, received_at)

    def _on_subscribe(self, message: dict[str, Any], received_at: datetime) -> list[Record]:
        success = message.get("success")
        if not isinstance(success, bool):
            raise MalformedFrame(f"'success' is not a boolean: {success!r}")
        symbol = refused_symbol(message, self._feeds)
        text = str(message.get("ret_msg") or "")
        if symbol is None:
            if success:
                return []  # an ack of a request that isn't ours
            return [Status(NAME, None, FeedState.ERROR, text or "subscribe refused",
                           received_at)]
        pair = self._feeds[symbol]
        if success:
            return [Status(NAME, pair, FeedState.LIVE, "subscribed", received_at)]
        if _ALREADY_SUBSCRIBED in text:
            return [Status(NAME, pair, FeedState.LIVE, text, received_at)]
        return [Status(NAME, pair, FeedState.ERROR, text or "subscribe refused", received_at)]


class Bybit(ExchangeListener):
    """Bybit V5 spot public market data: ``orderbook.1`` for the top of book, ``publicTrade``."""

    name = NAME
    default_url = "wss://stream.bybit.com/v5/public/spot"
    default_rest_url = "https://api.bybit.com"
    default_pairs = ("BTC-USDT", "ETH-USDT")  # Bybit lists no USD spot pairs
    channels_per_pair = 2  # orderbook.1 and publicTrade
    max_subscriptions = 200  # topics per connection: see the module docstring
    ping_interval = 20.0
    merges_quotes = True

    def symbol_for(self, pair: str) -> str:
        """``BTC-USDT`` -> ``BTCUSDT``. Bybit's symbols are upper case ("uppercase only"); whether
        one is listed is Bybit's call (an unlisted one is refused on its own request)."""
        if not _PAIR.fullmatch(pair):
            raise PairError(f"Bybit has no symbol for {pair!r}: expected BASE-QUOTE in "
                            "upper-case letters and digits")
        return "".join(split_pair(pair))

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        """One request per symbol, its two topics as ``args`` and the symbol as ``req_id``.

        ``{"req_id":"BTCUSDT","op":"subscribe","args":["orderbook.1.BTCUSDT",
        "publicTrade.BTCUSDT"]}``
        """
        return [json.dumps({"req_id": symbol, "op": "subscribe",
                            "args": [f"{BOOK_TOPIC}.{symbol}", f"{TRADE_TOPIC}.{symbol}"]},
                           separators=(",", ":"))
                for symbol in symbols]

    def new_session(self, feeds: Mapping[str, str]) -> BybitSession:
        return BybitSession(feeds)

    def ping_frame(self) -> str:
        """Connect, "How to Send the Heartbeat Packet": ``{"req_id":"100001","op":"ping"}``."""
        return '{"req_id":"ping","op":"ping"}'

    def rest_snapshot_requests(self, symbol: str, trades_limit: int) -> list[RestRequest]:
        """Get Tickers, then Get Recent Public Trades (at most 60 on spot)."""
        limit = max(1, min(trades_limit, REST_TRADES_MAX))
        return [RestRequest(f"/v5/market/tickers?category=spot&symbol={symbol}",
                            parse_rest_ticker),
                RestRequest(f"/v5/market/recent-trade?category=spot&symbol={symbol}"
                            f"&limit={limit}", parse_rest_trades)]

    def instruments_request(self) -> InstrumentsRequest:
        """Get Instruments Info of every spot symbol (spot has no pagination)."""
        return InstrumentsRequest("/v5/market/instruments-info?category=spot", parse_instruments)


# Helpers -------------------------------------------------------------------------------------


def _level(levels: list[Any]) -> tuple[Decimal | None, Decimal | None]:
    """The best ``[price, size]`` of one side of a level-1 book, or (None, None) if empty."""
    if not isinstance(levels, list):
        raise MalformedFrame(f"book side is not a list: {type(levels).__name__}")
    if not levels:
        return None, None
    best = levels[0]  # [price, size]; anything appended to a level is not ours to refuse
    return _price(best[0]), size(best[1], "level size")


def _trade(pair: str, symbol: str, time: datetime, trade_id: Any, trade_price: Any,
           quantity: Any, side: Any) -> Trade:
    """A trade of the websocket or of REST: both spell it with strings and the taker's side."""
    if type(trade_id) is not str or not trade_id:
        raise MalformedFrame(f"not a trade id: {trade_id!r}")
    return Trade(NAME, pair, symbol, time, trade_id, price(trade_price),
                 price(quantity, "trade size"), _SIDES[side])


def _time(ms: Any, received_at: datetime) -> datetime:
    """An epoch-milliseconds integer as a UTC time, within the window of a sane clock."""
    if type(ms) is not int or not 0 <= ms < _MS_MAX:
        exact(ms)  # a float is orjson's reading of a number with a fraction: read it again
        raise MalformedFrame(f"not a time in ms: {ms!r}")
    return market_time(time_from_ms(ms), ms, received_at)


def _ms_text(text: Any) -> int:
    """REST's ``time`` field: milliseconds as a string of digits."""
    if type(text) is not str or not text.isascii() or not text.isdigit():
        raise MalformedFrame(f"not a time in ms: {text!r}")
    return int(text)


def _price(value: Any) -> Decimal | None:
    """A price or size of the book or of REST; Bybit writes ``""`` or 0 where it has none."""
    if value is None or value == "":
        return None
    number = size(value, "price")
    return number if number else None


def _result(body: Any) -> dict[str, Any]:
    """The ``result`` of a REST answer, or ``MalformedFrame`` with Bybit's refusal.

    ``{"retCode":10001,"retMsg":"Not supported symbols","result":{},"retExtInfo":{},...}``
    """
    if not isinstance(body, dict):
        raise MalformedFrame(f"not an object: {type(body).__name__}")
    code = body["retCode"]
    if code != 0:
        raise MalformedFrame(f"{body.get('retMsg')} (retCode {code})")
    return body["result"]


def _rest_trade(row: dict[str, Any], feed: Feed, received_at: datetime) -> Trade:
    """One row of recent-trade, which must be of the symbol asked for."""
    if row["symbol"] != feed.symbol:
        raise MalformedFrame(f"trade of {row['symbol']!r} asked for {feed.symbol}")
    return _trade(feed.pair, feed.symbol, _time(_ms_text(row["time"]), received_at), row["execId"],
                  row["price"], row["size"], row["side"])
