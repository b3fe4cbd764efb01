"""OpenTelemetry SDK spans → the canonical model, field for field as OTLP defines them.

The model then goes through `datatracing.wire.encode_spans`, the same OTLP codec the pipeline decodes
with, so a span recorded by the OpenTelemetry SDK and one recorded by ours are the same bytes on the
topic. Choices where OpenTelemetry's own encoder differs between versions:

- `flags`: the low 8 bits are the span's W3C trace flags, bit 8 says "is-remote is known" and bit 9
  "the parent (or linked span) is remote", as OTLP 1.1 defines them and as our SDK writes them.
- Resource and scope `schema_url` are not kept: the model has no field for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.sdk.resources import Resource as OtelResource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope as OtelScope
from opentelemetry.trace import SpanContext as OtelSpanContext

from datatracing.model import (
    Attributes,
    AttributeValue,
    InstrumentationScope,
    Resource,
    Span,
    SpanEvent,
    SpanKind,
    SpanLink,
    Status,
    StatusCode,
)

__all__ = ["ModelCache", "otel_span_to_model"]

_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200


def _flags(trace_flags: int, remote_context: OtelSpanContext | None) -> int:
    flags = (trace_flags & 0xFF) | _HAS_IS_REMOTE
    if remote_context is not None and remote_context.is_remote:
        flags |= _IS_REMOTE
    return flags


def _value(value: Any) -> AttributeValue:
    if value is None or isinstance(value, str | bool | int | float | bytes):
        return value
    if isinstance(value, Mapping):
        return {str(k): _value(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [_value(item) for item in value]
    return str(value)


def _attributes(attributes: Mapping[str, Any] | None) -> Attributes:
    if not attributes:
        return {}
    return {key: _value(value) for key, value in attributes.items()}


def _trace_state(context: OtelSpanContext) -> str:
    state = context.trace_state
    return state.to_header() if state else ""


class ModelCache:
    """Converted resources and scopes: a batch's spans share a handful of each."""

    def __init__(self) -> None:
        self._resources: dict[int, tuple[OtelResource, Resource]] = {}
        self._scopes: dict[int, tuple[OtelScope | None, InstrumentationScope]] = {}

    def resource(self, resource: OtelResource | None) -> Resource:
        if resource is None:
            return Resource()
        cached = self._resources.get(id(resource))
        if cached is None or cached[0] is not resource:
            cached = (resource, Resource(attributes=_attributes(resource.attributes)))
            self._resources[id(resource)] = cached
        return cached[1]

    def scope(self, scope: OtelScope | None) -> InstrumentationScope:
        cached = self._scopes.get(id(scope))
        if cached is None or cached[0] is not scope:
            model = (
                InstrumentationScope(
                    name=scope.name,
                    version=scope.version or "",
                    attributes=_attributes(getattr(scope, "attributes", None)),
                )
                if scope is not None
                else InstrumentationScope()
            )
            cached = (scope, model)
            self._scopes[id(scope)] = cached
        return cached[1]


def otel_span_to_model(span: ReadableSpan, cache: ModelCache | None = None) -> Span:
    """The canonical model of an ended OpenTelemetry SDK span (pydantic validation applies).

    Example:
        >>> model = otel_span_to_model(readable_span)  # doctest: +SKIP
        >>> datatracing.wire.encode_spans([model])  # doctest: +SKIP
    """
    cache = cache or ModelCache()
    context = span.context
    if context is None:
        raise ValueError(f"span {span.name!r} has no span context")
    parent = span.parent
    start = span.start_time or 0
    return Span(
        trace_id=f"{context.trace_id:032x}",
        span_id=f"{context.span_id:016x}",
        parent_span_id=f"{parent.span_id:016x}" if parent is not None else None,
        trace_state=_trace_state(context),
        flags=_flags(context.trace_flags, parent),
        name=span.name,
        # OpenTelemetry's API numbers kinds from INTERNAL = 0; OTLP from UNSPECIFIED = 0.
        kind=SpanKind(span.kind.value + 1),
        start_time_unix_nano=start,
        end_time_unix_nano=span.end_time if span.end_time is not None else start,
        attributes=_attributes(span.attributes),
        dropped_attributes_count=span.dropped_attributes,
        events=tuple(
            SpanEvent(
                name=event.name,
                time_unix_nano=event.timestamp,
                attributes=_attributes(event.attributes),
                dropped_attributes_count=event.dropped_attributes,
            )
            for event in span.events
        ),
        dropped_events_count=span.dropped_events,
        links=tuple(
            SpanLink(
                trace_id=f"{link.context.trace_id:032x}",
                span_id=f"{link.context.span_id:016x}",
                trace_state=_trace_state(link.context),
                attributes=_attributes(link.attributes),
                dropped_attributes_count=link.dropped_attributes,
                flags=_flags(link.context.trace_flags, link.context),
            )
            for link in span.links
        ),
        dropped_links_count=span.dropped_links,
        status=Status(code=StatusCode(span.status.status_code.value), message=span.status.description or ""),
        resource=cache.resource(span.resource),
        scope=cache.scope(span.instrumentation_scope),
    )
