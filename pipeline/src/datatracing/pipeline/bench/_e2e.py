"""Suite `e2e`: spans/s through the whole path beside the raw broker copy rate, in the same run.

Both sides read the same OTLP messages from the same embedded broker:
- raw copy: one confluent-kafka consumer + producer moving every message to another topic, no logic;
- pipeline: sampler worker + store worker (the real processes `datatracing up` runs, keep-all
  policy), from the first produced message until every span is stored (counted by the query API).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx

from datatracing.pipeline.bench._kafka import bench_topics, produce_all, raw_copy_rate
from datatracing.pipeline.bench._traffic import synthetic_traces
from datatracing.pipeline.broker import EmbeddedBroker, free_port
from datatracing.pipeline.config import KafkaSettings, QuerySettings, Settings, WorkerSettings
from datatracing.pipeline.runtime import Stack
from datatracing.pipeline.sampler import SamplerSettings
from datatracing.wire import encode_spans, trace_key


def _messages(traces: int) -> tuple[list[tuple[bytes, bytes]], int]:
    generated = synthetic_traces(traces, seed=11)
    messages = [(trace_key(t[0].trace_id), encode_spans(t)) for t in generated]
    return messages, sum(len(t) for t in generated)


def _stored(query_url: str) -> int:
    count: int = httpx.get(f"{query_url}/v1/stats", timeout=10).json()["data"]["spans"]
    return count


def run_e2e(quick: bool) -> dict[str, float]:
    traces = 400 if quick else 4000
    messages, spans = _messages(traces)
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        topics = bench_topics(broker.bootstrap_servers)
        settings = Settings(
            data_dir=Path(tmp),
            kafka=KafkaSettings(bootstrap_servers=broker.bootstrap_servers),
            topics=topics,
            query=QuerySettings(port=free_port()),
            worker=WorkerSettings(web_port=free_port()),
            sampler=SamplerSettings(decision_wait=1.0, wait_after_root=0.5),
        )
        stack = Stack(settings, broker_port=None)
        stack.start()
        try:
            started = time.perf_counter()
            produce_all(broker.bootstrap_servers, topics.spans, messages)
            deadline = time.monotonic() + 600
            while _stored(stack.query_url) < spans and time.monotonic() < deadline:
                time.sleep(0.2)
            stored = _stored(stack.query_url)
            elapsed = time.perf_counter() - started
        finally:
            stack.stop()
        raw = raw_copy_rate(broker.bootstrap_servers, topics.spans, topics.partitions, len(messages), spans)
    pipeline_rate = stored / elapsed
    return {
        "traces": float(traces),
        "spans": float(spans),
        "stored_spans": float(stored),
        "spans_per_s": round(pipeline_rate, 1),
        "raw_copy_spans_per_s": round(raw, 1),
        "ratio": round(pipeline_rate / raw, 3) if raw else 0.0,
    }
