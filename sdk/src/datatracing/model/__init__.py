"""The canonical span model (pydantic): `Span`, `Trace` and their parts.

Example:
    >>> from datatracing.model import Span
    >>> span = Span(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", span_id="00f067aa0ba902b7",
    ...             name="GET /orders", start_time_unix_nano=1, end_time_unix_nano=2)
    >>> span.duration_ns
    1
"""

from __future__ import annotations

from datatracing.model._model import (
    INVALID_SPAN_ID,
    INVALID_TRACE_ID,
    Attributes,
    AttributeValue,
    InstrumentationScope,
    Resource,
    Span,
    SpanEvent,
    SpanId,
    SpanKind,
    SpanLink,
    Status,
    StatusCode,
    Trace,
    TraceId,
)

__all__ = [
    "INVALID_SPAN_ID",
    "INVALID_TRACE_ID",
    "AttributeValue",
    "Attributes",
    "InstrumentationScope",
    "Resource",
    "Span",
    "SpanEvent",
    "SpanId",
    "SpanKind",
    "SpanLink",
    "Status",
    "StatusCode",
    "Trace",
    "TraceId",
]
