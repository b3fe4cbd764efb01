"""The trace-store port and the value types its queries speak."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Iterable
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from datatracing.model import Trace
from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.store._sqlread import SqlResult
from datatracing.pipeline.store.write._batch import SpanBatch

__all__ = [
    "DependencyEdge",
    "Operation",
    "SampledTrace",
    "SqlReader",
    "TracePage",
    "TraceQuery",
    "TraceSampling",
    "TraceStore",
    "TraceSummary",
    "decode_cursor",
    "encode_cursor",
]

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_MAX_NS = 2**63 - 1
_MAX_TEXT = 4096
_MAX_U64 = 2**64 - 1


def encode_cursor(start_ns: int, trace_id: str) -> str:
    """Opaque cursor for "the page after the trace (start_ns, trace_id)"."""
    return base64.urlsafe_b64encode(f"{start_ns}:{trace_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """Inverse of `encode_cursor`; raises `ValueError` for anything it did not produce."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        start, trace_id = raw.split(":")
        start_ns = int(start)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("cursor is not one this store returned") from exc
    if not 0 <= start_ns <= _MAX_NS or not _HEX32.match(trace_id) or not start.isdigit():
        raise ValueError("cursor is not one this store returned")
    return start_ns, trace_id


class TraceQuery(BaseModel):
    """Search filters. Span-level filters (service, operation, status, durations, attributes,
    resource attributes) must all hold on one span of the trace, which must start in
    [start_ns, end_ns]. Trace-level filters hold on the whole trace, as the `traces` summary table
    has it: its duration (`min_trace_duration_ns`, `max_trace_duration_ns`: last span end minus
    first span start), every service of `trace_services` present, its span count (`min_spans`,
    `max_spans`) and whether any span has status ERROR (`trace_error`). Pages are newest first by
    the start of each trace's earliest matching span (the trace's start when no span filter is
    given); pass `next_cursor` back for the next page.

    Example:
        >>> TraceQuery(service="checkout", attributes={"http.method": "GET"}, limit=50).limit
        50
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: str | None = Field(default=None, min_length=1, max_length=_MAX_TEXT)
    operation: str | None = Field(default=None, min_length=1, max_length=_MAX_TEXT)
    status: Literal["ok", "error", "unset"] | None = None
    start_ns: int | None = Field(default=None, ge=0, le=_MAX_NS)
    end_ns: int | None = Field(default=None, ge=0, le=_MAX_NS)
    min_duration_ns: int | None = Field(default=None, ge=0, le=_MAX_U64)
    max_duration_ns: int | None = Field(default=None, ge=0, le=_MAX_U64)
    min_trace_duration_ns: int | None = Field(default=None, ge=0, le=_MAX_NS)
    max_trace_duration_ns: int | None = Field(default=None, ge=0, le=_MAX_NS)
    trace_services: tuple[str, ...] = Field(default=(), max_length=64)
    min_spans: int | None = Field(default=None, ge=0, le=_MAX_U64)
    max_spans: int | None = Field(default=None, ge=0, le=_MAX_U64)
    trace_error: bool | None = None
    attributes: dict[str, str] = Field(default_factory=dict, max_length=64)
    resource_attributes: dict[str, str] = Field(default_factory=dict, max_length=64)
    tenant: str | None = Field(default=None, min_length=1, max_length=_MAX_TEXT)
    limit: int = Field(default=20, ge=1, le=1000)
    cursor: str | None = None

    @field_validator("attributes", "resource_attributes")
    @classmethod
    def _keys_present(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if not key or len(key) > _MAX_TEXT or len(text) > _MAX_TEXT:
                raise ValueError("attribute keys must be non-empty and keys/values at most 4096 characters")
        return value

    @field_validator("trace_services")
    @classmethod
    def _services_present(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not name or len(name) > _MAX_TEXT for name in value):
            raise ValueError("service names must be non-empty and at most 4096 characters")
        return tuple(sorted(set(value)))

    @field_validator("cursor")
    @classmethod
    def _cursor_valid(cls, value: str | None) -> str | None:
        if value is not None:
            decode_cursor(value)
        return value

    @model_validator(mode="after")
    def _ranges_ordered(self) -> TraceQuery:
        if self.start_ns is not None and self.end_ns is not None and self.end_ns < self.start_ns:
            raise ValueError("end_ns is before start_ns")
        if (
            self.min_duration_ns is not None
            and self.max_duration_ns is not None
            and self.max_duration_ns < self.min_duration_ns
        ):
            raise ValueError("max_duration_ns is below min_duration_ns")
        for low, high in (
            ("min_trace_duration_ns", "max_trace_duration_ns"),
            ("min_spans", "max_spans"),
        ):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and hi < lo:
                raise ValueError(f"{high} is below {low}")
        return self

    @property
    def has_trace_filters(self) -> bool:
        """Whether a filter on the whole trace (read from `traces`) is set."""
        return bool(self.trace_services) or any(
            value is not None
            for value in (
                self.min_trace_duration_ns,
                self.max_trace_duration_ns,
                self.min_spans,
                self.max_spans,
                self.trace_error,
            )
        )


class TraceSummary(BaseModel):
    """One search hit: the whole trace's extent and shape, not only the matching span."""

    model_config = ConfigDict(frozen=True)

    trace_id: str
    start_ns: int
    end_ns: int
    duration_ns: int
    span_count: int
    root_service: str
    root_name: str
    has_error: bool
    services: list[str]


