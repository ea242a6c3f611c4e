"""``StorageWriter``: batches the hub's records into a store and survives a failing database.

``step()`` is one iteration of the writer's task, so these tests drive it by hand with a clock
and a sleep that only record time: nothing here waits for real time except the locked-database
case, which waits for SQLite's (shortened) busy timeout.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from storage_support import T0, count_rows, ticker, trade

from storage.store import Store
from storage.writer import StorageWriter, serialized

WRITER_LOG = "storage.writer"


def run_blocking(function, *args):
    return function(*args)


class FakeTime:
    """A clock and a sleep that advances it; ``sleep`` raises ``Stop`` after ``stop_after``."""

    class Stop(Exception):
        pass

    def __init__(self, stop_after: int | None = None) -> None:
        self.now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
        self.sleeps: list[float] = []
        self.stop_after = stop_after

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)
        if self.stop_after is not None and len(self.sleeps) >= self.stop_after:
            raise FakeTime.Stop


class FlakyStore:
    """A store whose ``write`` fails while ``failing`` is set, recording every batch it took."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error or sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))
        self.failing = False
        self.batches: list[list[Any]] = []

    def write(self, records: list[Any]) -> int:
        if self.failing:
            raise self.error
        self.batches.append(list(records))
        return len(records)

    def prune(self, before: datetime, max_batches: int | None = None) -> int:
        return 0

    @property
    def written(self) -> list[Any]:
        return [record for batch in self.batches for record in batch]


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'market.db'}", busy_timeout=0.05)
    yield store
    store.close()


def make_writer(store: Any, fake: FakeTime | None = None, **options: Any) -> StorageWriter:
    fake = fake or FakeTime()
    return StorageWriter(store, run_blocking, fake.sleep, fake.clock, **options)


def drain(writer: StorageWriter, max_steps: int = 1000) -> int:
    """Step until the buffer is empty; returns the number of steps."""
    for steps in range(1, max_steps + 1):
        writer.step()
        if writer.stats()["buffered"] == 0:
            return steps
    pytest.fail(f"buffer not drained after {max_steps} steps: {writer.stats()}")


def storage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == WRITER_LOG]


def test_a_burst_of_50000_records_is_written_in_a_few_seconds(sqlite_store: Store):
    fake = FakeTime()
    writer = make_writer(sqlite_store, fake)
    started = time.monotonic()
    for flush in range(100):  # 100 hub flushes of 500 records
        writer.submit([trade(f"{flush}-{n}", ms=flush) if n % 2 else ticker(ms=flush)
                       for n in range(500)])

    steps = drain(writer)

    assert time.monotonic() - started < 10
    assert steps == 10  # batch_size 5000
    assert fake.sleeps == []  # step() never sleeps itself
    assert count_rows(sqlite_store.engine, "trades") == 25_000
    assert count_rows(sqlite_store.engine, "tickers") == 25_000
    assert writer.stats() == {"state": "ok", "buffered": 0, "submitted": 50_000,
                              "written": 50_000, "dropped": 0, "failures": 0, "pruned": 0,
                              "last_error": None}


def test_step_sleeps_zero_while_a_backlog_remains_and_interval_once_caught_up():
    store = FlakyStore()
    writer = make_writer(store, batch_size=3, interval=0.5)

    assert writer.step() == 0.5  # nothing to do
    writer.submit([trade(str(n)) for n in range(7)])

    assert [writer.step(), writer.step(), writer.step(), writer.step()] == [0.0, 0.5, 0.5, 0.5]
    assert [len(batch) for batch in store.batches] == [3, 3, 1]
    assert [t.id for t in store.written] == [str(n) for n in range(7)]  # in order


