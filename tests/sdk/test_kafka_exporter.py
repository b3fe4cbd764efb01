"""`KafkaSpanExporter` against a real broker, and against a closed port (never blocks, counts)."""

from __future__ import annotations

import gc
import logging
import socket
import time
import uuid
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from datatracing.errors import UsageError
from datatracing.sdk import (
    BatchSpanProcessor,
    ExportResult,
    InMemorySpanExporter,
    KafkaSpanExporter,
    ReadableSpan,
    SimpleSpanProcessor,
    TracerProvider,
)
from datatracing.sdk._log import RateLimitedLog
from datatracing.sdk.exporters._publisher import KafkaTracePublisher, halving_chunks
from datatracing.wire import PARTITIONER, decode_spans, partition_for, trace_key


def _traces(count: int, children: int = 2) -> list[ReadableSpan]:
    spans: list[ReadableSpan] = []

    class Keep(SimpleSpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            spans.append(span)

    provider = TracerProvider(service_name="kafka-test", shutdown_on_exit=False)
    provider.add_span_processor(Keep(InMemorySpanExporter()))
    tracer = provider.get_tracer("t")
    for index in range(count):
        with tracer.start_as_current_span(f"root{index}", attributes={"payload": "x" * 50}):
            for child in range(children):
                tracer.start_span(f"child{child}", attributes={"payload": "y" * 50}).end()
    return spans


def _consume(
    bootstrap: str, topic: str, partitions: int, expected_spans: int, timeout_s: float = 20
) -> list[Any]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    messages: list[Any] = []
    spans = 0
    deadline = time.monotonic() + timeout_s
    try:
        while spans < expected_spans and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                messages.append(message)
                spans += len(decode_spans(message.value()))
    finally:
        consumer.close()
    return messages


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_kafka_exporter_one_message_per_trace_keyed_and_partitioned(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("sdk-spans", partitions=4)
    exporter = KafkaSpanExporter(kafka_bootstrap, topic)
    spans = _traces(6)
    assert exporter.export(spans) is ExportResult.SUCCESS
    assert exporter.force_flush(20)
    messages = _consume(kafka_bootstrap, topic, 4, expected_spans=18)
    assert len(messages) == 6
    by_trace: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        by_trace.setdefault(span.span_context.trace_id, []).append(span)
    for message in messages:
        trace_id = message.key().decode()
        assert message.key() == trace_key(trace_id)
        assert message.partition() == partition_for(message.key(), 4)
        assert dict(message.headers()) == {"content-type": b"application/x-protobuf"}
        assert decode_spans(message.value()) == [s.to_model() for s in by_trace[trace_id]]
    assert exporter.delivered_spans == 18
    assert exporter.dropped_spans == exporter.failed_spans == 0
    exporter.shutdown()


def test_kafka_exporter_large_trace_split_under_size_limit(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("sdk-split", partitions=1)
    exporter = KafkaSpanExporter(kafka_bootstrap, topic, max_message_bytes=1_000)
    spans = _traces(1, children=20)
    assert exporter.export(spans) is ExportResult.SUCCESS
    assert exporter.force_flush(20)
    messages = _consume(kafka_bootstrap, topic, 1, expected_spans=len(spans))
    assert len(messages) > 1
    assert all(len(m.value()) <= 1_000 for m in messages)
    assert len({m.key() for m in messages}) == 1
    decoded = [span for m in messages for span in decode_spans(m.value())]
    assert decoded == [s.to_model() for s in spans]
    exporter.shutdown()


def test_kafka_exporter_through_batch_processor_delivers_all(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("sdk-batch", partitions=2)
    exporter = KafkaSpanExporter(kafka_bootstrap, topic, producer_config={"partitioner": PARTITIONER})
    provider = TracerProvider(service_name="batch", shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_s=0.05))
    tracer = provider.get_tracer("t")
    for index in range(200):
        tracer.start_span(f"s{index}").end()
    assert provider.force_flush(20)
    assert exporter.delivered_spans == 200
    provider.shutdown()


def test_kafka_exporter_broker_down_returns_promptly_and_counts() -> None:
    exporter = KafkaSpanExporter(
        f"127.0.0.1:{_closed_port()}",
        "unreachable",
        max_queue_messages=5,
        delivery_timeout_s=30,
        shutdown_timeout_s=0.2,
    )
    spans = _traces(20, children=1)
    start = time.monotonic()
    result = exporter.export(spans)
    assert time.monotonic() - start < 1.0
    assert result is ExportResult.FAILURE
    assert exporter.dropped_spans == 30  # 15 traces of 2 spans did not fit in the local queue
    start = time.monotonic()
    assert exporter.force_flush(0.5) is False
    assert time.monotonic() - start < 2.0
    exporter.shutdown()
    assert exporter.failed_spans == 10  # the 5 queued traces, purged at shutdown
    assert exporter.export(spans) is ExportResult.FAILURE


def test_kafka_exporter_batch_processor_broker_down_host_never_blocks() -> None:
    exporter = KafkaSpanExporter(
        f"127.0.0.1:{_closed_port()}", "unreachable", max_queue_messages=10, shutdown_timeout_s=0.1
    )
    processor = BatchSpanProcessor(
        exporter, max_queue_size=100, max_export_batch_size=50, schedule_delay_s=0.01, export_timeout_s=1
    )
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    start = time.monotonic()
    for index in range(5000):
        tracer.start_span(f"s{index}").end()
    assert time.monotonic() - start < 2.0
    assert provider.force_flush(0.5) is False
    start = time.monotonic()
    provider.shutdown()
    assert time.monotonic() - start < 3.0
    assert exporter.dropped_spans + processor.dropped_spans > 0


def test_kafka_exporter_bad_config_usage_error() -> None:
    with pytest.raises(UsageError):
        KafkaSpanExporter("127.0.0.1:1", producer_config={"no.such.setting": 1})


def test_kafka_exporter_freed_without_cyclic_gc() -> None:
    # A reference cycle through the client's callbacks (error_cb, logger) would leave the librdkafka
    # client to the cyclic GC, which may run in a forked child and destroy the client there.
    gc.disable()
    try:
        exporter = KafkaSpanExporter(f"127.0.0.1:{_closed_port()}", producer_config={"log_level": 0})
        refs = [weakref.ref(exporter), weakref.ref(exporter._publisher)]
        del exporter
        assert [ref() for ref in refs] == [None, None]
    finally:
        gc.enable()


def test_kafka_exporter_after_shutdown_freed_without_cyclic_gc() -> None:
    # Queued messages hold their delivery callbacks; the purge at shutdown releases them.
    gc.disable()
    try:
        exporter = KafkaSpanExporter(
            f"127.0.0.1:{_closed_port()}", producer_config={"log_level": 0}, shutdown_timeout_s=0.1
        )
        exporter.export(_traces(2))
        exporter.shutdown()
        assert exporter.failed_spans == 6
        ref = weakref.ref(exporter)
        del exporter
        assert ref() is None
    finally:
        gc.enable()


def test_kafka_exporter_broker_down_broker_errors_counted() -> None:
    exporter = KafkaSpanExporter(
        f"127.0.0.1:{_closed_port()}", producer_config={"log_level": 0}, shutdown_timeout_s=0.1
    )
    exporter.export(_traces(1))
    deadline = time.monotonic() + 10
    while exporter.broker_errors == 0 and time.monotonic() < deadline:
        exporter.force_flush(0.05)  # serves the error callback
    assert exporter.broker_errors > 0
    exporter.shutdown()


def _publisher(**options: Any) -> KafkaTracePublisher:
    return KafkaTracePublisher(
        f"127.0.0.1:{_closed_port()}",
        log=RateLimitedLog(logging.getLogger("tests.publisher")),
        label="test publisher",
        producer_config={"log_level": 0},
        shutdown_timeout_s=0.1,
        **options,
    )


def _encode_names(names: list[str]) -> bytes | None:
    return None if "bad" in names else ",".join(names).encode()


def test_publisher_oversize_dropped_unencodable_skipped_rest_queued() -> None:
    publisher = _publisher(max_message_bytes=8)
    groups = {"a" * 32: ["ok", "bad", "ok2"], "b" * 32: ["far-too-long"]}
    assert publisher.publish("spans", groups, _encode_names) is False  # the oversize one was dropped
    assert (publisher.dropped_spans, publisher.failed_spans) == (1, 0)
    assert publisher.publish("spans", {"c" * 32: ["bad"]}, _encode_names) is True  # encode accounts
    publisher.shutdown()
    assert publisher.is_shutdown
    assert (publisher.dropped_spans, publisher.failed_spans, publisher.delivered_spans) == (1, 2, 0)


def test_publisher_bad_config_usage_error() -> None:
    with pytest.raises(UsageError):
        _publisher(max_queue_messages=-1)


@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=30),
    bad=st.sets(st.integers(0, 29), max_size=3),
    max_bytes=st.integers(1, 200),
)
def test_halving_chunks_any_items_order_kept_runs_fit(
    sizes: list[int], bad: set[int], max_bytes: int
) -> None:
    def encode(run: list[int]) -> bytes | None:
        return None if bad.intersection(run) else b"x" * sum(sizes[i] for i in run)

    items = list(range(len(sizes)))
    start = 0
    for payload, count in halving_chunks(items, encode, max_bytes):
        run = items[start : start + count]
        start += count
        assert payload == encode(run)
        if count > 1:
            assert payload is not None
            assert len(payload) <= max_bytes
    assert start == len(items)
