"""Round trip: spans made by the stock OpenTelemetry SDK → our store → `GET /api/traces/{id}`, compared
field by field with what the Collector's Jaeger translator (traces_to_jaegerproto.go) and Jaeger's query
path would make of the same spans. The expected side is computed here from the SDK's `ReadableSpan`,
independently of the code under test."""

from __future__ import annotations

import json
import time
from typing import Any

from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from starlette.testclient import TestClient

from datatracing.pipeline.store import ClickHouseTraceStore
from datatracing.sdk.otel import otel_span_to_model
from tests.pipeline.query.jaeger.jaeger_data import insert


def _tag(key: str, value: Any) -> dict[str, Any]:
    # attributeToJaegerProtoTag: OTel SDK attribute values are str, bool, int, float or sequences.
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    if isinstance(value, str):
        return {"key": key, "type": "string", "value": value}
    return {"key": key, "type": "string", "value": json.dumps(list(value), separators=(",", ":"))}


def _expected_span(span: ReadableSpan, processes: dict[str, str]) -> dict[str, Any]:
    ctx = span.context
    assert ctx is not None
    assert span.start_time is not None
    assert span.end_time is not None
    trace_id = f"{ctx.trace_id:032x}"
    refs = []
    if span.parent is not None:
        refs.append({"refType": "CHILD_OF", "traceID": trace_id, "spanID": f"{span.parent.span_id:016x}"})
    for link in span.links:
        refs.append(
            {
                "refType": "FOLLOWS_FROM",
                "traceID": f"{link.context.trace_id:032x}",
                "spanID": f"{link.context.span_id:016x}",
            }
        )
    scope = span.instrumentation_scope
    assert scope is not None
    tags = [{"key": "otel.scope.name", "type": "string", "value": scope.name}]
    if scope.version:
        tags.append({"key": "otel.scope.version", "type": "string", "value": scope.version})
    attributes = dict(span.attributes or {})
    tags += [_tag(k, attributes[k]) for k in sorted(attributes)]
    tags.append({"key": "span.kind", "type": "string", "value": span.kind.name.lower()})
    if span.status.status_code is StatusCode.ERROR:
        tags.append({"key": "otel.status_code", "type": "string", "value": "ERROR"})
        tags.append({"key": "error", "type": "bool", "value": True})
    elif span.status.status_code is StatusCode.OK:
        tags.append({"key": "otel.status_code", "type": "string", "value": "OK"})
    if span.status.description:
        tags.append({"key": "otel.status_description", "type": "string", "value": span.status.description})
    logs = [
        {
            "timestamp": event.timestamp // 1000,
            "fields": [{"key": "event", "type": "string", "value": event.name}]
            + [_tag(k, (event.attributes or {})[k]) for k in sorted(event.attributes or {})],
        }
        for event in sorted(span.events, key=lambda e: e.timestamp)
    ]
    service = str(span.resource.attributes["service.name"])
    return {
        "traceID": trace_id,
        "spanID": f"{ctx.span_id:016x}",
        "operationName": span.name,
        "references": refs,
        "startTime": span.start_time // 1000,
        "duration": (span.end_time - span.start_time) // 1000,
        "tags": tags,
        "logs": logs,
        "processID": processes[service],
        "warnings": None,
    }


def _expected_process(resource: Resource) -> dict[str, Any]:
    attrs = dict(resource.attributes)
    return {
        "serviceName": attrs.pop("service.name"),
        "tags": [_tag(k, attrs[k]) for k in sorted(attrs)],
    }


def test_otel_sdk_spans_through_store_match_collector_translator(
    client: TestClient, store: ClickHouseTraceStore
) -> None:
    exported = InMemorySpanExporter()
    resources = {
        name: Resource.create({"service.name": name, "deployment.environment": "test", "host.cores": 2})
        for name in ("otel-gateway", "otel-pricing")
    }
    providers = {}
    for name, resource in resources.items():
        providers[name] = TracerProvider(resource=resource)
        providers[name].add_span_processor(SimpleSpanProcessor(exported))
    gateway = providers["otel-gateway"].get_tracer("gateway.http", "1.4.0")
    pricing = providers["otel-pricing"].get_tracer("pricing.engine")
    now = time.time_ns() - 10 * 10**9
    other = otel_trace.SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, is_remote=True)

    root = gateway.start_span(
        "GET /price", kind=SpanKind.SERVER, start_time=now, attributes={"http.status_code": 200}
    )
    root.set_status(Status(StatusCode.OK))
    with otel_trace.use_span(root, end_on_exit=False):
        child = pricing.start_span(
            "price order",
            kind=SpanKind.CONSUMER,
            start_time=now + 1_234_567,
            links=[Link(other, {"link.kind": "batch"})],
            attributes={"order.id": 42, "ratio": 0.5, "express": True, "tags": ("a", "b"), "who": "x"},
        )
        child.add_event("cache miss", {"key": "k1", "n": 3}, timestamp=now + 2_000_999)
        child.add_event("retry", timestamp=now + 1_500_000)
        child.set_status(Status(StatusCode.ERROR, "no price"))
        child.end(end_time=now + 9_876_543)
    root.end(end_time=now + 20_000_001)

    finished = list(exported.get_finished_spans())
    insert(store, [otel_span_to_model(s) for s in finished])
    trace_id = f"{finished[0].context.trace_id:032x}"  # type: ignore[union-attr]

    response = client.get(f"/api/traces/{trace_id}")
    assert response.status_code == 200
    (got,) = response.json()["data"]

    processes = {got["processes"][s["processID"]]["serviceName"]: s["processID"] for s in got["spans"]}
    assert got["processes"] == {processes[name]: _expected_process(r) for name, r in resources.items()}
    expected = sorted((_expected_span(s, processes) for s in finished), key=lambda s: s["startTime"])
    assert len(got["spans"]) == len(expected) == 2
    for got_span, want in zip(got["spans"], expected, strict=True):
        for field in want:
            assert got_span[field] == want[field], field
        assert set(got_span) == set(want)
    assert got["traceID"] == trace_id
    assert got["warnings"] is None
