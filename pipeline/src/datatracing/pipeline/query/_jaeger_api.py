"""Jaeger's query HTTP JSON API under `/api/`: what Jaeger UI and Grafana's Jaeger data source call.

Routes, parameters and answers follow Jaeger's `http_handler.go` and `query_parser.go`:

- `GET /api/services`, `GET /api/services/{service}/operations` (names),
  `GET /api/operations?service=&spanKind=` (`{name, spanKind}` objects);
- `GET /api/traces?service=&operation=&tags=<JSON>&tag=k:v&minDuration=&maxDuration=&start=&end=&limit=`
  (Go durations, epoch microseconds, default window the last two days, default limit 100, capped at
  1000) or `?traceID=...` repeated; filters hold on one span and whole traces come back. The tags
  `error=true` and `otel.status_code=ERROR|OK|UNSET`, which Jaeger derives from the span status, filter
  on the status;
- `GET /api/traces/{traceID}?start=&end=`: one trace, or 404; with `Accept: application/protobuf` the
  trace is OTLP `TracesData` protobuf instead, the answer Tempo's `/api/traces/{id}` gives, so Grafana's
  Tempo data source can fall back to it;
- `GET /api/dependencies?endTs=&lookback=&service=` (milliseconds, default lookback 24 h);
- `/api/v3/*`, from `_jaeger_v3`.

Every answer is Jaeger's envelope `{data, total, limit, offset, errors}`; errors carry `[{code, msg}]`
with 400 (bad parameter, named), 404 (unknown trace) or 503 (store down).

Example:
    >>> app = create_app(store)  # doctest: +SKIP
    >>> app.include_router(jaeger_router(store))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from datatracing.pipeline.errors import StoreUnavailableError
from datatracing.pipeline.query._durations import parse_go_duration
from datatracing.pipeline.query._jaeger import jaeger_id, jaeger_trace_json
from datatracing.pipeline.query._jaeger_v3 import jaeger_v3_router
from datatracing.pipeline.query._otlp_out import otlp_request
from datatracing.pipeline.query._params import ParamError, parse_trace_id
from datatracing.pipeline.store import TraceQuery, TraceStore

__all__ = ["jaeger_router"]

_US = 1_000
_MS = 1_000_000
_MAX_NS = 2**63 - 1
_LOOKBACK_NS = 2 * 86_400 * 10**9  # Jaeger's default search window
_DEPENDENCY_LOOKBACK_MS = 86_400_000
_DEFAULT_LIMIT = 100
_MAX_LIMIT = 1000
_PROTOBUF = "application/protobuf"
_Status = Literal["ok", "error", "unset"]
_STATUS_TAGS: dict[str, _Status] = {"ERROR": "error", "OK": "ok", "UNSET": "unset"}


def _envelope(data: Any, *, total: int = 0) -> JSONResponse:
    return JSONResponse({"data": data, "total": total, "limit": 0, "offset": 0, "errors": None})


def _traces(texts: list[str], errors: list[dict[str, Any]] | None = None) -> Response:
    # The traces are JSON text already (see `jaeger_trace_json`); only the envelope is written here.
    tail = json.dumps(errors or None, ensure_ascii=False)
    body = '{"data":[%s],"total":0,"limit":0,"offset":0,"errors":%s}' % (",".join(texts), tail)  # noqa: UP031
    return Response(body.encode("utf-8", "replace"), media_type="application/json")


def _error(status: int, message: str) -> JSONResponse:
    body = {"data": None, "total": 0, "limit": 0, "offset": 0, "errors": [{"code": status, "msg": message}]}
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(body, status_code=status, headers=headers)


def _guard(handler: Callable[[], Response]) -> Response:
    try:
        return handler()
    except ParamError as exc:
        return _error(exc.status, exc.message)
    except StoreUnavailableError:
        return _error(503, "the trace store is unavailable, retry later")


def _first(request: Request, name: str) -> str:
    # Go's `url.Values.Get`: the first value, "" when absent.
    return request.query_params.get(name) or ""


def _int(request: Request, name: str) -> int | None:
    text = _first(request, name)
    if not text:
        return None
    try:
        return int(text, 10)
    except ValueError:
        raise ParamError(f"unable to parse param '{name}': {text[:64]!r} is not an integer") from None


def _time_ns(request: Request, name: str, unit_ns: int) -> int | None:
    value = _int(request, name)
    if value is None:
        return None
    ns = value * unit_ns
    if not 0 <= ns <= _MAX_NS:
        raise ParamError(f"unable to parse param '{name}': {value} is outside the epoch range")
    return ns


def _duration(request: Request, name: str) -> int | None:
    text = _first(request, name)
    if not text:
        return None
    try:
        ns = parse_go_duration(text)
    except ValueError as exc:
        raise ParamError(f"unable to parse param '{name}': {exc}") from None
    if ns < 0:
        raise ParamError(f"unable to parse param '{name}': {text!r} is negative")
    return ns or None  # Jaeger treats a zero duration as no bound


def _parse_tags(simple: list[str], as_json: list[str]) -> dict[str, str]:
    """Jaeger's `tag=k:v` (split at the first colon) and `tags={"k": "v"}` parameters, JSON last."""
    tags: dict[str, str] = {}
    for item in simple:
        key, sep, value = item.partition(":")
        if not sep:
            raise ParamError(f"malformed 'tag' parameter, expecting key:value, received: {item[:100]}")
        tags[key] = value
    for text in as_json:
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise ParamError(f"malformed 'tags' parameter, cannot unmarshal JSON: {exc}") from None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise ParamError("malformed 'tags' parameter, expecting a JSON object of strings")
        tags.update(parsed)
    return tags


