"""`GET /v1/traces/{trace_id}/graph`: the graph and analysis of one trace (see `_graph`).

Answers `{"data": TraceGraph}`; 400 for a malformed id, 404 for an unknown trace, in the error
envelope. Whether the traces that links point to are stored is asked of the store in chunks of
1,000 ids (the most one `existing_trace_ids` call takes).
"""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import Response

from datatracing.pipeline.query._errors import ApiError
from datatracing.pipeline.query._graph import linked_trace_ids, trace_graph
from datatracing.pipeline.query._params import normalize_trace_id
from datatracing.pipeline.store import TraceStore

__all__ = ["graph_router"]

_ID_CHUNK = 1000


def graph_router(store: TraceStore) -> APIRouter:
    """The graph route over `store`; mount it with `app.include_router(graph_router(store))`.

    Example:
        >>> app = create_app(store)  # doctest: +SKIP
        >>> app.include_router(graph_router(store))  # doctest: +SKIP
    """
    router = APIRouter()

    @router.get("/v1/traces/{trace_id}/graph")
    def get_trace_graph(trace_id: str) -> Response:
        trace = store.get_trace(normalize_trace_id(trace_id))
        if trace is None:
            raise ApiError(404, "not_found", f"trace {trace_id} not found")
        linked = sorted(linked_trace_ids(trace))
        stored: set[str] = set()
        for at in range(0, len(linked), _ID_CHUNK):
            stored |= store.existing_trace_ids(linked[at : at + _ID_CHUNK])
        body = {"data": trace_graph(trace, stored)}
        # Plain dicts of JSON types already: skip FastAPI's per-value encoder walk.
        return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")

    return router
