"""An in-process sampler (runner + consumer loop on its thread) on the session broker, and readers."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import Consumer, Producer, TopicPartition

from datatracing.pipeline.broker import consumer_config, kafka_producer, parse_dead_letter_key
from datatracing.pipeline.config import KafkaSettings, Settings, TopicSettings
from datatracing.pipeline.sampler import SamplerSettings
from datatracing.pipeline.sampler._loop import SpanConsumerLoop
from datatracing.pipeline.sampler._runner import FaultHook, SamplerRunner
from datatracing.pipeline.sampler.policies import default_policy
from datatracing.wire import trace_key

FAST = SamplerSettings(decision_wait=1.0, wait_after_root=0.5, max_trace_age=30)


def settings_for(bootstrap: str, topics: TopicSettings, **kafka: object) -> Settings:
    return Settings(
        kafka=KafkaSettings(bootstrap_servers=bootstrap, **kafka),  # type: ignore[arg-type]
        topics=topics,
        sampler=FAST,
    )


@dataclass
class InProcessSampler:
    """A `SamplerRunner` driven by a `SpanConsumerLoop` thread, like the worker but without Faust."""

    settings: Settings
    fault_hook: FaultHook | None = None
    group: str = field(default_factory=lambda: f"sampler-{uuid.uuid4().hex[:8]}")
    crashes: list[BaseException] = field(default_factory=list)

    def __post_init__(self) -> None:
        kafka = self.settings.kafka
        self.runner = SamplerRunner(
            self.settings,
            default_policy(),
            self.settings.sampler,
            kafka_producer(kafka),
            fault_hook=self.fault_hook,
        )
        config = consumer_config(
            kafka.bootstrap_servers,
            self.group,
            kafka.session_timeout_ms,
            max_message_bytes=kafka.max_message_bytes,
        )
        self.loop = SpanConsumerLoop(self.runner, config, on_crash=self.crashes.append, poll_s=0.05)

    def __enter__(self) -> InProcessSampler:
        self.loop.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.stop(60)

    @property
    def alive(self) -> bool:
        return self.loop.thread is not None and self.loop.thread.is_alive() and not self.crashes


def produce_big(bootstrap: str, topic: str, messages: list[tuple[str, bytes]]) -> list[tuple[int, int]]:
    """Produce (trace id, payload) records with a producer that allows 16 MiB (a hostile producer);
    returns each record's (partition, offset) in order."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "message.max.bytes": 16 * 1024 * 1024,
            "partitioner": "murmur2_random",
        }
    )
    where: list[tuple[int, int] | None] = [None] * len(messages)
    lock = threading.Lock()

    def report(index: int) -> Callable[[object, object], None]:
        def on_delivery(err: object, msg: object) -> None:
            assert err is None, err
            with lock:
                where[index] = (msg.partition(), msg.offset())  # type: ignore[attr-defined]

        return on_delivery

    for i, (trace_id, payload) in enumerate(messages):
        producer.produce(topic, key=trace_key(trace_id), value=payload, on_delivery=report(i))
        producer.poll(0)
    assert producer.flush(60) == 0
    assert all(w is not None for w in where)
    return [w for w in where if w is not None]


@dataclass
class Record:
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    partition: int
    offset: int


class Reader:
    """Reads every partition of a topic from the start by assignment (no group join)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"reader-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "fetch.max.bytes": 64 * 1024 * 1024,
                "receive.message.max.bytes": 100 * 1024 * 1024,
            }
        )
        partitions = self.consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self.consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        self.records: list[Record] = []

    def poll(self) -> list[Record]:
        for m in self.consumer.consume(1000, timeout=0.2):
            if m.error() is None:
                headers = {k: v or b"" for k, v in m.headers() or ()}
                self.records.append(
                    Record(m.key(), m.value() or b"", headers, m.partition() or 0, m.offset() or 0)
                )
        return self.records

    def until(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
            self.poll()

    def close(self) -> None:
        self.consumer.close()


def dead_letter_sources(records: list[Record]) -> list[tuple[str, int, int]]:
    """(source topic, partition, offset) of every dead-letter record, from its headers."""
    return [
        (
            r.headers["dt-source-topic"].decode(),
            int(r.headers["dt-source-partition"]),
            int(r.headers["dt-source-offset"]),
        )
        for r in records
    ]


def dead_letter_keys(records: list[Record]) -> list[bytes | None]:
    keys = [r.key for r in records]
    assert all(parse_dead_letter_key(k) is not None for k in keys), keys
    return keys
