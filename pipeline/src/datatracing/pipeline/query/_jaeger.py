"""The model as Jaeger's UI JSON model (`uimodel.Trace`), mapped the way Jaeger's query service does it.

Jaeger's query path sorts attributes by key (its `SortCollections` adjuster), converts OTLP to Jaeger's
model with the OpenTelemetry Collector's translator (`traces_to_jaegerproto.go`) and writes the UI JSON
(`uimodel/converter/v1/json/from_domain.go`). We do the same in one pass over plain dicts:

- ids: trace ids whose high 64 bits are zero print as 16 hex characters, as Jaeger's `TraceID.String()`;
- references: the parent as the first `CHILD_OF`, each link as `FOLLOWS_FROM` (`CHILD_OF` when the link
  carries `opentracing.ref_type: child_of`; a link to the parent only retypes the parent reference);
- tags: `otel.scope.name`/`otel.scope.version`, the span attributes sorted by key, `span.kind`,
  `otel.status_code` (`OK`/`ERROR`), `error: true` on errors, `otel.status_description`,
  `w3c.tracestate`; int64 beyond ±(2^53 - 1) as a string, bytes as base64 (`binary`), arrays and maps as
  compact JSON strings;
- logs: one per event sorted by time, fields `event` = the name (unless an attribute is so named) then
  the sorted attributes;
- processes: one per distinct resource, `p1`, `p2`, ... in order of first use; `service.name` becomes
  `serviceName`, the other resource attributes sorted become its tags;
- times in microseconds, truncated; span `flags` are omitted, as the translator never sets them.

Example:
    >>> from datatracing.model import Span, Trace
    >>> span = Span(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", span_id="00f067aa0ba902b7",
    ...             name="GET /", start_time_unix_nano=5_000, end_time_unix_nano=8_000)
    >>> jaeger_trace(Trace.from_spans([span]))["spans"][0]["duration"]
    3
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from datatracing.model import (
    AttributeValue,
    InstrumentationScope,
    Resource,
    Span,
    SpanKind,
    StatusCode,
    Trace,
)

__all__ = ["jaeger_id", "jaeger_process", "jaeger_tag", "jaeger_trace"]

_MAX_SAFE = 2**53 - 1
_NO_SERVICE = "OTLPResourceNoServiceName"  # the translator's name for a resource without attributes
_KINDS = {
    SpanKind.INTERNAL: "internal",
    SpanKind.SERVER: "server",
    SpanKind.CLIENT: "client",
    SpanKind.PRODUCER: "producer",
    SpanKind.CONSUMER: "consumer",
}
_ZERO_HIGH = "0" * 16


def jaeger_id(trace_id: str) -> str:
    """Jaeger's spelling of a trace id: the low 64 bits alone when the high 64 bits are zero."""
    return trace_id[16:] if trace_id.startswith(_ZERO_HIGH) else trace_id


def _raw(value: AttributeValue) -> Any:
    # What pcommon's `AsString` serialises for arrays and maps: Go's encoding/json of `AsRaw()`.
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list):
        return [_raw(v) for v in value]
    if isinstance(value, dict):
        return {k: _raw(v) for k, v in value.items()}
    if isinstance(value, float):
        if not math.isfinite(value):
            return _go_float(value)
        if value.is_integer() and abs(value) < 1e21:
            return int(value)
    return value


def _go_float(value: float) -> str:
    # JSON has no NaN or infinity; Go's strconv spellings keep the value readable.
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")


