"""How long the sink's store inserts take: bucket counts a scrape turns into a histogram."""

from __future__ import annotations

import contextlib
import threading
import time
from bisect import bisect_left
from collections.abc import Iterator

__all__ = ["INSERT_BUCKETS_S", "DurationHistogram"]

#: Upper bounds (seconds) of the insert-duration buckets.
INSERT_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class DurationHistogram:
    """Cumulative-on-read bucket counts of durations; `time()` measures a block (thread-safe)."""

    def __init__(self, buckets: tuple[float, ...] = INSERT_BUCKETS_S) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.total_s = 0.0
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        with self._lock:
            self.counts[bisect_left(self.buckets, seconds)] += 1
            self.total_s += seconds

    @contextlib.contextmanager
    def time(self) -> Iterator[None]:
        """Observe how long the block took, whether it returned or raised."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.observe(time.perf_counter() - started)

    def snapshot(self) -> tuple[list[tuple[str, float]], float]:
        """(cumulative buckets as Prometheus labels and counts, sum of seconds)."""
        with self._lock:
            counts, total = list(self.counts), self.total_s
        out, running = [], 0
        for bound, count in zip((*map(str, self.buckets), "+Inf"), counts, strict=True):
            running += count
            out.append((bound, float(running)))
        return out, total
