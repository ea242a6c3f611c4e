"""Lean fake exchanges for the benchmarks: Bitfinex v2 and Coinbase ws-feed at a fixed rate.

``python -m bench.feeder --exchanges bitfinex,coinbase --pairs BTC-USD,ETH-USD [--rate 1000]``

Why not ``simulator/``: it speaks the same protocols but was built for tests (a random market in
``Decimal``s, an engine lock, a sender thread per connection, a clock that ticks every 50 ms).
Measured on the 2-core dev machine it spends ~26 µs of CPU per frame (0.26 core at 10,000
frames/s, a full core by ~30,000/s), sends in 50 ms bursts, and has no notion of an aggregate
frame rate or of how many distinct trades it sent. This process pre-formats every price and
amount, builds each frame with one f-string, paces in ``SLICE`` steps, and counts what it
wrote, so it stays a small fraction of a core and the server is what gets measured.

Wire shapes are the ones the listeners (``exchanges/``) and the simulator read and write:

- Bitfinex (``/bitfinex``): ``info`` greeting on connect; per subscribe a ``subscribed`` ack with
  a chanId, then a ticker (ticker channel) or a trades snapshot, newest first (trades channel).
  Streaming: ``[chanId,"te",[ID,MTS,AMOUNT,PRICE]]`` then ``"tu"`` with the same values, and
  ``[chanId,[BID,BID_SIZE,ASK,ASK_SIZE,DAILY_CHANGE,DAILY_CHANGE_RELATIVE,LAST_PRICE,VOLUME,
  HIGH,LOW]]``; ``[chanId,"hb"]`` after 15 s of channel silence. Numbers are JSON numbers.
- Coinbase (``/coinbase``): per subscribe a ``subscriptions`` ack listing everything so far, a
  ticker (ticker channel) and a ``last_match`` (matches channel). Streaming: ``match`` (``side``
  the maker's) then a ``ticker`` for the same trade (``side`` the taker's, same id and time);
  a ``heartbeat`` per product each second. Decimals are strings.

Message mix per feed (one exchange and pair): Bitfinex ``te, tu, te, tu, ticker`` (2 trades per
5 frames), Coinbase ``match, ticker`` (1 trade per 2 frames). The aggregate ``--rate`` is paced
frames per second for the whole process, split evenly round-robin over its feeds; heartbeats
and handshake frames come on top. Every trade carries the time it is sent as its exchange time
(Bitfinex MTS in ms, Coinbase ISO with µs), so a Socket.IO client can compute frame-to-client
latency from the trade's ``time``.

Control: stdout first gets one line ``{"url": "ws://127.0.0.1:PORT"}``; then every JSON line
on stdin gets one JSON line back: ``{"cmd": "rate", "value": 5000}`` (``"max"``: as fast as the
consumers read, held back by TCP backpressure; 0 stops), ``{"cmd": "stats"}`` (counters, see
``Feeder.stats``). End of stdin ends the process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import random
import time
import uuid
from collections.abc import Iterable
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .commands import answer_commands

SLICE = 0.005  # seconds between pacing steps: each step sends the frames that fell due
MAX_CHUNK = 256  # frames sent between yields in "max" mode (backpressure still applies)
VARIANTS = 512  # pre-formatted price/amount variants per pair
BITFINEX_HB_IDLE = 15.0  # seconds of channel silence before Bitfinex sends "hb"
DEFAULT_PAIRS = ("BTC-USD", "ETH-USD", "SOL-USD", "LTC-USD")
BASE_PRICES = {"BTC": 43210, "ETH": 2345, "SOL": 98, "LTC": 71, "XRP": 0.5, "DOGE": 0.08,
               "ADA": 0.4}
MAKER_SIDE = {"buy": "sell", "sell": "buy"}  # Coinbase match ``side`` from the taker's


class WallClock:
    """Exchange timestamps of "now", cheap enough to take per frame."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def iso_us(self, now: float) -> str:
        """Coinbase's ``time``: ``2026-11-24T17:42:03.123456Z``; the date part cached per second."""
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
        return f"{self._prefix}{int((now - second) * 1_000_000):06d}Z"


CLOCK = WallClock()


