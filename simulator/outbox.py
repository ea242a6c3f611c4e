"""A per-connection queue of actions that become due now or after a delay.

Any thread may ``put`` (the reader thread answering the client, the clock thread with market
events, a control request); exactly one sender thread ``get``s and writes to the socket. So a
slow client only ever blocks its own sender, never the exchange lock, and frames of one
connection go out in a single, well-defined order: by due time, then by insertion.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterable

from simulator.peer import Action


class Outbox:
    """Actions waiting for one connection's sender thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Action]] = []
        self._order = itertools.count()  # ties on due time keep insertion order
        self._ready = threading.Condition()
        self._closed = False

    def put(self, actions: Iterable[Action]) -> None:
        """Queue actions; each becomes due ``action.delay`` seconds from now. Never blocks."""
        now = self._clock()
        with self._ready:
            for action in actions:
                heapq.heappush(self._heap, (now + action.delay, next(self._order), action))
            self._ready.notify()

    def get(self) -> Action | None:
        """Block until the earliest action is due and return it; ``None`` once closed."""
        with self._ready:
            while not self._closed:
                if self._heap:
                    wait = self._heap[0][0] - self._clock()
                    if wait <= 0:
                        return heapq.heappop(self._heap)[2]
                    self._ready.wait(wait)
                else:
                    self._ready.wait()
            return None

    def close(self) -> None:
        """Wake the sender and make every later ``get`` return ``None``; pending actions drop."""
        with self._ready:
            self._closed = True
            self._heap.clear()
            self._ready.notify_all()

    def __len__(self) -> int:
        with self._ready:
            return len(self._heap)
