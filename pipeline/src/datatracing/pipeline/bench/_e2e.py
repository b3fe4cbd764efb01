"""Suite `e2e`: spans/s through the whole path beside the raw broker copy rate, in the same run.

Both sides read the same pre-loaded OTLP messages from the same embedded broker:
- raw copy: one confluent-kafka consumer + producer moving every message to another topic, no logic;
- pipeline: sampler worker + store worker (the real processes `datatracing up` runs), from the first
  produced message until every span is stored (counted through the query API).
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import httpx
from confluent_kafka import Consumer, TopicPartition

from datatracing.pipeline.broker import EmbeddedBroker, ensure_topics, make_producer, topic_specs
from datatracing.pipeline.config import KafkaSettings, QuerySettings, Settings, TopicSettings, WorkerSettings
from datatracing.pipeline.sampler import SamplerSettings
from datatracing.pipeline.runtime._stack import Stack
from datatracing.wire import encode_spans, trace_key

from ._traffic import synthetic_traces


def _messages(traces: int) -> tuple[list[tuple[bytes, bytes]], int]:
    generated = synthetic_traces(traces, seed=11)
    messages = [(trace_key(t[0].trace_id), encode_spans(t)) for t in generated]
    return messages, sum(len(t) for t in generated)


def _produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = make_producer(bootstrap)
    for key, value in messages:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)


def raw_copy_rate(bootstrap: str, source: str, partitions: int, count: int, spans: int) -> float:
    """Spans/s of consume + produce with no logic, over `count` messages already in `source`."""
    target = f"bench-copy-{uuid.uuid4().hex[:8]}"
    ensure_topics(
        bootstrap,
        topic_specs(
            TopicSettings(
                spans=target, sampled=target + "-s", decisions=target + "-d", dead_letter=target + "-q"
            )
        ),
    )
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": target, "enable.auto.commit": False})
    consumer.assign([TopicPartition(source, p, 0) for p in range(partitions)])
    producer = make_producer(bootstrap)
    seen = 0
    started = time.perf_counter()
    deadline = time.monotonic() + 300
    while seen < count and time.monotonic() < deadline:
        for message in consumer.consume(500, timeout=1.0):
            if message.error():
                continue
            while True:
                try:
                    producer.produce(target, key=message.key(), value=message.value())
                    break
                except BufferError:
                    producer.poll(0.05)
            seen += 1
        producer.poll(0)
    producer.flush(60)
    elapsed = time.perf_counter() - started
    consumer.close()
    return spans * (seen / count) / elapsed


def _stored(query_url: str) -> int:
    count: int = httpx.get(f"{query_url}/v1/stats", timeout=10).json()["data"]["spans"]
    return count


def run_e2e(quick: bool) -> dict[str, float]:
    traces = 400 if quick else 4000
    messages, spans = _messages(traces)
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        suffix = uuid.uuid4().hex[:8]
        topics = TopicSettings(
            spans=f"spans-{suffix}",
            sampled=f"sampled-{suffix}",
            decisions=f"decisions-{suffix}",
            dead_letter=f"dlq-{suffix}",
        )
        ensure_topics(broker.bootstrap_servers, topic_specs(topics))
        from datatracing.pipeline.broker import free_port

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
            _produce(broker.bootstrap_servers, topics.spans, messages)
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