def _search_query(request: Request) -> TraceQuery:
    service = _first(request, "service") or None
    if service is None:
        raise ParamError("parameter 'service' is required")
    start = _time_ns(request, "start", _US)
    end = _time_ns(request, "end", _US)
    end = time.time_ns() if end is None else end
    start = max(0, end - _LOOKBACK_NS) if start is None else start
    if start > end:
        raise ParamError("invalid parameter: start time must be before end time")
    limit = _int(request, "limit")
    limit = _DEFAULT_LIMIT if limit is None else limit
    if limit <= 0:
        raise ParamError("invalid parameter: limit must be greater than 0")
    min_ns, max_ns = _duration(request, "minDuration"), _duration(request, "maxDuration")
    if min_ns is not None and max_ns is not None and max_ns < min_ns:
        raise ParamError("'maxDuration' should be greater than 'minDuration'")
    tags = _parse_tags(request.query_params.getlist("tag"), request.query_params.getlist("tags"))
    status: _Status | None = None
    if tags.get("error") == "true":
        del tags["error"]
        status = "error"
    code = tags.get("otel.status_code", "").upper()
    if code in _STATUS_TAGS:
        del tags["otel.status_code"]
        status = _STATUS_TAGS[code]
    try:
        return TraceQuery(
            service=service,
            operation=_first(request, "operation") or None,
            status=status,
            start_ns=start,
            end_ns=end,
            min_duration_ns=min_ns,
            max_duration_ns=max_ns,
            attributes=tags,
            limit=min(limit, _MAX_LIMIT),
        )
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise ParamError(f"invalid parameter: {exc}") from None


def jaeger_router(store: TraceStore) -> APIRouter:
    """Jaeger's `/api/*` query routes, `/api/v3/*` included, over `store` (blocking store calls run in
    FastAPI's thread pool)."""
    router = APIRouter()
    router.include_router(jaeger_v3_router(store))

    @router.get("/api/services")
    def services() -> Response:
        def answer() -> Response:
            names = store.services()
            return _envelope(names, total=len(names))

        return _guard(answer)

    @router.get("/api/services/{service}/operations")
    def service_operations(service: str) -> Response:
        def answer() -> Response:
            names = list(dict.fromkeys(op.name for op in store.operations(service)))
            return _envelope(names, total=len(names))

        return _guard(answer)

    @router.get("/api/operations")
    def operations(request: Request) -> Response:
        def answer() -> Response:
            service = _first(request, "service")
            if not service:
                raise ParamError("parameter 'service' is required")
            kind = _first(request, "spanKind")
            ops = [
                {"name": op.name, "spanKind": op.span_kind}
                for op in store.operations(service)
                if not kind or op.span_kind == kind
            ]
            return _envelope(ops, total=len(ops))

        return _guard(answer)

    @router.get("/api/traces/{trace_id}")
    def get_trace(trace_id: str, request: Request) -> Response:
        def answer() -> Response:
            tid = parse_trace_id(trace_id, "traceID")
            # Validated like Jaeger, not used: the store finds a trace by id alone, and Grafana's Jaeger
            # data source sends milliseconds here where Jaeger reads microseconds.
            _time_ns(request, "start", _US)
            _time_ns(request, "end", _US)
            trace = store.get_trace(tid)
            if trace is None:
                return _error(404, "trace not found")
            if _PROTOBUF in request.headers.get("accept", ""):
                payload = otlp_request(trace.spans).SerializeToString()
                return Response(payload, media_type=_PROTOBUF)
            return _traces([jaeger_trace_json(trace)])

        return _guard(answer)

    @router.get("/api/traces")
    def search(request: Request) -> Response:
        def answer() -> Response:
            ids = request.query_params.getlist("traceID")
            if ids:
                return _by_ids(ids)
            page = store.search(_search_query(request))
            found = [store.get_trace(hit.trace_id) for hit in page.traces]
            return _traces([jaeger_trace_json(t) for t in found if t is not None])

        return _guard(answer)

    def _by_ids(ids: list[str]) -> Response:
        parsed = [parse_trace_id(raw, "traceID", prefix="cannot parse traceID param: ") for raw in ids]
        data, errors = [], []
        for tid in dict.fromkeys(parsed):
            trace = store.get_trace(tid)
            if trace is None:
                errors.append({"msg": "trace not found", "traceID": jaeger_id(tid)})
            else:
                data.append(jaeger_trace_json(trace))
        return _traces(data, errors)

    @router.get("/api/dependencies")
    def dependencies(request: Request) -> Response:
        def answer() -> Response:
            end = _time_ns(request, "endTs", _MS)
            end = time.time_ns() if end is None else end
            lookback = _int(request, "lookback")
            lookback = _DEPENDENCY_LOOKBACK_MS if lookback is None else lookback
            if lookback < 0:
                raise ParamError(f"unable to parse param 'lookback': {lookback} is negative")
            start = max(0, end - lookback * _MS)
            service = _first(request, "service")
            calls: dict[tuple[str, str], int] = {}
            for edge in store.dependencies(start, end):
                if not service or service in (edge.parent, edge.child):
                    key = (edge.parent, edge.child)
                    calls[key] = calls.get(key, 0) + edge.call_count
            links = [{"parent": p, "child": c, "callCount": n} for (p, c), n in calls.items()]
            return _envelope(links)

        return _guard(answer)

    return router
