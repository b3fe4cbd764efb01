"""Rows of `GET_SPANS` back into model spans (the exact inverse of what `SpanBatch` stored)."""

from __future__ import annotations

import json
from dataclasses import dataclass
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
from datatracing.pipeline.store._port import TraceSampling
from datatracing.pipeline.store._values import decode_json_attributes, decode_map
from datatracing.pipeline.store.write._python import EXTRAS_FIELDS

__all__ = ["rows_to_sampling", "rows_to_spans", "text"]

_ZERO8 = b"\x00" * 8


@dataclass(frozen=True)
class _Extras:
    """The rarely set fields of a span, from the `extras` JSON array (schema/0005_read_path.sql)."""

    dropped_attributes: int = 0
    resource_dropped_attributes: int = 0
    scope_attributes: str = ""
    scope_dropped_attributes: int = 0
    events: tuple[SpanEvent, ...] = ()
    dropped_events: int = 0
    links: tuple[SpanLink, ...] = ()
    dropped_links: int = 0

    @classmethod
    def parse(cls, value: Any) -> _Extras:
        if not value:
            return _NO_EXTRAS
        f = dict(zip(EXTRAS_FIELDS, json.loads(text(value)), strict=True))
        events = tuple(
            SpanEvent(
                name=name,
                time_unix_nano=int(time),
                attributes=decode_json_attributes(attrs),
                dropped_attributes_count=int(n),
            )
            for time, name, attrs, n in zip(
                f["events.time_unix_nano"],
                f["events.name"],
                f["events.attributes"],
                f["events.dropped_attributes_count"],
                strict=True,
            )
        )
        links = tuple(
            SpanLink(
                trace_id=trace,
                span_id=span,
                trace_state=state,
                flags=int(flags),
                attributes=decode_json_attributes(attrs),
                dropped_attributes_count=int(n),
            )
            for trace, span, state, flags, attrs, n in zip(
                f["links.trace_id"],
                f["links.span_id"],
                f["links.trace_state"],
                f["links.flags"],
                f["links.attributes"],
                f["links.dropped_attributes_count"],
                strict=True,
            )
        )
        return cls(
            dropped_attributes=int(f["dropped_attributes_count"]),
            resource_dropped_attributes=int(f["resource_dropped_attributes_count"]),
            scope_attributes=f["scope_attributes"],
            scope_dropped_attributes=int(f["scope_dropped_attributes_count"]),
            events=events,
            dropped_events=int(f["dropped_events_count"]),
            links=links,
            dropped_links=int(f["dropped_links_count"]),
        )


_NO_EXTRAS = _Extras()


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
        extras = _Extras.parse(row["extras"])
        res_attrs = _pairs(row["resource_attributes"])
        res_types = _pairs(row["resource_attribute_types"])
        res_key = (tuple(res_attrs), tuple(res_types), extras.resource_dropped_attributes)
        resource = resources.get(res_key)
        if resource is None:
            resource = resources[res_key] = Resource(
                attributes=decode_map(res_attrs, res_types),
                dropped_attributes_count=extras.resource_dropped_attributes,
            )
        scope_key = (
            text(row["scope_name"]),
            text(row["scope_version"]),
            extras.scope_attributes,
            extras.scope_dropped_attributes,
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
                dropped_attributes_count=extras.dropped_attributes,
                events=extras.events,
                dropped_events_count=extras.dropped_events,
                links=extras.links,
                dropped_links_count=extras.dropped_links,
                status=Status(code=StatusCode(row["status_code"]), message=text(row["status_message"])),
                resource=resource,
                scope=scope,
            )
        )
    return spans


def rows_to_sampling(table: pa.Table) -> TraceSampling | None:
    """The sampling audit of a trace: that of its earliest span stamped with a policy (a sampler
    keeps or drops a trace whole, so its spans carry one audit), or None when no span has one
    (spans written without a sampler in front, e.g. by `datatracing import`)."""
    policies = table.column("policy").to_pylist()
    for i, policy in enumerate(policies):
        if policy:
            return TraceSampling(
                policy=text(policy),
                policy_version=text(table.column("policy_version")[i].as_py()),
                sample_rate=float(table.column("sample_rate")[i].as_py()),
            )
    return None