class Variant:
    """One pre-formatted trade and top of book: exact decimal texts, built once at start."""

    __slots__ = ("amount", "bfx_amount", "bfx_price", "bfx_ticker", "cb_ticker_tail", "price",
                 "side")

    def __init__(self, base: float, step: int, rng: random.Random) -> None:
        decimals = 2 if base >= 10 else 5
        tick = 10 ** -decimals
        price = round(base * (1 + step / 20_000), decimals)
        size = round(rng.choice((0.001, 0.0025, 0.01, 0.05, 0.12345678, 0.5, 1.5)), 8)
        self.side = rng.choice(("buy", "sell"))
        self.price = f"{price:.{decimals}f}"  # Coinbase: fixed digits, as a string
        self.amount = f"{size:.8f}"
        # Bitfinex writes doubles: shortest form, JSON numbers, AMOUNT < 0 when the taker sold
        self.bfx_price = _shortest(price)
        self.bfx_amount = ("" if self.side == "buy" else "-") + _shortest(size)
        bid, ask = price - tick, price + tick
        high, low = round(base * 1.06, decimals), round(base * 0.94, decimals)
        change = round(price - base, decimals)
        self.bfx_ticker = "[" + ",".join((
            _shortest(bid), "12.5", _shortest(ask), "8.25", _shortest(change),
            _shortest(round(change / base, 4)), self.bfx_price, "1234.5678", _shortest(high),
            _shortest(low))) + "]"
        self.cb_ticker_tail = (
            f'"price":"{self.price}","open_24h":"{base:.{decimals}f}",'
            f'"volume_24h":"1234.56780000","low_24h":"{low:.{decimals}f}",'
            f'"high_24h":"{high:.{decimals}f}","volume_30d":"45678.12345678",'
            f'"best_bid":"{bid:.{decimals}f}","best_bid_size":"12.50000000",'
            f'"best_ask":"{ask:.{decimals}f}","best_ask_size":"8.25000000"')


def _shortest(value: float) -> str:
    """A JSON number token with no exponent and no trailing zeros (``7500``, ``0.0025``)."""
    text = f"{value:.10f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


class Subscribers:
    """The connections that get one channel of one feed, each with its frame wrapper."""

    def __init__(self) -> None:
        self.links: dict[Link, tuple[str, str]] = {}  # link -> (prefix, suffix)
        self.last_sent = 0.0  # time.time() of the last frame: Bitfinex heartbeats


class Feed:
    """One exchange and pair: its trade counter, its cycle of frames, its subscribers."""

    cycle: tuple[str, ...] = ()

    def __init__(self, pair: str, symbol: str, index: int, seed: int) -> None:
        self.pair = pair
        self.symbol = symbol
        rng = random.Random(f"{seed}:{symbol}")
        base = BASE_PRICES.get(pair.split("-")[0], 100)
        self.variants = [Variant(base, rng.randint(-200, 200), rng) for _ in range(VARIANTS)]
        self.order_ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4))
                          for _ in range(VARIANTS + 1)]  # Coinbase maker/taker order ids
        self.channels: dict[str, Subscribers] = {}
        self.trade_id = 500_000_000 + index * 10_000_000
        self.sequence = 7_000_000_000 + index * 10_000_000
        self.variant = self.variants[0]
        self.trade_time = time.time() - 60  # the "previous" trade, for handshakes
        self._steps = itertools.cycle(self.cycle)
        self.trades = 0  # distinct trades sent to at least one connection

    def subscribers(self, channel: str) -> Subscribers:
        return self.channels.setdefault(channel, Subscribers())

    def next_frame(self, now: float) -> tuple[Subscribers | None, str]:
        """The next frame of the cycle: (who gets it, its body); a new trade when it starts one."""
        raise NotImplementedError

    def new_trade(self, now: float) -> Variant:
        self.trade_id += 1
        self.trade_time = now
        self.variant = self.variants[self.trade_id % VARIANTS]
        return self.variant


class BitfinexFeed(Feed):
    cycle = ("te", "tu", "te", "tu", "ticker")

    def next_frame(self, now: float) -> tuple[Subscribers | None, str]:
        step = next(self._steps)
        if step == "ticker":
            return self.channels.get("ticker"), self.variant.bfx_ticker
        subscribers = self.channels.get("trades")
        if step == "te":
            self.new_trade(now)
            if subscribers and subscribers.links:
                self.trades += 1
        return subscribers, f'"{step}",{self.trade_row()}'

    def trade_row(self, trade_id: int | None = None, at: float | None = None) -> str:
        variant = self.variant
        return (f"[{self.trade_id if trade_id is None else trade_id},"
                f"{int((self.trade_time if at is None else at) * 1000)},"
                f"{variant.bfx_amount},{variant.bfx_price}]")


