"""Tempo's trace-by-id, `GET /api/v2/traces/{id}`, so Grafana's Tempo data source can open our traces.

Grafana (`pkg/tsdb/tempo/trace.go`) asks with `Accept: application/protobuf` and `start`/`end` in unix
seconds, and decodes `TraceByIDResponse{trace = 1}` whose trace has the wire layout of OTLP
`TracesData`; on 404 it falls back to `/api/traces/{id}` (see `_jaeger_api`). Any other `Accept` gets
Tempo's JSON: `{"trace": {"resourceSpans": [...]}}` in protobuf's stock JSON mapping (base64 ids, enum
names), as Tempo writes it. Unknown ids answer 404 and malformed parameters 400, as plain text.

Example:
    >>> app.include_router(tempo_router(store))  # doctest: +SKIP
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from datatracing.pipeline.errors import StoreUnavailableError
from datatracing.pipeline.query._otlp_out import otlp_request, proto_json, tempo_trace_by_id_proto
from datatracing.pipeline.query._params import ParamError, parse_trace_id
from datatracing.pipeline.store import TraceStore

__all__ = ["tempo_router"]

_PROTOBUF = "application/protobuf"


def _seconds(request: Request, name: str) -> None:
    text = request.query_params.get(name)
    if text and not text.lstrip("-").isdigit():
        raise ParamError(f"invalid {name}: {text[:64]!r} is not unix seconds")


def tempo_router(store: TraceStore) -> APIRouter:
    """Tempo's `/api/v2/traces/{trace_id}` over `store`."""
    router = APIRouter()

    @router.get("/api/v2/traces/{trace_id}")
    def trace_by_id(trace_id: str, request: Request) -> Response:
        try:
            tid = parse_trace_id(trace_id, "trace id")
            _seconds(request, "start")  # validated; the store finds a trace by id alone
            _seconds(request, "end")
            trace = store.get_trace(tid)
        except ParamError as exc:
            return PlainTextResponse(exc.message, status_code=400)
        except StoreUnavailableError:
            return PlainTextResponse(
                "the trace store is unavailable", status_code=503, headers={"Retry-After": "5"}
            )
        if trace is None:
            return PlainTextResponse("trace not found", status_code=404)
        if _PROTOBUF in request.headers.get("accept", ""):
            payload = tempo_trace_by_id_proto(otlp_request(trace.spans).SerializeToString())
            return Response(payload, media_type=_PROTOBUF)
        return JSONResponse({"trace": proto_json(trace.spans)})

    return router
