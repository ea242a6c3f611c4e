"""``--role collector``: the listeners, the hub, alerts and storage, publishing to the web nodes.

A collector is today's ``Dashboard`` (``dashboard.runtime``) whose hub emits into the message
queue instead of to browsers: the global ``socketio`` is Flask-SocketIO's write-only
``SocketIO`` bound to no app, with ``CollectorManager`` (python-socketio's ``RedisManager``,
write-only) as its client manager. Everything the collector emits (the hub's ``status``,
``ticker`` and ``trade`` batches, alerts) goes through it, so the web nodes' Socket.IO servers
relay it to every browser as if it had been emitted there.

``emit`` never waits for Redis: it puts the batch in a bounded outbox (``Outbox``,
``MAX_BACKLOG`` records; the oldest batches go first when it is full, counted) and one
publisher task (``Publisher.run``) writes each batch into the shared picture
(``dashboard.picture``) and then publishes it. When Redis fails, the batch stays at the head
of the outbox and is retried with backoff (0.5 s doubling to 5 s) while the listeners, the
hub and the storage writer go on as before; once Redis answers again the collector writes its
whole picture (a restarted Redis may hold nothing), then the backlog, in order.

Every ``HEARTBEAT`` seconds the collector registers itself in the picture and publishes a
heartbeat (``/collectors`` namespace, which no browser joins): its id, exchanges, feeds and
``FEED_TIMEOUT``. A web node that misses heartbeats for ``FEED_TIMEOUT`` shows its feeds
``stale``. A collector that stops says so in a last heartbeat.

Its HTTP server answers ``/healthz`` only (``Dashboard.health`` plus ``queue``).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import socketio as python_socketio
from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue

from . import concurrency
from .connections import ClientLimits, default_max_clients, open_files_limit
from .extensions import socketio
from .logs import LoggedErrors
from .picture import PictureStore, now_text, redis_client, redis_options
from .runtime import Dashboard
from .security import SecureHeaders
from .settings import Settings

log = logging.getLogger(__name__)

HEARTBEAT = 1.0  # seconds between heartbeats (at most a third of FEED_TIMEOUT)
HEARTBEAT_NAMESPACE = "/collectors"
MAX_BACKLOG = 100_000  # records the outbox holds while Redis is down
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 5.0


class Outbox:
    """Batches waiting to be published, bounded by their records; never blocks."""

    def __init__(self, max_records: int = MAX_BACKLOG) -> None:
        self.max_records = max_records
        self._items: deque[tuple[str, Any, str, int]] = deque()
        self.records = 0
        self.dropped = 0  # records of batches dropped because the outbox was full
        self.wake = threading.Event()  # green once monkey patched

    def put(self, event: str, data: Any, namespace: str) -> None:
        size = len(data) if isinstance(data, list) else 1
        self._items.append((event, data, namespace, size))
        self.records += size
        while self.records > self.max_records and len(self._items) > 1:
            *_, dropped = self._items.popleft()
            self.records -= dropped
            self.dropped += dropped
        self.wake.set()

    def peek(self) -> tuple[str, Any, str] | None:
        if not self._items:
            return None
        event, data, namespace, _ = self._items[0]
        return event, data, namespace

    def pop(self) -> None:
        *_, size = self._items.popleft()
        self.records -= size

    def __len__(self) -> int:
        return len(self._items)


class CollectorManager(python_socketio.RedisManager):
    """The write-only Redis manager of a collector's ``SocketIO``: ``emit`` queues into the
    outbox; ``publish`` (the publisher task) sends one message and raises when Redis fails.

    python-socketio internals relied on (5.18, pinned): ``PubSubManager.emit`` builds the
    message and calls ``_publish``, ``RedisManager._redis_connect`` and ``self.redis``.
    """

    def __init__(self, url: str, channel: str, outbox: Outbox) -> None:
        super().__init__(url, channel=channel, write_only=True, redis_options=redis_options())
        self.outbox = outbox

    def emit(self, event: str, data: Any, namespace: str | None = None, room: Any = None,
             skip_sid: Any = None, callback: Any = None, to: Any = None, **kwargs: Any) -> None:
        if to or room or callback:  # a collector has no clients of its own to address
            return
        self.outbox.put(event, data, namespace or "/")

    def publish(self, event: str, data: Any, namespace: str) -> None:
        super().emit(event, data, namespace=namespace)

    def _publish(self, data: Any) -> Any:
        if not self.connected:
            self._redis_connect()
        try:
            return self.redis.publish(self.channel, self.json.dumps(data))
        except Exception:
            self.connected = False
            raise


class Publisher:
    """The publisher task and the heartbeat task of a collector."""

    def __init__(self, manager: CollectorManager, picture: PictureStore,
                 snapshot: Callable[[], dict[str, list[dict[str, Any]]]],
                 registration: Callable[[], dict[str, Any]],
                 sleep: Callable[[float], None], heartbeat: float = HEARTBEAT) -> None:
        self.manager = manager
        self.outbox = manager.outbox
        self.picture = picture
        self._snapshot = snapshot
        self._registration = registration
        self._sleep = sleep
        self.heartbeat_interval = heartbeat
        self.state = "connecting"  # ok, failing
        self.last_error: str | None = None
        self.published = 0
        self.failures = 0
        self.recoveries = 0
        self._failing_since: float | None = None
        self._delay = BACKOFF_FIRST
        self._stopping = False
        self._heartbeat_queued_at: float | None = None  # a heartbeat waits in the outbox

    def run(self) -> None:
        """Publish until stopped and drained: the body of the publisher task."""
        while not (self._stopping and not len(self.outbox)):
            try:
                self.step()
            except Exception:  # a bug of ours: logged, the task goes on
                log.exception("publisher failed")
                self._sleep(BACKOFF_CAP)

    def step(self) -> None:
        if self.state != "ok":
            try:
                self.picture.write_all(self._snapshot(), self._registration())
            except Exception as exc:
                self._failed(exc)
                return
            self._recovered()
        item = self.outbox.peek()
        if item is None:
            self.outbox.wake.wait(1.0)
            self.outbox.wake.clear()
            return
        event, data, namespace = item
        try:
            self._send(event, data, namespace)
        except Exception as exc:
            self._failed(exc)
            return
        self.outbox.pop()
        self.published += 1

    def _send(self, event: str, data: Any, namespace: str) -> None:
        if namespace == HEARTBEAT_NAMESPACE:
            self._heartbeat_queued_at = None
            data = {**data, "time": now_text()}
            self.picture.register(data)
        elif namespace == "/" and event in ("status", "ticker", "trade"):
            self.picture.write(event, data)
        self.manager.publish(event, data, namespace)

    def heartbeats(self) -> None:
        """Queue a heartbeat every interval (one at a time): the body of the heartbeat task."""
        while not self._stopping:
            # one waiting at a time; again if it waited too long (a full outbox dropped it)
            waiting = self._heartbeat_queued_at is not None and (
                time.monotonic() - self._heartbeat_queued_at < 3 * self.heartbeat_interval)
            if self.state == "ok" and not waiting:
                self._heartbeat_queued_at = time.monotonic()
                self.outbox.put("heartbeat", self._registration(), HEARTBEAT_NAMESPACE)
            self._sleep(self.heartbeat_interval)

    def stop(self, timeout: float) -> bool:
        """Publish what is queued and a last heartbeat saying so, within ``timeout`` seconds;
        True when the outbox is empty."""
        self.outbox.put("heartbeat", {**self._registration(), "stopping": True},
                        HEARTBEAT_NAMESPACE)
        self._stopping = True  # run() drains the outbox, then ends
        deadline = time.monotonic() + timeout
        while len(self.outbox) and time.monotonic() < deadline:
            self._sleep(0.02)
        if len(self.outbox):
            log.warning("publisher stopped with a backlog batches=%d records=%d reason=%s",
                        len(self.outbox), self.outbox.records, self.last_error or "timed out")
            return False
        return True

    def stats(self) -> dict[str, Any]:
        return {"state": self.state, "backlog": len(self.outbox),
                "backlog_records": self.outbox.records, "dropped": self.outbox.dropped,
                "published": self.published, "failures": self.failures,
                "recoveries": self.recoveries, "last_error": self.last_error}

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        self.last_error = " ".join(str(exc).split())[:300] or type(exc).__name__
        if self.state != "failing":
            self._failing_since = time.monotonic()
            self._delay = BACKOFF_FIRST
            log.warning("message queue failing backlog=%d reason=%s", self.outbox.records,
                        self.last_error)
        self.state = "failing"
        self._sleep(self._delay)
        self._delay = min(BACKOFF_CAP, self._delay * 2)

    def _recovered(self) -> None:
        if self._failing_since is not None:
            self.recoveries += 1
            log.warning("message queue recovered after=%.1fs backlog=%d dropped=%d",
                        time.monotonic() - self._failing_since, self.outbox.records,
                        self.outbox.dropped)
        else:
            log.info("message queue connected channel=%s", self.manager.channel)
        self._failing_since = None
        self.state = "ok"


class Collector:
    """What ``app.extensions["dashboard"]`` holds in a collector: the ``Dashboard`` and its
    publisher; ``start``, ``stop`` and ``health`` as the entry point expects."""

    def __init__(self, settings: Settings, manager: CollectorManager) -> None:
        self.settings = settings
        self.id = settings.collector_id or f"{socket.gethostname()}/{'+'.join(settings.exchanges)}"
        self.dashboard = Dashboard(settings)
        self.started = now_text()
        self.publisher = Publisher(
            manager, PictureStore(redis_client(settings.message_queue or ""),
                                  settings.queue_channel),
            self.dashboard.hub.snapshot, self.registration, concurrency.sleep,
            heartbeat=min(HEARTBEAT, settings.feed_timeout / 3))

    def registration(self) -> dict[str, Any]:
        return {"id": self.id, "exchanges": list(self.settings.exchanges),
                "feeds": [[feed["exchange"], feed["pair"], feed["symbol"]]
                          for feed in self.dashboard.feeds()],
                "feed_timeout": self.settings.feed_timeout, "started": self.started,
                "time": now_text()}

    def start(self) -> None:
        self.dashboard.start()
        concurrency.spawn(self.publisher.run)
        concurrency.spawn(self.publisher.heartbeats)

    def stop(self, timeout: float = 3.5) -> bool:
        flushed = self.dashboard.stop(timeout=max(0.5, timeout - 0.5))
        published = self.publisher.stop(0.4)
        return flushed and published

    def health(self) -> dict[str, Any]:
        return {**self.dashboard.health(), "role": "collector", "collector_id": self.id,
                "queue": self.publisher.stats()}


bp = Blueprint("collector", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The collector's feeds, storage and message queue; 200 while it runs."""
    return jsonify(current_app.extensions["dashboard"].health())


def create_collector_app(settings: Settings) -> Flask:
    """A collector: ``socketio`` write-only on ``MESSAGE_QUEUE``, and an app serving
    ``/healthz`` only. Starts nothing (``Collector.start`` does)."""
    manager = CollectorManager(settings.message_queue or "", settings.queue_channel, Outbox())
    socketio.init_app(None, async_mode=settings.async_mode, client_manager=manager)
    app = Flask(__name__)
    app.config["SECRET_KEY"] = settings.secret_key
    app.register_blueprint(bp)
    app.extensions["dashboard"] = Collector(settings, manager)
    open_files = open_files_limit()
    app.extensions["client_limits"] = ClientLimits(
        max_clients=settings.max_clients or default_max_clients(open_files),
        open_files=open_files)
    app.wsgi_app = SecureHeaders(  # type: ignore[method-assign]
        LoggedErrors(app.wsgi_app), settings.frame_ancestors)
    return app
