"""Fast mode: the simulated exchanges as a load generator, at a fixed aggregate frame rate.

``python -m simulator --fast --total-rate 10000 [--exchanges bitfinex] [--stdin-commands]``

The normal simulator prints random trades through the exact-decimal market and renders every
frame from it, a few tens of µs of CPU per frame: right for tests and the demo, too much for a
benchmark that sends 10,000 frames a second and wants the CPU to be the server's. In fast mode
the market only supplies *moments* (its book, last trade and 24 h statistics at one time), and
each exchange's ``FastSpec`` (``simulator.peer``, written in its protocol module with the
module's own encoders) renders a moment's frames once, with stand-ins for the trade's id,
sequence number and time. A frame then costs one ``str.format`` of that template, plus its
share of one socket write per connection per ``SLICE``.

- **Feeds.** Every pair some connection of an exchange is subscribed to is one feed
  (exchange, pair); the feeds are looked up again every ``FEEDS_EVERY`` seconds.
- **Rate.** ``rate`` frames a second for the whole process, handed out round-robin over the
  feeds one frame at a time, each feed stepping through its exchange's ``FastSpec.steps``
  (Bitfinex ``te, tu, te, tu, ticker``, Coinbase ``match, ticker``, ...). A frame whose channel
  nobody subscribed still takes its turn. Handshakes, heartbeats and acks come on top: the
  exchanges' peers answer clients exactly as in normal mode. ``"max"``: as fast as the
  connections take them.
- **Trades.** Every trade gets the pair's next id and sequence number (reserved from its
  market, so no id is used twice and a heartbeat's sequence is the stream's) and the moment it
  is rendered as its exchange time, in every format the exchange writes (ms, µs, ns, ISO): a
  client computes frame latency from it. The market's last trade (in snapshots, heartbeats'
  ``last_trade_id`` and REST) stays the last moment drawn.
- **Moments.** A feed starts with the market's state of the moment, then draws one more of
  the market's trades every ``REFRESH`` seconds while it streams (more seldom when rendering
  is dear, e.g. Bitstamp's 100-level book), keeping the last ``POOL``; trades take them in turn.
  So prices move with the shared reference market, and the market's own random trades
  (``--rate``) are off unless asked for.
- **Backpressure.** The pacer queues each slice's frames as one ``Burst`` per connection; while
  any connection has more than ``MAX_BACKLOG`` fast frames queued and unwritten, it waits, and
  the schedule falls behind (``behind`` in ``stats``).

With ``--stdin-commands`` the process answers JSON lines on stdin, one JSON line on stdout each
(after the first line with the URL), and ends when stdin ends: ``{"cmd": "rate", "value":
5000}`` (or ``"max"``; 0 stops the stream) and ``{"cmd": "stats"}`` (``FastPacer.stats``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, BinaryIO

from simulator.engine import Engine
from simulator.market import Market, PairState
from simulator.peer import FastSpec, FastStep

log = logging.getLogger(__name__)

SLICE = 0.005  # seconds between pacing steps at high rates: each step sends what fell due
MAX_BURST = 2048  # frames one step sends at most (after a stall, the rest follows step by step)
MAX_CHUNK = 256  # frames one step sends at rate "max"
MAX_BACKLOG = 4096  # fast frames one connection may have queued before the pacer waits
FEEDS_EVERY = 0.1  # seconds between looks at what is subscribed
POOL = 16  # market moments a feed keeps
REFRESH = 1.0  # seconds between two moments drawn for a streaming feed...
REFRESH_SHARE = 0.002  # ...or longer, so that drawing them costs at most this share of a core

# Stand-ins rendered into a moment's frames, replaced per trade. Distinct digit runs that no
# price, size or count of a frame can equal; the time has an exact binary fraction, so every
# exchange's rounding of it (ms, µs, ns, ISO) gives the same digits.
STAND_IN_ID = 8_765_432_109_876_543
STAND_IN_SEQUENCE = 7_654_321_098_765_432
STAND_IN_TIME = 2_524_608_000.5  # 2050-01-01T00:00:00.5Z
_STAND_IN_US = int(STAND_IN_TIME * 1_000_000)
_STAND_IN_MOMENT = datetime.fromtimestamp(STAND_IN_TIME, UTC)


class _IsoMicros:
    """Epoch microseconds as ``wire.iso_micros`` writes them, the date part cached per second."""

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")

    def __call__(self, us: int) -> str:
        second, micros = divmod(us, 1_000_000)
        cached = self._second
        if cached[0] != second:
            cached = self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S.",
                                                           time.gmtime(second)))
        return f"{cached[1]}{micros:06d}Z"


iso_micros = _IsoMicros()

# What a frame may carry per trade: (its text for the stand-ins, how to write it for a trade).
# Longest texts first, so that no text is found inside a longer one.
_SLOTS: tuple[tuple[str, Callable[[int, int, int], str]], ...] = (
    (iso_micros(_STAND_IN_US), lambda trade_id, sequence, us: iso_micros(us)),
    (str(_STAND_IN_US * 1000), lambda trade_id, sequence, us: str(us * 1000)),  # ns
    (str(STAND_IN_ID), lambda trade_id, sequence, us: str(trade_id)),
    (str(STAND_IN_SEQUENCE), lambda trade_id, sequence, us: str(sequence)),
    (str(_STAND_IN_US), lambda trade_id, sequence, us: str(us)),
    (str(_STAND_IN_US // 1000), lambda trade_id, sequence, us: str(us // 1000)),  # ms
    (str(_STAND_IN_US // 1_000_000), lambda trade_id, sequence, us: str(us // 1_000_000)),  # s
)
_SLOT_INDEX = {text: index for index, (text, _) in enumerate(_SLOTS)}
# a number stand-in counts only as a whole number token, never as part of a longer one
_STAND_INS = re.compile("|".join(
    re.escape(text) if not text.isdigit() else rf"(?<![0-9.]){text}(?![0-9.])"
    for text, _ in _SLOTS))


def template(text: str) -> tuple[str, frozenset[int]]:
    """``text`` as a ``str.format`` template with ``{i}`` where ``_SLOTS[i]``'s stand-in was,
    and the slots it uses."""
    parts: list[str] = []
    used: set[int] = set()
    end = 0
    for found in _STAND_INS.finditer(text):
        index = _SLOT_INDEX[found.group()]
        parts.append(text[end:found.start()].replace("{", "{{").replace("}", "}}"))
        parts.append(f"{{{index}}}")
        used.add(index)
        end = found.end()
    parts.append(text[end:].replace("{", "{{").replace("}", "}}"))
    return "".join(parts), frozenset(used)


def stand_in(state: PairState) -> PairState:
    """``state`` with the stand-ins as its last trade's id, sequence number and time."""
    trade = replace(state.last_trade, id=STAND_IN_ID, sequence=STAND_IN_SEQUENCE,
                    time=_STAND_IN_MOMENT)
    return replace(state, sequence=STAND_IN_SEQUENCE, last_trade=trade)


