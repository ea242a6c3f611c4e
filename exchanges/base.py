"""``ExchangeListener``: one exchange connection, from connect to reconnect, for every exchange.

Lifecycle of a listener's green task (``run``)::

    resolve pairs ──► connect ──► send subscribe frames ──► read loop ──┐
                        ▲                                              │ drop / silence / 20051
                        └──────── sleep(backoff with jitter) ◄─────────┘

The base class owns everything that is not the exchange's own protocol: the websocket (via
``websocket-client``), the silence watchdog (``feed_timeout``), reconnecting with capped and
jittered backoff, status records, counters, the malformed-frame policy and trade deduplication.
A subclass declares ``name`` and ``default_url`` and implements three methods that read like the
exchange's docs: ``symbol_for`` (pair → native symbol), ``subscribe_frames`` and ``new_session``
(a sans-I/O object that turns frames into records; a new one per connection).

REST snapshot: a subclass also declares ``default_rest_url`` and ``rest_snapshot_requests`` (which
GETs give a pair's ticker and recent trades, each with its pure parser). ``snapshot`` runs them
through ``rest.fetch_json`` (timeouts, exact decimals, retries: once, here) for the command line,
and ``run`` publishes one before the first connect, so the page has rows at once. The snapshot's
trades and the stream's go through the same ``RecentIds``, so a trade is shown once. When the
websocket URL is overridden (a proxy, the simulator) and the REST URL is not, no snapshot is
taken: the default REST URL would be another market than the one streaming.

Everything here runs on the listener's own green task. It must never block the eventlet hub:
socket I/O is green once ``server.py`` has monkey patched, and sleeping goes through the injected
``sleep`` (``dashboard.concurrency.sleep`` in the app).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

import websocket

from . import rest
from .pairs import PairError, parse_pair
from .parsing import MalformedFrame
from .records import FeedState, Record, Status, Ticker, Trade

log = logging.getLogger(__name__)

Publish = Callable[[Record], None]


class Session(Protocol):
    """What a subclass's ``new_session`` returns: the protocol state of one connection."""

    def receive(self, frame: str, received_at: datetime) -> list[Record]:
        """Read one frame; return the records it carries (possibly none).

        Raise ``MalformedFrame`` for a frame that can't be read, ``ReconnectRequested`` when the
        exchange asks for a new connection.
        """
        ...


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