class CoinbaseFeed(Feed):
    cycle = ("match", "ticker")

    def next_frame(self, now: float) -> tuple[Subscribers | None, str]:
        step = next(self._steps)
        if step == "match":
            self.sequence += 1  # the ticker that reports the same trade shares it
            self.new_trade(now)
            subscribers = self.channels.get("matches")
            if subscribers and subscribers.links:
                self.trades += 1
            return subscribers, self.match("match")
        return self.channels.get("ticker"), self.ticker(with_trade=True)

    def match(self, kind: str) -> str:
        variant = self.variant
        return (f'{{"type":"{kind}","trade_id":{self.trade_id},'
                f'"maker_order_id":"{self.order_ids[self.trade_id % VARIANTS]}",'
                f'"taker_order_id":"{self.order_ids[self.trade_id % VARIANTS + 1]}",'
                f'"side":"{MAKER_SIDE[variant.side]}","size":"{variant.amount}",'
                f'"price":"{variant.price}","product_id":"{self.symbol}",'
                f'"sequence":{self.sequence},"time":"{CLOCK.iso_us(self.trade_time)}"}}')

    def ticker(self, with_trade: bool) -> str:
        variant = self.variant
        text = (f'{{"type":"ticker","sequence":{self.sequence},"product_id":"{self.symbol}",'
                f"{variant.cb_ticker_tail}")
        if not with_trade:
            return text + "}"
        return (text + f',"side":"{variant.side}","time":"{CLOCK.iso_us(self.trade_time)}",'
                f'"trade_id":{self.trade_id},"last_size":"{variant.amount}"}}')

    def heartbeat(self, now: float) -> str:
        return (f'{{"type":"heartbeat","last_trade_id":{self.trade_id},'
                f'"product_id":"{self.symbol}","sequence":{self.sequence},'
                f'"time":"{CLOCK.iso_us(now)}"}}')


class Link:
    """One server-side websocket and what it has been sent."""

    __slots__ = ("chan_ids", "closed", "venue", "ws")

    def __init__(self, ws: ServerConnection, venue: Venue) -> None:
        self.ws = ws
        self.venue = venue
        self.closed = False
        self.chan_ids: dict[int, Subscribers] = {}  # Bitfinex: chanId -> its channel


class Venue:
    """One fake exchange: its feeds by symbol and its connection protocol."""

    name = ""

    def __init__(self, feeds: list[Feed], counters: Counters) -> None:
        self.feeds = {feed.symbol: feed for feed in feeds}
        self.counters = counters

    async def opened(self, link: Link) -> None:
        """Greet a new connection."""

    async def received(self, link: Link, text: str) -> None:
        """Answer one client frame."""

    def heartbeats(self, link: Link, now: float) -> list[str]:
        """Frames to send this second to keep the client's silence watchdog fed."""
        return []

    def forget(self, link: Link) -> None:
        for feed in self.feeds.values():
            for subscribers in feed.channels.values():
                subscribers.links.pop(link, None)

    async def send(self, link: Link, text: str) -> None:
        await link.ws.send(text)
        self.counters.frames += 1


