"""The running parts of the dashboard: the hub and one listener per exchange.

``create_app`` builds a ``Dashboard`` (no I/O); ``server.main`` calls ``start`` once, which spawns
the hub's flush task and each listener's task. Tests can build one and inspect it unstarted.
"""

from __future__ import annotations

import time
from typing import Any

from exchanges import LISTENERS, ExchangeListener

from . import concurrency
from .extensions import socketio
from .hub import Hub
from .settings import Settings


def broadcast(event: str, batch: list[dict[str, Any]]) -> None:
    """Send one batch to every connected browser (encoded once for all of them)."""
    socketio.emit(event, batch)


class Dashboard:
    """Owns the hub and the listeners; lives in ``app.extensions["dashboard"]``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hub = Hub(emit=broadcast, recent_trades=settings.max_rows)
        self.listeners: list[ExchangeListener] = [
            LISTENERS[name](
                settings.pairs,
                self.hub.publish,
                url=settings.ws_urls.get(name),
                feed_timeout=settings.feed_timeout,
                sleep=concurrency.sleep,
            )
            for name in settings.exchanges
        ]
        self.clients = 0
        self.started_at: float | None = None

    def start(self) -> None:
        """Spawn the hub task and every listener task; call once, from the entry point."""
        self.started_at = time.monotonic()
        concurrency.spawn(self.hub.run, self.settings.flush_ms / 1000, concurrency.sleep)
        for listener in self.listeners:
            concurrency.spawn(listener.run)

    def trades_after(self, seq: int) -> list[dict[str, Any]]:
        """The trades a reconnecting page missed since trade ``seq``, oldest first."""
        missed = self.hub.trades_after(seq)
        if missed is None:  # older than memory reaches: the recent trades are the best we have
            return self.hub.snapshot()["trade"]
        return missed

    def health(self) -> dict[str, Any]:
        """What ``/healthz`` reports: every feed's state, last-message age and counters."""
        uptime = None if self.started_at is None else time.monotonic() - self.started_at
        return {
            "status": "ok",
            "uptime": None if uptime is None else round(uptime, 3),
            "clients": self.clients,
            "hub": {"published": self.hub.published, "batches": self.hub.batches},
            "feeds": {listener.name: listener.stats() for listener in self.listeners},
        }
