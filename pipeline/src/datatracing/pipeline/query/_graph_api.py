"""`GET /v1/traces/{trace_id}/graph`: the graph and analysis of one trace (see `_graph`).

Answers `{"data": TraceGraph}`; 400 for a malformed id, 404 for an unknown trace, in the error
envelope. Whether the traces that links point to are stored is asked of the store in chunks of
1,000 ids (the most one `existing_trace_ids` call takes).
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from datatracing.pipeline.http_errors import ApiError
from datatracing.pipeline.query._graph import linked_trace_ids, trace_graph
from datatracing.pipeline.query._params import path_trace_id
from datatracing.pipeline.query._v1_models import TraceGraphBody, error_responses
from datatracing.pipeline.query._v1_params import reject_unknown_parameters
from datatracing.pipeline.store import TraceStore

__all__ = ["graph_router"]

_ID_CHUNK = 1000


def graph_router(store: TraceStore) -> APIRouter:
    """The graph route over `store`; mount it with `app.include_router(graph_router(store))`.

    Example:
        >>> app = create_app(store)  # doctest: +SKIP
        >>> app.include_router(graph_router(store))  # doctest: +SKIP
    """
    router = APIRouter(dependencies=[Depends(reject_unknown_parameters)], tags=["v1"])

    @router.get(
        "/v1/traces/{trace_id}/graph",
        response_model=None,
        responses={200: {"model": TraceGraphBody}, **error_responses(400, 404, 503)},
    )
    def get_trace_graph(
        trace_id: Annotated[
            str,
            Path(pattern="^[0-9a-fA-F]{1,32}$", description="1-32 hex digits (64-bit ids are left-padded)."),
        ],
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
