"""The query service: trace lookup, search, services and dependencies as a JSON HTTP API.

Routes (all JSON; errors use the envelope from `_errors`):

- `GET /v1/traces/{trace_id}`: one trace, spans sorted by start time; 404 when unknown.
- `GET /v1/traces?service=&operation=&status=&start=&end=&min_duration_ms=&max_duration_ms=`
  `&attr=key=value&resource_attr=key=value&limit=&cursor=`: trace summaries, newest first, with
  `next_cursor` for the next page.
- `GET /v1/services`, `GET /v1/services/{service}/operations`, `GET /v1/dependencies?start=&end=`.
- `GET /v1/stats` (stored span count), `GET /healthz`.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query

from datatracing.pipeline.query._errors import ApiError, install_error_handlers
from datatracing.pipeline.store import TraceQuery, TraceStore

_HEX = re.compile(r"^[0-9a-fA-F]{1,32}$")
_DAY_NS = 86_400 * 10**9


def normalize_trace_id(raw: str) -> str:
    """Lowercase, left-pad to 32 hex characters (64-bit ids as Jaeger does); 400 when not hex."""
    if not _HEX.match(raw) or int(raw, 16) == 0:
        raise ApiError(400, "bad_request", f"trace_id: {raw[:64]!r} is not 1-32 hex characters, non-zero")
    return raw.lower().rjust(32, "0")


def _ns(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1e9)


def _pairs(values: list[str], name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ApiError(400, "bad_request", f"{name}: expected key=value, got {item[:100]!r}")
        out[key] = value
    return out


def create_app(store: TraceStore, *, max_limit: int = 1000) -> FastAPI:
    """Build the query service over `store` (blocking calls run in FastAPI's thread pool)."""
    app = FastAPI(title="DataTracing query service", version="0.1.0")
    install_error_handlers(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/stats")
    def stats() -> dict[str, Any]:
        return {"data": {"spans": store.count_spans()}}

    @app.get("/v1/traces/{trace_id}")
    def get_trace(trace_id: str) -> dict[str, Any]:
        trace = store.get_trace(normalize_trace_id(trace_id))
        if trace is None:
            raise ApiError(404, "not_found", f"trace {trace_id} not found")
        return {"data": trace.model_dump(mode="json")}

    @app.get("/v1/traces")
    def search_traces(
        service: str | None = None,
        operation: str | None = None,
        status: Literal["ok", "error", "unset"] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        min_duration_ms: Annotated[float | None, Query(ge=0)] = None,
        max_duration_ms: Annotated[float | None, Query(ge=0)] = None,
        attr: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
        resource_attr: Annotated[list[str], Query()] = [],  # noqa: B006
        limit: Annotated[int, Query(ge=1)] = 20,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        if limit > max_limit:
            raise ApiError(400, "bad_request", f"limit: must be at most {max_limit}")
        end_ns = _ns(end) or time.time_ns()
        query = TraceQuery(
            service=service,
            operation=operation,
            status=status,
            start_ns=_ns(start) if start is not None else end_ns - _DAY_NS,
            end_ns=end_ns,
            min_duration_ns=None if min_duration_ms is None else int(min_duration_ms * 1e6),
            max_duration_ns=None if max_duration_ms is None else int(max_duration_ms * 1e6),
            attributes=_pairs(attr, "attr"),
            resource_attributes=_pairs(resource_attr, "resource_attr"),
            limit=limit,
            cursor=cursor,
        )
        page = store.search(query)
        return {"data": [t.model_dump(mode="json") for t in page.traces], "next_cursor": page.next_cursor}

    @app.get("/v1/services")
    def services() -> dict[str, Any]:
        return {"data": store.services()}

    @app.get("/v1/services/{service}/operations")
    def operations(service: str) -> dict[str, Any]:
        return {"data": [op.model_dump(mode="json") for op in store.operations(service)]}

    @app.get("/v1/dependencies")
    def dependencies(start: datetime | None = None, end: datetime | None = None) -> dict[str, Any]:
        end_ns = _ns(end) or time.time_ns()
        start_ns = _ns(start) or end_ns - _DAY_NS
        edges = store.dependencies(start_ns, end_ns)
        return {"data": [e.model_dump(mode="json") for e in edges]}

    return app
