"""The model as Jaeger's UI JSON model (`uimodel.Trace`), mapped the way Jaeger's query service does it.

Jaeger's query path sorts attributes by key (its `SortCollections` adjuster), converts OTLP to Jaeger's
model with the OpenTelemetry Collector's translator (`traces_to_jaegerproto.go`) and writes the UI JSON
(`uimodel/converter/v1/json/from_domain.go`). We do the same in one pass that writes the JSON text
directly (no per-span objects, and one encoding per distinct tag within a trace); `jaeger_trace` reads
that text back into plain dicts for callers that want them:

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
    >>> jaeger_trace_json(Trace.from_spans([span]))[:46]
    '{"traceID":"4bf92f3577b34da6a3ce929d0e0e4736",'
"""

from __future__ import annotations

import base64
import json
import math
from json.encoder import encode_basestring
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

__all__ = ["jaeger_id", "jaeger_process", "jaeger_tag", "jaeger_trace", "jaeger_trace_json"]

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
_enc: Any = encode_basestring  # a JSON string literal, non-ASCII kept (the C encoder when available)
_TAG = '{"key":%s,"type":"%s","value":%s}'
_ERROR_TAGS = (
    '{"key":"otel.status_code","type":"string","value":"ERROR"}',
    '{"key":"error","type":"bool","value":true}',
)
_OK_TAG = '{"key":"otel.status_code","type":"string","value":"OK"}'
_KIND_TAGS = {k: _TAG % ('"span.kind"', "string", '"%s"' % v) for k, v in _KINDS.items()}  # noqa: UP031


def jaeger_id(trace_id: str) -> str:
    """Jaeger's spelling of a trace id: the low 64 bits alone when the high 64 bits are zero."""
    return trace_id[16:] if trace_id.startswith(_ZERO_HIGH) else trace_id


def _go_float(value: float) -> str:
    # JSON has no NaN or infinity; Go's strconv spellings keep the value readable.
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")


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