class TracePage(BaseModel):
    """A page of hits, newest first; `next_cursor` is None on the last page."""

    model_config = ConfigDict(frozen=True)

    traces: list[TraceSummary]
    next_cursor: str | None = None


class Operation(BaseModel):
    """A span name seen for a service, with its kind in lowercase (`server`, `client`, ...)."""

    model_config = ConfigDict(frozen=True)

    name: str
    span_kind: str


class DependencyEdge(BaseModel):
    """Calls from spans of `parent` to child spans of another service `child`."""

    model_config = ConfigDict(frozen=True)

    parent: str
    child: str
    call_count: int


class TraceSampling(BaseModel):
    """The sampler's audit on a kept trace: the policy that kept it, the policy file's version, and
    the rate it sampled at ("1 in N")."""

    model_config = ConfigDict(frozen=True)

    policy: str
    policy_version: str
    sample_rate: float


class SampledTrace(BaseModel):
    """A stored trace and the sampling audit its spans carry (None when written without one)."""

    model_config = ConfigDict(frozen=True)

    trace: Trace
    sampling: TraceSampling | None = None


class TraceStore(Protocol):
    """Where sampled spans are kept and searched. Sync and blocking: async callers use a thread."""

    def migrate(self) -> list[str]:
        """Apply pending schema migrations; return the names applied now (none when up to date)."""

    def batch_from_otlp(
        self, messages: Iterable[tuple[bytes, SamplingAudit]]
    ) -> tuple[SpanBatch, list[tuple[int, str]]]:
        """Decode OTLP payloads the fastest way this store can: the batch and `(index, reason)`
        for each message left out, exactly as `SpanBatch.from_otlp_with_rejects`."""

    def insert(self, batch: SpanBatch, *, dedup_token: str | None = None) -> int:
        """Write `batch`; a retry with the same `dedup_token` writes nothing twice. Returns len(batch)."""

    def get_trace(self, trace_id: str) -> Trace | None:
        """All spans of one trace sorted by start, or None when the id is unknown (or malformed)."""

    def existing_trace_ids(self, trace_ids: Collection[str]) -> set[str]:
        """Which of `trace_ids` have spans stored (malformed ids never have): one query for at most
        1,000 ids; more raise `ConfigError`, so callers with more ask in chunks."""

    def get_sampled_trace(self, trace_id: str) -> SampledTrace | None:
        """`get_trace` and the audit the sampler stamped on the trace, in one read."""

    def search(self, query: TraceQuery) -> TracePage:
        """Traces with a span matching `query`, newest first."""

    def services(self) -> list[str]:
        """Every service that has spans, sorted."""

    def operations(self, service: str) -> list[Operation]:
        """Span names and kinds of `service`, sorted."""

    def dependencies(self, start_ns: int, end_ns: int) -> list[DependencyEdge]:
        """Parent-service to child-service call counts for spans starting in [start_ns, end_ns], each
        (trace id, span id) counted once however often it was stored."""

    def count_spans(self) -> int:
        """Distinct spans stored (duplicates from replays not yet merged away are not counted)."""

    def close(self) -> None:
        """Release the connection; the store cannot be used afterwards."""


@runtime_checkable
class SqlReader(Protocol):
    """A store that answers analysts' SQL: one read-only statement within a row and a time limit."""

    def read_sql(self, sql: str, *, max_rows: int, max_seconds: float) -> SqlResult:
        """The rows of `sql`, run with `readonly = 1`; raises `SqlReadOnlyError` for a write,
        `SqlLimitError` past `max_rows` rows or `max_seconds`, `StoreQueryError` for bad SQL."""
