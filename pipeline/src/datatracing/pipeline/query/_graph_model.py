"""The JSON shape of a trace graph (`GET /v1/traces/{trace_id}/graph`), as TypedDicts.

Plain dicts, not pydantic models: a 10,000-span graph is built and serialised without constructing
a model per span. Times are integer nanoseconds since the epoch; kinds are lowercase span kinds.
"""

from __future__ import annotations

from typing import Any, Literal

from typing_extensions import TypedDict

__all__ = [
    "GraphLink",
    "GraphNode",
    "PathSegment",
    "ServiceEdge",
    "ServiceGraph",
    "ServiceNode",
    "ServiceSummary",
    "TraceGraph",
]


class GraphNode(TypedDict):
    """One span of the waterfall (times in ns since the epoch)."""

    span_id: str
    parent_span_id: str | None
    service: str
    name: str
    kind: str
    start_ns: int
    end_ns: int
    duration_ns: int
    self_ns: int
    critical_ns: int
    depth: int
    is_error: bool
    orphan: bool
    child_count: int


class GraphLink(TypedDict):
    """A span link, outgoing from `span_id`."""

    span_id: str
    linked_trace_id: str
    linked_span_id: str
    in_trace: bool
    stored: bool
    attributes: dict[str, Any]


class PathSegment(TypedDict):
    """A section of the critical path spent in `span_id`."""

    span_id: str
    start_ns: int
    end_ns: int


class ServiceSummary(TypedDict):
    """A service's spans, errors, summed self time and time on the critical path."""

    service: str
    spans: int
    errors: int
    self_ns: int
    critical_ns: int


class ServiceNode(TypedDict):
    service: str
    spans: int
    errors: int


class ServiceEdge(TypedDict):
    """Child spans of `child` under (or linked from) spans of `parent`; duration is their sum."""

    parent: str
    child: str
    calls: int
    duration_ns: int
    kind: Literal["call", "messaging"]


class ServiceGraph(TypedDict):
    nodes: list[ServiceNode]
    edges: list[ServiceEdge]


class TraceGraph(TypedDict):
    """The body of `GET /v1/traces/{trace_id}/graph` (its `data`)."""

    trace_id: str
    start_ns: int
    end_ns: int
    duration_ns: int
    span_count: int
    roots: list[str]
    nodes: list[GraphNode]
    links: list[GraphLink]
    critical_path: list[PathSegment]
    services: list[ServiceSummary]
    service_graph: ServiceGraph
