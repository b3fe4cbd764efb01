"""The canonical span model: what every part of DataTracing agrees a span is.

The model is flat: each `Span` carries its `Resource` and `InstrumentationScope`, so one span is one
self-contained record (one ClickHouse row, one JSON line). OTLP's resource/scope grouping is a wire
concern handled in `datatracing.wire`.

Ids are lowercase hex strings (32 characters for trace ids, 16 for span ids), the form used in
OTLP JSON, W3C `traceparent` and Jaeger. Times are integer nanoseconds since the Unix epoch.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, TypeAlias

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypeAliasType

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")
INVALID_TRACE_ID = "0" * 32
INVALID_SPAN_ID = "0" * 16


def _trace_id(value: str) -> str:
    if not _HEX32.match(value) or value == INVALID_TRACE_ID:
        raise ValueError("trace id must be 32 lowercase hex characters, not all zero")
    return value


def _span_id(value: str) -> str:
    if not _HEX16.match(value) or value == INVALID_SPAN_ID:
        raise ValueError("span id must be 16 lowercase hex characters, not all zero")
    return value


TraceId = Annotated[str, AfterValidator(_trace_id)]
SpanId = Annotated[str, AfterValidator(_span_id)]
UnixNanos = Annotated[int, Field(ge=0, lt=2**64)]

# OTLP AnyValue: scalars, bytes, arrays and key/value lists, nested. `None` is OTLP's empty value.
AttributeValue = TypeAliasType(
    "AttributeValue",
    "str | bool | int | float | bytes | list[AttributeValue] | dict[str, AttributeValue] | None",
)
Attributes: TypeAlias = dict[str, AttributeValue]


class SpanKind(enum.IntEnum):
    """Numbering matches OTLP's `Span.SpanKind`."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


class StatusCode(enum.IntEnum):
    """Numbering matches OTLP's `Status.StatusCode`."""

    UNSET = 0
    OK = 1
    ERROR = 2


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class Status(_Frozen):
    code: StatusCode = StatusCode.UNSET
    message: str = ""


class Resource(_Frozen):
    """The entity that produced the spans: `service.name`, host, version, environment..."""

    attributes: Attributes = Field(default_factory=dict)
    dropped_attributes_count: int = Field(default=0, ge=0, lt=2**32)

    @property
    def service_name(self) -> str:
        value = self.attributes.get("service.name")
        return value if isinstance(value, str) else "unknown_service"


class InstrumentationScope(_Frozen):
    name: str = ""
    version: str = ""
    attributes: Attributes = Field(default_factory=dict)
    dropped_attributes_count: int = Field(default=0, ge=0, lt=2**32)


class SpanEvent(_Frozen):
    name: str
    time_unix_nano: UnixNanos
    attributes: Attributes = Field(default_factory=dict)
    dropped_attributes_count: int = Field(default=0, ge=0, lt=2**32)


class SpanLink(_Frozen):
    trace_id: TraceId
    span_id: SpanId
    trace_state: str = ""
    attributes: Attributes = Field(default_factory=dict)
    dropped_attributes_count: int = Field(default=0, ge=0, lt=2**32)
    flags: int = Field(default=0, ge=0, lt=2**32)


class Span(_Frozen):
    """One unit of work. Invalid ids or an end before the start are rejected at construction."""

    trace_id: TraceId
    span_id: SpanId
    parent_span_id: SpanId | None = None
    trace_state: str = ""
    flags: int = Field(default=0, ge=0, lt=2**32)
    name: str
    kind: SpanKind = SpanKind.INTERNAL
    start_time_unix_nano: UnixNanos
    end_time_unix_nano: UnixNanos
    attributes: Attributes = Field(default_factory=dict)
    dropped_attributes_count: int = Field(default=0, ge=0, lt=2**32)
    events: tuple[SpanEvent, ...] = ()
    dropped_events_count: int = Field(default=0, ge=0, lt=2**32)
    links: tuple[SpanLink, ...] = ()
    dropped_links_count: int = Field(default=0, ge=0, lt=2**32)
    status: Status = Field(default_factory=Status)
    resource: Resource = Field(default_factory=Resource)
    scope: InstrumentationScope = Field(default_factory=InstrumentationScope)

    @model_validator(mode="after")
    def _end_not_before_start(self) -> Span:
        if self.end_time_unix_nano < self.start_time_unix_nano:
            raise ValueError("end_time_unix_nano is before start_time_unix_nano")
        return self

    @property
    def service_name(self) -> str:
        return self.resource.service_name

    @property
    def duration_ns(self) -> int:
        return self.end_time_unix_nano - self.start_time_unix_nano

    @property
    def is_root(self) -> bool:
        return self.parent_span_id is None

    @property
    def is_error(self) -> bool:
        return self.status.code is StatusCode.ERROR


class Trace(_Frozen):
    """All the spans of one trace known so far, sorted by start time (then span id)."""

    trace_id: TraceId
    spans: tuple[Span, ...]

    @model_validator(mode="after")
    def _one_trace_sorted(self) -> Trace:
        if any(s.trace_id != self.trace_id for s in self.spans):
            raise ValueError("every span of a trace must carry the trace's id")
        ordered = tuple(sorted(self.spans, key=lambda s: (s.start_time_unix_nano, s.span_id)))
        if ordered != self.spans:
            object.__setattr__(self, "spans", ordered)
        return self

    @classmethod
    def from_spans(cls, spans: list[Span] | tuple[Span, ...]) -> Trace:
        if not spans:
            raise ValueError("a trace needs at least one span")
        return cls(trace_id=spans[0].trace_id, spans=tuple(spans))

    @property
    def root(self) -> Span | None:
        """The earliest span without a parent, if it has arrived."""
        return next((s for s in self.spans if s.parent_span_id is None), None)

    @property
    def start_time_unix_nano(self) -> int:
        return min(s.start_time_unix_nano for s in self.spans)

    @property
    def end_time_unix_nano(self) -> int:
        return max(s.end_time_unix_nano for s in self.spans)

    @property
    def duration_ns(self) -> int:
        return self.end_time_unix_nano - self.start_time_unix_nano

    @property
    def services(self) -> list[str]:
        return sorted({s.service_name for s in self.spans})

    @property
    def has_error(self) -> bool:
        return any(s.is_error for s in self.spans)
