"""Rows of `GET_SPANS` back into model spans (the exact inverse of what `SpanBatch` stored)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

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
from datatracing.pipeline.store._codec import decode_json_attributes, decode_map

__all__ = ["rows_to_spans", "text"]

_ZERO8 = b"\x00" * 8


def text(value: Any) -> str:
    """Arrow may hand String columns back as bytes (server) or str (chdb)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _pairs(value: Any) -> list[tuple[str, Any]]:
    return [(text(k), v if not isinstance(v, bytes) else text(v)) for k, v in value or ()]


def rows_to_spans(trace_id: str, table: pa.Table) -> list[Span]:
    """Model spans for the rows of one trace (resources and scopes shared between equal rows)."""
    resources: dict[tuple[Any, ...], Resource] = {}
    scopes: dict[tuple[Any, ...], InstrumentationScope] = {}
    spans: list[Span] = []
    for row in table.to_pylist():
        res_attrs = _pairs(row["resource_attributes"])
        res_types = _pairs(row["resource_attribute_types"])
        res_key = (tuple(res_attrs), tuple(res_types), row["resource_dropped_attributes_count"])
        resource = resources.get(res_key)
        if resource is None:
            resource = resources[res_key] = Resource(
                attributes=decode_map(res_attrs, res_types),
                dropped_attributes_count=row["resource_dropped_attributes_count"],
            )
        scope_key = (
            text(row["scope_name"]),
            text(row["scope_version"]),
            text(row["scope_attributes"]),
            row["scope_dropped_attributes_count"],
        )
        scope = scopes.get(scope_key)
        if scope is None:
            scope = scopes[scope_key] = InstrumentationScope(
                name=scope_key[0],
                version=scope_key[1],
                attributes=decode_json_attributes(scope_key[2]),
                dropped_attributes_count=scope_key[3],
            )
        parent = row["parent_span_id"]
        start = row["start_ns"]
        spans.append(
            Span(
                trace_id=trace_id,
                span_id=row["span_id"].hex(),
                parent_span_id=None if parent == _ZERO8 else parent.hex(),
                trace_state=text(row["trace_state"]),
                flags=row["flags"],
                name=text(row["name"]),
                kind=SpanKind(row["kind"]),
                start_time_unix_nano=start,
                end_time_unix_nano=start + row["duration_ns"],
                attributes=decode_map(_pairs(row["attributes"]), _pairs(row["attribute_types"])),
                dropped_attributes_count=row["dropped_attributes_count"],
                events=tuple(
                    SpanEvent(
                        name=text(name),
                        time_unix_nano=time,
                        attributes=decode_json_attributes(text(attrs)),
                        dropped_attributes_count=dropped,
                    )
                    for time, name, attrs, dropped in zip(
                        row["ev_time"], row["ev_name"], row["ev_attributes"], row["ev_dropped"], strict=True
                    )
                ),
                dropped_events_count=row["dropped_events_count"],
                links=tuple(
                    SpanLink(
                        trace_id=tid.hex(),
                        span_id=sid.hex(),
                        trace_state=text(state),
                        flags=flags,
                        attributes=decode_json_attributes(text(attrs)),
                        dropped_attributes_count=dropped,
                    )
                    for tid, sid, state, flags, attrs, dropped in zip(
                        row["lk_trace_id"],
                        row["lk_span_id"],
                        row["lk_trace_state"],
                        row["lk_flags"],
                        row["lk_attributes"],
                        row["lk_dropped"],
                        strict=True,
                    )
                ),
                dropped_links_count=row["dropped_links_count"],
                status=Status(code=StatusCode(row["status_code"]), message=text(row["status_message"])),
                resource=resource,
                scope=scope,
            )
        )
    return spans
