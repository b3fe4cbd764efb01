"""Jaeger's `/api/v3` HTTP API: OTLP JSON traces, services, operations and trace summaries.

Shapes follow Jaeger's `internal/apiv3/http_gateway.go` and `summaries.go`:

- `GET /api/v3/services` → `{"services": [...]}`;
- `GET /api/v3/operations?service=&spanKind=` → `{"operations": [{"name", "spanKind"}]}`;
- `GET /api/v3/traces/{trace_id}?startTime=&endTime=` → `{"result": {"resourceSpans": [...]}}`;
- `GET /api/v3/traces?query.serviceName=&query.operationName=&query.attributes=<JSON>`
  `&query.durationMin=&query.durationMax=&query.searchDepth=&query.startTimeMin=&query.startTimeMax=`
  (times RFC 3339, both required; durations Go strings) → the matching traces in one `result`;
- `GET /api/v3/trace-summaries` with the same parameters → `{"summaries": [...]}` (an empty list when
  nothing matches).

Parameter names are Jaeger's canonical camelCase; its older snake_case spellings (`query.service_name`,
`query.num_traces`, `span_kind`, `start_time`, ...) are accepted too. Errors are the gateway's
`{"error": {"httpCode", "message"}}`: 400 for a malformed parameter, 404 "No traces found".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from datatracing.model import StatusCode, Trace
from datatracing.pipeline.errors import StoreUnavailableError
from datatracing.pipeline.query._durations import parse_go_duration, parse_rfc3339_ns
from datatracing.pipeline.query._otlp_out import otlp_json
from datatracing.pipeline.query._params import ParamError, parse_trace_id
from datatracing.pipeline.store import TraceQuery, TraceStore

__all__ = ["jaeger_v3_router"]

_DEFAULT_DEPTH = 100
_MAX_DEPTH = 1000


def _error(status: int, message: str) -> JSONResponse:
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(
        {"error": {"httpCode": status, "message": message}}, status_code=status, headers=headers
    )


def _guard(handler: Callable[[], Response]) -> Response:
    try:
        return handler()
    except ParamError as exc:
        return _error(exc.status, exc.message)
    except StoreUnavailableError:
        return _error(503, "the trace store is unavailable, retry later")


def _param(request: Request, canonical: str, *aliases: str) -> tuple[str, str]:
    """The first non-empty value among the canonical name and its aliases, with the name it came under."""
    for name in (canonical, *aliases):
        value = request.query_params.get(name)
        if value:
            return value, name
    return "", canonical


def _time(request: Request, canonical: str, *aliases: str) -> int | None:
    text, name = _param(request, canonical, *aliases)
    if not text:
        return None
    try:
        return parse_rfc3339_ns(text)
    except ValueError as exc:
        raise ParamError(f"malformed parameter {name}: {exc}") from None


def _duration(request: Request, canonical: str, alias: str) -> int | None:
    text, name = _param(request, canonical, alias)
    if not text:
        return None
    try:
        ns = parse_go_duration(text)
    except ValueError as exc:
        raise ParamError(f"malformed parameter {name}: {exc}") from None
    if ns < 0:
        raise ParamError(f"malformed parameter {name}: {text!r} is negative")
    return ns or None


def _attributes(request: Request) -> dict[str, str]:
    text, name = _param(request, "query.attributes")
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise ParamError(f"malformed parameter {name}: {exc}") from None
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        raise ParamError(f"malformed parameter {name}: expected a JSON object of strings")
    return parsed


def _query(request: Request) -> TraceQuery:
    start = _time(request, "query.startTimeMin", "query.start_time_min")
    end = _time(request, "query.startTimeMax", "query.start_time_max")
    if start is None or end is None:
        raise ParamError("query.startTimeMin and query.startTimeMax are required")
    depth_text, depth_name = _param(request, "query.searchDepth", "query.search_depth", "query.num_traces")
    try:
        depth = int(depth_text) if depth_text else _DEFAULT_DEPTH
    except ValueError:
        raise ParamError(f"malformed parameter {depth_name}: {depth_text[:64]!r} is not an integer") from None
    if depth <= 0:
        raise ParamError(f"malformed parameter {depth_name}: must be greater than 0")
    try:
        return TraceQuery(
            service=_param(request, "query.serviceName", "query.service_name")[0] or None,
            operation=_param(request, "query.operationName", "query.operation_name")[0] or None,
            start_ns=start,
            end_ns=end,
            min_duration_ns=_duration(request, "query.durationMin", "query.duration_min"),
            max_duration_ns=_duration(request, "query.durationMax", "query.duration_max"),
            attributes=_attributes(request),
            limit=min(depth, _MAX_DEPTH),
        )
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise ParamError(f"malformed query: {exc}") from None


def trace_summary(trace: Trace) -> dict[str, Any]:
    """Jaeger's `traceSummaryJSON` of one trace: root, extent, counts per service, errors, orphans."""
    ids = {s.span_id for s in trace.spans}
    per_service: dict[str, list[int]] = {}
    errors = orphans = 0
    for span in trace.spans:
        counts = per_service.setdefault(span.service_name, [0, 0])
        counts[0] += 1
        if span.status.code is StatusCode.ERROR:
            counts[1] += 1
            errors += 1
        if span.parent_span_id is not None and span.parent_span_id not in ids:
            orphans += 1
    root = trace.root
    return {
        "traceId": trace.trace_id,
        "rootServiceName": root.service_name if root is not None else "",
        "rootOperationName": root.name if root is not None else "",
        "minStartTimeUnixNano": str(trace.start_time_unix_nano),
        "maxEndTimeUnixNano": str(trace.end_time_unix_nano),
        "spanCount": len(trace.spans),
        "errorSpanCount": errors,
        "orphanSpanCount": orphans,
        "services": [
            {"name": name, "spanCount": n, "errorSpanCount": e}
            for name, (n, e) in sorted(per_service.items())
        ],
    }


