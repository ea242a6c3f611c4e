"""The cryptofeed side of bench/normalize.py: replays frames through cryptofeed 2.4's feeds.

Runs in its own virtualenv (``bench/.venv-cryptofeed``, made by bench/normalize.py from
bench/requirements.txt), because cryptofeed's pins are not ours; it imports nothing of this
project. bench/normalize.py starts it as a subprocess and talks to it in JSON lines on
stdin/stdout, so that both sides' timed rounds alternate in the same run:

- ``{"op": "load", "exchange": "bitfinex", "symbols": {"BTC-USD": "tBTCUSD", ...}, "setup":
  [frame, ...], "sets": {"stream": [frame, ...], ...}}``: build the feed (``FEEDS``: the class and
  the channels it subscribes), subscribed to every symbol given, replay the setup frames (the
  channels' acks) and then every set once, and answer ``{"failed": {set: [[index, error],
  ...]}}`` (a frame cryptofeed cannot process is reported, never skipped silently);
- ``{"op": "version"}``: answer ``{"version": "2.4.0"}``;
- ``{"op": "breakdown", "frame": frame}``: ns for that frame through the handler, and for
  its decoding alone;
- ``{"op": "time", "set": "stream", "seconds": 0.3}``: replay the set for about that long and
  answer ``{"us_per_msg": ...}``;
- end of input: exit.

Each frame goes through the feed's ``message_handler(msg, conn, timestamp)``, as cryptofeed's
own playback (``cryptofeed.raw_data_collection``) and its connection handler call it, with
no-op async callbacks for TICKER and TRADES, so everything cryptofeed does per message counts:
decoding (yapic.json with ``parse_float=Decimal``), normalizing, building its ``Ticker`` and
``Trade`` and awaiting the callbacks.

Setup that is not per message, as a live connection would have it: the symbol map that
cryptofeed downloads from the exchange's REST API is set from the symbols given (the fixture's
``feeds.json``: native symbol and our pair, which is cryptofeed's normalized name too) with
``Symbols.set``, and the channels are registered by replaying the recording's acks (Bitfinex)
before any set is timed. The feed makes no REST call here: one a frame would trigger (Binance
asks for a book snapshot on its first depth update) raises instead, so that frame is reported
as one cryptofeed cannot process.

Bitfinex sequence numbers: cryptofeed turns on SEQ_ALL and raises ``MissingSequenceNumber``
when a frame's number is not the previous one plus one. The recording is an excerpt (and a set
is replayed many times), so its numbers have gaps; each replayed frame is therefore handed its
own connection object, whose expected number is set to the frame's own minus one before every
pass, outside the timed part. The check itself still runs on every frame.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import logging
import sys
import time
import timeit
from decimal import Decimal
from typing import Any

from cryptofeed.defines import TICKER, TRADES
from cryptofeed.exchanges import OKX, Binance, BinanceUS, Bitfinex, Bitstamp, Coinbase
from cryptofeed.symbols import Symbols
from yapic.json import loads as json_loads

# about this many messages per timed pass: long enough that reading the clock costs nothing
PASS_MESSAGES = 2000

# Our exchange name -> cryptofeed's feed and the channels it is subscribed to: those whose frames
# our listener reads too. Bitstamp has no ticker in cryptofeed (no top-of-book channel at all).
FEEDS: dict[str, tuple[type, tuple[str, ...]]] = {
    "bitfinex": (Bitfinex, (TICKER, TRADES)),
    "coinbase": (Coinbase, (TICKER, TRADES)),
    "binance": (Binance, (TICKER, TRADES)),
    "binanceus": (BinanceUS, (TICKER, TRADES)),
    "bitstamp": (Bitstamp, (TRADES,)),
    "okx": (OKX, (TICKER, TRADES)),
}


class Connection:
    """What ``message_handler`` uses of a connection: its ``uuid``."""

    def __init__(self, uuid: str) -> None:
        self.uuid = uuid


async def ignore(*args: Any) -> None:
    """A no-op TICKER / TRADES callback."""


def make_feed(exchange: str, symbols: dict[str, str]) -> Any:
    """cryptofeed's feed of ``exchange`` subscribed to its channels of every symbol given
    ({normalized: native}), with REST calls refused."""
    feed_class, channels = FEEDS[exchange]
    Symbols.set(feed_class.id, symbols, {"instrument_type": {}})
    feed = feed_class(subscription={channel: list(symbols) for channel in channels},
                      callbacks={channel: ignore for channel in channels})
    feed.http_conn.read = no_rest
    return feed


async def no_rest(*args: Any, **kwargs: Any) -> str:
    """What the feed's REST reads do here: the benchmark has no network, and times no I/O."""
    raise RuntimeError("the frame makes cryptofeed call the REST API (not done here)")


