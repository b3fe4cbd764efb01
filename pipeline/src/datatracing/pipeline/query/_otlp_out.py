"""Stored spans as OTLP `TracesData` for the APIs that answer in OTLP: Jaeger's `/api/v3` and Tempo.

Spans are grouped per resource (first use first) and per scope inside it, so a trace from three services
is three `ResourceSpans`, not one per change of service in time order. The protobuf comes from the
project's OTLP codec (`datatracing.wire.spans_to_request`; `ExportTraceServiceRequest` has the wire
layout of `TracesData` and Tempo's `Trace`). Two JSON spellings are offered:

- OTLP JSON (`otlp_json`): lowerCamelCase, hex trace and span ids, enums as integers, 64-bit integers
  as strings; what Jaeger's `/api/v3` writes;
- protobuf's stock JSON mapping (`proto_json`): the same with base64 ids and enum names, which is what
  Tempo's `jsonpb` writes.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from datatracing.model import Span
from datatracing.wire import spans_to_request

__all__ = ["otlp_json", "otlp_request", "proto_json", "tempo_trace_by_id_proto"]


def otlp_request(spans: Iterable[Span]) -> ExportTraceServiceRequest:
    """One request holding `spans`, grouped per resource then per scope, order kept inside a group."""
    groups: dict[int, list[Span]] = {}
    first_of: dict[int, Span] = {}
    for span in spans:
        key = id(span.resource)
        group = groups.get(key)
        if group is None:
            # Equal resources held by different objects share a group too.
            same = next((k for k, s in first_of.items() if s.resource == span.resource), None)
            if same is not None:
                groups[key] = group = groups[same]
            else:
                groups[key] = group = []
                first_of[key] = span
        group.append(span)
    ordered: list[Span] = []
    seen: set[int] = set()
    for group in groups.values():
        if id(group) not in seen:
            seen.add(id(group))
            ordered.extend(sorted(group, key=lambda s: (s.scope.name, s.scope.version)))
    return spans_to_request(ordered)


def _hex(value: str) -> str:
    return base64.b64decode(value).hex()


def _fix_ids(resource_spans: Sequence[dict[str, Any]]) -> None:
    for rs in resource_spans:
        for ss in rs.get("scopeSpans", ()):
            for span in ss.get("spans", ()):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = _hex(span[key])
                for link in span.get("links", ()):
                    for key in ("traceId", "spanId"):
                        if key in link:
                            link[key] = _hex(link[key])


def otlp_json(spans: Iterable[Span]) -> dict[str, Any]:
    """OTLP JSON `TracesData` (`{"resourceSpans": [...]}`) with hex ids and integer enums."""
    body: dict[str, Any] = json_format.MessageToDict(otlp_request(spans), use_integers_for_enums=True)
    body.setdefault("resourceSpans", [])
    _fix_ids(body["resourceSpans"])
    return body


def proto_json(spans: Iterable[Span]) -> dict[str, Any]:
    """Protobuf's stock JSON of `TracesData`: base64 ids and enum names, as Tempo's JSON answers."""
    body: dict[str, Any] = json_format.MessageToDict(otlp_request(spans))
    body.setdefault("resourceSpans", [])
    return body


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tempo_trace_by_id_proto(traces_data: bytes) -> bytes:
    """Tempo's `TraceByIDResponse{trace = 1}` around serialized `TracesData` (field 1, length-delimited)."""
    return b"\x0a" + _varint(len(traces_data)) + traces_data