class ExchangeListener:
    """Owns one exchange connection; see the module docstring for its lifecycle."""

    # Public attributes a subclass declares
    name: ClassVar[str]
    default_url: ClassVar[str]
    default_rest_url: ClassVar[str]

    def __init__(
        self,
        pairs: Sequence[str],
        publish: Publish,
        *,
        url: str | None = None,
        rest_url: str | None = None,
        feed_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.url = url or self.default_url
        # the REST API of the same market as ``url``: see the module docstring for why None
        self.rest_url = rest_url or (self.default_rest_url if url is None else None)
        # the raw pair texts as configured; resolved into feeds (or error statuses) by run()
        self.requested_pairs = tuple(pairs)
        self.feed_timeout = feed_timeout
        self.connect_timeout = connect_timeout
        self._publish = publish
        self._sleep = sleep
        self._rand = rand
        # feeds we subscribe to; a pair the exchange rejects is removed until restart
        self._feeds: dict[str, Feed] = {}
        self._state: FeedState | None = None
        self._state_detail = ""
        self._recent_trades = RecentIds()
        self._malformed_log = IncidentLog(log)
        self._ws: websocket.WebSocket | None = None
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
        """Return the text frames to send right after connecting."""
        raise NotImplementedError

    def new_session(self, feeds: Mapping[str, str]) -> Session:
        """Return a fresh protocol session for one connection; ``feeds`` maps symbol → pair."""
        raise NotImplementedError

    def rest_snapshot_requests(self, symbol: str, trades_limit: int) -> list[RestRequest]:
        """Return the GETs that give one symbol's ticker and its recent trades, with parsers."""
        raise NotImplementedError

    def rest_refusal(self, error: rest.HttpError) -> str | None:
        """Say why an HTTP error answer is a refusal whatever its status, or return None.

        By default HTTP decides: a 4xx other than 429 is a refusal, a 5xx or 429 is retried.
        Override for an exchange that refuses with a 5xx.
        """
        return None

    # Public methods ------------------------------------------------------------------------

    def run(self) -> None:
        """Stream until ``stop()``: the body of this listener's green task.

        First the REST snapshot (``_publish_snapshot``), so the page has each pair's ticker and
        recent trades before the first websocket update; it never stops the streaming.
        Network faults are retried forever with backoff while the status says ``reconnecting``;
        a bug of ours is logged with its traceback, shown as ``error`` and retried the same way,
        so one bad frame or one bad pair never takes the other feeds down.
        """
        self._resolve_pairs()
        self._publish_snapshot()
        delays = reconnect_delays(rand=self._rand)
        attempt = 0
        while not self._stopped:
            if not self._feeds:
                self._set_state(FeedState.ERROR, "no valid pairs to subscribe to")
                return
            started = time.monotonic()
            try:
                self._stream()
                reason = "connection closed"
            except NETWORK_FAULTS as exc:
                reason = one_line(exc)
            except Exception as exc:  # our bug: log it once with traceback, keep the task alive
                log.exception("listener failed exchange=%s", self.name)
                reason = one_line(exc)
                self.errors += 1
                self._set_state(FeedState.ERROR, reason)
            finally:
                self._close()
            if self._stopped:
                break
            if time.monotonic() - started >= self.feed_timeout:  # it was healthy: start over
                delays = reconnect_delays(rand=self._rand)
                attempt = 0
            attempt += 1
            delay = next(delays)
            self.reconnects += 1
            log.warning("feed reconnecting exchange=%s attempt=%d delay=%.1fs reason=%s",
                        self.name, attempt, delay, reason)
            self._set_state(FeedState.RECONNECTING, f"{reason}; retrying in {delay:.1f} s")
            self._sleep(delay)

    def snapshot(self, pairs: Sequence[str] | None = None, trades_limit: int = TRADES_LIMIT,
                 timeout: float | None = None) -> list[Record]:
        """Download each pair's ticker and recent trades over REST, as records.

        For the command line's ``snapshot``, and for ``run`` before its first connect. Blocking:
        call it from a listener's own task (green under ``server.py``) or a thread, never from
        the hub. ``pairs`` are typed pairs in any spelling (default: the configured ones).

        Returns, per good pair in order, its ``Ticker`` then its trades oldest first; for a pair
        that can't be read as one, that the exchange refuses, or whose answer we can't parse, a
        ``Status`` ``error`` saying why (the others are still fetched). Download failures are
        retried with backoff for ``timeout`` seconds in all (default ``connect_timeout``); pairs
        still missing then raise ``SnapshotIncomplete``, which carries every other record.
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
        """Ask the task to end; safe to call from another green task."""
        self._stopped = True
        self._close()

    def stats(self) -> dict[str, object]:
        """Counters and state for ``/healthz``."""
        age = None if self.last_message_at is None else time.monotonic() - self.last_message_at
        return {
            "state": self._state.value if self._state else None,
            "detail": self._state_detail,
            "url": self.url,
            "pairs": {pair: feed.symbol for pair, feed in self._feeds.items()},
            "last_message_age": None if age is None else round(age, 3),
            "messages": self.messages,
            "malformed": self.malformed,
            "errors": self.errors,
            "reconnects": self.reconnects,
        }

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

    def _publish_snapshot(self) -> None:
        """Publish the REST snapshot of every feed before the first connect; never raise.

        Tickers and trades are published (trades noted in ``RecentIds``, so the stream's copies
        are dropped). A pair the REST API refuses is only logged: the subscription that follows
        is the authority on whether it streams, and reports it. A download failure is logged
        once and the listener goes on to stream.
        """
        if self.rest_url is None or not self._feeds:
            return
        deadline = time.monotonic() + self.connect_timeout
        try:
            records = self._download(list(self._feeds.values()), TRADES_LIMIT, deadline)
        except SnapshotIncomplete as exc:
            log.warning("rest snapshot incomplete exchange=%s reason=%s", self.name,
                        "; ".join(f"{pair}: {why}" for pair, why in exc.failures.items()))
            records = exc.records
        except Exception:  # our bug: the snapshot is a nicety, streaming must go on
            log.exception("rest snapshot failed exchange=%s", self.name)
            return
        for record in records:
            if isinstance(record, Status):
                log.warning("rest snapshot skipped exchange=%s pair=%s reason=%s",
                            self.name, record.pair, record.detail)
            elif isinstance(record, Ticker) or self._recent_trades.add(record.pair, record.id):
                self._publish(record)

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
            url = base + request.path
            body = rest.fetch_json(
                url, deadline=deadline, attempt_timeout=self.connect_timeout,
                delays=reconnect_delays(REST_FIRST_RETRY, REST_RETRY_CAP, self._rand),
                sleep=self._sleep, refused=self.rest_refusal,
                on_retry=lambda attempt, delay, reason, url=url: log.warning(
                    "rest retry exchange=%s attempt=%d delay=%.1fs url=%s reason=%s",
                    self.name, attempt, delay, url, reason))
            records += request.parse(body, feed, datetime.now(UTC))
        return records

    def _stream(self) -> None:
        """Connect, subscribe and read until the connection fails (which always raises)."""
        self._set_state(FeedState.CONNECTING, f"connecting to {self.url}")
        ws = websocket.WebSocket(skip_utf8_validation=True)
        self._ws = ws
        ws.connect(self.url, timeout=self.connect_timeout)
        feeds = {feed.symbol: feed.pair for feed in self._feeds.values()}
        session = self.new_session(feeds)
        for frame in self.subscribe_frames(list(feeds)):
            ws.send(frame)
        for pair in feeds.values():
            self._publish_status(pair, FeedState.CONNECTING, "subscribing")
        ws.settimeout(self.feed_timeout)
        first = True
        while not self._stopped:
            frame = self._receive(ws)
            received_at = datetime.now(UTC)
            self.messages += 1
            self.last_message_at = time.monotonic()
            if first:
                first = False
                self._set_state(FeedState.LIVE, f"connected to {self.url}")
            try:
                records = session.receive(frame, received_at)
            except MalformedFrame as exc:
                self._note_malformed(exc, frame)
                continue
            for record in records:
                self._dispatch(record)
            if self.messages % YIELD_EVERY == 0:
                self._sleep(0)  # a burst of buffered frames never blocks a green recv: yield

    def _receive(self, ws: websocket.WebSocket) -> str:
        """Wait for the next text frame; raise when the connection closes or goes silent."""
        try:
            opcode, data = ws.recv_data()
        except websocket.WebSocketTimeoutException:
            self._set_state(FeedState.STALE, f"no message for {self.feed_timeout:g} s")
            raise FeedSilent(f"no message for {self.feed_timeout:g} s") from None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise ConnectionClosed("closed by the exchange")
        return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data

    def _dispatch(self, record: Record) -> None:
        kind = type(record)
        if kind is not Status and self._state is not FeedState.LIVE:
            # data flows again after the exchange said it paused (maintenance)
            self._set_state(FeedState.LIVE, f"connected to {self.url}")
        if kind is Trade:
            if not self._recent_trades.add(record.pair, record.id):
                return
        elif kind is Status:
            if record.pair is None:
                self._state, self._state_detail = record.state, record.detail
            elif record.state is FeedState.ERROR and record.pair in self._feeds:
                # the exchange rejected this pair: stop asking for it, keep the others
                log.error("pair rejected exchange=%s pair=%s reason=%s",
                          self.name, record.pair, record.detail)
                self.errors += 1
                del self._feeds[record.pair]
        self._publish(record)

    def _note_malformed(self, exc: MalformedFrame, frame: str) -> None:
        self.malformed += 1
        self._malformed_log.report("malformed frame skipped exchange=%s reason=%s frame=%.200s",
                                   self.name, exc, frame)

    def _set_state(self, state: FeedState, detail: str) -> None:
        if (state, detail) == (self._state, self._state_detail):
            return
        self._state, self._state_detail = state, detail
        self._publish_status(None, state, detail)

    def _publish_status(self, pair: str | None, state: FeedState, detail: str) -> None:
        self._publish(self._status(pair, state, detail))

    def _status(self, pair: str | None, state: FeedState, detail: str) -> Status:
        return Status(self.name, pair, state, detail, datetime.now(UTC))

    def _close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            # drop the TCP connection now (a polite close could wait on a dead peer); shutting
            # the socket down first also wakes a recv blocked in another thread (``record``)
            if ws.sock is not None:
                with contextlib.suppress(OSError):
                    ws.sock.shutdown(socket.SHUT_RDWR)
            ws.shutdown()
