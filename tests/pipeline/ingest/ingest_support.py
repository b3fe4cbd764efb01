"""Helpers of the ingest tests: OTLP requests, serving the gateway, reading the spans topic."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, NamedTuple

import httpx
from confluent_kafka import Consumer, TopicPartition
from fastapi import FastAPI
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from datatracing.model import InstrumentationScope, Resource, Span
from datatracing.pipeline.bench._serve import serve_config_in_thread
from datatracing.pipeline.broker import free_port
from datatracing.pipeline.ingest import IngestSettings, ingest_server_config
from datatracing.wire import spans_to_request

PARTITIONS = 4

#: `gateway(settings=..., api_key_check=..., bootstrap=..., extra=...)` (the `gateway` fixture).
GatewayFactory = Callable[..., FastAPI]

RESOURCE = Resource(attributes={"service.name": "checkout", "host.name": "h1"})
SCOPE = InstrumentationScope(name="checkout.orders", version="1.2")


def trace_id(n: int) -> str:
    return f"{n:032x}"


def make_spans(traces: Sequence[int], per_trace: int = 2, *, interleave: bool = True) -> list[Span]:
    """`per_trace` spans for each trace number, interleaved across traces like a batch exporter's."""
    by_trace = [
        [
            Span(
                trace_id=trace_id(t),
                span_id=f"{t * 1000 + i + 1:016x}",
                parent_span_id=None if i == 0 else f"{t * 1000 + 1:016x}",
                name=f"op{i}",
                start_time_unix_nano=1_700_000_000_000_000_000 + i,
                end_time_unix_nano=1_700_000_000_000_000_000 + 100 + i,
                attributes={"i": i, "trace": t},
                resource=RESOURCE,
                scope=SCOPE,
            )
            for i in range(per_trace)
        ]
        for t in traces
    ]
    if not interleave:
        return [s for spans in by_trace for s in spans]
    return [spans[i] for i in range(per_trace) for spans in by_trace]


def proto_body(spans: Sequence[Span]) -> bytes:
    return spans_to_request(spans).SerializeToString()


class Received(NamedTuple):
    key: bytes
    value: bytes
    partition: int
    headers: dict[str, bytes]


def consume(
    bootstrap: str, topic: str, partitions: int, count: int, *, timeout_s: float = 20, settle_s: float = 0.3
) -> list[Received]:
    """Read the topic from the start until `count` messages, then `settle_s` more for extras."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": topic, "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out: list[Received] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if len(out) >= count:
                deadline = min(deadline, time.monotonic() + settle_s)
            for message in consumer.consume(100, timeout=0.1):
                if message.error():
                    continue
                headers = {k: v for k, v in (message.headers() or [])}
                out.append(Received(message.key(), message.value(), message.partition(), headers))
    finally:
        consumer.close()
    return out


@contextlib.asynccontextmanager
async def asgi_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to `app` in process, with the app's lifespan running."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client,
    ):
        yield client


@contextlib.contextmanager
def uvicorn_server(
    app: FastAPI, settings: IngestSettings | None = None, timeout_s: float = 10
) -> Iterator[str]:
    """Serve `app` as `datatracing ingest` does (`ingest_server_config`, connections keeping
    `settings`' deadlines and bound) on a free loopback port in a thread; yields the base URL."""
    config = ingest_server_config(app, settings or IngestSettings(), port=free_port(), log_level="warning")
    with serve_config_in_thread(config, timeout_s) as url:
        yield url


def decoded(received: Received) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    request.ParseFromString(received.value)
    return request


def stats_of(app: FastAPI) -> Any:
    return app.state.ingest_stats


# --- the OpenTelemetry Python SDK's OTLP payload, built without its exporter package ------------


def _otel_value(value: Any) -> Any:
    from opentelemetry.proto.common.v1 import common_pb2

    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, str):
        return common_pb2.AnyValue(string_value=value)
    if isinstance(value, int):
        return common_pb2.AnyValue(int_value=value)
    if isinstance(value, float):
        return common_pb2.AnyValue(double_value=value)
    if isinstance(value, bytes):
        return common_pb2.AnyValue(bytes_value=value)
    return common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[_otel_value(v) for v in value]))


def _otel_attributes(attributes: Any) -> list[Any]:
    from opentelemetry.proto.common.v1 import common_pb2

    return [common_pb2.KeyValue(key=k, value=_otel_value(v)) for k, v in (attributes or {}).items()]


def _otel_flags(context: Any) -> int:
    flags = 0x100  # SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
    return flags | 0x200 if context is not None and context.is_remote else flags


def otel_sdk_request(spans: Sequence[Any]) -> ExportTraceServiceRequest:
    """What opentelemetry-exporter-otlp-proto-common's `encode_spans` makes of OpenTelemetry SDK
    `ReadableSpan`s (grouped by resource, then scope; span kind + 1; the is-remote flag bits)."""
    from opentelemetry.proto.common.v1 import common_pb2
    from opentelemetry.proto.resource.v1 import resource_pb2
    from opentelemetry.proto.trace.v1 import trace_pb2

    grouped: dict[Any, dict[Any, list[Any]]] = {}
    for span in spans:
        ctx = span.get_span_context()
        pb = trace_pb2.Span(
            trace_id=ctx.trace_id.to_bytes(16, "big"),
            span_id=ctx.span_id.to_bytes(8, "big"),
            trace_state=",".join(f"{k}={v}" for k, v in ctx.trace_state.items()),
            parent_span_id=span.parent.span_id.to_bytes(8, "big") if span.parent else None,
            name=span.name,
            kind=span.kind.value + 1,
            start_time_unix_nano=span.start_time,
            end_time_unix_nano=span.end_time,
            attributes=_otel_attributes(span.attributes),
            events=[
                trace_pb2.Span.Event(
                    name=e.name,
                    time_unix_nano=e.timestamp,
                    attributes=_otel_attributes(e.attributes),
                    dropped_attributes_count=e.dropped_attributes,
                )
                for e in span.events
            ]
            or None,
            links=[
                trace_pb2.Span.Link(
                    trace_id=lk.context.trace_id.to_bytes(16, "big"),
                    span_id=lk.context.span_id.to_bytes(8, "big"),
                    attributes=_otel_attributes(lk.attributes),
                    dropped_attributes_count=lk.dropped_attributes,
                    flags=_otel_flags(lk.context),
                )
                for lk in span.links
            ]
            or None,
            status=trace_pb2.Status(code=span.status.status_code.value, message=span.status.description),
            dropped_attributes_count=span.dropped_attributes,
            dropped_events_count=span.dropped_events,
            dropped_links_count=span.dropped_links,
            flags=_otel_flags(span.parent),
        )
        grouped.setdefault(span.resource, {}).setdefault(span.instrumentation_scope or None, []).append(pb)
    request = ExportTraceServiceRequest()
    for resource, scopes in grouped.items():
        rs = request.resource_spans.add(
            resource=resource_pb2.Resource(attributes=_otel_attributes(resource.attributes)),
            schema_url=resource.schema_url,
        )
        for scope, pbs in scopes.items():
            rs.scope_spans.add(
                scope=common_pb2.InstrumentationScope(
                    name=scope.name, version=scope.version, attributes=_otel_attributes(scope.attributes)
                )
                if scope
                else common_pb2.InstrumentationScope(),
                spans=pbs,
                schema_url=scope.schema_url if scope else None,
            )
    return request
