"""The hub: the single in-process fan-in between the listeners and the browsers.

Listeners call ``publish`` for every record, from their own green tasks; it is O(1) and never
blocks or emits. The hub's own task calls ``flush`` every ``FLUSH_MS`` (50 ms by default) and
sends at most three events to every browser: one ``status`` list (each change, in order), one
``ticker`` list (only the latest ticker per exchange and pair since the last flush: conflated)
and one ``trade`` list (every trade, in order: never dropped). Each list is encoded once for all
clients. ``snapshot`` is what a browser gets on connect, so a page opened at any time is
complete at once.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from exchanges.records import Record, Status, Ticker, Trade

log = logging.getLogger(__name__)

Emit = Callable[[str, list[dict[str, Any]]], None]
FeedKey = tuple[str, str | None]  # (exchange, pair); pair None for the exchange connection


class Hub:
    """Conflate, batch and emit records; keep the latest state for new clients."""

    def __init__(self, emit: Emit, recent_trades: int = 500) -> None:
        self._emit = emit
        # pending since the last flush
        self._tickers: dict[FeedKey, Ticker] = {}
        self._trades: list[Trade] = []
        self._statuses: list[Status] = []
        # current state, for snapshots (already encoded: built once per change, sent per client)
        self._latest_tickers: dict[FeedKey, dict[str, Any]] = {}
        self._latest_statuses: dict[FeedKey, dict[str, Any]] = {}
        self._recent_trades: deque[dict[str, Any]] = deque(maxlen=recent_trades)
        # counters for /healthz
        self.published = 0
        self.batches = 0

    def publish(self, record: Record) -> None:
        """Take one record from a listener; called per frame, so it must not block.

        Tickers are conflated per (exchange, pair) until the next flush; trades and status
        changes keep their order.
        """
        self.published += 1
        if type(record) is Ticker:
            self._tickers[record.exchange, record.pair] = record
        elif type(record) is Trade:
            self._trades.append(record)
        else:
            self._statuses.append(record)

    def flush(self) -> None:
        """Send what arrived since the last flush; called by the hub task every tick."""
        if not (self._statuses or self._tickers or self._trades):
            return
        statuses, self._statuses = self._statuses, []
        tickers, self._tickers = self._tickers, {}
        trades, self._trades = self._trades, []
        self.batches += 1
        if statuses:
            batch = [status.to_json() for status in statuses]
            for status, encoded in zip(statuses, batch, strict=True):
                self._latest_statuses[status.exchange, status.pair] = encoded
            self._emit("status", batch)
        if tickers:
            batch = [ticker.to_json() for ticker in tickers.values()]
            self._latest_tickers.update(zip(tickers, batch, strict=True))
            self._emit("ticker", batch)
        if trades:
            batch = [trade.to_json() for trade in trades]
            self._recent_trades.extend(batch)
            self._emit("trade", batch)

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Everything a newly connected browser needs: statuses, latest tickers, recent trades."""
        return {
            "status": list(self._latest_statuses.values()),
            "ticker": list(self._latest_tickers.values()),
            "trade": list(self._recent_trades),
        }

    def run(self, interval: float, sleep: Callable[[float], None]) -> None:
        """Flush every ``interval`` seconds, forever: the body of the hub's green task."""
        while True:
            sleep(interval)
            try:
                self.flush()
            except Exception:  # a bug of ours must not stop the page from updating
                log.exception("hub flush failed")
