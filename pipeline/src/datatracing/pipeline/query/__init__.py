"""The query service (HTTP JSON API over a `TraceStore`) and its OpenAPI document, the analysis of
one trace's graph, the Jaeger- and Tempo-compatible routers and the web UI."""

from __future__ import annotations

from datatracing.pipeline.http_errors import ApiError
from datatracing.pipeline.query._app import create_app
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
from datatracing.pipeline.query._jaeger_api import jaeger_router
from datatracing.pipeline.query._openapi import v1_document, v1_document_text
from datatracing.pipeline.query._tempo import tempo_router
from datatracing.pipeline.query._ui import ui_router

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
    "jaeger_router",
    "linked_trace_ids",
    "tempo_router",
    "trace_graph",
    "ui_router",
    "v1_document",
    "v1_document_text",
]
