"""``--role web``: the page, the API and the browsers, fed by the collectors over Redis.

A web node runs no listeners. Its Socket.IO server's client manager is ``RelayManager``
(python-socketio's ``RedisManager``), subscribed to ``MESSAGE_QUEUE_CHANNEL``: every batch a
collector publishes passes through ``WebNode.relay``, which keeps the node's copy of the
current picture (``dashboard.picture.Mirror``) and hands the batch on to this node's browsers
(trades already sent are left out). What the node emits itself (a page's connect snapshot,
statuses it decides) goes to its own browsers only: a web node publishes nothing.

- On (re)subscribing, the node loads the whole picture from Redis and sends its browsers what
  changed, so it resumes after a Redis or collector restart without being restarted itself.
- A page that connects gets the picture at once from memory, as with ``--role all``; one that
  reconnects with ``{"after": seq}`` gets the trades it missed (the collectors number them).
- Every ``MONITOR`` seconds the node publishes a keepalive; when Redis fails (or the
  subscription breaks) every feed is shown ``stale``, "upstream unavailable: <reason>", the
  last quotes and trades stay, the history API goes on (it reads the database), and the node
  reconnects by itself (1 s doubling to 5 s).
- A collector whose heartbeat is older than its ``FEED_TIMEOUT`` has its feeds shown ``stale``.
- A node that starts while Redis can't be reached shows the stored latest quotes and recent
  trades until it answers.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from typing import Any

import orjson
import socketio as python_socketio
from flask import Flask

from alerts.service import AlertRules
from exchanges import LISTENERS
from storage import Store, serialized

from . import concurrency
from .app import create_app
from .backpressure import QueueGuard
from .collector import HEARTBEAT_NAMESPACE
from .extensions import socketio
from .picture import RECENT_TRADES, Mirror, PictureStore, redis_client, redis_options
from .runtime import QUEUE_CHECK_INTERVAL
from .settings import Settings

log = logging.getLogger(__name__)

MONITOR = 1.0  # seconds between keepalives (and Redis checks)
WATCHDOG = 0.25  # seconds between looks at the collectors' heartbeats
RESUBSCRIBE_FIRST = 1.0
RESUBSCRIBE_CAP = 5.0
RECORD_EVENTS = ("status", "ticker", "trade")


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


class RelayManager(python_socketio.RedisManager):
    """A web node's client manager: relays what collectors publish through ``WebNode.relay``;
    emits to this node's clients only; resubscribes by itself and tells the node.

    python-socketio internals relied on (5.18, pinned): ``PubSubManager._handle_emit`` (one
    published emit, relayed to local clients), ``RedisManager._redis_listen_with_retries``
    (replaced: capped backoff, callbacks), ``_redis_connect``, ``self.pubsub``.
    """

    def __init__(self, url: str, channel: str, node: WebNode) -> None:
        super().__init__(url, channel=channel, redis_options=redis_options())
        self.node = node

    def emit(self, event: str, data: Any, namespace: str | None = None, room: Any = None,
             skip_sid: Any = None, callback: Any = None, to: Any = None, **kwargs: Any) -> Any:
        return super().emit(event, data, namespace=namespace, room=to or room,
                            skip_sid=skip_sid, callback=callback, ignore_queue=True)

    def _handle_emit(self, message: dict[str, Any]) -> None:
        relayed = self.node.relay(message)
        if relayed is not None:
            super()._handle_emit(relayed)

    def _redis_listen_with_retries(self) -> Iterator[Any]:
        delay = RESUBSCRIBE_FIRST
        subscribed = False
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    self.pubsub.subscribe(self.channel)
                    subscribed = True
                    delay = RESUBSCRIBE_FIRST
                    self.node.subscribed()
                yield from self.pubsub.listen()
            except Exception as exc:
                subscribed = False
                self.node.subscription_lost(exc, delay)
                time.sleep(delay)  # green: monkey patched
                delay = min(RESUBSCRIBE_CAP, delay * 2)


class WebNode:
    """What ``app.extensions["dashboard"]`` holds on a web node: the interface of
    ``Dashboard`` that routes, events and the API use, fed from the message queue."""

    def __init__(self, settings: Settings) -> None:
        # the history API accepts every exchange: the collectors decide which ones stream
        self.settings = dataclasses.replace(settings, exchanges=tuple(LISTENERS))
        self.store = Store(settings.database_url)
        self.store_call = serialized(concurrency.run_blocking)
        self.mirror = Mirror(recent_trades=RECENT_TRADES, snapshot_trades=settings.max_rows,
                             default_timeout=settings.feed_timeout)
        url = settings.message_queue or ""
        self.channel = settings.queue_channel
        self.redis = redis_client(url)
        self.picture = PictureStore(self.redis, settings.queue_channel)
        self.manager = RelayManager(url, settings.queue_channel, self)
        self.queue_guard = QueueGuard(lambda: socketio.server, self.send_snapshot,
                                      limit=settings.client_queue_limit)
        # rules and fired alerts from the database; the collectors evaluate the rules and take
        # up changes made here within seconds (alerts.service.RULES_REFRESH)
        self.alerts = AlertRules(self.store, self.store_call)
        self.clients = 0
        self.started_at: float | None = None
        self.resyncs = 0
        self.upstream_incidents = 0
        self._listing: list[tuple[str, str, str | None]] = []  # the feeds pages were given
        self._subscribed = False
        self._loaded = False  # the picture came from Redis at least once
        self._seeding = False
        self._resyncing = False
        self._resync_again = False
        self._keepalive = orjson.dumps({"method": "web-keepalive",
                                        "host_id": self.manager.host_id})

    # -- start and stop ---------------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe (the manager's listener task) and start the node's tasks; call once."""
        self.started_at = time.monotonic()
        server = socketio.server
        if not server.manager_initialized:  # python-socketio waits for the first client
            server.manager_initialized = True
            server.manager.initialize()
        concurrency.spawn(self._monitor)
        concurrency.spawn(concurrency.every, WATCHDOG, self._watch, "collector watchdog")
        concurrency.spawn(concurrency.every, QUEUE_CHECK_INTERVAL, self.queue_guard.check,
                          "client queue check")

    def stop(self, timeout: float = 3.5) -> bool:
        """SIGTERM or Ctrl-C: close every browser's connection with an Engine.IO close packet
        (pages reconnect, through nginx to another node); nothing here to write."""
        deadline = time.monotonic() + timeout
        server = socketio.server
        sessions = list(server.eio.sockets.values()) if server is not None else []
        for session in sessions:
            if not (session.closed or session.closing):
                session.close(wait=False, abort=False, reason=server.reason.SERVER_DISCONNECT)
        while time.monotonic() < deadline and any(
                session.queue.qsize() > 1 for session in sessions if not session.upgrading):
            concurrency.sleep(0.02)
        concurrency.sleep(0.05)
        log.info("web node stopped browsers=%d", len(sessions))
        return True

    # -- from the queue ---------------------------------------------------------------------------

    def relay(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """One message a collector published: updates the picture; returns what to send this
        node's browsers (None: nothing)."""
        namespace = message.get("namespace") or "/"
        event, data = message.get("event"), message.get("data")
        if namespace == HEARTBEAT_NAMESPACE:
            if event == "heartbeat" and isinstance(data, list) and data:
                self._send("status", self.mirror.heartbeat(data[0]))
                self._feeds_changed()
            return None
        if (namespace != "/" or event not in RECORD_EVENTS or message.get("room") is not None
                or not (isinstance(data, list) and len(data) == 1 and isinstance(data[0], list))):
            return message  # alerts and whatever else collectors send: as it is
        batch = data[0]
        if event == "status":
            out = self.mirror.statuses_in(batch)
        elif event == "ticker":
            out = self.mirror.tickers_in(batch)
        else:
            out = self.mirror.trades_in(batch)
        if not out:
            return None
        self.mirror.relayed += len(out)
        return {**message, "data": [out]}

    def subscribed(self) -> None:
        """The manager (re)subscribed: load the picture (in a task of its own)."""
        self._subscribed = True
        concurrency.spawn(self.resync)

    def subscription_lost(self, exc: BaseException, retry_in: float) -> None:
        self._subscribed = False
        self._upstream_down(f"{one_line(exc)}; retrying in {retry_in:g} s")

    def resync(self) -> None:
        """Load the whole picture from Redis and send the browsers what changed."""
        if self._resyncing:
            self._resync_again = True
            return
        self._resyncing = True
        try:
            while True:
                self._resync_again = False
                try:
                    picture = self.picture.load()
                except Exception as exc:
                    self._upstream_down(one_line(exc))
                    return
                was = self.mirror.upstream_error
                out = self.mirror.merge(picture)
                self._loaded = True
                self.resyncs += 1
                self._feeds_changed()
                for event in RECORD_EVENTS:
                    self._send(event, out[event])
                if was is not None:
                    log.warning("upstream connected channel=%s collectors=%d feeds=%d "
                                "after=%s", self.channel, len(picture["collectors"]),
                                len(self.mirror.feeds()), was)
                if not self._resync_again:
                    return
        finally:
            self._resyncing = False

    # -- tasks ------------------------------------------------------------------------------------

    def _monitor(self) -> None:
        """Keep the subscription busy and notice a Redis that stopped answering."""
        while True:
            try:
                self.redis.publish(self.channel, self._keepalive)
            except Exception as exc:
                self._upstream_down(one_line(exc))
            else:
                if self.mirror.upstream_error is not None and self._subscribed:
                    self.resync()
            concurrency.sleep(MONITOR)

    def _watch(self) -> None:
        self._send("status", self.mirror.check())

    def _seed_from_storage(self) -> None:
        try:
            tickers = self.store_call(self.store.latest_tickers)
            trades = self.store_call(self.store.recent_trades, self.settings.max_rows)
        except Exception as exc:  # a database that is down must not keep the page from starting
            log.warning("storage unavailable at start-up reason=%s", one_line(exc))
            return
        self.mirror.seed(tickers, trades)
        log.info("seeded from storage tickers=%d trades=%d", len(tickers), len(trades))

    def _upstream_down(self, reason: str) -> None:
        if self.mirror.upstream_error is None:
            self.upstream_incidents += 1
            log.warning("upstream unavailable channel=%s reason=%s", self.channel, reason)
        elif not self._loaded and not self._seeding:  # started without Redis: from storage
            self._seeding = True
            log.warning("upstream unavailable at start-up channel=%s reason=%s", self.channel,
                        reason)
            concurrency.spawn(self._seed_from_storage)
        self._send("status", self.mirror.upstream_down(reason))

    def _feeds_changed(self) -> None:
        """A collector came, went or changed its pairs: the pages get the new list of feeds
        (``feeds``, as on connect), so they draw the board again."""
        feeds = self.mirror.feeds()
        listing = [(feed["exchange"], feed["pair"], feed["symbol"]) for feed in feeds]
        if listing != self._listing:
            self._listing = listing
            socketio.emit("feeds", feeds)

    def _send(self, event: str, batch: list[dict[str, Any]]) -> None:
        if batch:
            socketio.emit(event, batch)

    # -- what routes and events use ----------------------------------------------------------

    def send_snapshot(self, sid: str, after: int | None = None) -> None:
        """One client's connect snapshot (or a slow client's resync), from memory."""
        snapshot = self.mirror.snapshot()
        if after is not None:
            missed = self.mirror.trades_after(after)
            if missed is not None:
                snapshot["trade"] = missed
        for event in RECORD_EVENTS:
            if snapshot[event]:
                socketio.emit(event, snapshot[event], to=sid)

    def trades_after(self, seq: int) -> list[dict[str, Any]]:
        missed = self.mirror.trades_after(seq)
        return self.mirror.snapshot()["trade"] if missed is None else missed

    def feeds(self) -> list[dict[str, Any]]:
        return self.mirror.feeds()

    def health(self) -> dict[str, Any]:
        uptime = None if self.started_at is None else time.monotonic() - self.started_at
        feeds: dict[str, dict[str, Any]] = {}
        for feed in self.mirror.feeds():
            entry = feeds.setdefault(feed["exchange"], {**{
                k: self.mirror.effective((feed["exchange"], None))[k]
                for k in ("state", "detail")}, "pairs": {}})
            entry["pairs"][feed["pair"]] = feed["symbol"]
        return {
            "status": "ok",
            "role": "web",
            "uptime": None if uptime is None else round(uptime, 3),
            "clients": {"connected": self.clients, **self.queue_guard.stats()},
            "upstream": {"state": "ok" if self.mirror.upstream_error is None
                         else "unavailable", "detail": self.mirror.upstream_error,
                         "subscribed": self._subscribed, "resyncs": self.resyncs,
                         "incidents": self.upstream_incidents},
            "collectors": self.mirror.collectors(),
            "picture": self.mirror.stats(),
            "feeds": feeds,
        }


def create_web_app(settings: Settings) -> Flask:
    """A web node: ``create_app`` with a ``WebNode`` and its ``RelayManager``."""
    node = WebNode(settings)
    return create_app(settings, runtime=lambda _settings: node, client_manager=node.manager)
