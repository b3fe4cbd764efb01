"""`GET /v1/traces/{trace_id}/graph`: the graph and analysis of one trace (see `_graph`).

Answers `{"data": TraceGraph}`; 400 for a malformed id, 404 for an unknown trace, in the error
envelope. Whether the traces that links point to are stored is asked of the store in chunks of
1,000 ids (the most one `existing_trace_ids` call takes).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from datatracing.pipeline.http_errors import ApiError
from datatracing.pipeline.query._graph import linked_trace_ids, trace_graph
from datatracing.pipeline.query._params import TraceIdPath, path_trace_id
from datatracing.pipeline.query._v1_models import TraceGraphBody, error_responses
from datatracing.pipeline.query._v1_params import reject_unknown_parameters
from datatracing.pipeline.store import TraceStore

__all__ = ["graph_router"]

_ID_CHUNK = 1000


def graph_router(store: TraceStore) -> APIRouter:
    """The graph route over `store` (`create_app` mounts it)."""
    router = APIRouter(dependencies=[Depends(reject_unknown_parameters)], tags=["v1"])

    @router.get(
        "/v1/traces/{trace_id}/graph",
        response_model=None,
        responses={200: {"model": TraceGraphBody}, **error_responses(400, 404, 503)},
    )
    def get_trace_graph(
        trace_id: TraceIdPath,
    ) -> Response:
        """The trace as a graph, with its critical path and per-service summary."""
        normalized = path_trace_id(trace_id)
        trace = None if normalized is None else store.get_trace(normalized)
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