class FastFeed:
    """One pair of one exchange in fast mode: its pool of rendered moments, where it is in its
    round, the values of its current trade, and how many of its trades reached a connection."""

    def __init__(self, engine: Engine, pair: str, spec: FastSpec) -> None:
        self.engine = engine
        self.pair = pair
        self.spec = spec
        self.trades = 0  # distinct trades some connection got a frame of
        self._steps = spec.steps
        self._position = 0
        self._pool: list[dict[str, str]] = []
        self._oldest = 0  # the pool entry the next moment replaces once the pool is full
        self._moment: dict[str, str] = {}
        self._used: set[int] = set()  # slots some template of the pool uses
        self._writers: list[tuple[int, Callable[[int, int, int], str]]] = []
        self._values = [""] * len(_SLOTS)
        self._counted = True  # the current trade was counted in ``trades``
        self._market = engine.market.pair(pair)
        self._turn = 0  # trades so far: which moment the next one takes
        self._next_moment = 0.0  # time.time() when a streaming feed draws its next moment

    def next_frame(self, market: Market, now: float) -> tuple[FastStep, str]:
        """The next step of the round and its frame body, for a frame sent at ``now``; called
        by the engine, under its lock."""
        step = self._steps[self._position]
        self._position = (self._position + 1) % len(self._steps)
        if step.new_trade or not self._moment:
            self._new_trade(market, now)
        return step, self._moment[step.kind].format(*self._values)

    def reached(self, step: FastStep) -> None:
        if step.has_trade and not self._counted:
            self._counted = True
            self.trades += 1

    def _new_trade(self, market: Market, now: float) -> None:
        if not self._pool or now >= self._next_moment:
            self._draw(market, now)
        trade_id, sequence = self._market.reserve(1)
        self._moment = self._pool[self._turn % len(self._pool)]
        self._turn += 1
        us = int(now * 1_000_000)
        values = self._values
        for index, write in self._writers:
            values[index] = write(trade_id, sequence, us)
        self._counted = False

    def _draw(self, market: Market, now: float) -> None:
        """Add a market moment to the pool: the market as it stands for the first, then one of
        its trades (the market walks on with the reference)."""
        started = time.perf_counter()
        pair_market = self._market
        if self._pool:
            pair_market.random_trade()
        bodies = self.spec.render(market, self.pair, stand_in(pair_market.state()), STAND_IN_TIME)
        moment: dict[str, str] = {}
        for kind, text in bodies.items():
            moment[kind], used = template(text)
            self._used |= used
        if len(self._pool) < POOL:
            self._pool.append(moment)
        else:
            self._pool[self._oldest] = moment
            self._oldest = (self._oldest + 1) % POOL
        self._writers = [(index, _SLOTS[index][1]) for index in sorted(self._used)]
        cost = time.perf_counter() - started
        self._next_moment = now + max(REFRESH, cost / REFRESH_SHARE)


