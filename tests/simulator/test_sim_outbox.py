"""The per-connection outbox: due-time order, insertion order on ties, delays honoured."""

from __future__ import annotations

import threading
import time

from simulator.outbox import Outbox
from simulator.peer import Close, Send


def test_actions_come_out_by_due_time_then_insertion_order():
    outbox = Outbox()
    outbox.put([Send("te"), Send("tu", delay=0.05), Send("ticker", delay=0.05)])
    outbox.put([Send("next")])
    started = time.monotonic()
    texts = [outbox.get() for _ in range(4)]
    assert texts == [Send("te"), Send("next"), Send("tu", delay=0.05), Send("ticker", delay=0.05)]
    assert time.monotonic() - started >= 0.045


def test_get_waits_for_a_later_put_and_close_releases_it():
    outbox = Outbox()
    got: list[object] = []

    def read_two() -> None:
        got.append(outbox.get())
        got.append(outbox.get())

    reader = threading.Thread(target=read_two)
    reader.start()
    time.sleep(0.02)  # let the reader block on an empty outbox first
    outbox.put([Close(1000)])
    deadline = time.monotonic() + 2
    while not got and time.monotonic() < deadline:
        time.sleep(0.005)
    outbox.close()
    reader.join(timeout=2)
    assert not reader.is_alive()
    assert got == [Close(1000), None]


def test_close_drops_pending_actions():
    outbox = Outbox()
    outbox.put([Send("late", delay=10)])
    assert len(outbox) == 1
    outbox.close()
    assert outbox.get() is None
