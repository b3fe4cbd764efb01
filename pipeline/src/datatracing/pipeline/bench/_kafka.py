"""Broker helpers shared by the suites: pre-loading a topic and the raw copy baseline."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from datatracing.pipeline.broker import admin_config, ensure_topics, make_producer, topic_specs
from datatracing.pipeline.config import TopicSettings


def bench_topics(bootstrap: str) -> TopicSettings:
    """Create a fresh set of uniquely named pipeline topics."""
    suffix = uuid.uuid4().hex[:8]
    topics = TopicSettings(
        spans=f"spans-{suffix}",
        sampled=f"sampled-{suffix}",
        decisions=f"decisions-{suffix}",
        dead_letter=f"dlq-{suffix}",
    )
    ensure_topics(bootstrap, topic_specs(topics))
    return topics


def drop_topics(bootstrap: str, topics: TopicSettings, timeout_s: float = 30.0) -> None:
    """Delete a set of bench topics (on a cluster the bench does not own), waiting for the answer."""
    admin = AdminClient(admin_config(bootstrap))
    names = [topics.spans, topics.sampled, topics.decisions, topics.dead_letter]
    for future in admin.delete_topics(names, operation_timeout=timeout_s).values():
        future.result(timeout_s)


def produce_all(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    """Produce (key, value) pairs as fast as librdkafka takes them, then flush."""
    producer = make_producer(bootstrap)
    for key, value in messages:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)


def raw_copy_rate(
    bootstrap: str, source: str, partitions: int, count: int, spans: int, *, drop: bool = False
) -> float:
    """Spans/s of consume + produce with no logic, over the `count` messages already in `source`,
    from the first record received until the last copy is acknowledged by the broker; with `drop`,
    the topics made for the copy are deleted afterwards."""
    copy_topics = bench_topics(bootstrap)
    target = copy_topics.spans
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": target, "enable.auto.commit": False})
    consumer.assign([TopicPartition(source, p, 0) for p in range(partitions)])
    producer = make_producer(bootstrap)
    seen = 0
    started = 0.0
    deadline = time.monotonic() + 300
    while seen < count and time.monotonic() < deadline:
        batch = consumer.consume(500, timeout=1.0)
        if batch and not started:
            started = time.perf_counter()  # like the pipeline's figure: from the first record taken
        for message in batch:
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
    if drop:
        drop_topics(bootstrap, copy_topics)
    return spans * (seen / count) / elapsed
