"""Once-a-second samples of a running stack: feeder counters, ``/healthz``, server RSS."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .harness import Stack


@dataclass
class Sample:
    """One second of a run: counters of the feeders and the server."""

    t: float  # seconds since sampling started
    sent: int  # frames the feeders wrote
    behind: int  # paced frames due but not yet written (a feeder falling behind)
    trades: int  # distinct trades the feeders sent
    read: int  # frames the server's listeners read
    published: int  # records the hub took
    buffered: int  # records waiting for the storage writer
    rss: int  # server RSS, bytes
    health: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def backlog(self) -> int:
        """Frames sent by the exchanges and not yet read by the server, plus any the feeders
        owe their schedule: what a real exchange would have queued for us."""
        return self.sent - self.read + self.behind


def take_sample(stack: Stack, started: float) -> Sample:
    assert stack.server is not None
    health = stack.healthz()  # first: frames sent, read after it, are never fewer than read
    feeders = stack.feeders.stats()
    return Sample(round(time.monotonic() - started, 2), feeders["frames"], feeders["behind"],
                  feeders["trades"], Stack.frames_read(health), health["hub"]["published"],
                  health.get("storage", {}).get("buffered", 0), stack.server.rss(), health)


def sample_for(stack: Stack, seconds: float,
               on_tick: Callable[[int, Sample], bool | None] | None = None) -> list[Sample]:
    """Sample once a second for ``seconds`` (or until ``on_tick(second, sample)`` returns
    True)."""
    started = time.monotonic()
    samples: list[Sample] = []
    for tick in range(1, int(seconds) + 1):
        time.sleep(max(0.0, started + tick - time.monotonic()))
        sample = take_sample(stack, started)
        samples.append(sample)
        if on_tick is not None and on_tick(tick, sample):
            break
    return samples


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points; 0 for fewer than two."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return 0.0 if var == 0 else sum((x - mean_x) * (y - mean_y) for x, y in points) / var
