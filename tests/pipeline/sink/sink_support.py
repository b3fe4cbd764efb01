"""Helpers for the sink tests: OTLP messages, producing, committed offsets, a worker subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from datatracing.model import Resource, Span, SpanKind
from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.broker import free_port
from datatracing.pipeline.config import TopicSettings
from datatracing.wire import encode_spans

SPANS_PER_MESSAGE = 3
BASE_NS = (time.time_ns() // 10**9 - 600) * 10**9
AUDIT = SamplingAudit(policy="keep-all", policy_version="t1", sample_rate=1.0)


def trace_message(n: int, *, name: str = "work") -> bytes:
    """One OTLP message: a trace of `SPANS_PER_MESSAGE` spans, ids derived from `n` (unique)."""
    tid = f"{n + 1:032x}"
    resource = Resource(attributes={"service.name": f"svc-{n % 3}"})
    spans = [
        Span(
            trace_id=tid,
            span_id=f"{i + 1:016x}",
            parent_span_id=None if i == 0 else f"{i:016x}",
            name=name,
            kind=SpanKind.SERVER,
            start_time_unix_nano=BASE_NS + n * 1000 + i,
            end_time_unix_nano=BASE_NS + n * 1000 + i + 500,
            attributes={"n": n, "i": i, "payload": "x" * 64},
            resource=resource,
        )
        for i in range(SPANS_PER_MESSAGE)
    ]
    return encode_spans(spans)


def produce(bootstrap: str, topic: str, payloads: list[bytes], audit: SamplingAudit = AUDIT) -> None:
    """Write `payloads` keyed like the sampler does, one record per batch (the test broker's
    high watermark counts batches), and wait until all are acknowledged."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "batch.num.messages": 1})
    headers = audit.to_headers()
    for i, payload in enumerate(payloads):
        producer.produce(topic, key=f"{i:032x}".encode(), value=payload, headers=headers)
        producer.poll(0)
    assert producer.flush(60) == 0


def committed_total(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    """Sum of the group's committed offsets on `topic` (offsets start at 0, so: records done)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        found = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    finally:
        consumer.close()
    return sum(max(tp.offset, 0) for tp in found)


def consume_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0) -> list[object]:
    """Read `expected` records from the start of `topic`, or fail at the deadline.

    Partitions are assigned, not subscribed: no group join (slow on the test broker)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False}
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    records: list[object] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            record = consumer.poll(0.5)
            if record is not None and record.error() is None:
                records.append(record)
    finally:
        consumer.close()
    return records


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, step_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(step_s)  # a deadline loop on a condition, not a fixed wait


def write_settings(
    folder: Path,
    bootstrap: str,
    topics: TopicSettings,
    extra: dict[str, Any] | None = None,
    **sink: float | int | str,
) -> Path:
    """A settings YAML for one worker: its own data dir and chdb path, its HTTP server (a sink alone
    serves on `worker.web_port + 1`) on a free port; `extra` sections are added as they are."""
    settings = {
        "data_dir": str(folder / "data"),
        "kafka": {"bootstrap_servers": bootstrap, "session_timeout_ms": 3000},
        "topics": topics.model_dump(),
        "store": {"url": "chdb://" + str(folder / "chdb")},
        "sink": {
            # A consumer group per worker under test: members other tests left in a shared group
            # would hold up its rebalances on the session broker.
            "group_id": f"sink-{uuid.uuid4().hex[:8]}",
            "batch_max_messages": 50,
            "batch_max_wait_s": 0.2,
            "retry_initial_s": 0.1,
            "retry_max_s": 0.5,
        }
        | dict(sink),
        # free_port() is free; the sink alone binds web_port + 1, so web_port is the one below it.
        "worker": {"log_level": "warning", "web_port": free_port() - 1},
    } | (extra or {})
    path = folder / "settings.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


class WorkerProcess:
    """A worker subprocess with its output in a log file (shown when a test fails)."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, *args], stdout=self._out, stderr=subprocess.STDOUT, env=dict(os.environ)
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no commit, no flush."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._out.close()

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM and wait: Faust commits the acked offsets and stops."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(30)
        self._out.close()
        return code

    def rss_kib(self) -> int:
        """Resident memory of the process (Linux), 0 once it is gone."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return 0
        line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), "VmRSS: 0 kB")
        return int(line.split()[1])

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]
