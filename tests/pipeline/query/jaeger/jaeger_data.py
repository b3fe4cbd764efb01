"""Span builders for the query tests (times an hour ago: the store's TTL drops old rows)."""

from __future__ import annotations

import itertools
import time
from typing import Any

from datatracing.model import (
    InstrumentationScope,
    Resource,
    Span,
    SpanEvent,
    SpanKind,
    SpanLink,
    Status,
    StatusCode,
)
from datatracing.pipeline.store import ClickHouseTraceStore, SpanBatch

BASE_NS = (time.time_ns() // 10**9 - 3600) * 10**9
_ids = itertools.count(0x1000)


def new_trace_id() -> str:
    return f"{next(_ids):08x}" + "ab" * 12


def sid(n: int) -> str:
    return f"{n:016x}"


def span(
    tid: str,
    n: int,
    *,
    parent: int | None = None,
    service: str = "checkout",
    name: str = "GET /cart",
    start: int = 0,
    duration: int = 1_000_000,
    kind: SpanKind = SpanKind.SERVER,
    error: bool = False,
    attributes: dict[str, Any] | None = None,
    resource: Resource | None = None,
    **extra: Any,
) -> Span:
    return Span(
        trace_id=tid,
        span_id=sid(n),
        parent_span_id=None if parent is None else sid(parent),
        name=name,
        kind=kind,
        start_time_unix_nano=BASE_NS + start,
        end_time_unix_nano=BASE_NS + start + duration,
        attributes=attributes or {},
        resource=resource or Resource(attributes={"service.name": service}),
        **{"status": Status(code=StatusCode.ERROR, message="failed") if error else Status(), **extra},
    )


def rich_trace(tid: str, prefix: str) -> list[Span]:
    """Three services (`{prefix}-web`, `{prefix}-pay`, `{prefix}-db`), events, links, an error."""
    web = Resource(attributes={"service.name": f"{prefix}-web", "host.name": "web-1", "pid": 42})
    root = span(
        tid,
        1,
        resource=web,
        name="GET /checkout",
        duration=50_000_000,
        attributes={"http.method": "GET", "http.status_code": 200},
        events=(SpanEvent(name="cache miss", time_unix_nano=BASE_NS + 10_000, attributes={"key": "k1"}),),
        scope=InstrumentationScope(name="web.lib", version="1.2"),
        status=Status(code=StatusCode.OK),
    )
    charge = span(
        tid,
        2,
        parent=1,
        service=f"{prefix}-pay",
        name="charge",
        kind=SpanKind.CLIENT,
        start=1_000_000,
        duration=39_000_000,
        error=True,
        attributes={"payment.id": "p-1"},
        links=(SpanLink(trace_id="f" * 32, span_id="e" * 16),),
    )
    query = span(
        tid, 3, parent=2, service=f"{prefix}-db", name="SELECT cards", start=2_000_000, kind=SpanKind.CLIENT
    )
    return [root, charge, query]


def insert(store: ClickHouseTraceStore, spans: list[Span]) -> None:
    store.insert(SpanBatch.from_spans(spans))


def spans_from_otlp_json(doc: dict[str, Any]) -> list[Span]:
    """Model spans from an OTLP JSON document (hex ids turned into the base64 protobuf's JSON expects)."""
    import base64
    import copy

    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from datatracing.wire import request_to_spans

    doc = copy.deepcopy(doc)
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for sp in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in sp:
                        sp[key] = base64.b64encode(bytes.fromhex(sp[key])).decode()
    return request_to_spans(json_format.ParseDict(doc, ExportTraceServiceRequest()))
