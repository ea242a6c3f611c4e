"""Latency histograms (1 ms bins) merged across clients and processes, and their percentiles.

Clients keep counts per millisecond rather than raw samples: a fan-out run times ~2 million
trades, and a histogram merges by addition and crosses a pipe as a small JSON object.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any


class Histogram:
    """Trade latencies in whole milliseconds (receive wall time minus the trade's ``time``)."""

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()

    def add_sparse(self, sparse: Mapping[str, int]) -> None:
        for ms, n in sparse.items():
            self.counts[int(ms)] += n

    def merged(self, other: Histogram) -> Histogram:
        result = Histogram()
        result.counts = self.counts + other.counts
        return result

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def percentile(self, fraction: float) -> int | None:
        """The smallest latency with at least ``fraction`` of the samples at or below it."""
        total = self.total
        if not total:
            return None
        needed = fraction * total
        seen = 0
        for ms in sorted(self.counts):
            seen += self.counts[ms]
            if seen >= needed:
                return ms
        return max(self.counts)

    def summary(self) -> dict[str, Any]:
        """``{"samples", "p50_ms", "p99_ms", "max_ms", "mean_ms"}``; Nones when empty."""
        total = self.total
        return {
            "samples": total,
            "p50_ms": self.percentile(0.50),
            "p99_ms": self.percentile(0.99),
            "max_ms": max(self.counts) if total else None,
            "mean_ms": round(sum(ms * n for ms, n in self.counts.items()) / total, 1)
            if total else None,
        }


def merge(histograms: list[Histogram]) -> Histogram:
    result = Histogram()
    for histogram in histograms:
        result.counts.update(histogram.counts)
    return result
