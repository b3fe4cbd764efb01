"""Real sampler worker processes on the session broker, and reading what they wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from confluent_kafka import Consumer, TopicPartition

from datatracing.pipeline.bench._engine import BENCH_POLICY, bench_messages
from datatracing.pipeline.broker import free_port, make_producer
from datatracing.pipeline.config import TopicSettings
from datatracing.pipeline.runtime._stack import wait_healthy
from datatracing.pipeline.sampler import PartitionEngine, SamplerSettings, decode_decision
from datatracing.pipeline.sampler.policies import load_policy
from datatracing.wire import decode_spans, parse_request, trace_key

#: Fast completion so tests finish quickly; every trace's messages are produced before it is due.
FAST = {"decision_wait": 1.5, "wait_after_root": 1.0, "max_trace_age": 30}


@dataclass
class Workload:
    """Trace messages in production order and the decision a crash-free engine gives each trace."""

    messages: list[tuple[bytes, bytes]]
    expected_keep: dict[str, bool]
    spans_by_trace: dict[str, set[str]]

    @classmethod
    def build(cls, traces: int, seed: int = 3) -> Workload:
        arrivals, _ = bench_messages(traces, seed=seed)
        engine = PartitionEngine(0, load_policy(BENCH_POLICY, "<test>"), SamplerSettings())
        messages: list[tuple[bytes, bytes]] = []
        spans_by_trace: dict[str, set[str]] = {}
        for offset, (_, payload) in enumerate(arrivals):
            trace_id = parse_request(payload).resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
            messages.append((trace_key(trace_id), payload))
            spans_by_trace.setdefault(trace_id, set()).update(s.span_id for s in decode_spans(payload))
            engine.add(offset, payload, [], 0)
        expected = {d.trace_id: d.keep for d in engine.flush_all(10**18)}
        return cls(messages, expected, spans_by_trace)

    def halves(self) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
        """The messages split into two groups of whole traces (a trace is never cut in two)."""
        order = list(dict.fromkeys(key for key, _ in self.messages))
        first = set(order[: len(order) // 2])
        return (
            [m for m in self.messages if m[0] in first],
            [m for m in self.messages if m[0] not in first],
        )

    def produce(self, bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]] | None = None) -> None:
        producer = make_producer(bootstrap)
        for key, value in self.messages if messages is None else messages:
            producer.produce(topic, key=key, value=value)
            producer.poll(0)
        assert producer.flush(30) == 0


@dataclass
class SamplerProcess:
    """`datatracing worker sampler` with its own settings file and metrics port."""

    bootstrap: str
    topics: TopicSettings
    workdir: Path
    name: str = "sampler"
    web_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> SamplerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        policy = self.workdir / "policy.json"
        policy.write_text(json.dumps(BENCH_POLICY))
        settings = {
            "data_dir": str(self.workdir),
            # A consumer group per test's topics: the broker is shared by the whole session, and a
            # group still rebalancing around an earlier test's killed member can stall the join.
            "kafka": {
                "bootstrap_servers": self.bootstrap,
                "consumer": {"group.id": f"datatracing-sampler-{self.topics.spans}"},
            },
            "topics": self.topics.model_dump(),
            "worker": {"web_port": self.web_port, "log_level": "info"},
            "sampler": FAST,
            "policy_file": str(policy),
        }
        config = self.workdir / f"{self.name}.yaml"
        config.write_text(yaml.safe_dump(settings))
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATATRACING_")}
        with open(self.workdir / f"{self.name}.log", "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "datatracing.pipeline.cli",
                    "worker",
                    "sampler",
                    "--config",
                    str(config),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            wait_healthy(f"http://127.0.0.1:{self.web_port}/metrics", 90)
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(30)

    def terminate(self, timeout_s: float = 60) -> int:
        assert self.process is not None
        self.process.terminate()
        return self.process.wait(timeout_s)

    def log_tail(self) -> str:
        path = self.workdir / f"{self.name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


class TopicReader:
    """Reads every partition of a topic from the start, accumulating what it has seen."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self.consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": f"reader-{topic}", "enable.auto.commit": False}
        )
        self.consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        self.records: list[tuple[bytes | None, bytes]] = []

    def poll(self) -> None:
        for message in self.consumer.consume(1000, timeout=0.3):
            if message.error() is None:
                self.records.append((message.key(), message.value() or b""))

    def until(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
            self.poll()

    def close(self) -> None:
        self.consumer.close()


def decisions_by_trace(reader: TopicReader) -> dict[str, set[bool]]:
    out: dict[str, set[bool]] = {}
    for _, value in reader.records:
        decision = decode_decision(value)
        out.setdefault(decision.trace_id, set()).add(decision.keep)
    return out


def sampled_spans_by_trace(reader: TopicReader) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for _, value in reader.records:
        for span in decode_spans(value):
            out.setdefault(span.trace_id, set()).add(span.span_id)
    return out
