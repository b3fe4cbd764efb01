"""`ReadableSpan`: read access to an SDK span's slots, and its conversion to the model.

Exporters and processors receive ended spans through this interface. `to_model()` builds the pydantic
model (validated); the OTLP encoder reads the slots directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from datatracing.errors import UsageError
from datatracing.model import (
    Attributes,
    InstrumentationScope,
    Resource,
    SpanEvent,
    SpanKind,
    SpanLink,
    Status,
    StatusCode,
)
from datatracing.model import Span as ModelSpan
from datatracing.sdk._api import SpanContext
from datatracing.sdk._attributes import SpanLimits

if TYPE_CHECKING:
    from datatracing.sdk._tracer import Tracer

__all__ = ["EventData", "LinkData", "ReadableSpan", "otlp_flags"]

# OTLP Span.flags bits 8 and 9: "is_remote of the parent is known" and "the parent is remote".
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200

# (name, time, attributes, dropped attributes) and (context, attributes, dropped attributes)
EventData = tuple[str, int, Attributes, int]
LinkData = tuple[SpanContext, Attributes, int]


def otlp_flags(context: SpanContext | None, trace_flags: int) -> int:
    """OTLP `flags` for a span (parent `context`) or a link (linked `context`)."""
    if context is None:
        return trace_flags | _HAS_IS_REMOTE
    return trace_flags | _HAS_IS_REMOTE | (_IS_REMOTE if context.is_remote else 0)


class ReadableSpan:
    """Read access to a span: what processors and exporters receive once it has ended."""

    __slots__ = (
        "_attributes",
        "_dropped_attributes",
        "_dropped_events",
        "_dropped_links",
        "_end",
        "_events",
        "_kind",
        "_limits",
        "_links",
        "_name",
        "_parent",
        "_start",
        "_status_code",
        "_status_description",
        "_tracer",
        "span_context",
    )

    _attributes: Attributes
    _dropped_attributes: int
    _dropped_events: int
    _dropped_links: int
    _end: int | None
    _events: list[EventData] | None
    _kind: SpanKind
    _limits: SpanLimits
    _links: list[LinkData] | None
    _name: str
    _parent: SpanContext | None
    _start: int
    _status_code: StatusCode
    _status_description: str
    _tracer: Tracer
    span_context: SpanContext

    @property
    def name(self) -> str:
        return self._name

    @property
    def parent(self) -> SpanContext | None:
        """The parent's span context, None for a root span."""
        return self._parent

    @property
    def parent_span_id(self) -> str | None:
        return self._parent.span_id if self._parent is not None else None

    @property
    def kind(self) -> SpanKind:
        return self._kind

    @property
    def start_time(self) -> int:
        return self._start

    @property
    def end_time(self) -> int | None:
        return self._end

    @property
    def attributes(self) -> Mapping[str, Any]:
        return self._attributes

    @property
    def events(self) -> tuple[SpanEvent, ...]:
        return tuple(
            SpanEvent(name=n, time_unix_nano=t, attributes=a, dropped_attributes_count=d)
            for n, t, a, d in self._events or ()
        )

    @property
    def links(self) -> tuple[SpanLink, ...]:
        return tuple(
            SpanLink(
                trace_id=c.trace_id,
                span_id=c.span_id,
                trace_state=c.trace_state,
                flags=otlp_flags(c, c.trace_flags),
                attributes=a,
                dropped_attributes_count=d,
            )
            for c, a, d in self._links or ()
        )

    @property
    def status(self) -> Status:
        return Status(code=self._status_code, message=self._status_description)

    @property
    def resource(self) -> Resource:
        return self._tracer.resource

    @property
    def instrumentation_scope(self) -> InstrumentationScope:
        return self._tracer.scope

    @property
    def dropped_attributes(self) -> int:
        return self._dropped_attributes

    @property
    def dropped_events(self) -> int:
        return self._dropped_events

    @property
    def dropped_links(self) -> int:
        return self._dropped_links

    def to_model(self) -> ModelSpan:
        """The canonical model of this ended span; `UsageError` if it has not ended."""
        if self._end is None:
            raise UsageError(f"span {self._name!r} has not ended")
        ctx = self.span_context
        return ModelSpan(
            trace_id=ctx.trace_id,
            span_id=ctx.span_id,
            parent_span_id=self.parent_span_id,
            trace_state=ctx.trace_state,
            flags=otlp_flags(self._parent, ctx.trace_flags),
            name=self._name,
            kind=self._kind,
            start_time_unix_nano=self._start,
            end_time_unix_nano=self._end,
            attributes=self._attributes,
            dropped_attributes_count=self._dropped_attributes,
            events=self.events,
            dropped_events_count=self._dropped_events,
            links=self.links,
            dropped_links_count=self._dropped_links,
            status=self.status,
            resource=self._tracer.resource,
            scope=self._tracer.scope,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self._name!r}, trace_id={self.span_context.trace_id!r}, "
            f"span_id={self.span_context.span_id!r})"
        )
