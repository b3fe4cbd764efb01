"""`datatracing sampler replay`: what a candidate policy would have decided, beside what was decided.

It reads the retained spans topic from the start with its own consumer (nothing is committed or
written), feeds each partition to a `PartitionEngine` running the candidate policy on the records' own
timestamps (so completion rules see the original pacing), and compares with the recorded `decisions`
topic: keep rates, where the two disagree, hits per policy and kept bytes. Ends are found with
`true_end_offset`, never by trusting the high watermark.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from confluent_kafka import Consumer, TopicPartition

from datatracing.pipeline.broker import make_reader
from datatracing.pipeline.config import Settings
from datatracing.pipeline.sampler._decisions import Decision, decode_decision
from datatracing.pipeline.sampler._engine import PartitionEngine
from datatracing.pipeline.sampler._restore import true_end_offset
from datatracing.pipeline.sampler._results import Decided
from datatracing.pipeline.sampler.policies import CompiledPolicy


@dataclass
class ReplayReport:
    """Candidate against recorded decisions over the traces both know."""

    traces: int = 0
    spans: int = 0
    candidate_kept: int = 0
    recorded_kept: int = 0
    unrecorded: int = 0
    agreement: Counter[tuple[bool, bool]] = field(default_factory=Counter)  # (recorded, candidate)
    candidate_hits: Counter[str] = field(default_factory=Counter)
    recorded_hits: Counter[str] = field(default_factory=Counter)
    candidate_kept_bytes: int = 0
    recorded_kept_bytes: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "traces": self.traces,
            "spans": self.spans,
            "candidate_keep_rate": round(self.candidate_kept / self.traces, 4) if self.traces else 0.0,
            "recorded_keep_rate": round(self.recorded_kept / max(1, self.traces - self.unrecorded), 4),
            "unrecorded_traces": self.unrecorded,
            "newly_kept": self.agreement[False, True],
            "newly_dropped": self.agreement[True, False],
            "candidate_kept_bytes": self.candidate_kept_bytes,
            "recorded_kept_bytes": self.recorded_kept_bytes,
            "candidate_hits": dict(self.candidate_hits.most_common()),
            "recorded_hits": dict(self.recorded_hits.most_common()),
        }


def _read_partition(
    consumer: Consumer, topic: str, partition: int, timeout_s: float
) -> list[tuple[int, bytes, list[tuple[str, bytes | None]]]]:
    """(timestamp ns, value, headers) of every record of one partition, first to true end."""
    end = true_end_offset(consumer, topic, partition, timeout_s)
    low, _ = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
    records: list[tuple[int, bytes, list[tuple[str, bytes | None]]]] = []
    if end <= low:
        return records
    consumer.assign([TopicPartition(topic, partition, low)])
    position, deadline = low, time.monotonic() + timeout_s * 10
    while position < end and time.monotonic() < deadline:
        for message in consumer.consume(1000, timeout=0.5):
            if message.error() is not None:
                continue
            position = (message.offset() or 0) + 1
            _, ms = message.timestamp()
            raw = message.headers() or []
            pairs = raw.items() if isinstance(raw, dict) else raw
            headers = [(k, v.encode() if isinstance(v, str) else v) for k, v in pairs]
            records.append((max(0, ms) * 1_000_000, message.value() or b"", headers))
    return records


def replay(settings: Settings, candidate: CompiledPolicy, timeout_s: float = 30.0) -> ReplayReport:
    """Run `candidate` over the spans topic and compare with the `decisions` topic."""
    consumer = make_reader(settings.kafka, "replay")
    report = ReplayReport()
    decided: list[Decided] = []
    recorded: dict[str, Decision] = {}
    try:
        for partition in range(settings.topics.partitions):
            engine = PartitionEngine(partition, candidate, settings.sampler)
            now = 0
            for offset, (ts, value, headers) in enumerate(
                _read_partition(consumer, settings.topics.spans, partition, timeout_s)
            ):
                now = max(now, ts)
                result = engine.add(offset, value, headers, now)
                decided.extend(result.decided)
                decided.extend(engine.poll(now))
            decided.extend(engine.flush_all(now + 10**18))
            for _, value, _ in _read_partition(consumer, settings.topics.decisions, partition, timeout_s):
                if value:
                    decision = decode_decision(value)
                    recorded[decision.trace_id] = decision
    finally:
        consumer.close()
    for d in decided:
        size = sum(len(p) for p in d.payloads)
        report.traces += 1
        report.spans += d.span_count
        if d.keep:
            report.candidate_kept += 1
            report.candidate_kept_bytes += size
            report.candidate_hits[d.audit.policy] += 1
        before = recorded.get(d.trace_id)
        if before is None:
            report.unrecorded += 1
            continue
        report.agreement[before.keep, d.keep] += 1
        if before.keep:
            report.recorded_kept += 1
            report.recorded_kept_bytes += size
            report.recorded_hits[before.audit.policy] += 1
    return report
