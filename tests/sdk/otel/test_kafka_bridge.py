"""One trace across a DataTracing-SDK service and an OpenTelemetry-SDK service, both on one topic."""

from __future__ import annotations

import gc
import socket
import time
import uuid
import weakref
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider as OtelTracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor as OtelSimpleSpanProcessor
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter as OtelMemory
from opentelemetry.trace import SpanKind as OtelSpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from datatracing.model import Span, SpanKind
from datatracing.sdk import KafkaSpanExporter, SimpleSpanProcessor, TracerProvider, extract, inject
from datatracing.sdk.otel import DataTracingKafkaSpanExporter
from datatracing.wire import (
    CONTENT_TYPE_HEADER,
    CONTENT_TYPE_OTLP_PROTO,
    decode_spans,
    partition_for,
    trace_key,
)

PARTITIONS = 2


def _consume(bootstrap: str, topic: str, expected_spans: int, timeout_s: float = 20) -> list[Any]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    messages: list[Any] = []
    spans = 0
    deadline = time.monotonic() + timeout_s
    try:
        while spans < expected_spans and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                messages.append(message)
                spans += len(decode_spans(message.value() or b""))
    finally:
        consumer.close()
    return messages


def test_otel_bridge_mixed_trace_one_trace_id_parents_right(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("otel-bridge", partitions=PARTITIONS)
    # Service "checkout" runs on the DataTracing SDK.
    ours = TracerProvider(service_name="checkout", shutdown_on_exit=False)
    ours_exporter = KafkaSpanExporter(kafka_bootstrap, topic)
    ours.add_span_processor(SimpleSpanProcessor(ours_exporter))
    checkout = ours.get_tracer("checkout")
    # Service "pricing" runs on the OpenTelemetry SDK.
    theirs = OtelTracerProvider(resource=Resource({"service.name": "pricing"}))
    bridge = DataTracingKafkaSpanExporter(kafka_bootstrap, topic)
    theirs.add_span_processor(OtelSimpleSpanProcessor(bridge))
    pricing = theirs.get_tracer("pricing")
    w3c = TraceContextTextMapPropagator()

    with checkout.start_as_current_span("POST /checkout", kind=SpanKind.SERVER):
        to_pricing: dict[str, str] = {}
        inject(to_pricing)  # ours → OpenTelemetry
        with pricing.start_as_current_span(
            "GET /price", context=w3c.extract(to_pricing), kind=OtelSpanKind.SERVER
        ):
            with pricing.start_as_current_span("lookup stock", kind=OtelSpanKind.CLIENT):
                to_inventory: dict[str, str] = {}
                w3c.inject(to_inventory)  # OpenTelemetry → ours
            checkout.start_span("GET /stock", context=extract(to_inventory), kind=SpanKind.SERVER).end()
    assert ours.force_flush(20)
    assert bridge.force_flush(20_000)

    messages = _consume(kafka_bootstrap, topic, expected_spans=4)
    spans: dict[str, Span] = {}
    for message in messages:
        for span in decode_spans(message.value()):
            spans[span.name] = span
            assert message.key() == trace_key(span.trace_id)
            assert message.partition() == partition_for(message.key(), PARTITIONS)
        assert dict(message.headers())[CONTENT_TYPE_HEADER] == CONTENT_TYPE_OTLP_PROTO.encode()
    assert set(spans) == {"POST /checkout", "GET /price", "lookup stock", "GET /stock"}
    assert len({s.trace_id for s in spans.values()}) == 1
    assert spans["POST /checkout"].parent_span_id is None
    assert spans["GET /price"].parent_span_id == spans["POST /checkout"].span_id
    assert spans["lookup stock"].parent_span_id == spans["GET /price"].span_id
    assert spans["GET /stock"].parent_span_id == spans["lookup stock"].span_id
    assert spans["GET /price"].service_name == "pricing"
    assert spans["GET /stock"].service_name == "checkout"
    assert spans["GET /price"].kind is SpanKind.SERVER
    assert bridge.delivered_spans == 2
    theirs.shutdown()
    ours.shutdown()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_otel_bridge_unconvertible_span_counted_others_queued() -> None:
    provider = OtelTracerProvider()
    memory = OtelMemory()
    provider.add_span_processor(OtelSimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    tracer.start_span("fine", attributes={"n": 1}).end()
    tracer.start_span("huge", attributes={"n": 2**70}).end()  # beyond OTLP's int64
    exporter = DataTracingKafkaSpanExporter(
        f"127.0.0.1:{_closed_port()}", "spans", producer_config={"log_level": 0}, shutdown_timeout_s=0.1
    )
    assert exporter.export(memory.get_finished_spans()) is SpanExportResult.FAILURE
    assert exporter.invalid_spans == 1
    assert exporter.dropped_spans == 0
    exporter.shutdown()
    assert exporter.export(memory.get_finished_spans()) is SpanExportResult.FAILURE
    assert exporter.failed_spans == 1  # the fine one, purged at shutdown: no broker


def test_otel_bridge_exporter_freed_without_cyclic_gc() -> None:
    # A reference cycle through the client's callbacks would leave the librdkafka client to the cyclic
    # GC, which may run in a forked child and destroy the client there (hang or crash).
    gc.disable()
    try:
        exporter = DataTracingKafkaSpanExporter(
            f"127.0.0.1:{_closed_port()}", producer_config={"log_level": 0}
        )
        ref = weakref.ref(exporter)
        del exporter
        assert ref() is None
    finally:
        gc.enable()
