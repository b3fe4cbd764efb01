"""The query service (HTTP JSON API over a `TraceStore`), and the analysis of one trace's graph."""

from __future__ import annotations

from datatracing.pipeline.query._app import create_app, normalize_trace_id
from datatracing.pipeline.query._errors import ApiError
from datatracing.pipeline.query._graph import linked_trace_ids, trace_graph
from datatracing.pipeline.query._graph_api import graph_router
from datatracing.pipeline.query._graph_model import (
    GraphLink,
    GraphNode,
    PathSegment,
    ServiceEdge,
    ServiceGraph,
    ServiceNode,
    ServiceSummary,
    TraceGraph,
)

__all__ = [
    "ApiError",
    "GraphLink",
    "GraphNode",
    "PathSegment",
    "ServiceEdge",
    "ServiceGraph",
    "ServiceNode",
    "ServiceSummary",
    "TraceGraph",
    "create_app",
    "graph_router",
    "linked_trace_ids",
    "normalize_trace_id",
    "trace_graph",
]
