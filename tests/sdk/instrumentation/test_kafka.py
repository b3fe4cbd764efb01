"""Kafka wrappers against the real broker: producer context reaches the consumer's process spans."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from datatracing.model import Span, SpanKind, StatusCode
from datatracing.sdk import Context, InMemorySpanExporter, Tracer, TracerProvider
from datatracing.sdk.instrumentation import TracedConsumer, TracedProducer
from datatracing.wire import PARTITIONER


class BoomError(RuntimeError):
    pass


def _producer(bootstrap: str, **config: Any) -> Any:
    return Producer({"bootstrap.servers": bootstrap, "partitioner": PARTITIONER, "linger.ms": 5, **config})


def _consumer(bootstrap: str, topic: str) -> Any:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    # Assigned directly: no group join to wait for.
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    return consumer


def _poll(consumer: TracedConsumer, count: int, timeout_s: float = 20) -> list[Any]:
    messages: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(messages) < count and time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is not None and message.error() is None:
            messages.append(message)
    assert len(messages) == count
    return messages


def _produce_three(tracer: Tracer, producer: TracedProducer, topic: str) -> None:
    with tracer.start_as_current_span("checkout"):
        producer.produce(topic, value=b"one", key=b"k1", headers=[("source", b"web")])
        producer.produce(topic, value=b"two", key="k2", headers={"source": b"batch"})
        producer.produce(topic, value=b"three")
    assert producer.flush(20) == 0


def _by_name(spans: list[Span], name: str) -> list[Span]:
    return [span for span in spans if span.name == name]


def test_kafka_process_span_child_of_producer_span(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    tracer: Tracer,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
) -> None:
    topic = topic_factory("instr")
    producer = TracedProducer(_producer(kafka_bootstrap), provider)
    _produce_three(tracer, producer, topic)
    consumer = TracedConsumer(_consumer(kafka_bootstrap, topic), provider, group_id="billing")
    try:
        messages = _poll(consumer, 3)
        for message in messages:
            with consumer.process_span(message) as span:
                assert span.is_recording()
    finally:
        consumer.close()

    spans = exporter.get_finished_spans()
    (root,) = _by_name(spans, "checkout")
    sends = _by_name(spans, f"send {topic}")
    processes = _by_name(spans, f"process {topic}")
    assert len(sends) == len(processes) == 3
    assert {s.trace_id for s in spans} == {root.trace_id}
    assert all(s.kind is SpanKind.PRODUCER and s.parent_span_id == root.span_id for s in sends)
    # In produce order on one partition: the n-th process span continues the n-th send span.
    assert [p.parent_span_id for p in processes] == [s.span_id for s in sends]
    assert all(p.kind is SpanKind.CONSUMER for p in processes)
    assert sends[0].attributes == {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": topic,
        "messaging.kafka.message.key": "k1",
        "messaging.message.body.size": 3,
    }
    first = dict(processes[0].attributes)
    assert first.pop("pipeline.lag.ms") >= 0  # type: ignore[operator]
    assert first == {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": topic,
        "messaging.destination.partition.id": "0",
        "messaging.consumer.group.name": "billing",
        "messaging.kafka.offset": messages[0].offset(),
        "messaging.kafka.message.key": "k1",
        "messaging.message.body.size": 3,
    }
    # The caller's own headers travel next to the trace context.
    headers = [dict(m.headers()) for m in messages]
    assert [h.get("source") for h in headers] == [b"web", b"batch", None]
    assert all(h["traceparent"].decode().split("-")[1] == root.trace_id for h in headers)


def test_kafka_batch_span_links_every_message_context(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    tracer: Tracer,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
) -> None:
    topic = topic_factory("instr-batch")
    _produce_three(tracer, TracedProducer(_producer(kafka_bootstrap), provider), topic)
    consumer = TracedConsumer(_consumer(kafka_bootstrap, topic), provider)
    batch: list[Any] = []
    deadline = time.monotonic() + 20
    try:
        while len(batch) < 3 and time.monotonic() < deadline:
            batch.extend(m for m in consumer.consume(10, 0.2) if m.error() is None)
        with consumer.process_batch_span(batch) as span:
            assert span.is_recording()
    finally:
        consumer.close()

    spans = exporter.get_finished_spans()
    sends = _by_name(spans, f"send {topic}")
    (process,) = _by_name(spans, f"process {topic}")
    assert process.kind is SpanKind.CONSUMER
    assert process.parent_span_id is None
    assert process.attributes["messaging.batch.message_count"] == 3
    assert process.attributes["messaging.destination.partition.id"] == "0"
    assert {(link.trace_id, link.span_id) for link in process.links} == {
        (s.trace_id, s.span_id) for s in sends
    }


def test_kafka_process_span_exception_reraised_span_error(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
) -> None:
    topic = topic_factory("instr-fail")
    producer = TracedProducer(_producer(kafka_bootstrap), provider)
    producer.produce(topic, value=b"poison")
    assert producer.flush(20) == 0
    consumer = TracedConsumer(_consumer(kafka_bootstrap, topic), provider)
    try:
        (message,) = _poll(consumer, 1)
        with pytest.raises(BoomError, match="poison"), consumer.process_span(message):
            raise BoomError("poison")
    finally:
        consumer.close()
    (process,) = _by_name(exporter.get_finished_spans(), f"process {topic}")
    assert process.status.code is StatusCode.ERROR
    assert process.attributes["error.type"] == f"{__name__}.BoomError"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_kafka_produce_queue_full_buffer_error_reraised_span_error(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    raw = _producer(f"127.0.0.1:{_closed_port()}", log_level=0, **{"queue.buffering.max.messages": 1})
    producer = TracedProducer(raw, provider)
    headers = [("source", b"web")]
    producer.produce("t", value=b"queued", headers=headers)
    with pytest.raises(BufferError):
        producer.produce("t", value=b"no room")
    assert headers == [("source", b"web")]  # the caller's list is copied, not modified
    queued, refused = exporter.get_finished_spans()
    assert queued.status.code is StatusCode.UNSET
    assert refused.status.code is StatusCode.ERROR
    assert refused.attributes["error.type"] == "BufferError"
    raw.purge()


class _BrokenPropagator:
    fields: set[str] = set()

    def inject(self, carrier: Any, context: Context | None = None, setter: Any = None) -> None:
        raise RuntimeError("broken inject")

    def extract(self, carrier: Any, context: Context | None = None, getter: Any = None) -> Context:
        raise RuntimeError("broken extract")


def test_kafka_tracing_failure_record_still_produced(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    raw = _producer(f"127.0.0.1:{_closed_port()}", log_level=0)
    producer = TracedProducer(raw, provider, propagator=_BrokenPropagator())
    delivered: list[bytes] = []
    producer.produce(
        "t",
        value=b"payload",
        headers=[("source", b"web")],
        on_delivery=lambda error, message: delivered.append(message.value()),
    )
    raw.purge()  # fails the queued record at once: its delivery report shows what was queued
    raw.poll(0)
    assert delivered == [b"payload"]
    (span,) = exporter.get_finished_spans()
    assert span.name == "send t"
