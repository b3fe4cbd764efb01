"""Where a probe's latency goes: the sampler's side (produce to decided) and the store's side
(decided to queryable), and what the store was doing meanwhile.

`DecisionWatch` reads the decisions topic on a thread of its own and remembers when each trace was
decided: the decision record's create time, which the sampler's producer stamps when it hands the
record over, right after it handed over the kept trace's spans (so the watch's own fetch delay does
not count, and its reads are small: a decision record, not the spans). A probe's latency splits at
that instant: before it, the load's produce, the broker, the sampler's wait after the root and its
decision; after it, the broker again, the sink's batch wait, decode, insert and commit, and the
probe's own polling.

`StoreWindow` turns two scrapes of the store worker's metrics, taken a window apart, into the mean
insert time and the batches written in between, and asks the store how many merges run now: a soak
prints one such line every `_e2e_steps.PROGRESS_EVERY_S` with the probes' latency split of that window.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx
from confluent_kafka import OFFSET_BEGINNING, TIMESTAMP_CREATE_TIME, Consumer, KafkaException, TopicPartition

from datatracing.pipeline.bench._observe import family_samples
from datatracing.pipeline.bench._store import percentile

__all__ = ["DecisionWatch", "StoreWindow", "split_line"]

#: How long a decided trace's time is kept for a probe that has not claimed it yet.
KEEP_S = 300.0
_INSERT = "datatracing_sink_insert_duration_seconds"
#: A progress line is not worth holding up the measuring loop for: a busy store answers late or not.
_TIMEOUT_S = 2.0


class DecisionWatch:
    """Remembers, for every trace decided since the run began, when it was decided (seconds since the
    epoch: the decision record's create time; the time it was read when the record has none)."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"datatracing-bench-decisions-{time.time_ns()}",
                "enable.auto.commit": False,
                "enable.partition.eof": False,
                # The times come from the records, not from when they arrive here: fetch rarely,
                # which on the embedded broker (it lists every record batch of a partition on each
                # fetch, and holds each fetch back) keeps the watch's own load small.
                "fetch.wait.max.ms": 1000,
            }
        )
        # From the start: the topic is new, and the broker's high watermark is not to be trusted.
        self.consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        self._seen: dict[bytes, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="datatracing-bench-decisions", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pruned = time.time()
        while not self._stop.is_set():
            try:
                messages = self.consumer.consume(1000, 0.2)
            except KafkaException:
                continue  # a broker hiccup: the records are read on the next call
            now = time.time()
            with self._lock:
                for message in messages:
                    key = message.key()
                    if message.error() is not None or key is None or key in self._seen:
                        continue
                    kind, stamp_ms = message.timestamp()
                    self._seen[key] = stamp_ms / 1000 if kind == TIMESTAMP_CREATE_TIME else now
                if now - pruned > KEEP_S / 4:
                    self._seen = {k: t for k, t in self._seen.items() if now - t < KEEP_S}
                    pruned = now

    def decided_at(self, trace_id: str) -> float | None:
        with self._lock:
            return self._seen.get(trace_id.encode("ascii"))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)
        if not self._thread.is_alive():  # never close a consumer under a thread still in consume()
            self.consumer.close()


@dataclass
class StoreWindow:
    """The store worker's inserts between two `sample()` calls, and its merges at the second."""

    metrics_url: str
    query_url: str
    database: str = "datatracing"
    _last: tuple[float, float] = field(default=(0.0, 0.0), init=False)

    def _insert_totals(self) -> tuple[float, float]:
        samples = family_samples(self.metrics_url, _INSERT, timeout_s=_TIMEOUT_S)[_INSERT]
        found = {sample.name: sample.value for sample in samples}
        return found.get(f"{_INSERT}_sum", 0.0), found.get(f"{_INSERT}_count", 0.0)

    def _merges(self) -> tuple[int, int]:
        sql = f"SELECT count(), sum(total_size_marks) FROM system.merges WHERE database = '{self.database}'"
        response = httpx.post(
            f"{self.query_url}/v1/sql", json={"sql": sql, "max_rows": 1}, timeout=_TIMEOUT_S
        )
        if response.status_code != 200:
            return -1, -1
        row = response.json()["data"]["rows"][0]
        return int(row[0]), int(row[1] or 0)

    def sample(self) -> str:
        """What the store did since the previous call, as text for a progress line."""
        try:
            total_s, count = self._insert_totals()
            merges, marks = self._merges()
        except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
            return f"store: unavailable ({type(exc).__name__})"
        batches = count - self._last[1]
        mean_ms = (total_s - self._last[0]) / batches * 1000 if batches > 0 else 0.0
        self._last = (total_s, count)
        return f"batches {batches:.0f}, insert mean {mean_ms:.0f} ms, merges running {merges} ({marks} marks)"


def split_line(splits: list[tuple[float, float, float]]) -> str:
    """p50/p95 of (total, sampler side, store side) latencies in ms, as text."""
    if not splits:
        return "no probe"
    parts = []
    for index, label in enumerate(("total", "sampler", "store")):
        values = [s[index] for s in splits]
        parts.append(f"{label} p50/p95 {percentile(values, 50):.0f}/{percentile(values, 95):.0f} ms")
    return f"{len(splits)} probes: " + ", ".join(parts)