def jaeger_tag(key: str, value: AttributeValue) -> dict[str, Any]:
    """One typed Jaeger key/value for an attribute."""
    kind = type(value)
    if kind is str:
        return {"key": key, "type": "string", "value": value}
    if kind is bool:
        return {"key": key, "type": "bool", "value": value}
    if kind is int:
        number: int = value  # type: ignore[assignment]
        return {
            "key": key,
            "type": "int64",
            "value": number if -_MAX_SAFE <= number <= _MAX_SAFE else str(number),
        }
    if kind is float:
        real: float = value  # type: ignore[assignment]
        if math.isfinite(real):
            return {"key": key, "type": "float64", "value": real}
        return {"key": key, "type": "float64", "value": _go_float(real)}
    if kind is bytes:
        raw: bytes = value  # type: ignore[assignment]
        return {"key": key, "type": "binary", "value": base64.b64encode(raw).decode("ascii")}
    if value is None:  # OTLP's empty value: the translator leaves the default type and an empty string
        return {"key": key, "type": "string", "value": ""}
    text = json.dumps(_raw(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return {"key": key, "type": "string", "value": text}


def _sorted_tags(attributes: dict[str, AttributeValue], skip: str | None = None) -> list[dict[str, Any]]:
    return [jaeger_tag(k, attributes[k]) for k in sorted(attributes) if k != skip]


def jaeger_process(resource: Resource) -> dict[str, Any]:
    """The Jaeger process of a resource: `service.name` and the other attributes as sorted tags."""
    attributes = resource.attributes
    if not attributes:
        return {"serviceName": _NO_SERVICE, "tags": []}
    service = attributes.get("service.name")
    return {
        "serviceName": service if isinstance(service, str) else "",
        "tags": _sorted_tags(attributes, skip="service.name"),
    }


def _scope_tags(scope: InstrumentationScope) -> list[dict[str, Any]]:
    tags = []
    if scope.name:
        tags.append({"key": "otel.scope.name", "type": "string", "value": scope.name})
    if scope.version:
        tags.append({"key": "otel.scope.version", "type": "string", "value": scope.version})
    return tags


def _references(span: Span, jtrace_id: str) -> list[dict[str, str]]:
    refs: list[dict[str, str]] = []
    parent = span.parent_span_id
    if parent is not None:
        refs.append({"refType": "CHILD_OF", "traceID": jtrace_id, "spanID": parent})
    for link in span.links:
        ref_type = "CHILD_OF" if link.attributes.get("opentracing.ref_type") == "child_of" else "FOLLOWS_FROM"
        if parent is not None and link.span_id == parent and link.trace_id == span.trace_id:
            refs[0]["refType"] = ref_type
            continue
        refs.append({"refType": ref_type, "traceID": jaeger_id(link.trace_id), "spanID": link.span_id})
    return refs


def _span_tags(span: Span, scope_tags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tags = list(scope_tags)
    attributes = span.attributes
    if attributes:
        tags.extend(jaeger_tag(k, attributes[k]) for k in sorted(attributes))
    kind = _KINDS.get(span.kind)
    if kind is not None:
        tags.append({"key": "span.kind", "type": "string", "value": kind})
    status = span.status
    if status.code is StatusCode.ERROR:
        tags.append({"key": "otel.status_code", "type": "string", "value": "ERROR"})
        tags.append({"key": "error", "type": "bool", "value": True})
    elif status.code is StatusCode.OK:
        tags.append({"key": "otel.status_code", "type": "string", "value": "OK"})
    if status.message:
        tags.append({"key": "otel.status_description", "type": "string", "value": status.message})
    if span.trace_state:
        tags.append({"key": "w3c.tracestate", "type": "string", "value": span.trace_state})
    return tags


def _logs(span: Span) -> list[dict[str, Any]]:
    logs = []
    for event in sorted(span.events, key=lambda e: e.time_unix_nano):
        fields = []
        if event.name and "event" not in event.attributes:
            fields.append({"key": "event", "type": "string", "value": event.name})
        fields.extend(_sorted_tags(event.attributes))
        logs.append({"timestamp": event.time_unix_nano // 1000, "fields": fields})
    return logs


def jaeger_trace(trace: Trace) -> dict[str, Any]:
    """The Jaeger UI JSON of one trace (what `GET /api/traces/{id}` puts in `data[0]`)."""
    jtrace_id = jaeger_id(trace.trace_id)
    processes: dict[str, dict[str, Any]] = {}
    by_content: dict[tuple[Any, ...], str] = {}
    by_resource: dict[int, str] = {}
    scope_cache: dict[int, list[dict[str, Any]]] = {}
    keep_alive: list[object] = []  # ids below stay unique only while their objects live
    spans = []
    for span in trace.spans:
        resource = span.resource
        pid = by_resource.get(id(resource))
        if pid is None:
            process = jaeger_process(resource)
            content = (process["serviceName"], *((t["key"], t["type"], t["value"]) for t in process["tags"]))
            pid = by_content.get(content)
            if pid is None:
                pid = f"p{len(processes) + 1}"
                by_content[content] = pid
                processes[pid] = process
            by_resource[id(resource)] = pid
            keep_alive.append(resource)
        scope = span.scope
        scope_tags = scope_cache.get(id(scope))
        if scope_tags is None:
            scope_tags = scope_cache[id(scope)] = _scope_tags(scope)
            keep_alive.append(scope)
        start = span.start_time_unix_nano
        spans.append(
            {
                "traceID": jtrace_id,
                "spanID": span.span_id,
                "operationName": span.name,
                "references": _references(span, jtrace_id),
                "startTime": start // 1000,
                "duration": (span.end_time_unix_nano - start) // 1000,
                "tags": _span_tags(span, scope_tags),
                "logs": _logs(span) if span.events else [],
                "processID": pid,
                "warnings": None,
            }
        )
    return {"traceID": jtrace_id, "spans": spans, "processes": processes, "warnings": None}