def _tag_text(key: str, value: AttributeValue) -> str:
    """The JSON text of one typed Jaeger key/value."""
    kind = value.__class__
    if kind is str:
        return _TAG % (_enc(key), "string", _enc(value))
    if kind is bool:
        return _TAG % (_enc(key), "bool", "true" if value else "false")
    if kind is int:
        number: int = value  # type: ignore[assignment]
        text = str(number) if -_MAX_SAFE <= number <= _MAX_SAFE else f'"{number}"'
        return _TAG % (_enc(key), "int64", text)
    if kind is float:
        real: float = value  # type: ignore[assignment]
        return _TAG % (
            _enc(key),
            "float64",
            float.__repr__(real) if math.isfinite(real) else f'"{_go_float(real)}"',
        )
    if kind is bytes:
        raw: bytes = value  # type: ignore[assignment]
        return _TAG % (_enc(key), "binary", '"%s"' % base64.b64encode(raw).decode("ascii"))  # noqa: UP031
    if value is None:  # OTLP's empty value: the translator leaves the default type and an empty string
        return _TAG % (_enc(key), "string", '""')
    text = json.dumps(_raw(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return _TAG % (_enc(key), "string", _enc(text))


class _Tags:
    """Tag texts memoised per trace: the same attribute on many spans is encoded once."""

    __slots__ = ("_memo",)

    def __init__(self) -> None:
        self._memo: dict[tuple[str, type, Any], str] = {}

    def text(self, key: str, value: AttributeValue) -> str:
        if isinstance(value, (list, dict)):
            return _tag_text(key, value)
        memo_key = (key, value.__class__, value)  # the class keeps True, 1 and 1.0 apart
        found = self._memo.get(memo_key)
        if found is None:
            found = self._memo[memo_key] = _tag_text(key, value)
        return found

    def sorted(self, attributes: dict[str, AttributeValue], skip: str | None = None) -> list[str]:
        return [self.text(k, attributes[k]) for k in sorted(attributes) if k != skip]


def jaeger_tag(key: str, value: AttributeValue) -> dict[str, Any]:
    """One typed Jaeger key/value for an attribute, as a dict."""
    tag: dict[str, Any] = json.loads(_tag_text(key, value))
    return tag


def _process_text(resource: Resource, tags: _Tags) -> str:
    attributes = resource.attributes
    if not attributes:
        return '{"serviceName":"%s","tags":[]}' % _NO_SERVICE  # noqa: UP031
    service = attributes.get("service.name")
    return '{"serviceName":%s,"tags":[%s]}' % (  # noqa: UP031
        _enc(service if isinstance(service, str) else ""),
        ",".join(tags.sorted(attributes, skip="service.name")),
    )


def jaeger_process(resource: Resource) -> dict[str, Any]:
    """The Jaeger process of a resource: `service.name` and the other attributes as sorted tags."""
    process: dict[str, Any] = json.loads(_process_text(resource, _Tags()))
    return process


def _scope_tags(scope: InstrumentationScope) -> list[str]:
    tags = []
    if scope.name:
        tags.append(_TAG % ('"otel.scope.name"', "string", _enc(scope.name)))
    if scope.version:
        tags.append(_TAG % ('"otel.scope.version"', "string", _enc(scope.version)))
    return tags


def _ref(ref_type: str, trace_id: str, span_id: str) -> str:
    return '{"refType":"%s","traceID":"%s","spanID":"%s"}' % (ref_type, trace_id, span_id)  # noqa: UP031


def _references(span: Span, jtrace_id: str) -> str:
    parent = span.parent_span_id
    if not span.links:
        return "" if parent is None else _ref("CHILD_OF", jtrace_id, parent)
    parent_type = "CHILD_OF"
    refs = []
    for link in span.links:
        ref_type = "CHILD_OF" if link.attributes.get("opentracing.ref_type") == "child_of" else "FOLLOWS_FROM"
        if parent is not None and link.span_id == parent and link.trace_id == span.trace_id:
            parent_type = ref_type  # a link to the parent retypes the parent reference
            continue
        refs.append(_ref(ref_type, jaeger_id(link.trace_id), link.span_id))
    if parent is not None:
        refs.insert(0, _ref(parent_type, jtrace_id, parent))
    return ",".join(refs)


def _span_tags(span: Span, scope_tags: list[str], tags: _Tags) -> str:
    parts = list(scope_tags)
    attributes = span.attributes
    if attributes:
        parts.extend(tags.sorted(attributes))
    kind_tag = _KIND_TAGS.get(span.kind)
    if kind_tag is not None:
        parts.append(kind_tag)
    status = span.status
    if status.code is StatusCode.ERROR:
        parts.extend(_ERROR_TAGS)
    elif status.code is StatusCode.OK:
        parts.append(_OK_TAG)
    if status.message:
        parts.append(_TAG % ('"otel.status_description"', "string", _enc(status.message)))
    if span.trace_state:
        parts.append(_TAG % ('"w3c.tracestate"', "string", _enc(span.trace_state)))
    return ",".join(parts)


def _logs(span: Span, tags: _Tags) -> str:
    logs = []
    for event in sorted(span.events, key=lambda e: e.time_unix_nano):
        fields = []
        if event.name and "event" not in event.attributes:
            fields.append(_TAG % ('"event"', "string", _enc(event.name)))
        fields.extend(tags.sorted(event.attributes))
        logs.append('{"timestamp":%d,"fields":[%s]}' % (event.time_unix_nano // 1000, ",".join(fields)))  # noqa: UP031
    return ",".join(logs)


_SPAN = (
    '{"traceID":"%s","spanID":"%s","operationName":%s,"references":[%s],"startTime":%d,"duration":%d,'
    '"tags":[%s],"logs":[%s],"processID":"%s","warnings":null}'
)


def jaeger_trace_json(trace: Trace) -> str:
    """The Jaeger UI JSON text of one trace (what `GET /api/traces/{id}` puts in `data[0]`)."""
    jtrace_id = jaeger_id(trace.trace_id)
    tags = _Tags()
    pid_of_text: dict[str, str] = {}
    pid_of_resource: dict[int, str] = {}
    scope_cache: dict[int, list[str]] = {}
    keep_alive: list[object] = []  # the ids used as keys stay unique only while their objects live
    spans = []
    for span in trace.spans:
        resource = span.resource
        pid = pid_of_resource.get(id(resource))
        if pid is None:
            text = _process_text(resource, tags)
            pid = pid_of_text.get(text)
            if pid is None:
                pid = pid_of_text[text] = f"p{len(pid_of_text) + 1}"
            pid_of_resource[id(resource)] = pid
            keep_alive.append(resource)
        scope = span.scope
        scope_tags = scope_cache.get(id(scope))
        if scope_tags is None:
            scope_tags = scope_cache[id(scope)] = _scope_tags(scope)
            keep_alive.append(scope)
        start = span.start_time_unix_nano
        spans.append(
            _SPAN
            % (
                jtrace_id,
                span.span_id,
                _enc(span.name),
                _references(span, jtrace_id),
                start // 1000,
                (span.end_time_unix_nano - start) // 1000,
                _span_tags(span, scope_tags, tags),
                _logs(span, tags) if span.events else "",
                pid,
            )
        )
    processes = ",".join('"%s":%s' % (pid, text) for text, pid in pid_of_text.items())  # noqa: UP031
    return '{"traceID":"%s","spans":[%s],"processes":{%s},"warnings":null}' % (  # noqa: UP031
        jtrace_id,
        ",".join(spans),
        processes,
    )


def jaeger_trace(trace: Trace) -> dict[str, Any]:
    """The Jaeger UI JSON of one trace as plain dicts."""
    parsed: dict[str, Any] = json.loads(jaeger_trace_json(trace))
    return parsed