class Bitfinex(Venue):
    name = "bitfinex"

    def __init__(self, feeds: list[Feed], counters: Counters) -> None:
        super().__init__(feeds, counters)
        self._chan_ids = itertools.count(17_470, 7919)  # unique per process, like real ones

    async def opened(self, link: Link) -> None:
        info = {"event": "info", "version": 2, "serverId": str(uuid.uuid4()),
                "platform": {"status": 1}}
        await self.send(link, _dumps(info))

    async def received(self, link: Link, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        event = message.get("event") if isinstance(message, dict) else None
        if event == "subscribe":
            await self._subscribe(link, message)
        elif event == "unsubscribe":
            subscribers = link.chan_ids.pop(message.get("chanId"), None)
            if subscribers is not None:
                subscribers.links.pop(link, None)
            await self.send(link, _dumps({"event": "unsubscribed", "status": "OK",
                                          "chanId": message.get("chanId")}))
        elif event == "ping":
            await self.send(link, _dumps({"event": "pong", "ts": int(time.time() * 1000),
                                          "cid": message.get("cid")}))
        else:
            await self.send(link, _dumps({"event": "error", "msg": "event: invalid",
                                          "code": 10000}))

    async def _subscribe(self, link: Link, message: dict[str, Any]) -> None:
        channel, symbol = message.get("channel"), message.get("symbol")
        echo = {key: value for key, value in message.items() if key != "event"}
        feed = self.feeds.get(symbol) if isinstance(symbol, str) else None
        if channel not in ("ticker", "trades"):
            await self.send(link, _dumps({**echo, "event": "error", "msg": "channel: unknown",
                                          "code": 10300}))
            return
        if feed is None:
            await self.send(link, _dumps({**echo, "event": "error", "msg": "symbol: invalid",
                                          "code": 10300, "pair": str(symbol)[1:]}))
            return
        subscribers = feed.subscribers(channel)
        if link in subscribers.links:
            await self.send(link, _dumps({**echo, "event": "error", "msg": "subscribe: dup",
                                          "code": 10301, "pair": symbol[1:]}))
            return
        chan_id = next(self._chan_ids)
        link.chan_ids[chan_id] = subscribers
        await self.send(link, _dumps({"event": "subscribed", "channel": channel,
                                      "chanId": chan_id, "symbol": symbol,
                                      "pair": symbol[1:]}))
        if channel == "ticker":
            await self.send(link, f"[{chan_id},{feed.variant.bfx_ticker}]")
        else:  # the recent trades, newest first: here the last one and two older ones
            rows = [feed.trade_row(feed.trade_id - back, feed.trade_time - back)
                    for back in range(3)]
            await self.send(link, f"[{chan_id},[{','.join(rows)}]]")
        subscribers.links[link] = (f"[{chan_id},", "]")

    def heartbeats(self, link: Link, now: float) -> list[str]:
        frames = []
        for chan_id, subscribers in link.chan_ids.items():
            if now - subscribers.last_sent >= BITFINEX_HB_IDLE:
                subscribers.last_sent = now
                frames.append(f'[{chan_id},"hb"]')
        return frames


class Coinbase(Venue):
    name = "coinbase"
    CHANNELS = ("ticker", "matches", "heartbeat")

    def __init__(self, feeds: list[Feed], counters: Counters) -> None:
        super().__init__(feeds, counters)
        self._subscribed: dict[Link, dict[str, list[str]]] = {}

    async def received(self, link: Link, text: str) -> None:
        try:
            message = json.loads(text)
            assert isinstance(message, dict) and message.get("type") == "subscribe"
            requested = {entry["name"]: list(entry["product_ids"])
                         for entry in message["channels"]}
        except (ValueError, AssertionError, KeyError, TypeError):
            await self.send(link, _dumps({"type": "error", "message": "Failed to subscribe",
                                          "reason": "malformed subscribe"}))
            return
        subscribed = self._subscribed.setdefault(link, {})
        unknown = [product for products in requested.values() for product in products
                   if product not in self.feeds]
        if unknown:
            await self.send(link, _dumps({"type": "error", "message": "Failed to subscribe",
                                          "reason": f"{unknown[0]} is not a valid product"}))
        else:
            for name, products in requested.items():
                listed = subscribed.setdefault(name, [])
                listed += [product for product in products if product not in listed]
        channels = [{"name": name, "product_ids": products}
                    for name, products in subscribed.items() if products]
        await self.send(link, _dumps({"type": "subscriptions", "channels": channels}))
        if unknown:
            return
        for name, products in requested.items():
            for product in products:
                feed = self.feeds[product]
                if name == "ticker":
                    await self.send(link, feed.ticker(with_trade=False))
                elif name == "matches":
                    await self.send(link, feed.match("last_match"))
                feed.subscribers(name).links[link] = ("", "")

    def heartbeats(self, link: Link, now: float) -> list[str]:
        products = self._subscribed.get(link, {}).get("heartbeat", [])
        return [self.feeds[product].heartbeat(now) for product in products]

    def forget(self, link: Link) -> None:
        super().forget(link)
        self._subscribed.pop(link, None)


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


class Counters:
    """What the process wrote: every frame, and the paced ones."""

    def __init__(self) -> None:
        self.frames = 0  # every text frame written, handshakes and heartbeats included
        self.paced = 0  # frames sent by the pacer (the rate's frames)


class Feeder:
    """The process: venues on one port, one pacer over all their feeds, the control loop."""

    def __init__(self, exchanges: Iterable[str], pairs: Iterable[str], seed: int) -> None:
        self.counters = Counters()
        pairs = list(pairs)
        self.venues: dict[str, Venue] = {}
        index = itertools.count()
        if "bitfinex" in exchanges:
            self.venues["bitfinex"] = Bitfinex(
                [BitfinexFeed(p, _bitfinex_symbol(p), next(index), seed) for p in pairs],
                self.counters)
        if "coinbase" in exchanges:
            self.venues["coinbase"] = Coinbase(
                [CoinbaseFeed(p, p, next(index), seed) for p in pairs], self.counters)
        self.feeds = [feed for venue in self.venues.values() for feed in venue.feeds.values()]
        self.links: set[Link] = set()
        self.rate = 0.0
        self._rate_set = asyncio.Event()
        self._schedule_start = 0.0
        self._schedule_sent = 0  # paced frames sent since the schedule started

    # Connections

    async def route(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.strip("/") in self.venues:
            return None
        return Response(404, "Not Found", Headers([("Content-Length", "0")]), b"")

    async def serve(self, ws: ServerConnection) -> None:
        venue = self.venues[ws.request.path.strip("/")]
        link = Link(ws, venue)
        self.links.add(link)
        try:
            await venue.opened(link)
            async for message in ws:
                await venue.received(link, message if isinstance(message, str)
                                     else message.decode())
        except ConnectionClosed:
            pass
        finally:
            link.closed = True
            self.links.discard(link)
            venue.forget(link)

    # Pacing

    def set_rate(self, rate: float) -> None:
        self.rate = rate
        self._schedule_start = time.monotonic()
        self._schedule_sent = 0
        self._rate_set.set()

    def due(self) -> int:
        """Paced frames the current schedule owes since it started."""
        if not self.rate or math.isinf(self.rate):
            return self._schedule_sent
        return int((time.monotonic() - self._schedule_start) * self.rate)

    async def pace(self) -> None:
        """Send what fell due every ``SLICE``; round-robin over the feeds, frame by frame."""
        feeds = itertools.cycle(self.feeds)
        while True:
            if not self.rate:
                self._rate_set.clear()
                await self._rate_set.wait()
                continue
            rate = self.rate
            count = MAX_CHUNK if math.isinf(rate) else self.due() - self._schedule_sent
            for _ in range(count):
                feed = next(feeds)
                now = time.time()
                subscribers, body = feed.next_frame(now)
                if subscribers is None:
                    continue
                subscribers.last_sent = now
                for link, (prefix, suffix) in list(subscribers.links.items()):
                    if link.closed:
                        continue
                    with contextlib.suppress(ConnectionClosed):
                        await link.ws.send(prefix + body + suffix if prefix else body)
                        self.counters.frames += 1
                        self.counters.paced += 1
                if self.rate != rate:
                    break
            else:
                self._schedule_sent += count
            await asyncio.sleep(0 if math.isinf(rate) else SLICE)

    async def keep_alive(self) -> None:
        """Once a second: Coinbase heartbeats per product, Bitfinex ``hb`` on idle channels."""
        while True:
            await asyncio.sleep(1.0)
            now = time.time()
            for link in list(self.links):
                for frame in link.venue.heartbeats(link, now):
                    with contextlib.suppress(ConnectionClosed):
                        await link.venue.send(link, frame)

    def stats(self) -> dict[str, Any]:
        """Counters for the runner: frames written, distinct trades, schedule lag."""
        due = self.due()
        return {
            "frames": self.counters.frames,
            "paced": self.counters.paced,
            "trades": sum(feed.trades for feed in self.feeds),
            "rate": "max" if math.isinf(self.rate) else self.rate,
            "due": due,
            "behind": max(0, due - self._schedule_sent),
            "connections": len(self.links),
            "subscribed": sum(len(subscribers.links) for feed in self.feeds
                              for subscribers in feed.channels.values()),
            "feeds": [f"{venue}:{feed.pair}" for venue, v in self.venues.items()
                      for feed in v.feeds.values()],
        }

    async def control(self) -> None:
        """Answer the runner's commands (``rate``, ``stats``) until stdin closes."""

        def rate(command: dict[str, Any]) -> dict[str, Any]:
            value = command["value"]
            self.set_rate(math.inf if value == "max" else float(value))
            return {"rate": value}

        await answer_commands({"rate": rate, "stats": lambda command: self.stats()})


def _bitfinex_symbol(pair: str) -> str:
    base, quote = pair.split("-")
    quote = "UST" if quote == "USDT" else quote
    return f"t{base}:{quote}" if len(base) > 3 or len(quote) > 3 else f"t{base}{quote}"


async def main_async(args: argparse.Namespace) -> None:
    feeder = Feeder(args.exchanges.split(","), args.pairs.split(","), args.seed)
    async with serve(feeder.serve, args.host, args.port, process_request=feeder.route,
                     compression=None, ping_interval=None, max_size=2**20) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(json.dumps({"url": f"ws://{args.host}:{port}"}), flush=True)
        if args.rate:
            feeder.set_rate(math.inf if args.rate == "max" else float(args.rate))
        tasks = [asyncio.create_task(feeder.pace()), asyncio.create_task(feeder.keep_alive())]
        try:
            await feeder.control()  # returns when stdin closes: the runner is gone
        finally:
            for task in tasks:
                task.cancel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--exchanges", default="bitfinex,coinbase")
    parser.add_argument("--pairs", default=",".join(DEFAULT_PAIRS))
    parser.add_argument("--rate", default="0", help="paced frames/s for the process, or max")
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
