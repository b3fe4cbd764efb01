"""Real clients against a real uvicorn server: our SDK's exporter and OpenTelemetry Python's."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import pytest

from datatracing.sdk import (
    ExportResult,
    InMemorySpanExporter,
    OtlpHttpSpanExporter,
    ReadableSpan,
    SimpleSpanProcessor,
    TracerProvider,
)
from datatracing.wire import partition_for, request_to_spans, trace_key
from tests.pipeline.ingest.ingest_support import (
    PARTITIONS,
    GatewayFactory,
    consume,
    decoded,
    otel_sdk_request,
    uvicorn_server,
)


def _our_spans() -> list[ReadableSpan]:
    spans: list[ReadableSpan] = []

    class Keep(SimpleSpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            spans.append(span)

    provider = TracerProvider(service_name="orders", shutdown_on_exit=False)
    provider.add_span_processor(Keep(InMemorySpanExporter()))
    tracer = provider.get_tracer("orders.api")
    for index in range(3):
        with tracer.start_as_current_span(f"request {index}"):
            tracer.start_span("db query").end()
    return spans


def _otel_spans() -> list[Any]:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as OtelTracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor as OtelSimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, Status, StatusCode

    memory = InMemorySpanExporter()
    provider = OtelTracerProvider(resource=Resource.create({"service.name": "otel-billing"}))
    provider.add_span_processor(OtelSimpleSpanProcessor(memory))
    tracer = provider.get_tracer("billing", "2.0")
    for index in range(2):
        with tracer.start_as_current_span(f"invoice {index}", kind=SpanKind.SERVER) as root:
            root.set_attribute("invoice.lines", index + 1)
            root.add_event("computed", {"total": 9.5})
            with tracer.start_as_current_span("charge", kind=SpanKind.CLIENT) as child:
                child.set_status(Status(StatusCode.ERROR, "card declined"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def _check_landed(kafka_bootstrap: str, topic: str, trace_count: int, span_count: int, service: str) -> None:
    received = consume(kafka_bootstrap, topic, PARTITIONS, trace_count)
    assert len(received) == trace_count
    spans = [s for m in received for s in request_to_spans(decoded(m))]
    assert len(spans) == span_count
    for message in received:
        assert message.partition == partition_for(message.key, PARTITIONS)
        assert {trace_key(s.trace_id) for s in request_to_spans(decoded(message))} == {message.key}
    assert {s.service_name for s in spans} == {service}


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_ingest_our_otlp_http_exporter_spans_land_keyed(
    gateway: GatewayFactory, kafka_bootstrap: str, spans_topic: str, compression: str
) -> None:
    spans = _our_spans()
    with uvicorn_server(gateway()) as url:
        exporter = OtlpHttpSpanExporter(url, compression=compression, timeout_s=10)  # type: ignore[arg-type]
        assert exporter.export(spans) is ExportResult.SUCCESS
    _check_landed(kafka_bootstrap, spans_topic, 3, 6, "orders")


def test_ingest_opentelemetry_otlp_span_exporter_spans_land_keyed(
    gateway: GatewayFactory, kafka_bootstrap: str, spans_topic: str
) -> None:
    trace_exporter = pytest.importorskip(
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        reason="opentelemetry-exporter-otlp-proto-http is not installed (the payload test below covers it)",
    )
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.sdk.trace.export import SpanExportResult

    spans = _otel_spans()
    with uvicorn_server(gateway()) as url:
        exporter = trace_exporter.OTLPSpanExporter(
            endpoint=f"{url}/v1/traces", compression=Compression.Gzip, timeout=10
        )
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        exporter.shutdown()
    _check_landed(kafka_bootstrap, spans_topic, 2, 4, "otel-billing")


def test_ingest_opentelemetry_sdk_payload_with_its_headers_lands_keyed(
    gateway: GatewayFactory, kafka_bootstrap: str, spans_topic: str
) -> None:
    from opentelemetry.sdk.version import __version__

    spans = _otel_spans()
    body = otel_sdk_request(spans).SerializeToString()
    headers = {
        "Content-Type": "application/x-protobuf",
        "User-Agent": f"OTel-OTLP-Exporter-Python/{__version__}",
        "Content-Encoding": "gzip",
    }
    with uvicorn_server(gateway()) as url, httpx.Client() as client:
        response = client.post(f"{url}/v1/traces", content=gzip.compress(body), headers=headers)
    assert response.status_code == 200
    assert response.content == b""  # an empty ExportTraceServiceResponse
    _check_landed(kafka_bootstrap, spans_topic, 2, 4, "otel-billing")


def test_ingest_otel_payload_builder_matches_exporter_encoder() -> None:
    encoder = pytest.importorskip(
        "opentelemetry.exporter.otlp.proto.common.trace_encoder",
        reason="opentelemetry-exporter-otlp-proto-common is not installed",
    )
    spans = _otel_spans()
    assert otel_sdk_request(spans) == encoder.encode_spans(spans)
