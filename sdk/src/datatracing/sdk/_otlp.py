"""`encode_otlp_spans`: ended SDK spans to OTLP protobuf bytes, through the one encoder in `datatracing.wire`.

The span's slots go to `wire.encode_span` as they are, with no model object built on the export
path, and each tracer's resource and scope are encoded once and kept on the tracer (both are
immutable). Spans are grouped by resource, then by scope, in order of first appearance, keeping their
order within a group; `datatracing.wire.decode_spans` reads the bytes back to the spans' `to_model()`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from datatracing.sdk._readable import ReadableSpan, otlp_flags
from datatracing.wire import LinkFields, encode_request, encode_resource, encode_scope, encode_span

if TYPE_CHECKING:
    from datatracing.sdk._tracer import Tracer

__all__ = ["encode_otlp_spans"]


def _header(tracer: Tracer) -> tuple[bytes, bytes]:
    """The tracer's encoded resource and scope, computed on first use."""
    cached = tracer.otlp_header
    if cached is None:
        cached = tracer.otlp_header = (encode_resource(tracer.resource), encode_scope(tracer.scope))
    return cached


def _links(span: ReadableSpan) -> list[LinkFields] | None:
    if not span._links:
        return None
    return [
        (c.trace_id, c.span_id, c.trace_state, otlp_flags(c, c.trace_flags), attributes, dropped)
        for c, attributes, dropped in span._links
    ]


def encode_otlp_spans(spans: Iterable[ReadableSpan]) -> bytes:
    """Serialize ended spans as one OTLP `ExportTraceServiceRequest`, grouped by resource and scope."""
    # encoded resource -> tracer -> encoded spans; dicts keep first-appearance order.
    groups: dict[bytes, dict[Tracer, list[bytes]]] = {}
    for span in spans:
        tracer = span._tracer
        resource = _header(tracer)[0]
        by_tracer = groups.get(resource)
        if by_tracer is None:
            by_tracer = groups[resource] = {}
        encoded = by_tracer.get(tracer)
        if encoded is None:
            encoded = by_tracer[tracer] = []
        # The slots go straight to the encoder, one call per span: this loop is the export hot path.
        ctx = span.span_context
        parent = span._parent
        encoded.append(
            encode_span(
                ctx.trace_id,
                ctx.span_id,
                parent.span_id if parent is not None else None,
                ctx.trace_state,
                otlp_flags(parent, ctx.trace_flags),
                span._name,
                span._kind,
                span._start,
                span._end if span._end is not None else span._start,
                span._attributes,
                span._dropped_attributes,
                span._events,
                span._dropped_events,
                _links(span) if span._links else None,
                span._dropped_links,
                span._status_code,
                span._status_description,
            )
        )
    return encode_request(
        (resource, [(_header(tracer)[1], encoded) for tracer, encoded in by_tracer.items()])
        for resource, by_tracer in groups.items()
    )
