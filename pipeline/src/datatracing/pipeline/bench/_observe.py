"""What the e2e bench watches while load runs: process CPU and memory, committed offsets, stored
spans, the sampler's kept traces, and probe traces until they are queryable.

Process figures are read from `/proc` (Linux): the pipeline's lock has no psutil, and two fields of
`/proc/<pid>/stat` and one of `/proc/<pid>/status` are all the bench needs. Elsewhere they read 0.

Lag is counted, never read from high watermarks: the embedded broker misreports a partition's high
watermark when a produce carries several records, so a stage's lag is what reached its input (the
messages produced, or the messages the sampler forwarded) minus the offsets its group committed.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from confluent_kafka import Consumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["CommittedOffsets", "ProbeTracker", "proc_cpu_s", "proc_rss_bytes", "sampler_kept", "stored_spans"]

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (its threads included); 0 when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def proc_rss_bytes(pid: int) -> int:
    """Resident set size of process `pid` in bytes; 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def stored_spans(query_url: str) -> int:
    """Spans the store holds, by the query API's `/v1/stats`."""
    count: int = httpx.get(f"{query_url}/v1/stats", timeout=10).json()["data"]["spans"]
    return count


def sampler_kept(metrics_url: str) -> int:
    """Traces the sampler kept so far (`datatracing_sampler_traces_decided`, decision `keep`)."""
    text = httpx.get(metrics_url, timeout=10).text
    kept = 0.0
    for family in text_string_to_metric_families(text):
        if family.name != "datatracing_sampler_traces_decided":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels.get("decision") == "keep":
                kept += sample.value
    return int(kept)


class CommittedOffsets:
    """Sums a consumer group's committed offsets over a topic's partitions, without joining it."""

    def __init__(self, bootstrap: str, group: str, topic: str, partitions: int) -> None:
        config = {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
        self.consumer = Consumer(config)
        self.partitions = [TopicPartition(topic, p) for p in range(partitions)]

    def total(self) -> int:
        """Records consumed and committed by the group (offsets count records; none committed is 0)."""
        committed = self.consumer.committed(self.partitions, timeout=10)
        return sum(max(0, tp.offset) for tp in committed)

    def close(self) -> None:
        self.consumer.close()


@dataclass
class _Probe:
    step: int
    trace_id: str
    produced_at: float
    spans: int
    checked_at: float = 0.0


@dataclass
class ProbeTracker:
    """Polls `GET /v1/traces/{id}` for each probe until all its spans are there; records the wait.

    A probe is checked at most every `every_s`, so a latency is known to within `every_s` plus the
    answer's own time. `start()` polls on a thread of its own, so slow answers of a busy store never
    delay the measuring loop's other samples.
    """

    query_url: str
    every_s: float = 0.2
    #: step → latencies in ms (produced to queryable)
    latencies_ms: dict[int, list[float]] = field(default_factory=dict)
    pending: list[_Probe] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.query_url, timeout=30)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, step: int, trace_id: str, produced_at: float, spans: int) -> None:
        with self._lock:
            self.pending.append(_Probe(step, trace_id, produced_at, spans))

    def latencies(self, step: int) -> list[float]:
        with self._lock:
            return list(self.latencies_ms.get(step, []))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="datatracing-bench-probes", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s / 4):
            try:
                self.poll()
            except httpx.HTTPError:
                continue  # a timeout under load: the probe is checked again

    def poll(self, *, force: bool = False) -> None:
        """Check every pending probe whose last check is `every_s` old (`force`: every one)."""
        with self._lock:
            pending, self.pending = self.pending, []
        try:
            self._check(pending, force)
        finally:
            with self._lock:
                self.pending = pending + self.pending

    def _check(self, pending: list[_Probe], force: bool) -> None:
        """Remove the probes found queryable from `pending` (in place), recording their latency."""
        for probe in list(pending):
            now = time.time()
            if not force and now - probe.checked_at < self.every_s:
                continue
            probe.checked_at = now
            response = self.client.get(f"/v1/traces/{probe.trace_id}")
            if response.status_code == 200 and len(response.json()["data"]["spans"]) >= probe.spans:
                pending.remove(probe)
                latency_ms = (time.time() - probe.produced_at) * 1000
                with self._lock:
                    self.latencies_ms.setdefault(probe.step, []).append(latency_ms)

    def stop(self) -> None:
        """Stop the polling thread (`poll` still works)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)

    def close(self) -> None:
        self.stop()
        self.client.close()
