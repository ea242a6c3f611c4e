"""``StorageWriter.flush`` and ``stop``: what a SIGTERM relies on to lose nothing."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from storage_support import ticker, trade

from storage.writer import StorageWriter


class Clock:
    """A monotonic clock that the writer's sleep advances."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Store:
    def __init__(self, fail_times: int = 0) -> None:
        self.fail_times = fail_times
        self.rows: list[Any] = []

    def write(self, records: list[Any]) -> int:
        if self.fail_times:
            self.fail_times -= 1
            raise sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))
        self.rows += records
        return len(records)

    def prune(self, before, max_batches=None) -> int:
        return 0


def writer(store: Store, clock: Clock, **options: Any) -> StorageWriter:
    return StorageWriter(store, lambda function, *args: function(*args), clock.sleep,
                         batch_size=options.pop("batch_size", 3), **options)


def test_flush_writes_everything_buffered_and_ends_run():
    clock = Clock()
    store = Store()
    w = writer(store, clock)
    records = [trade(str(n)) for n in range(10)] + [ticker()]
    w.submit(records)
    assert w.flush(2.0, clock) is True
    assert store.rows == records
    stats = w.stats()
    assert (stats["submitted"], stats["written"], stats["dropped"], stats["buffered"]) == (
        11, 11, 0, 0)
    w.run()  # returns at once: the writer was stopped by the flush


def test_flush_retries_a_failing_database_within_its_time():
    clock = Clock()
    store = Store(fail_times=3)
    w = writer(store, clock)
    w.submit([trade("1"), trade("2")])
    assert w.flush(2.0, clock) is True
    assert [r.id for r in store.rows] == ["1", "2"]
    assert clock.sleeps == [0.25, 0.25, 0.25]  # not the usual 1, 2, 4 s backoff
    assert w.stats()["failures"] == 3


def test_what_a_flush_cannot_write_in_time_is_counted_and_logged(caplog):
    clock = Clock()
    store = Store(fail_times=1000)
    w = writer(store, clock)
    w.submit([trade(str(n)) for n in range(5)])
    assert w.flush(1.0, clock) is False
    stats = w.stats()
    assert (stats["submitted"], stats["written"], stats["dropped"], stats["buffered"]) == (
        5, 0, 5, 0)
    assert clock.now <= 1.0 + 0.25
    assert "storage flush incomplete timeout=1.0s dropped=5" in caplog.text
    assert "database is locked" in caplog.text


def test_counters_stay_consistent_when_the_buffer_overflows():
    clock = Clock()
    w = writer(Store(), clock, max_buffer=4)
    w.submit([trade(str(n)) for n in range(6)])
    w.submit([trade("x")])
    stats = w.stats()
    assert stats["submitted"] == 7
    assert stats["submitted"] == stats["written"] + stats["dropped"] + stats["buffered"]
