"""One trace crossing a service on our SDK and one on the OpenTelemetry SDK arrives as one trace."""

from __future__ import annotations

import time

import httpx
from opentelemetry.sdk.resources import Resource as OtelResource
from opentelemetry.sdk.trace import TracerProvider as OtelTracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor as OtelSimpleSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from datatracing.model import SpanKind, Trace
from datatracing.pipeline.runtime._stack import Stack
from datatracing.sdk import (
    KafkaSpanExporter,
    SimpleSpanProcessor,
    TracerProvider,
    extract,
    headers_getter,
    headers_setter,
    inject,
)
from datatracing.sdk.otel import DataTracingKafkaSpanExporter


def test_trace_across_our_sdk_and_opentelemetry_sdk_stored_as_one_trace(stack: Stack) -> None:
    bootstrap, topic = stack.settings.kafka.bootstrap_servers, stack.settings.topics.spans
    ours = TracerProvider(service_name="orders-api", shutdown_on_exit=False)
    ours.add_span_processor(SimpleSpanProcessor(KafkaSpanExporter(bootstrap, topic)))
    theirs = OtelTracerProvider(resource=OtelResource.create({"service.name": "legacy-billing"}))
    theirs.add_span_processor(OtelSimpleSpanProcessor(DataTracingKafkaSpanExporter(bootstrap, topic)))
    w3c = TraceContextTextMapPropagator()

    # orders-api (our SDK) calls legacy-billing (OpenTelemetry SDK), which calls back into orders-api.
    with ours.get_tracer("orders").start_as_current_span("POST /orders", kind=SpanKind.SERVER) as root:
        outgoing: dict[str, str] = {}
        inject(outgoing, setter=headers_setter)
        with theirs.get_tracer("billing").start_as_current_span("charge", context=w3c.extract(outgoing)):
            callback: dict[str, str] = {}
            w3c.inject(callback)
            parent = extract(callback, getter=headers_getter)
            with ours.get_tracer("orders").start_as_current_span("GET /orders/{id}", context=parent):
                pass
    trace_id = root.span_context.trace_id
    assert ours.force_flush(30)
    assert theirs.force_flush(30_000)

    deadline = time.monotonic() + 60
    while True:
        response = httpx.get(f"{stack.query_url}/v1/traces/{trace_id}", timeout=10)
        if response.status_code == 200 and len(response.json()["data"]["spans"]) == 3:
            break
        assert time.monotonic() < deadline, "the mixed trace never arrived whole"
        time.sleep(0.2)
    trace = Trace.model_validate(response.json()["data"])
    by_name = {s.name: s for s in trace.spans}
    assert trace.services == ["legacy-billing", "orders-api"]
    assert by_name["POST /orders"].parent_span_id is None
    assert by_name["charge"].parent_span_id == by_name["POST /orders"].span_id
    assert by_name["GET /orders/{id}"].parent_span_id == by_name["charge"].span_id
    ours.shutdown()
    theirs.shutdown()
