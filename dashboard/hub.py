"""The hub: the single in-process fan-in between the listeners and the browsers.

Listeners call ``publish`` for every record, from their own green tasks; it is O(1) and never
blocks or emits. The hub's own task calls ``flush`` every ``FLUSH_MS`` (50 ms by default) and
sends at most three events to every browser: one ``status`` list (each change, in order), one
``ticker`` list (only the latest ticker per exchange and pair since the last flush: conflated)
and one ``trade`` list (every trade, in order: never dropped). Each list is encoded once for all
clients. ``snapshot`` is what a browser gets on connect, so a page opened at any time is
complete at once.

Every trade leaves the hub with a ``seq``: a number that only grows, in the order the hub
received the trades (microseconds since the epoch, bumped when two share one), so it keeps
growing across restarts. A page that reconnects hands back the last ``seq`` it saw and gets
exactly the trades after it. Sinks (the storage writer) get every ticker and trade, not only
the conflated ones, once per flush. Observers (the alert service) see every record as it is
published (``observe``, O(1) and non-blocking like ``publish``) and are told at the end of
every flush (``flush``, on the hub's task: where they may emit).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from exchanges.records import Record, Status, Ticker, Trade

log = logging.getLogger(__name__)

Emit = Callable[[str, list[dict[str, Any]]], None]
Sink = Callable[[list[Ticker | Trade]], None]
FeedKey = tuple[str, str | None]  # (exchange, pair); pair None for the exchange connection


class Observer(Protocol):
    def observe(self, record: Record) -> None: ...

    def flush(self) -> None: ...


class Hub:
    """Conflate, batch and emit records; keep the latest state for new clients."""

    def __init__(self, emit: Emit, recent_trades: int = 500, snapshot_trades: int | None = None,
                 sinks: tuple[Sink, ...] = (), observers: tuple[Observer, ...] = (),
                 clock_us: Callable[[], int] = lambda: time.time_ns() // 1000) -> None:
        self._emit = emit
        self._sinks = sinks
        self._observers = observers
        self._snapshot_trades = snapshot_trades or recent_trades  # trades sent on connect
        self._clock_us = clock_us
        self._seq = 0  # the last trade seq handed out
        self._to_store: list[Ticker | Trade] = []
        # pending since the last flush
        self._tickers: dict[FeedKey, Ticker] = {}
        self._trades: list[Trade] = []
        self._statuses: list[Status] = []
        # current state, for snapshots (already encoded: built once per change, sent per client)
        self._latest_tickers: dict[FeedKey, dict[str, Any]] = {}
        self._latest_statuses: dict[FeedKey, dict[str, Any]] = {}
        self._recent_trades: deque[dict[str, Any]] = deque(maxlen=recent_trades)
        self._forgotten_seq = 0  # trades up to this seq are no longer in memory
        # counters for /healthz
        self.published = 0
        self.batches = 0

    def publish(self, record: Record) -> None:
        """Take one record from a listener; called per frame, so it must not block.

        Tickers are conflated per (exchange, pair) until the next flush; trades and status
        changes keep their order.
        """
        self.published += 1
        for observer in self._observers:
            observer.observe(record)
        if type(record) is Ticker:
            self._tickers[record.exchange, record.pair] = record
            self._to_store.append(record)
        elif type(record) is Trade:
            self._trades.append(record)
            self._to_store.append(record)
        else:
            self._statuses.append(record)

    def flush(self) -> None:
        """Send what arrived since the last flush; called by the hub task every tick. The
        observers' ``flush`` follows, whatever happened."""
        try:
            self._flush()
        finally:
            for observer in self._observers:
                observer.flush()

    def _flush(self) -> None:
        if self._to_store:
            records, self._to_store = self._to_store, []
            for sink in self._sinks:
                sink(records)
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
            batch = [self._numbered(trade.to_json()) for trade in trades]
            self._remember(batch)
            self._emit("trade", batch)

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Everything a newly connected browser needs: statuses, latest tickers, recent trades."""
        return {
            "status": self.statuses(),
            "ticker": list(self._latest_tickers.values()),
            "trade": list(self._recent_trades)[-self._snapshot_trades:],
        }

    def statuses(self) -> list[dict[str, Any]]:
        """The current status of every feed and exchange connection."""
        return list(self._latest_statuses.values())

    def trades_after(self, seq: int) -> list[dict[str, Any]] | None:
        """The trades sent after ``seq``, oldest first; None when memory no longer reaches back
        that far (the caller then asks storage)."""
        if seq >= self._seq:
            return []
        if seq < self._forgotten_seq:
            return None
        return [trade for trade in self._recent_trades if trade["seq"] > seq]

    def seed(self, tickers: list[dict[str, Any]], trades: list[dict[str, Any]]) -> None:
        """Fill the snapshot from storage at start-up, so a page opened before the first update
        after a restart shows the last known market."""
        for ticker in tickers:
            self._latest_tickers.setdefault((ticker["exchange"], ticker["pair"]), ticker)
        # stored trades carry no seq: number them by their time, below every seq to come
        numbered = []
        for trade in trades:
            moment_us = int(datetime.fromisoformat(trade["time"]).timestamp() * 1_000_000)
            self._seq = max(self._seq + 1, moment_us)
            numbered.append({**trade, "seq": self._seq})
        if numbered:
            self._forgotten_seq = numbered[0]["seq"] - 1  # storage may hold older ones
        self._remember(numbered)

    def _remember(self, trades: list[dict[str, Any]]) -> None:
        recent = self._recent_trades
        for trade in trades:
            if len(recent) == recent.maxlen:
                self._forgotten_seq = recent[0]["seq"]
            recent.append(trade)

    def _numbered(self, trade: dict[str, Any]) -> dict[str, Any]:
        self._seq = max(self._seq + 1, self._clock_us())
        trade["seq"] = self._seq
        return trade
