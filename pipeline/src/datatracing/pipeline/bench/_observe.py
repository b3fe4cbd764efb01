"""What the e2e bench watches while load runs: process CPU and memory, committed offsets, stored
spans, the sampler's kept traces, and probe traces until they are queryable.

The workers' figures are scraped from their `/metrics` (`family_samples`). Process figures are read
from `/proc` (Linux): the pipeline's lock has no psutil, and two fields of `/proc/<pid>/stat` and one
of `/proc/<pid>/status` are all the bench needs. Elsewhere they read 0.

Lag is counted, never read from high watermarks: the embedded broker misreports a partition's high
watermark when a produce carries several records, so a stage's lag is what reached its input (the
messages produced, or the messages the sampler forwarded) minus the offsets its group committed.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from confluent_kafka import Consumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from datatracing.pipeline.runtime import meminfo_bytes, proc_rss_bytes

__all__ = [
    "CommittedOffsets",
    "ProbeTracker",
    "family_samples",
    "mem_available_bytes",
    "proc_cpu_s",
    "proc_rss_bytes",
    "proc_thread_cpu_s",
    "sampler_kept",
    "stored_spans",
]

_HEX32 = re.compile("[0-9a-f]{32}")
_DECIDED = "datatracing_sampler_traces_decided"
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_cpu_s(stat: str) -> float:
    """User + system CPU seconds from the text of a `/proc/.../stat` file."""
    # The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (its threads included); 0 when unknown."""
    try:
        return _stat_cpu_s(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return 0.0


def proc_thread_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds of process `pid`'s live threads, summed by thread name (`comm`).

    The embedded ClickHouse names its threads by pool (`MergeMutate` for merges, `ThreadPool` for
    query and insert pipelines, ...); Python threads keep the process's name. A thread that ended
    is missing here but counted in `proc_cpu_s`.
    """
    by_name: dict[str, float] = {}
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return by_name
    for task in tasks:
        try:
            stat = Path(f"/proc/{pid}/task/{task}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        by_name[name] = by_name.get(name, 0.0) + _stat_cpu_s(stat)
    return by_name


def mem_available_bytes() -> int:
    """The machine's `MemAvailable` in bytes (`/proc/meminfo`); 0 when unknown."""
    return meminfo_bytes("MemAvailable")


def stored_spans(query_url: str) -> int:
    """Spans the store holds, by the query API's `/v1/stats`."""
    count: int = httpx.get(f"{query_url}/v1/stats", timeout=10).json()["data"]["spans"]
    return count


def family_samples(metrics_url: str, *names: str, timeout_s: float = 10.0) -> dict[str, list[Sample]]:
    """The samples of the metric families `names` on one scrape of `metrics_url`, by family name (a
    family the page lacks maps to an empty list). Raises `httpx.HTTPError` when it does not answer."""
    text = httpx.get(metrics_url, timeout=timeout_s).text
    found: dict[str, list[Sample]] = {name: [] for name in names}
    for family in text_string_to_metric_families(text):
        if family.name in found:
            found[family.name].extend(family.samples)
    return found


def sampler_kept(metrics_url: str) -> int:
    """Traces the sampler kept so far (`datatracing_sampler_traces_decided`, decision `keep`)."""
    samples = family_samples(metrics_url, _DECIDED)[_DECIDED]
    kept = sum(s.value for s in samples if s.name.endswith("_total") and s.labels.get("decision") == "keep")
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


@dataclass
class ProbeTracker:
    """Watches probe traces until all their spans are queryable.

    Every `every_s` one statement over `POST /v1/sql` counts the spans of every pending probe (the
    `traces` table, sorted by trace id, answers it from a few granules, and is written in the same
    insert as the spans); a probe's latency is the time its count was found complete. The first
    probe and every `confirm_every`-th are then also fetched with `GET /v1/traces/{id}`, and count
    only once that answer holds every span: the API's path is checked without its cost (about 20 ms
    of the store's CPU each under load) weighing on the store the bench measures. One cheap statement
    per tick, whatever the number of pending probes, for the same reason (a `GET` per probe per tick
    loaded the store, and more so the further it fell behind). `start()` polls on a thread of its
    own, so slow answers of a busy store never delay the measuring loop's other samples.

    With `decided` (`_stages.DecisionWatch.decided_at`), each latency is also split at the instant
    the sampler decided the trace: `splits` holds (total, sampler side, store side) in ms. A probe
    found queryable before the watch read its decision is split on a later poll (at the latest in
    `stop()`), so the fast ones are not the ones left out.
    """

    query_url: str
    #: The store's database (the name `datatracing` unless the store URL gives another).
    database: str = "datatracing"
    every_s: float = 0.2
    confirm_every: int = 10
    #: step → latencies in ms (produced to queryable)
    latencies_ms: dict[int, list[float]] = field(default_factory=dict)
    pending: list[_Probe] = field(default_factory=list)
    decided: Callable[[str], float | None] | None = None
    #: step → (total, produced to decided, decided to queryable) in ms, for probes whose decision
    #: was seen; `recent` the splits made since the last `take_recent()`.
    splits: dict[int, list[tuple[float, float, float]]] = field(default_factory=dict)
    recent: list[tuple[float, float, float]] = field(default_factory=list)
    #: Probes found queryable whose decision the watch had not read yet: (probe, found at).
    unsplit: list[tuple[_Probe, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.query_url, timeout=30)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._found = 0

    def add(self, step: int, trace_id: str, produced_at: float, spans: int) -> None:
        with self._lock:
            self.pending.append(_Probe(step, trace_id, produced_at, spans))

    def latencies(self, step: int) -> list[float]:
        with self._lock:
            return list(self.latencies_ms.get(step, []))

    def take_recent(self) -> list[tuple[float, float, float]]:
        """The latency splits found since the previous call."""
        with self._lock:
            recent, self.recent = self.recent, []
        return recent

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="datatracing-bench-probes", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.poll()
            except httpx.HTTPError:
                continue  # a timeout under load: the probes are checked again

    def poll(self) -> None:
        """Check every pending probe once, and split the latencies left unsplit."""
        with self._lock:
            pending, self.pending = self.pending, []
        try:
            self._check(pending)
        finally:
            with self._lock:
                self.pending = pending + self.pending
        self._split_unsplit()

    def _split(self, probe: _Probe, found_at: float) -> bool:
        """Record `probe`'s latency split; False when its decision time is not known (yet)."""
        decided_at = self.decided(probe.trace_id) if self.decided is not None else None
        if decided_at is None:
            return False
        split = (
            (found_at - probe.produced_at) * 1000,
            (decided_at - probe.produced_at) * 1000,
            (found_at - decided_at) * 1000,
        )
        with self._lock:
            self.splits.setdefault(probe.step, []).append(split)
            self.recent.append(split)
        return True

    def _split_unsplit(self) -> None:
        with self._lock:
            waiting, self.unsplit = self.unsplit, []
        left = [(probe, found_at) for probe, found_at in waiting if not self._split(probe, found_at)]
        with self._lock:
            self.unsplit = left + self.unsplit

    def _check(self, pending: list[_Probe]) -> None:
        """Remove the probes found queryable from `pending` (in place), recording their latency."""
        if not pending:
            return
        counts = self._span_counts([p.trace_id for p in pending])
        for probe in list(pending):
            if counts.get(probe.trace_id, 0) < probe.spans or not self._confirmed(probe):
                continue
            pending.remove(probe)
            self._found += 1
            found_at = time.time()
            with self._lock:
                self.latencies_ms.setdefault(probe.step, []).append((found_at - probe.produced_at) * 1000)
            if self.decided is not None and not self._split(probe, found_at):
                with self._lock:
                    self.unsplit.append((probe, found_at))

    def _confirmed(self, probe: _Probe) -> bool:
        """True unless this probe is one to fetch through the API and the answer lacks a span."""
        if self._found % self.confirm_every:
            return True
        response = self.client.get(f"/v1/traces/{probe.trace_id}")
        return response.status_code == 200 and len(response.json()["data"]["spans"]) >= probe.spans

    def _span_counts(self, trace_ids: list[str]) -> dict[str, int]:
        """Spans stored per trace id, by one statement (ids are the load's own hex ids)."""
        ids = ", ".join(f"unhex('{t}')" for t in trace_ids if _HEX32.fullmatch(t))
        sql = (
            f"SELECT lower(hex(trace_id)) AS id, uniqMerge(span_count) AS spans FROM {self.database}.traces "
            f"WHERE trace_id IN ({ids}) GROUP BY trace_id"
        )
        response = self.client.post("/v1/sql", json={"sql": sql, "max_rows": len(trace_ids)})
        if response.status_code != 200:
            return {}
        return {str(row[0]): int(row[1]) for row in response.json()["data"]["rows"]}

    def stop(self) -> None:
        """Stop the polling thread (`poll` still works), after a last try at the unsplit latencies."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)
        self._split_unsplit()

    def close(self) -> None:
        self.stop()
        self.client.close()
