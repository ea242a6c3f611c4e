"""The storage writer: the green-task side of storage, between the hub and the blocking ``Store``.

The hub hands every ticker and trade to ``submit`` once per flush; it only appends to a bounded
buffer, so the live stream never waits for a disk or a database. The writer's own task
(``run``) takes a batch every ``interval`` and writes it off the event loop through the
injected ``run_blocking``. When the database fails (locked, disk full, server down) the batch
goes back to the front of the buffer and is retried with capped backoff; when the buffer is
full the oldest records are dropped and counted. ``run_prune`` is a second task that deletes
what is older than the retention once an hour.

Nothing here names eventlet or the dashboard: the caller injects ``run_blocking``, ``sleep``
and ``clock`` (``dashboard.concurrency`` in the server, plain functions in tests).

Under eventlet, ``run_blocking`` lands on any of ``tpool``'s OS threads, where the monkey
patched ``threading`` locks inside SQLAlchemy's pool, psycopg and the store are green locks: one
contended from two OS threads at once deadlocks both. Wrap ``run_blocking`` once with
``serialized`` and use that one wrapper for every store call (writes, prunes, page queries), so
at most one OS thread is ever inside the store.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

log = logging.getLogger(__name__)

T = TypeVar("T")
# flush (on stop): how often a failing database is retried, and how often an in-flight batch
# is looked at
FLUSH_RETRY = 0.25
FLUSH_POLL = 0.02
RunBlocking = Callable[..., Any]


class WritableStore(Protocol):
    def write(self, records: list[Any]) -> int: ...

    def prune(self, before: datetime, max_batches: int | None = None) -> int: ...


def serialized(run_blocking: RunBlocking) -> RunBlocking:
    """Wrap ``run_blocking`` so that store calls run one at a time, queued on the green side.

    The lock is taken by the calling green task before the call leaves for an OS thread, and
    released after it returns, so the lock is only ever contended among green tasks (where a
    green lock works) and never among ``tpool`` threads (where it deadlocks). Without eventlet
    it is a plain lock and does the same job.
    """
    lock = threading.Lock()

    def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if kwargs:  # run_blocking takes positional arguments only
            function, args = functools.partial(function, *args, **kwargs), ()
        with lock:
            return run_blocking(function, *args)

    call.__doc__ = f"{run_blocking.__doc__ or ''}\n\nOne call at a time (storage.serialized)."
    return call


def one_line(exc: BaseException) -> str:
    """An exception as one short line for a log or /healthz (SQLAlchemy's carry the SQL)."""
    text = str(getattr(exc, "orig", None) or exc) or type(exc).__name__
    return " ".join(text.split())[:300]


class StorageWriter:
    """Buffer the hub's records and write them in batches; survive a failing database."""

    def __init__(
        self,
        store: WritableStore,
        run_blocking: RunBlocking,
        sleep: Callable[[float], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        interval: float = 0.5,
        batch_size: int = 5_000,
        max_buffer: int = 100_000,
        backoff_first: float = 1.0,
        backoff_cap: float = 30.0,
        retention_days: float = 30.0,
        prune_every: float = 3600.0,
    ) -> None:
        if batch_size < 1 or max_buffer < 1:
            raise ValueError("batch_size and max_buffer must be at least 1")
        self._store = store
        self._run_blocking = run_blocking
        self._sleep = sleep
        self._clock = clock
        self.interval = interval
        self.batch_size = batch_size
        self.max_buffer = max_buffer
        self._backoff_first = backoff_first
        self._backoff_cap = backoff_cap
        self.retention = timedelta(days=retention_days)
        self.prune_every = prune_every
        self._buffer: deque[Any] = deque()
        # submit runs on the hub's task, step on the writer's: a plain lock keeps them apart
        # when they are real threads; under eventlet it is never contended (no I/O inside)
        self._lock = threading.Lock()
        # counters for /healthz
        self.written = 0
        self.dropped = 0
        self.failures = 0
        self.pruned = 0
        self.last_error: str | None = None
        # the current incident, while writes fail
        self._failing_since: datetime | None = None
        self._incident_failures = 0
        self._incident_dropped_from = 0
        self._delay = backoff_first
        self.submitted = 0  # records handed to submit: submitted = written + dropped + buffered
        self._stopping = False  # set by stop(): run() ends after its current step
        self._writing = 0  # batches taken from the buffer and not yet written or put back
        self._writing_records = 0  # the records in them: still buffered, for the counters

    # -- the hub's side ---------------------------------------------------------------------------

    def submit(self, records: Iterable[Any]) -> None:
        """Queue a flush's tickers and trades; called by the hub's task, so it never blocks.

        When the buffer holds more than ``max_buffer`` records, the oldest are dropped and
        counted: the page keeps streaming and the newest history is the one kept.
        """
        with self._lock:
            before = len(self._buffer)
            self._buffer.extend(records)
            self.submitted += len(self._buffer) - before
            excess = len(self._buffer) - self.max_buffer
            if excess > 0:
                self.dropped += excess
                for _ in range(excess):
                    self._buffer.popleft()

    # -- the writer's task ------------------------------------------------------------------------

    def run(self) -> None:
        """Write batches until ``stop``: the body of the writer's green task."""
        while not self._stopping:
            try:
                delay = self.step()
            except Exception:  # a bug of ours: the batch is lost (counted), the task goes on
                log.exception("storage writer failed")
                delay = self._backoff_cap
            self._sleep(delay)

    def step(self) -> float:
        """Write one batch of at most ``batch_size``; returns the seconds to sleep before the
        next step: 0 while a backlog remains, ``interval`` when caught up, the backoff delay
        after a failure. ``run`` loops over it; tests call it directly."""
        with self._lock:
            count = min(self.batch_size, len(self._buffer))
            batch = [self._buffer.popleft() for _ in range(count)]
        if not batch:
            return self.interval
        self._writing += 1
        self._writing_records += len(batch)
        try:
            return self._write(batch)
        finally:
            self._writing -= 1
            self._writing_records -= len(batch)

    def _write(self, batch: list[Any]) -> float:
        try:
            self._run_blocking(self._store.write, batch)
        except (DataError, IntegrityError) as exc:
            # the database refuses these values (not a passing fault): retrying can't succeed
            self.dropped += len(batch)
            self.failures += 1
            self.last_error = one_line(exc)
            log.warning("storage rejected batch records=%d reason=%s", len(batch),
                        self.last_error)
            return self.interval
        except (SQLAlchemyError, OSError) as exc:
            with self._lock:
                self._buffer.extendleft(reversed(batch))
            return self._failed(exc)
        except Exception:
            self.dropped += len(batch)
            raise
        self.written += len(batch)
        if self._failing_since is not None:
            self._recovered(len(batch))
        return 0.0 if len(self._buffer) >= self.batch_size else self.interval

    def _failed(self, exc: BaseException) -> float:
        self.failures += 1
        self.last_error = one_line(exc)
        if self._failing_since is None:
            self._failing_since = self._clock()
            self._incident_failures = 0
            self._incident_dropped_from = self.dropped
            self._delay = self._backoff_first
            log.warning("storage failing store=%r buffered=%d reason=%s",
                        self._store, len(self._buffer), self.last_error)
        self._incident_failures += 1
        delay = self._delay
        self._delay = min(self._backoff_cap, self._delay * 2)
        return delay

    def _recovered(self, batch: int) -> None:
        assert self._failing_since is not None
        lasted = (self._clock() - self._failing_since).total_seconds()
        log.warning("storage recovered after=%.1fs attempts=%d held=%d dropped=%d",
                    lasted, self._incident_failures, batch + len(self._buffer),
                    self.dropped - self._incident_dropped_from)
        self._failing_since = None
        self._delay = self._backoff_first

    # -- stopping ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask ``run`` to end after the batch it is writing, if any; ``flush`` does the rest."""
        self._stopping = True

    def flush(self, timeout: float, clock: Callable[[], float] = time.monotonic) -> bool:
        """Write everything buffered now, for at most ``timeout`` seconds; for a stop.

        Stops ``run`` first, then writes batch after batch (a failing database is retried
        every ``FLUSH_RETRY`` seconds, not after the usual backoff) and waits for a batch that
        ``run`` still has in flight. Returns True when nothing is left; otherwise what is left
        is counted as dropped and logged, and False is returned.
        """
        self.stop()
        deadline = clock() + timeout
        while True:
            if not self._buffer and not self._writing:
                return True
            remaining = deadline - clock()
            if remaining <= 0:
                break
            if self._buffer and not self._writing:
                try:
                    delay = self.step()
                except Exception:
                    log.exception("storage flush failed")
                    break
                if self._failing_since is not None:
                    self._sleep(min(FLUSH_RETRY, delay, max(0.0, deadline - clock())))
            else:
                self._sleep(min(FLUSH_POLL, remaining))
        with self._lock:
            left = len(self._buffer)
            self._buffer.clear()
        self.dropped += left
        log.warning("storage flush incomplete timeout=%.1fs dropped=%d in_flight=%d reason=%s",
                    timeout, left, self._writing, self.last_error or "timed out")
        return False

    # -- retention --------------------------------------------------------------------------------

    def run_prune(self) -> None:
        """Delete what is older than the retention now and then every ``prune_every`` seconds,
        forever: the body of the pruner's green task."""
        while True:
            try:
                self.prune_once()
            except Exception:
                log.exception("storage prune failed")
            self._sleep(self.prune_every)

    def prune_once(self) -> int:
        """Delete rows older than ``now - retention``, one batch per blocking call so writes
        and page queries get their turn in between; returns the number of rows deleted."""
        before = self._clock() - self.retention
        total = 0
        try:
            while deleted := self._run_blocking(self._store.prune, before, 1):
                total += deleted
                self._sleep(0)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("storage prune failed before=%s deleted=%d reason=%s",
                        before.isoformat(), total, one_line(exc))
        self.pruned += total
        if total:
            log.info("storage pruned rows=%d before=%s", total, before.isoformat())
        return total

    # -- health -----------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """The writer's counters for ``/healthz``."""
        return {
            "state": "ok" if self._failing_since is None else "failing",
            # waiting to be written, a batch being written included, so that at any moment
            # submitted = written + dropped + buffered
            "buffered": len(self._buffer) + self._writing_records,
            "submitted": self.submitted,
            "written": self.written,
            "dropped": self.dropped,
            "failures": self.failures,
            "pruned": self.pruned,
            "last_error": self.last_error,
        }