def test_a_locked_database_delays_writes_but_loses_nothing(
        sqlite_store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger=WRITER_LOG)
    fake = FakeTime()
    writer = make_writer(sqlite_store, fake, batch_size=100)
    writer.submit([trade("before")])
    writer.step()

    locker = sqlite3.connect(tmp_path / "market.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        writer.submit([trade(f"a{n}") for n in range(150)])
        delays = [writer.step(), writer.step(), writer.step()]
        assert delays == [1.0, 2.0, 4.0]
        assert writer.stats()["state"] == "failing"
        assert "database is locked" in writer.stats()["last_error"]

        started = time.perf_counter()
        writer.submit([trade(f"b{n}") for n in range(50)])
        assert time.perf_counter() - started < 0.05  # submit never touches the database
        assert writer.stats()["buffered"] == 200
    finally:
        locker.execute("ROLLBACK")
        locker.close()

    fake.now += timedelta(seconds=7)
    drain(writer)

    stored = {t["id"] for t in sqlite_store.trades(limit=None)}
    assert stored == {"before"} | {f"a{n}" for n in range(150)} | {f"b{n}" for n in range(50)}
    assert writer.stats() == {"state": "ok", "buffered": 0, "submitted": 201, "written": 201,
                              "dropped": 0, "failures": 3, "pruned": 0,
                              "last_error": writer.stats()["last_error"]}
    lines = storage_lines(caplog)
    assert len(lines) == 2, lines
    assert lines[0].startswith("storage failing ")
    assert "buffered=150" in lines[0] and "reason=database is locked" in lines[0]
    assert lines[1] == "storage recovered after=7.0s attempts=3 held=200 dropped=0"


def test_backoff_doubles_to_the_cap_and_restarts_with_a_new_incident(
        caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger=WRITER_LOG)
    store = FlakyStore()
    writer = make_writer(store, backoff_first=1.0, backoff_cap=30.0)
    writer.submit([trade("1")])
    store.failing = True

    assert [writer.step() for _ in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    store.failing = False
    assert writer.step() == 0.5
    writer.submit([trade("2")])
    store.failing = True
    assert writer.step() == 1.0

    lines = storage_lines(caplog)
    assert [line.split()[1] for line in lines] == ["failing", "recovered", "failing"]
    assert writer.stats()["failures"] == 8


def test_a_full_buffer_drops_the_oldest_and_counts_them():
    store = FlakyStore()
    writer = make_writer(store, max_buffer=10, batch_size=4)

    writer.submit([trade(str(n)) for n in range(6)])
    writer.submit([trade(str(n)) for n in range(6, 15)])

    assert writer.stats()["dropped"] == 5
    assert writer.stats()["buffered"] == 10
    drain(writer)
    assert [t.id for t in store.written] == [str(n) for n in range(5, 15)]


def test_a_failed_batch_goes_back_in_front_and_overflow_drops_it_first():
    store = FlakyStore()
    writer = make_writer(store, max_buffer=6, batch_size=4)
    writer.submit([trade(str(n)) for n in range(5)])
    store.failing = True

    writer.step()  # 0..3 taken, failed, put back in front of 4
    writer.submit([trade("5"), trade("6"), trade("7")])  # 8 > 6: the two oldest go
    store.failing = False
    drain(writer)

    assert [t.id for t in store.written] == ["2", "3", "4", "5", "6", "7"]
    assert writer.stats()["dropped"] == 2
    assert writer.stats()["written"] == 6


def test_a_batch_the_database_refuses_is_dropped_not_retried(caplog: pytest.LogCaptureFixture):
    store = FlakyStore(sa.exc.DataError("INSERT", {}, Exception("NUL byte in text")))
    writer = make_writer(store)
    writer.submit([trade("bad")])
    store.failing = True

    assert writer.step() == 0.5
    assert writer.stats()["buffered"] == 0
    assert writer.stats()["dropped"] == 1
    assert writer.stats()["state"] == "ok"
    assert storage_lines(caplog) == ["storage rejected batch records=1 reason=NUL byte in text"]


def test_run_loops_over_step_and_survives_a_bug_of_ours(caplog: pytest.LogCaptureFixture):
    class BuggyOnce(FlakyStore):
        bugged = False

        def write(self, records: list[Any]) -> int:
            if not self.bugged:
                self.bugged = True
                raise RuntimeError("bug")
            return super().write(records)

    store = BuggyOnce()
    fake = FakeTime(stop_after=2)
    writer = make_writer(store, fake, batch_size=1, interval=0.5, backoff_cap=30.0)
    writer.submit([trade("lost"), trade("kept")])

    with pytest.raises(FakeTime.Stop):
        writer.run()

    assert fake.sleeps == [30.0, 0.5]  # the longest backoff after a bug, then the interval
    assert [t.id for t in store.written] == ["kept"]
    assert writer.stats()["dropped"] == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == ["storage writer failed"]
    assert errors[0].exc_info and "bug" in str(errors[0].exc_info[1])


def test_run_writes_what_the_hub_submits_between_sleeps(sqlite_store: Store):
    fake = FakeTime(stop_after=3)
    writer = make_writer(sqlite_store, fake, interval=0.5)
    writer.submit([trade("1"), ticker()])

    with pytest.raises(FakeTime.Stop):
        writer.run()

    assert fake.sleeps == [0.5, 0.5, 0.5]
    assert [t["id"] for t in sqlite_store.trades()] == ["1"]
    assert len(sqlite_store.tickers()) == 1


def test_prune_once_deletes_what_is_older_than_the_retention(
        sqlite_store: Store, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger=WRITER_LOG)
    day = 24 * 3600 * 1000
    sqlite_store._prune_batch = 2
    sqlite_store.write([trade(str(n), ms=n) for n in range(5)]
                       + [ticker(ms=n) for n in range(3)]
                       + [trade("new", ms=day), ticker(ms=day)])
    fake = FakeTime()
    fake.now = T0 + timedelta(days=2)  # keep one day: cutoff T0 + 1 day, "new" sits on it
    writer = make_writer(sqlite_store, fake, retention_days=1)

    assert writer.prune_once() == 9  # 8 rows and the candle of the old trades

    assert [t["id"] for t in sqlite_store.trades()] == ["new"]
    assert len(sqlite_store.tickers()) == 1
    assert writer.stats()["pruned"] == 9
    assert fake.sleeps == [0, 0, 0]  # one blocking call per round, yielding in between
    assert storage_lines(caplog) == [
        "storage pruned rows=9 before=2026-11-25T17:42:03.123456+00:00"]


def test_run_prune_prunes_every_interval_and_survives_a_failure(
        caplog: pytest.LogCaptureFixture):
    class PruneStore(FlakyStore):
        def __init__(self) -> None:
            super().__init__()
            self.cutoffs: list[datetime] = []

        def prune(self, before: datetime, max_batches: int | None = None) -> int:
            self.cutoffs.append(before)
            if len(self.cutoffs) == 1:
                raise sa.exc.OperationalError("DELETE", {}, Exception("disk I/O error"))
            return 0

    store = PruneStore()
    fake = FakeTime(stop_after=3)
    writer = make_writer(store, fake, retention_days=30, prune_every=3600)
    start = fake.now

    with pytest.raises(FakeTime.Stop):
        writer.run_prune()

    assert fake.sleeps == [3600, 3600, 3600]
    assert store.cutoffs == [start - timedelta(days=30) + timedelta(hours=h) for h in range(3)]
    assert [line.split(" reason=")[-1] for line in storage_lines(caplog)] == ["disk I/O error"]


def test_serialized_runs_one_call_at_a_time():
    inside = 0
    most = 0
    guard = threading.Lock()

    def work(n: int) -> int:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        time.sleep(0.01)
        with guard:
            inside -= 1
        return n * 2

    call = serialized(run_blocking)
    results: list[int] = []
    threads = [threading.Thread(target=lambda n=n: results.append(call(work, n)))
               for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert most == 1
    assert sorted(results) == [n * 2 for n in range(8)]


def test_serialized_passes_keyword_arguments_through_a_positional_run_blocking(
        sqlite_store: Store):
    seen = []

    def positional_only(function, *args):
        seen.append(args)
        return function(*args)

    call = serialized(positional_only)
    call(sqlite_store.write, [trade("1", pair="ETH-USD"), trade("2")])

    assert [t["id"] for t in call(sqlite_store.trades, pair="ETH-USD", limit=5)] == ["1"]
    assert seen == [([trade("1", pair="ETH-USD"), trade("2")],), ()]