class Replay:
    """One set of frames, repeated to about ``PASS_MESSAGES``, with a connection per frame."""

    def __init__(self, feed: Any, frames: list[str]) -> None:
        self.feed = feed
        self.frames = frames
        repeats = max(1, PASS_MESSAGES // max(1, len(frames)))
        self.items = [(frame, Connection(f"{n}")) for n, frame in enumerate(frames * repeats)]
        # Bitfinex: the sequence number each frame's own connection expects next, minus one
        self.expected: dict[str, int] = {}
        if isinstance(feed, Bitfinex):
            self.expected = {conn.uuid: sequence - 1 for frame, conn in self.items
                             if (sequence := _sequence(frame)) is not None}

    def reset(self) -> None:
        if self.expected:
            self.feed.seq_no.update(self.expected)

    async def run(self, items: list[tuple[str, Connection]]) -> float:
        """Replay ``items`` once; the seconds it took."""
        handler = self.feed.message_handler
        started = time.perf_counter()
        for frame, conn in items:
            await handler(frame, conn, 1618677543.9)
        return time.perf_counter() - started

    async def check(self) -> list[list[Any]]:
        """Replay each frame once, alone; [index, error] for each that raises."""
        failed = []
        for index, (frame, conn) in enumerate(self.items[:len(self.frames)]):
            self.reset()
            try:
                await self.run([(frame, conn)])
            except Exception as exc:
                failed.append([index, f"{type(exc).__name__}: {exc}"])
        return failed

    async def time(self, seconds: float) -> float:
        """Microseconds per message over passes lasting about ``seconds`` in all."""
        spent, messages = 0.0, 0
        while spent < seconds:
            self.reset()
            spent += await self.run(self.items)
            messages += len(self.items)
        return spent / messages * 1e6


def _sequence(frame: str) -> int | None:
    """A Bitfinex data frame's trailing SEQ_ALL number; None for its events."""
    message = json.loads(frame, parse_float=Decimal)
    if isinstance(message, list) and isinstance(message[-1], int):
        return message[-1]
    return None


async def breakdown(replay: Replay, frame: str) -> dict[str, float]:
    """ns for cryptofeed's decoding of ``frame`` (yapic.json, exact decimals) and its total."""
    decode = min(timeit.repeat(lambda: json_loads(frame, parse_float=Decimal), number=20000,
                               repeat=7)) / 20000 * 1e9
    single = Replay(replay.feed, [frame])  # repeated, each copy with its own connection
    total = min([await single.time(0.02) for _ in range(7)]) * 1e3
    return {"cryptofeed total": total, "cryptofeed decode": decode}


async def serve() -> None:
    logging.disable(logging.CRITICAL)  # cryptofeed logs a warning per frame it ignores
    replays: dict[str, Replay] = {}
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "load":
            replays = {}
            sets, setup = request["sets"], request["setup"]
            feed = make_feed(request["exchange"], request["symbols"])
            failed = {"setup": await Replay(feed, setup).check()}
            for name, each in sets.items():
                replays[name] = Replay(feed, each)
                failed[name] = await replays[name].check()
            answer: dict[str, Any] = {"failed": failed}
        elif request["op"] == "breakdown":  # one frame: decoding alone, and everything
            answer = await breakdown(replays["stream"], request["frame"])
        elif request["op"] == "version":
            answer = {"version": importlib.metadata.version("cryptofeed")}
        else:
            answer = {"us_per_msg": await replays[request["set"]].time(request["seconds"])}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    asyncio.run(serve())
