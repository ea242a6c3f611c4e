"""The running parts of the dashboard: the hub and one listener per exchange.

``create_app`` builds a ``Dashboard`` (no I/O); ``server.main`` calls ``start`` once, which spawns
the hub's flush task and each listener's task. Tests can build one and inspect it unstarted.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from alerts.service import AlertService
from exchanges import ExchangeListener
from storage import StorageWriter, Store, serialized

from . import concurrency
from .backpressure import QueueGuard
from .extensions import socketio
from .hub import Hub
from .listeners import build_listeners
from .settings import Settings

log = logging.getLogger(__name__)

# trades a page gets on connect, and that the hub keeps in memory for reconnecting pages
RECENT_TRADES = 2000
# how often every client's outgoing queue is checked against CLIENT_QUEUE_LIMIT
QUEUE_CHECK_INTERVAL = 0.25


def broadcast(event: str, batch: list[dict[str, Any]]) -> None:
    """Send one batch to every connected browser (encoded once for all of them)."""
    socketio.emit(event, batch)


class Dashboard:
    """Owns the hub and the listeners; lives in ``app.extensions["dashboard"]``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(settings.database_url)  # opens nothing until first used
        # every store call goes through this one wrapper: off the hub, one at a time
        self.store_call = serialized(concurrency.run_blocking)
        self.writer = StorageWriter(self.store, self.store_call, concurrency.sleep,
                                    retention_days=settings.retention_days)
        self.alerts = AlertService(
            self.store, self.store_call, spawn=concurrency.spawn, sleep=concurrency.sleep,
            emit=broadcast, exchanges=settings.exchanges, alerts_file=settings.alerts_file,
            alert_urls=settings.alert_urls, retention_days=settings.retention_days)
        self.hub = Hub(emit=broadcast, recent_trades=RECENT_TRADES,
                       snapshot_trades=settings.max_rows, sinks=(self.writer.submit,),
                       observers=(self.alerts,))
        self.listeners: list[ExchangeListener] = build_listeners(
            settings, self.hub.publish, sleep=concurrency.sleep, spawn=concurrency.spawn)
        self.queue_guard = QueueGuard(lambda: socketio.server, self.send_snapshot,
                                      limit=settings.client_queue_limit)
        self.clients = 0
        self.started_at: float | None = None

    def start(self) -> None:
        """Spawn the hub task and every listener task; call once, from the entry point."""
        self.started_at = time.monotonic()
        self._seed_from_storage()
        concurrency.spawn(self._backfill_candles)
        concurrency.spawn(self.writer.run)
        concurrency.spawn(self.writer.run_prune)
        self.alerts.start()
        concurrency.spawn(concurrency.every, self.settings.flush_ms / 1000, self.hub.flush,
                          "hub flush")
        concurrency.spawn(concurrency.every, QUEUE_CHECK_INTERVAL, self.queue_guard.check,
                          "client queue check")
        for listener in self.listeners:
            concurrency.spawn(listener.run)

    def _seed_from_storage(self) -> None:
        """Show the last known market at once after a restart: latest tickers, recent trades."""
        try:
            tickers = self.store_call(self.store.latest_tickers)
            trades = self.store_call(self.store.recent_trades, self.settings.max_rows)
        except Exception as exc:  # a database that is down must not keep the page from starting
            log.warning("storage unavailable at start-up reason=%s", " ".join(str(exc).split()))
            return
        self.hub.seed(tickers, trades)
        log.info("seeded from storage tickers=%d trades=%d", len(tickers), len(trades))

    def _backfill_candles(self) -> None:
        """Build the candles of trades stored by a version without them (once: only while the
        candles table is empty), in the background: it can take seconds per million trades."""
        try:
            built = self.store_call(self.store.backfill_candles)
        except Exception as exc:  # the live candles go on; /api/candles lacks the old ones
            log.warning("candle backfill failed reason=%s", " ".join(str(exc).split()))
            return
        if built:
            log.info("candles built from stored trades candles=%s", built)

    def send_snapshot(self, sid: str, after: int | None = None) -> None:
        """Send one client the current state: every feed's status, the latest ticker per feed,
        then the recent trades or, with ``after`` (the last trade ``seq`` it saw), exactly the
        trades it missed. On connect, and when the queue guard resynchronizes a slow client."""
        snapshot = self.hub.snapshot()
        if after is not None:
            snapshot["trade"] = self.trades_after(after)
        for event in ("status", "ticker", "trade"):
            if snapshot[event]:
                socketio.emit(event, snapshot[event], to=sid)

    def trades_after(self, seq: int) -> list[dict[str, Any]]:
        """The trades a reconnecting page missed since trade ``seq``, oldest first."""
        missed = self.hub.trades_after(seq)
        if missed is None:  # older than memory reaches: the recent trades are the best we have
            return self.hub.snapshot()["trade"]
        return missed

    def feeds(self) -> list[dict[str, Any]]:
        """Every feed (exchange, pair) with its symbol and effective state, for ``/api/pairs``.

        Only the feeds configured now, in the configured order (a pair stored by an earlier
        run is no feed). A pair's own error wins; otherwise the exchange connection's state
        unless it is live.
        """
        statuses = {(s["exchange"], s["pair"]): s for s in self.hub.statuses()}
        feeds = []
        for listener in self.listeners:
            symbols = listener.stats()["pairs"]
            connection = statuses.get((listener.name, None))
            named = [pair for exchange, pair in statuses if exchange == listener.name and pair]
            for pair in dict.fromkeys([*symbols, *named]):
                own = statuses.get((listener.name, pair))
                status = own
                if not (own and own["state"] == "error") and connection and (
                        connection["state"] != "live" or own is None):
                    status = connection
                feeds.append({
                    "exchange": listener.name,
                    "pair": pair,
                    "symbol": symbols.get(pair),
                    "state": status["state"] if status else "connecting",
                    "detail": status["detail"] if status else "",
                })
        return feeds

    def health(self) -> dict[str, Any]:
        """What ``/healthz`` reports: every feed's state, last-message age and counters."""
        uptime = None if self.started_at is None else time.monotonic() - self.started_at
        return {
            "status": "ok",
            "uptime": None if uptime is None else round(uptime, 3),
            "clients": {"connected": self.clients, **self.queue_guard.stats()},
            "hub": {"published": self.hub.published, "batches": self.hub.batches},
            "storage": self.writer.stats(),
            "alerts": self.alerts.stats(),
            "feeds": {listener.name: listener.stats() for listener in self.listeners},
        }

    def stop(self, timeout: float = 3.5) -> bool:
        """Stop for a SIGTERM or Ctrl-C, within ``timeout`` seconds; True when nothing was lost.

        In order: the listeners stop (no new records), the hub flushes once more (the last
        records go to storage and to the browsers), the storage writer writes everything it
        holds (what is left at the deadline is counted as dropped and logged), and every
        browser connection is closed with an Engine.IO close packet, so pages show
        "disconnected" and reconnect by themselves once a server is back. Called once, from the
        entry point's main task.
        """
        started = time.monotonic()
        deadline = started + timeout
        for listener in self.listeners:
            listener.stop()
        self.hub.flush()
        # keep half a second of the budget for closing the browsers' connections
        flushed = self.writer.flush(max(0.1, deadline - 0.5 - time.monotonic()))
        try:
            self.alerts.save_once()  # alerts fired since the last save, and each rule's state
        except Exception as exc:  # a failing database must not hold the stop up
            log.warning("alert save failed reason=%s", " ".join(str(exc).split()))
        server = socketio.server
        sessions = list(server.eio.sockets.values()) if server is not None else []
        for session in sessions:
            if not (session.closed or session.closing):
                session.close(wait=False, abort=False, reason=server.reason.SERVER_DISCONNECT)
        # each browser's writer task sends what it has queued, the close packet last; wait for
        # them, within the budget (a queue of 1 is the end marker the finished writer leaves)
        while time.monotonic() < deadline and any(
                session.queue.qsize() > 1 for session in sessions if not session.upgrading):
            concurrency.sleep(0.02)
        concurrency.sleep(0.05)  # the last writes themselves
        try:
            self.store_call(self.store.close)
        except Exception as exc:  # the records are written; a failing close changes nothing
            log.warning("storage close failed reason=%s", " ".join(str(exc).split()))
        stats = self.writer.stats()
        log.info("dashboard stopped after=%.2fs browsers=%d submitted=%d written=%d dropped=%d",
                 time.monotonic() - started, len(sessions), stats["submitted"],
                 stats["written"], stats["dropped"])
        return flushed