class FastPacer:
    """Fast mode's thread: ``rate`` frames a second over every feed of every engine (see the
    module docstring). ``set_rate`` and ``stats`` may be called from any thread."""

    def __init__(self, engines: Mapping[str, Engine], rate: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engines = {name: engine for name, engine in engines.items()
                        if engine.spec.fast is not None}
        self._clock = clock
        self._feeds: dict[tuple[str, str], FastFeed] = {}
        self._order: list[FastFeed] = []  # the round-robin
        self._turn = 0
        self._feeds_at = -math.inf
        self._lock = threading.Lock()  # the schedule, between the pacer and command threads
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._generation = 0  # bumped by every ``set_rate``: a new schedule
        self.rate = 0.0
        self._started = clock()
        self._produced = 0  # frames of the current schedule taken care of
        self._thread = threading.Thread(target=self._run, name="fast", daemon=True)
        self.set_rate(rate)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def set_rate(self, rate: float) -> None:
        """Frames a second for the whole process from now on (``math.inf``: as fast as the
        connections take them; 0: none)."""
        if not (rate >= 0):
            raise ValueError(f"rate must be >= 0, not {rate!r}")
        with self._lock:
            self.rate = rate
            self._started = self._clock()
            self._produced = 0
            self._generation += 1
        self._wake.set()

    def due(self) -> int:
        """Frames the current schedule owes since it started."""
        with self._lock:
            return self._due()

    def stats(self) -> dict[str, Any]:
        """Counters for the load runner: ``frames`` every text frame written (acks, snapshots
        and heartbeats too), ``paced`` the fast ones, ``trades`` distinct trades some connection
        got, ``behind`` frames due and not written yet, and who is connected and subscribed."""
        each = {name: engine.fast_stats() for name, engine in self.engines.items()}
        with self._lock:
            due, produced = self._due(), self._produced
            rate = "max" if math.isinf(self.rate) else self.rate
        backlog = max((counts["backlog"] for counts in each.values()), default=0)
        feeds = sorted(tuple(self._feeds.values()),  # one step: the pacer may add one
                       key=lambda feed: (feed.engine.name, feed.pair))
        return {
            "frames": sum(counts["frames"] for counts in each.values()),
            "paced": sum(counts["fast_frames"] for counts in each.values()),
            "trades": sum(feed.trades for feed in feeds),
            "rate": rate,
            "due": due,
            "behind": max(0, due - produced) + backlog,
            "connections": sum(counts["connections"] for counts in each.values()),
            "subscribed": sum(counts["subscriptions"] for counts in each.values()),
            "feeds": [f"{feed.engine.name}:{feed.pair}" for feed in feeds],
        }

    # The pacer thread

    def _due(self) -> int:
        if not self.rate or math.isinf(self.rate):
            return self._produced
        return int((self._clock() - self._started) * self.rate)

    def _run(self) -> None:
        try:
            self._pace()
        except BaseException:  # a load generator that stops streaming must not look alive
            log.critical("fast mode failed; exiting", exc_info=True)
            os._exit(70)

    def _pace(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            with self._lock:
                rate, generation = self.rate, self._generation
                owed = self._due() - self._produced
            if not rate:
                self._wake.wait()
                continue
            backlog = max((engine.fast_backlog() for engine in self.engines.values()), default=0)
            if backlog > MAX_BACKLOG:
                count = 0
            elif math.isinf(rate):
                count = MAX_CHUNK
            else:
                count = min(owed, MAX_BURST)
            if count > 0:
                self._send(count)
                with self._lock:
                    if self._generation == generation:
                        self._produced += count
            pause = self._pause(rate, generation)
            if pause <= 2 * SLICE:
                time.sleep(pause)  # cheaper than a wait on the event, which a new rate sets
            else:
                self._wake.wait(pause)

    def _pause(self, rate: float, generation: int) -> float:
        """Seconds until the next frame falls due (at least ``SLICE``); a short yield at
        ``max``."""
        if math.isinf(rate):
            return SLICE / 5
        with self._lock:
            if self._generation != generation:
                return 0.0
            next_due = self._started + (self._produced + 1) / rate
        return max(SLICE, next_due - self._clock())

    def _send(self, count: int) -> None:
        """The next ``count`` frames of the round-robin, each engine's in one call."""
        feeds = self._current_feeds()
        if not feeds:
            return
        plans: dict[Engine, list[FastFeed]] = {}
        total = len(feeds)
        for offset in range(count):
            feed = feeds[(self._turn + offset) % total]
            plans.setdefault(feed.engine, []).append(feed)
        self._turn = (self._turn + count) % total
        for engine, plan in plans.items():
            engine.fast_publish(plan)

    def _current_feeds(self) -> list[FastFeed]:
        now = self._clock()
        if now - self._feeds_at >= FEEDS_EVERY:
            self._feeds_at = now
            order = []
            for name, engine in self.engines.items():
                spec = engine.spec.fast
                assert spec is not None
                for pair in engine.fast_pairs():
                    feed = self._feeds.get((name, pair))
                    if feed is None:
                        feed = self._feeds[name, pair] = FastFeed(engine, pair, spec)
                    order.append(feed)
            if order != self._order:
                self._order = order
                self._turn = 0
        return self._order


def answer_commands(pacer: FastPacer, stop: threading.Event, stdin: BinaryIO,
                    stdout: Callable[[str], None]) -> None:
    """Answer JSON commands on ``stdin``, one a line, with one JSON line each through
    ``stdout``, until ``stdin`` ends; then set ``stop``. ``{"cmd": "rate", "value": N}`` (N
    frames a second, or ``"max"``) and ``{"cmd": "stats"}``; anything else gets
    ``{"error": ...}``.

    Reads the file descriptor itself, not the buffered file: see ``simulator.__main__``.
    """
    fd = stdin.fileno()
    pending = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except InterruptedError:
            continue
        except OSError:
            break
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                stdout(json.dumps(_answer(pacer, line)) + "\n")
    stop.set()


def _answer(pacer: FastPacer, line: bytes) -> dict[str, Any]:
    try:
        command = json.loads(line)
        name = command["cmd"]
        if name == "stats":
            return pacer.stats()
        if name == "rate":
            value = command["value"]
            pacer.set_rate(math.inf if value == "max" else float(value))
            return {"rate": value}
        return {"error": f"unknown command {name!r}"}
    except (ValueError, KeyError, TypeError) as exc:
        return {"error": str(exc)}
