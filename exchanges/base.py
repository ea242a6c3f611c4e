"""``ExchangeListener``: an exchange's feeds, from connect to reconnect, for every exchange.

A listener owns one exchange: its pairs, their REST check and snapshot, the top of book it
merges, trade de-duplication, counters and the exchange's status line. It spreads its pairs over
as many websocket ``Connection``s as the exchange's limits require (``max_subscriptions``), each
a shard with its own green task and lifecycle::

    resolve pairs ─┬─► connection 1: connect ─► subscribe (paced) ─► read loop ──┐
                   │        ▲                                                   │ drop, silence,
                   │        └──────────── sleep(backoff with jitter) ◄──────────┘ reconnect asked
                   ├─► connection 2 ... (started one ``SHARD_STAGGER`` apart)
                   └─► backfill, beside the stream: instrument list check, then REST snapshot

The base class owns everything that is not the exchange's own protocol: the websocket (via
``websocket-client``, which also answers protocol pings), pacing subscribe frames
(``subscribe_interval``), application keepalives (``ping_interval`` and ``ping_frame``), the
silence watchdog (``feed_timeout``), the acknowledgement timeout (a pair that neither is acked
nor sends data within ``ack_timeout`` is reported), reconnecting with capped and jittered
backoff, status records, counters, the malformed-frame policy, trade de-duplication and the
``QuoteBook`` (``merges_quotes``: where bid/ask and trades come on separate channels).

A subclass reads like the exchange's docs: it declares ``name``, ``default_url``,
``default_rest_url`` and its limits, and implements ``symbol_for`` (pair → native symbol),
``subscribe_frames``, ``new_session`` (a sans-I/O ``Session`` that turns frames into records
and may queue frames to send; a new one per connection), ``ping_frame`` where it declares
``ping_interval``, ``rest_snapshot_requests`` and ``instruments_request``.

REST: the instrument list is checked and the snapshot taken in a task of their own, beside the
websocket, never ahead of it: with the REST API down or rate-limited the stream is as fast. A pair
the exchange doesn't list is reported ("BTC-USD is not listed on binance; did you mean
BTC-USDT?") and dropped; when the list can't be fetched, every pair is subscribed anyway and the
status says so. A snapshot's ticker never overwrites what the stream already said, and its trades
go through the same ``RecentIds`` as the stream's, so a trade is shown once. When the websocket
URL is overridden (a proxy, the simulator) and the REST URL is not, no REST call is made: the
default REST URL would be another market than the one streaming.

Everything here runs on the listener's own green tasks (``spawn`` and ``sleep`` are injected:
``dashboard.concurrency`` in the app, threads in the command line). It must never block the
eventlet hub: socket I/O is green once ``server.py`` has monkey patched.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import websocket

from . import rest
from .pairs import PairError, parse_pair, split_pair
from .parsing import InexactNumber, MalformedFrame, decode, decode_fast
from .records import TICKER_VALUES, FeedState, Quote, Record, Status, Ticker, Trade

log = logging.getLogger(__name__)

# What leaves a listener: a ``Quote`` never does, the ``QuoteBook`` turns it into a ``Ticker``.
Published = Ticker | Trade | Status
Publish = Callable[[Published], None]
Spawn = Callable[..., Any]


class Session:
    """The protocol state of one connection: frames in, records out, frames to send queued.

    A subclass's ``new_session`` returns one per connection, so nothing of an old connection
    (channel ids, acks) leaks into a new one. It does no I/O: frames it wants sent (answers to
    the exchange, its own pings) go to ``send`` and the listener writes them after ``receive``
    or ``tick`` returns.
    """

    def __init__(self) -> None:
        self.outbox: list[str] = []

    def send(self, text: str) -> None:
        """Queue one text frame for the listener to send."""
        self.outbox.append(text)

    def receive(self, frame: str, received_at: datetime) -> list[Record]:
        """Read one frame; return the records it carries (possibly none).

        Raise ``MalformedFrame`` for a frame that can't be read, ``ReconnectRequested`` when the
        exchange asks for a new connection.
        """
        raise NotImplementedError

    def tick(self, now: datetime) -> list[Record]:
        """Called about once a second (``TICK_INTERVAL``): timers of the protocol, if any."""
        return []


class JsonSession(Session):
    """A session of an exchange whose prices are JSON strings: frames decoded by orjson.

    Should a float turn up where an exact number belongs (a price sent as a JSON number, an id
    beyond 64 bits), the parser refuses it with ``InexactNumber`` and the frame is read again
    by the exact decoder (``parsing.decode_fast``). A subclass implements ``receive_message``
    and reads numbers before changing any state, so reading a frame twice is safe.
    """

    def receive(self, frame: str, received_at: datetime) -> list[Record]:
        try:
            return self.receive_message(decode_fast(frame), received_at)
        except InexactNumber:
            return self.receive_message(decode(frame), received_at)

    def receive_message(self, message: Any, received_at: datetime) -> list[Record]:
        """Read one decoded frame: what ``receive`` does after decoding."""
        raise NotImplementedError


class ReconnectRequested(Exception):
    """The exchange asked us to reconnect (maintenance, a server restart)."""


class FeedSilent(Exception):
    """Nothing arrived for ``feed_timeout`` seconds: the connection is presumed dead."""


class ConnectionClosed(Exception):
    """The exchange closed the websocket."""


# Frames read between explicit yields to the other green tasks (the hub, the page, other feeds).
YIELD_EVERY = 64

# REST snapshot: recent trades asked per pair, and the waits between attempts of one request.
TRADES_LIMIT = 25
REST_FIRST_RETRY = 0.5
REST_RETRY_CAP = 8.0

# Faults of the network or the far end: reconnect with backoff and say so on the page.
NETWORK_FAULTS = (
    OSError,
    EOFError,  # eventlet's read of a socket closed under it
    websocket.WebSocketException,
    ConnectionClosed,
    FeedSilent,
    ReconnectRequested,
)


def reconnect_delays(
    first: float = 1.0, cap: float = 60.0, rand: Callable[[], float] = random.random
) -> Iterator[float]:
    """Yield the waits before each reconnect attempt: doubling up to ``cap``, with jitter.

    Each delay is scaled by a random factor in [0.5, 1) so that listeners that lost their
    connections together (a shared outage) don't all retry in lockstep.
    """
    for attempt in itertools.count():
        yield min(cap, first * 2 ** min(attempt, 16)) * (0.5 + rand() / 2)


def one_line(exc: BaseException) -> str:
    """A one-line description of an exception, for logs and the page."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class IncidentLog:
    """Log a repeating condition once, then at most once per ``interval`` with a count."""

    def __init__(self, logger: logging.Logger, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._last_logged: float | None = None
        self._suppressed = 0

    def report(self, message: str, *args: object) -> None:
        now = self._clock()
        if self._last_logged is not None and now - self._last_logged < self._interval:
            self._suppressed += 1
            return
        if self._suppressed:
            message += " (and %d more since the last report)"
            args = (*args, self._suppressed)
        self._logger.warning(message, *args)
        self._last_logged = now
        self._suppressed = 0


class RecentIds:
    """The last ``size`` trade ids seen per pair, to drop a trade the exchange sends twice.

    Bitfinex sends every trade as ``te`` and again as ``tu``, a trades snapshot on every
    (re)subscribe repeats trades already shown, and Coinbase reports a trade in both its
    ``ticker`` and ``matches`` channels. Bounded, so memory does not grow with uptime.
    """

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        self._order: dict[str, deque[str]] = {}
        self._seen: dict[str, set[str]] = {}

    def add(self, pair: str, trade_id: str) -> bool:
        """Remember ``trade_id``; return False when it was already seen."""
        seen = self._seen.setdefault(pair, set())
        if trade_id in seen:
            return False
        order = self._order.setdefault(pair, deque())
        if len(order) >= self._size:
            seen.discard(order.popleft())
        order.append(trade_id)
        seen.add(trade_id)
        return True


@dataclass(frozen=True, slots=True)
class Feed:
    """One configured pair of a listener: canonical pair and the exchange's symbol for it."""

    pair: str
    symbol: str


RestParser = Callable[[Any, Feed, datetime], list[Record]]


@dataclass(frozen=True, slots=True)
class RestRequest:
    """One GET of a REST snapshot: ``path`` after the REST base URL, and the pure parser of its
    decoded body (body, feed, receive time -> records; ``MalformedFrame`` when unreadable)."""

    path: str
    parse: RestParser


class SnapshotIncomplete(Exception):
    """Some pairs could not be downloaded before the deadline (network, timeouts, 5xx, 429).

    ``records`` holds everything the snapshot did get, as ``snapshot`` would have returned it;
    ``failures`` maps each pair that is missing to the last reason.
    """

    def __init__(self, records: list[Record], failures: Mapping[str, str]) -> None:
        reasons = "; ".join(f"{pair}: {reason}" for pair, reason in failures.items())
        super().__init__(f"REST snapshot incomplete: {reasons}")
        self.records = records
        self.failures = dict(failures)


InstrumentsParser = Callable[[Any], Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class InstrumentsRequest:
    """The GET of an exchange's list of instruments: ``path`` after the REST base URL, and the
    pure parser of its decoded body into {native symbol: canonical pair} of the instruments
    that trade now (``MalformedFrame`` when unreadable)."""

    path: str
    parse: InstrumentsParser


# Seconds between two connections of one listener starting: exchanges limit connection attempts
# (Bitfinex 20 a minute, OKX 3 a second), and a shared outage should not reconnect all at once.
SHARD_STAGGER = 1.0
# How often a connection's timers run (session ticks, keepalives, ack timeouts, the watchdog).
TICK_INTERVAL = 1.0
# Quotes preferred when suggesting another pair of the same base: "did you mean BTC-USDT?"
_DOLLARS = ("USD", "USDT", "USDC", "FDUSD", "TUSD", "DAI", "UST", "BUSD")
_FAILED = (FeedState.RECONNECTING, FeedState.STALE, FeedState.ERROR)
_STATE_RANK = {FeedState.ERROR: 4, FeedState.RECONNECTING: 3, FeedState.STALE: 2,
               FeedState.CONNECTING: 1, FeedState.LIVE: 0}


def suggestion(pair: str, listed: Iterable[str]) -> str | None:
    """A listed pair of the same base to suggest instead of ``pair``: a dollar quote for a
    dollar quote (BTC-USD → BTC-USDT), else the first listed; None when the base isn't listed."""
    base, quote = split_pair(pair)
    same_base = [other for other in listed if split_pair(other)[0] == base]
    if not same_base:
        return None
    if quote in _DOLLARS:
        for dollar in _DOLLARS:
            if f"{base}-{dollar}" in same_base:
                return f"{base}-{dollar}"
    return sorted(same_base)[0]


class _Top:
    """What the book knows of one pair: the ticker fields, any of them still unknown."""

    __slots__ = TICKER_VALUES

    def __init__(self) -> None:
        for name in TICKER_VALUES:
            setattr(self, name, None)

    def complete(self) -> bool:
        return self.bid is not None and self.ask is not None and self.last is not None


class QuoteBook:
    """Each pair's bid, ask, last and 24 h statistics, merged from the parts that arrive.

    For exchanges whose bid/ask and trades come on separate channels (``merges_quotes``): a
    ``Quote`` sets what it carries, a trade sets ``last``, and whenever bid, ask and last are all
    known a complete ``Ticker`` results. Lives on the listener, so it survives reconnects; the
    REST snapshot seeds it (``seed`` fills only what the stream has not said).
    """

    def __init__(self, exchange: str) -> None:
        self._exchange = exchange
        self._tops: dict[str, _Top] = {}

    def quote(self, quote: Quote) -> Ticker | None:
        """Lay a stream ``Quote`` over what is known of its pair; the ticker, once complete."""
        top = self._note(quote)
        return self._ticker(top, quote.pair, quote.symbol, quote.time)

    def note(self, ticker: Ticker) -> None:
        """Remember a stream's complete ticker (an exchange with a ticker channel)."""
        self._note(ticker)

    def trade(self, trade: Trade) -> Ticker | None:
        """A trade sets the pair's last price."""
        top = self._top(trade.pair)
        top.last = trade.price
        return self._ticker(top, trade.pair, trade.symbol, trade.time)

    def seed(self, record: Quote | Ticker) -> Ticker | None:
        """Fill what the stream has not said from a REST snapshot; the ticker when this made
        it complete (once the stream has given one, a REST ticker is older news)."""
        top = self._top(record.pair)
        was_complete = top.complete()
        for name in TICKER_VALUES:
            value = getattr(record, name)
            if value is not None and getattr(top, name) is None:
                setattr(top, name, value)
        if was_complete:
            return None
        return self._ticker(top, record.pair, record.symbol, record.time)

    def _note(self, record: Quote | Ticker) -> _Top:
        top = self._top(record.pair)
        for name in TICKER_VALUES:
            value = getattr(record, name)
            if value is not None:
                setattr(top, name, value)
        return top

    def _top(self, pair: str) -> _Top:
        top = self._tops.get(pair)
        if top is None:
            top = self._tops[pair] = _Top()
        return top

    def _ticker(self, top: _Top, pair: str, symbol: str, moment: datetime) -> Ticker | None:
        if not top.complete():
            return None
        return Ticker(self._exchange, pair, symbol, moment, top.bid, top.ask, top.last,
                      top.bid_size, top.ask_size, top.volume_24h, top.open_24h, top.high_24h,
                      top.low_24h)


def _spawn_thread(target: Callable[..., Any], *args: Any) -> threading.Thread:
    """The default ``spawn`` outside the app (the command line): a daemon thread."""
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


class ExchangeListener:
    """One exchange's feeds over one or more connections; see the module docstring."""

    # What a subclass declares ----------------------------------------------------------------
    name: ClassVar[str]
    default_url: ClassVar[str]
    default_rest_url: ClassVar[str]
    # pairs when neither PAIRS nor <NAME>_PAIRS is set (e.g. USDT pairs where USD is not listed)
    default_pairs: ClassVar[tuple[str, ...] | None] = None
    channels_per_pair: ClassVar[int] = 2  # subscriptions one pair uses
    max_subscriptions: ClassVar[int | None] = None  # per connection; more pairs: more connections
    subscribe_interval: ClassVar[float] = 0.0  # seconds between two subscribe frames
    ping_interval: ClassVar[float | None] = None  # send ``ping_frame()`` this often
    merges_quotes: ClassVar[bool] = False  # bid/ask and trades on separate channels
    rest_interval: ClassVar[float] = 0.0  # seconds between two REST GETs (request limits)

    def __init__(
        self,
        pairs: Sequence[str],
        publish: Publish,
        *,
        url: str | None = None,
        rest_url: str | None = None,
        feed_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        ack_timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        spawn: Spawn = _spawn_thread,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.url = url or self.default_url
        # the REST API of the same market as ``url``: see the module docstring for why None
        self.rest_url = rest_url or (self.default_rest_url if url is None else None)
        # the raw pair texts as configured; resolved into feeds (or error statuses) by run()
        self.requested_pairs = tuple(pairs)
        self.feed_timeout = feed_timeout
        self.connect_timeout = connect_timeout
        self.ack_timeout = feed_timeout if ack_timeout is None else ack_timeout
        self._publish = publish
        self._sleep = sleep
        self._spawn = spawn
        self._rand = rand
        # feeds we stream, in the configured order; a pair the exchange rejects or doesn't list
        # is removed until restart
        self._feeds: dict[str, Feed] = {}
        self._rejected: dict[str, tuple[Feed, str]] = {}  # pair -> (its feed, why)
        self._connections: list[Connection] = []
        self._state: FeedState | None = None
        self._state_detail = ""
        self._pair_states: dict[str, FeedState] = {}
        self._notice = ""  # appended to the exchange's status: "instrument list unavailable"
        self._recent_trades = RecentIds()
        self._book = QuoteBook(self.name)
        self._malformed_log = IncidentLog(log)
        self._stopped = False
        # counters for /healthz
        self.messages = 0
        self.malformed = 0
        self.errors = 0  # pairs rejected and bugs of ours; network faults count as reconnects
        self.reconnects = 0
        self.last_message_at: float | None = None  # time.monotonic() of the last frame

    # Subclass contract ---------------------------------------------------------------------

    def symbol_for(self, pair: str) -> str:
        """Return the exchange's symbol for a canonical pair; raise ``PairError`` if it has none."""
        raise NotImplementedError

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        """Return the text frames to send right after connecting, in order (paced)."""
        raise NotImplementedError

    def new_session(self, feeds: Mapping[str, str]) -> Session:
        """Return a fresh protocol session for one connection; ``feeds`` maps symbol → pair."""
        raise NotImplementedError

    def ping_frame(self) -> str:
        """The keepalive frame sent every ``ping_interval`` seconds, where one is declared."""
        raise NotImplementedError

    def rest_snapshot_requests(self, symbol: str, trades_limit: int) -> list[RestRequest]:
        """Return the GETs that give one symbol's ticker and its recent trades, with parsers."""
        raise NotImplementedError

    def instruments_request(self) -> InstrumentsRequest | None:
        """The GET of the instruments the exchange lists, or None to subscribe unchecked."""
        return None

    def rest_refusal(self, error: rest.HttpError) -> str | None:
        """Say why an HTTP error answer is a refusal whatever its status, or return None.

        By default HTTP decides: a 4xx other than 429 is a refusal, a 5xx or 429 is retried.
        Override for an exchange that refuses with a 5xx.
        """
        return None

    # Public methods ------------------------------------------------------------------------

    @classmethod
    def pairs_per_connection(cls) -> int | None:
        """How many pairs one connection may carry (None: any number)."""
        if cls.max_subscriptions is None:
            return None
        return max(1, cls.max_subscriptions // cls.channels_per_pair)

    def keepalive_interval(self) -> float | None:
        """How often a connection sends ``ping_frame()``: the exchange's ``ping_interval``, or
        more often when ``feed_timeout`` is shorter, so that a connection of quiet pairs whose
        only traffic is the answers to our pings is never taken for a silent one."""
        if self.ping_interval is None:
            return None
        return min(self.ping_interval, self.feed_timeout / 2)

    def run(self) -> None:
        """Stream until ``stop()``: the body of this listener's task.

        Resolves the pairs, starts the backfill (instrument check, REST snapshot) beside the
        stream, and runs one connection per shard of pairs: the first in this task, the others
        in tasks of their own. Network faults are retried forever with backoff; a bug of ours is
        logged with its traceback, shown as ``error`` and retried the same way, so one bad frame
        or one bad pair never takes the other feeds down.
        """
        self._resolve_pairs()
        if not self._feeds:
            self._set_state(FeedState.ERROR, "no valid pairs to subscribe to")
            return
        if self.rest_url is not None:
            self._spawn(self._backfill)
        feeds = list(self._feeds.values())
        size = self.pairs_per_connection() or len(feeds)
        self._connections = [Connection(self, index, feeds[start:start + size])
                             for index, start in enumerate(range(0, len(feeds), size))]
        for connection in self._connections[1:]:
            self._spawn(connection.run, connection.index * SHARD_STAGGER)
        self._connections[0].run()

    def snapshot(self, pairs: Sequence[str] | None = None, trades_limit: int = TRADES_LIMIT,
                 timeout: float | None = None) -> list[Record]:
        """Download each pair's ticker and recent trades over REST, as records.

        For the command line's ``snapshot``. Blocking: call it from a listener's own task or a
        thread, never from the hub. ``pairs`` are typed pairs in any spelling (default: the
        configured ones).

        Returns, per good pair in order, its ticker (a ``Ticker``, or a ``Quote`` where the
        exchange's REST ticker lacks a part) then its trades oldest first; for a pair that can't
        be read as one, that the exchange refuses, or whose answer we can't parse, a ``Status``
        ``error`` saying why (the others are still fetched). Download failures are retried with
        backoff for ``timeout`` seconds in all (default ``connect_timeout``); pairs still
        missing then raise ``SnapshotIncomplete``, which carries every other record.
        """
        if self.rest_url is None:
            raise ValueError(f"{self.name}: no REST URL (its websocket URL is overridden)")
        records: list[Record] = []
        feeds: dict[str, Feed] = {}
        for text in self.requested_pairs if pairs is None else pairs:
            try:
                feed = self._feed_for(text)
            except PairError as exc:
                records.append(self._status(text.strip() or text, FeedState.ERROR, str(exc)))
                continue
            feeds.setdefault(feed.pair, feed)
        deadline = time.monotonic() + (self.connect_timeout if timeout is None else timeout)
        return records + self._download(feeds.values(), trades_limit, deadline)

    def stop(self) -> None:
        """Ask every task to end; safe to call from another task."""
        self._stopped = True
        for connection in self._connections:
            connection.close()

    def stats(self) -> dict[str, object]:
        """Counters and state for ``/healthz``."""
        age = None if self.last_message_at is None else time.monotonic() - self.last_message_at
        return {
            "state": self._state.value if self._state else None,
            "detail": self._state_detail,
            "url": self.url,
            "pairs": {pair: feed.symbol for pair, feed in self._feeds.items()},
            "connections": [connection.stats() for connection in self._connections],
            "last_message_age": None if age is None else round(age, 3),
            "messages": self.messages,
            "malformed": self.malformed,
            "errors": self.errors,
            "reconnects": self.reconnects,
        }

    # What connections call -----------------------------------------------------------------

    def live_feeds(self, feeds: Iterable[Feed]) -> list[Feed]:
        """The feeds of ``feeds`` still streamed (not rejected since)."""
        return [feed for feed in feeds if feed.pair in self._feeds]

    def on_data(self, record: Ticker | Trade | Quote) -> None:
        """A ticker, trade or quote from a connection: merge, de-duplicate, publish."""
        pair = record.pair
        if pair not in self._feeds:
            return  # rejected or not listed: the connection may still carry it until it ends
        if self._pair_states.get(pair) is not FeedState.LIVE:
            self._publish_status(pair, FeedState.LIVE, "streaming")
        kind = type(record)
        if kind is Trade:
            if not self._recent_trades.add(pair, record.id):  # type: ignore[union-attr]
                return
            self._publish(record)  # type: ignore[arg-type]
            if self.merges_quotes:
                self._publish_if(self._book.trade(record))  # type: ignore[arg-type]
        elif kind is Ticker:
            self._book.note(record)  # type: ignore[arg-type]
            self._publish(record)  # type: ignore[arg-type]
        else:
            self._publish_if(self._book.quote(record))  # type: ignore[arg-type]

    def on_pair_status(self, status: Status) -> None:
        """A pair's status from a session: acked (live) or refused (error)."""
        pair = status.pair
        assert pair is not None
        if pair not in self._feeds:
            return
        if status.state is FeedState.ERROR:
            self._reject(pair, status.detail, "pair rejected")
            return
        self._pair_states[pair] = status.state
        self._publish(status)

    def on_no_data(self, pair: str) -> None:
        """A pair neither acked nor sending data within ``ack_timeout``: say so, keep it (data
        arriving later makes it live again, and a new connection asks for it again)."""
        if pair not in self._feeds or self._pair_states.get(pair) is FeedState.ERROR:
            return
        detail = f"no data for {pair} after {self.ack_timeout:g} s: is it listed on {self.name}?"
        log.error("pair silent exchange=%s pair=%s reason=%s", self.name, pair, detail)
        self._publish_status(pair, FeedState.ERROR, detail)

    def on_connection_state(self, connection: Connection) -> None:
        """A connection's state changed: tell its pairs when it failed (when it works they say so
        themselves, acked or streaming), then the exchange's line, a summary of every one."""
        if connection.state in _FAILED:
            for feed in self.live_feeds(connection.feeds):
                self._publish_status(feed.pair, connection.state, connection.detail)
        self._update_exchange_state()

    def note_malformed(self, exc: MalformedFrame, frame: str) -> None:
        self.malformed += 1
        self._malformed_log.report("malformed frame skipped exchange=%s reason=%s frame=%.200s",
                                   self.name, exc, frame)

    # Private methods -----------------------------------------------------------------------

    def _feed_for(self, text: str) -> Feed:
        """The feed for a typed pair; raises ``PairError`` saying why there is none."""
        pair = parse_pair(text)
        return Feed(pair, self.symbol_for(pair))

    def _resolve_pairs(self) -> None:
        """Map each configured pair to a symbol; report the ones that can't be as errors."""
        for text in self.requested_pairs:
            try:
                feed = self._feed_for(text)
            except PairError as exc:
                label = text.strip() or text
                log.error("bad pair exchange=%s pair=%r reason=%s", self.name, label, exc)
                self.errors += 1
                self._publish_status(label, FeedState.ERROR, str(exc))
                continue
            self._feeds.setdefault(feed.pair, feed)

    def _reject(self, pair: str, reason: str, what: str) -> None:
        """Stop streaming ``pair`` until restart and show why; the others go on."""
        log.error("%s exchange=%s pair=%s reason=%s", what, self.name, pair, reason)
        self.errors += 1
        self._rejected[pair] = (self._feeds.pop(pair), reason)
        self._publish_status(pair, FeedState.ERROR, reason)
        if not self._feeds:
            self._update_exchange_state()

    def _backfill(self) -> None:
        """Beside the stream: check the pairs against the instrument list, then publish the
        REST snapshot. Never raises: the stream does not depend on it."""
        try:
            self._check_listed()
            self._publish_snapshot()
        except Exception:  # our bug: the backfill is a nicety, streaming must go on
            log.exception("rest backfill failed exchange=%s", self.name)

    def _check_listed(self) -> None:
        """Drop, with a helpful reason, each pair the exchange's instrument list lacks."""
        request = self.instruments_request()
        if request is None or self.rest_url is None:
            return
        url = self.rest_url.rstrip("/") + request.path
        try:
            listed = request.parse(self._fetch(url, time.monotonic() + self.connect_timeout))
        except (rest.DownloadFailed, rest.Refused, MalformedFrame) as exc:
            reason = " ".join(str(exc).split())
            log.warning("instrument list unavailable exchange=%s reason=%s", self.name, reason)
            self._notice = f"instrument list unavailable ({reason}): pairs not checked"
            self._update_exchange_state()
            return
        pairs = set(listed.values())
        for feed in list(self._feeds.values()):
            if feed.symbol not in listed and not self._stopped:
                self._reject(feed.pair, self._not_listed(feed.pair, pairs), "pair not listed")
        # the websocket may have refused a pair before the list came: say what it lacks
        for pair, (feed, refusal) in list(self._rejected.items()):
            if feed.symbol not in listed and not refusal.startswith(f"{pair} is not listed on"):
                detail = f"{self._not_listed(pair, pairs)} ({self.name} said: {refusal})"
                self._rejected[pair] = (feed, detail)
                self._publish_status(pair, FeedState.ERROR, detail)

    def _not_listed(self, pair: str, listed: set[str]) -> str:
        """``BTC-USD is not listed on binance; did you mean BTC-USDT?``"""
        other = suggestion(pair, listed)
        reason = f"{pair} is not listed on {self.name}"
        return f"{reason}; did you mean {other}?" if other else reason

    def _publish_snapshot(self) -> None:
        """Publish the REST snapshot of every feed; never raise.

        A ticker only fills what the stream has not said yet (``QuoteBook.seed``); trades are
        noted in ``RecentIds``, so the stream's copies are dropped. A pair the REST API refuses
        is only logged: the subscription is the authority on whether it streams.
        """
        if self.rest_url is None or not self._feeds:
            return
        feeds = list(self._feeds.values())
        paced = self.rest_interval * len(feeds) * 2  # a ticker and a trades GET per pair
        deadline = time.monotonic() + self.connect_timeout + paced
        try:
            records = self._download(feeds, TRADES_LIMIT, deadline)
        except SnapshotIncomplete as exc:
            log.warning("rest snapshot incomplete exchange=%s reason=%s", self.name,
                        "; ".join(f"{pair}: {why}" for pair, why in exc.failures.items()))
            records = exc.records
        for record in records:
            if isinstance(record, Status):
                log.warning("rest snapshot skipped exchange=%s pair=%s reason=%s",
                            self.name, record.pair, record.detail)
            elif record.pair not in self._feeds:
                continue
            elif isinstance(record, Trade):
                if self._recent_trades.add(record.pair, record.id):
                    self._publish(record)
            else:
                self._publish_if(self._book.seed(record))

    def _download(self, feeds: Iterable[Feed], trades_limit: int,
                  deadline: float) -> list[Record]:
        """Fetch and parse every feed's REST snapshot (see ``snapshot``); pairs in order.

        Once the deadline has passed, a pair is no longer tried: it fails with the last reason.
        """
        records: list[Record] = []
        failures: dict[str, str] = {}
        for feed in feeds:
            if failures and time.monotonic() >= deadline:
                failures[feed.pair] = next(reversed(failures.values()))
                continue
            try:
                records += self._download_feed(feed, trades_limit, deadline)
            except rest.DownloadFailed as exc:
                failures[feed.pair] = str(exc)
            except (rest.Refused, MalformedFrame) as exc:
                records.append(self._status(feed.pair, FeedState.ERROR, str(exc)))
        if failures:
            raise SnapshotIncomplete(records, failures)
        return records

    def _download_feed(self, feed: Feed, trades_limit: int, deadline: float) -> list[Record]:
        """One feed's records from its GETs, in the order ``rest_snapshot_requests`` gave them."""
        assert self.rest_url is not None
        base = self.rest_url.rstrip("/")
        records: list[Record] = []
        for request in self.rest_snapshot_requests(feed.symbol, trades_limit):
            if self.rest_interval:
                self._sleep(self.rest_interval)
            body = self._fetch(base + request.path, deadline)
            records += request.parse(body, feed, datetime.now(UTC))
        return records

    def _fetch(self, url: str, deadline: float) -> Any:
        """One GET with this listener's retry policy (see ``rest.fetch_json``)."""
        return rest.fetch_json(
            url, deadline=deadline, attempt_timeout=self.connect_timeout,
            delays=reconnect_delays(REST_FIRST_RETRY, REST_RETRY_CAP, self._rand),
            sleep=self._sleep, refused=self.rest_refusal,
            on_retry=lambda attempt, delay, reason: log.warning(
                "rest retry exchange=%s attempt=%d delay=%.1fs url=%s reason=%s",
                self.name, attempt, delay, url, reason))

    def _publish_if(self, ticker: Ticker | None) -> None:
        if ticker is not None:
            self._publish(ticker)

    def _update_exchange_state(self) -> None:
        """The exchange's own status line: its one connection's, or a summary of several."""
        active = [c for c in self._connections if c.state is not None and not c.finished]
        if not self._feeds or (self._connections and not active):
            self._set_state(FeedState.ERROR, "no valid pairs to subscribe to")
            return
        if not active:
            return
        if len(self._connections) == 1:
            state, detail = active[0].state, active[0].detail
        else:
            worst = max(active, key=lambda c: _STATE_RANK[c.state])  # type: ignore[index]
            state = worst.state
            detail = (f"{len(active)} connections to {self.url}" if state is FeedState.LIVE
                      else f"connection {worst.index + 1} of {len(active)}: {worst.detail}")
        assert state is not None
        self._set_state(state, f"{detail}; {self._notice}" if self._notice else detail)

    def _set_state(self, state: FeedState, detail: str) -> None:
        if (state, detail) == (self._state, self._state_detail):
            return
        self._state, self._state_detail = state, detail
        self._publish(self._status(None, state, detail))

    def _publish_status(self, pair: str, state: FeedState, detail: str) -> None:
        self._pair_states[pair] = state
        self._publish(self._status(pair, state, detail))

    def _status(self, pair: str | None, state: FeedState, detail: str) -> Status:
        return Status(self.name, pair, state, detail, datetime.now(UTC))


class Connection:
    """One websocket of a listener, carrying a shard of its feeds, with its own lifecycle."""

    def __init__(self, listener: ExchangeListener, index: int, feeds: list[Feed]) -> None:
        self.listener = listener
        self.index = index
        self.feeds = feeds
        self.state: FeedState | None = None
        self.detail = ""
        self.finished = False
        self.pings = 0  # keepalive frames sent, for /healthz and the tests
        self._ws: websocket.WebSocket | None = None

    def run(self, delay: float = 0.0) -> None:
        """Connect, stream, and reconnect with backoff until the listener stops."""
        listener = self.listener
        if delay:
            listener._sleep(delay)
        delays = reconnect_delays(rand=listener._rand)
        attempt = 0
        while not listener._stopped:
            feeds = listener.live_feeds(self.feeds)
            if not feeds:  # every pair of this shard was rejected: nothing left to stream
                self.finished = True
                listener.on_connection_state(self)
                return
            started = time.monotonic()
            try:
                self._stream(feeds)
                reason = "connection closed"
            except NETWORK_FAULTS as exc:
                reason = one_line(exc)
            except Exception as exc:  # our bug: log it once with traceback, keep the task alive
                if listener._stopped:  # stop() closed the socket under a read: not a fault
                    break
                log.exception("listener failed exchange=%s", listener.name)
                reason = one_line(exc)
                listener.errors += 1
                self._set_state(FeedState.ERROR, reason)
            finally:
                self.close()
            if listener._stopped:
                break
            if time.monotonic() - started >= listener.feed_timeout:  # it was healthy: start over
                delays = reconnect_delays(rand=listener._rand)
                attempt = 0
            attempt += 1
            wait = next(delays)
            listener.reconnects += 1
            log.warning("feed reconnecting exchange=%s connection=%d attempt=%d delay=%.1fs "
                        "reason=%s", listener.name, self.index + 1, attempt, wait, reason)
            self._set_state(FeedState.RECONNECTING, f"{reason}; retrying in {wait:.1f} s")
            listener._sleep(wait)

    def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            # drop the TCP connection now (a polite close could wait on a dead peer); shutting
            # the socket down first also wakes a recv blocked in another thread (``record``)
            if ws.sock is not None:
                with contextlib.suppress(OSError):
                    ws.sock.shutdown(socket.SHUT_RDWR)
            ws.shutdown()

    def stats(self) -> dict[str, object]:
        return {"state": self.state.value if self.state else None, "detail": self.detail,
                "pairs": [feed.pair for feed in self.listener.live_feeds(self.feeds)],
                "pings": self.pings}

    def _stream(self, feeds: list[Feed]) -> None:
        """Connect, subscribe and read until the connection fails (which always raises).

        One loop does everything, so a connection needs no second task: reading waits at most
        ``TICK_INTERVAL`` (or until the next paced subscribe frame), then the timers run.
        """
        listener = self.listener
        self._set_state(FeedState.CONNECTING, f"connecting to {listener.url}")
        ws = websocket.WebSocket(skip_utf8_validation=True)
        self._ws = ws
        ws.connect(listener.url, timeout=listener.connect_timeout)
        symbols = {feed.symbol: feed.pair for feed in feeds}
        session = listener.new_session(symbols)
        outgoing = deque(listener.subscribe_frames(list(symbols)))
        # not a pair the instrument list dropped while we connected (its error stays shown)
        for feed in listener.live_feeds(feeds):
            listener._publish_status(feed.pair, FeedState.CONNECTING, "subscribing")
        unconfirmed = set(symbols.values())  # neither acked nor sent data yet
        now = time.monotonic()
        last_frame_at = now
        next_tick = now + TICK_INTERVAL
        ping_interval = listener.keepalive_interval()
        next_ping = now + ping_interval if ping_interval else math.inf
        acks_due = math.inf
        next_send = now
        pacing = listener.subscribe_interval
        ws.settimeout(min(pacing, TICK_INTERVAL) if pacing else TICK_INTERVAL)
        first = True
        while not listener._stopped:
            while outgoing and now >= next_send:
                ws.send(outgoing.popleft())
                next_send = now + pacing
                if not outgoing:
                    acks_due = now + listener.ack_timeout
                    ws.settimeout(TICK_INTERVAL)
            if now >= next_tick:
                next_tick = now + TICK_INTERVAL
                if now - last_frame_at >= listener.feed_timeout:
                    silent = f"no message for {listener.feed_timeout:g} s"
                    self._set_state(FeedState.STALE, silent)
                    raise FeedSilent(silent)
                self._handle(session, session.tick(datetime.now(UTC)), unconfirmed)
                if now >= next_ping:
                    ws.send(listener.ping_frame())
                    self.pings += 1
                    next_ping = now + ping_interval  # type: ignore[operator]
                if now >= acks_due:
                    acks_due = math.inf
                    for pair in unconfirmed:
                        listener.on_no_data(pair)
                    unconfirmed.clear()
                self._flush(session)
            frame = self._receive(ws)
            now = time.monotonic()
            if frame is None:
                continue
            received_at = datetime.now(UTC)
            last_frame_at = listener.last_message_at = now
            listener.messages += 1
            if first:
                first = False
                self._set_state(FeedState.LIVE, f"connected to {listener.url}")
            try:
                records = session.receive(frame, received_at)
            except MalformedFrame as exc:
                listener.note_malformed(exc, frame)
                continue
            if records:
                self._handle(session, records, unconfirmed)
            if session.outbox:
                self._flush(session)
            if listener.messages % YIELD_EVERY == 0:
                listener._sleep(0)  # a burst of buffered frames never blocks a green recv: yield

    def _receive(self, ws: websocket.WebSocket) -> str | None:
        """The next text frame, or None when nothing came within the socket's timeout."""
        try:
            opcode, data = ws.recv_data()
        except websocket.WebSocketTimeoutException:
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise ConnectionClosed("closed by the exchange")
        return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data

    def _handle(self, session: Session, records: list[Record], unconfirmed: set[str]) -> None:
        listener = self.listener
        for record in records:
            if type(record) is Status:
                if record.pair is None:  # about the connection: maintenance, or over
                    self._set_state(record.state, record.detail)
                    continue
                unconfirmed.discard(record.pair)
                listener.on_pair_status(record)
                continue
            if self.state is not FeedState.LIVE:
                # data flows again after the exchange said it paused (maintenance)
                self._set_state(FeedState.LIVE, f"connected to {listener.url}")
            if unconfirmed:
                unconfirmed.discard(record.pair)
            listener.on_data(record)  # type: ignore[arg-type]

    def _flush(self, session: Session) -> None:
        """Send what the session queued (answers, its own pings)."""
        if session.outbox and self._ws is not None:
            frames, session.outbox = session.outbox, []
            for frame in frames:
                self._ws.send(frame)

    def _set_state(self, state: FeedState, detail: str) -> None:
        if (state, detail) == (self.state, self.detail):
            return
        self.state, self.detail = state, detail
        self.listener.on_connection_state(self)