def jaeger_v3_router(store: TraceStore) -> APIRouter:
    """Jaeger's `/api/v3/*` routes over `store`."""
    router = APIRouter()

    def _found(query: TraceQuery) -> list[Trace]:
        traces = (store.get_trace(hit.trace_id) for hit in store.search(query).traces)
        return [t for t in traces if t is not None]

    def _result(traces: list[Trace]) -> Response:
        if not traces:
            return _error(404, "No traces found")
        resource_spans = [rs for t in traces for rs in otlp_json(t.spans)["resourceSpans"]]
        return JSONResponse({"result": {"resourceSpans": resource_spans}})

    @router.get("/api/v3/services")
    def services() -> Response:
        return _guard(lambda: JSONResponse({"services": store.services()}))

    @router.get("/api/v3/operations")
    def operations(request: Request) -> Response:
        def answer() -> Response:
            service = _param(request, "service")[0]
            kind = _param(request, "spanKind", "span_kind")[0]
            ops = [
                {"name": op.name, "spanKind": op.span_kind or "internal"}
                for op in (store.operations(service) if service else [])
                if not kind or op.span_kind == kind
            ]
            return JSONResponse({"operations": ops})

        return _guard(answer)

    @router.get("/api/v3/traces/{trace_id}")
    def get_trace(trace_id: str, request: Request) -> Response:
        def answer() -> Response:
            tid = parse_trace_id(trace_id, "trace_id", prefix="malformed parameter ")
            _time(request, "startTime", "start_time")  # validated; the store finds a trace by id alone
            _time(request, "endTime", "end_time")
            trace = store.get_trace(tid)
            return _result([trace] if trace is not None else [])

        return _guard(answer)

    @router.get("/api/v3/traces")
    def find_traces(request: Request) -> Response:
        return _guard(lambda: _result(_found(_query(request))))

    @router.get("/api/v3/trace-summaries")
    def trace_summaries(request: Request) -> Response:
        def answer() -> Response:
            return JSONResponse({"summaries": [trace_summary(t) for t in _found(_query(request))]})

        return _guard(answer)

    return router
