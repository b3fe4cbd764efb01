"""The `/v1` routes: trace by id, trace search, services, operations, dependencies, stats.

Search semantics (see `docs/openapi-v1.json` for every parameter):

- Span-level filters (`service`, `operation`, `status`, `attr`, `resource_attr`) must all hold on
  one span of the trace, which must start in [`start`, `end`] (default: the day before `end`,
  which defaults to now).
- Trace-level filters hold on the whole trace: `min_duration_ms`/`max_duration_ms` on the trace's
  duration (first span start to last span end; `duration_scope=span` makes them span-level),
  `trace_service` (repeated: the trace has spans of every one of these services), `min_spans` /
  `max_spans` (distinct spans in the trace), `has_error` (some span of the trace has status ERROR).
- Pages are newest first; `next_cursor` goes back as `cursor`.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import StringConstraints, WithJsonSchema

from datatracing.pipeline.http_errors import ApiError
from datatracing.pipeline.query._params import TraceIdPath, path_trace_id
from datatracing.pipeline.query._v1_models import (
    DependenciesBody,
    OperationsBody,
    ServicesBody,
    StatsBody,
    TraceBody,
    TracePageBody,
    error_responses,
)
from datatracing.pipeline.query._v1_params import (
    MAX_DURATION_MS,
    MAX_SPANS,
    TIME_SCHEMA,
    check_order,
    check_time_range,
    key_values,
    reject_unknown_parameters,
    time_ns,
    trace_query,
)
from datatracing.pipeline.store import TraceStore

__all__ = ["v1_router"]

_DAY_NS = 86_400 * 10**9
_KEY_VALUE = r"^[^=]{1,4096}=[\s\S]{0,4096}$"
_TIME_DOC = (
    "RFC 3339 time (naive means UTC) or Unix time as a number (seconds; milliseconds when its size"
    " is above 2e10), clamped to 1970-01-01 .. 2262-04-11; `start` after `end` is a 400."
)

Duration = Annotated[
    float | None,
    Query(
        ge=0,
        le=MAX_DURATION_MS,
        allow_inf_nan=False,
        description=(
            "Milliseconds (finite). On the trace's duration unless `duration_scope=span`;"
            " `max_duration_ms` below `min_duration_ms` is a 400."
        ),
    ),
]
SpanCount = Annotated[
    int | None,
    Query(
        ge=0, le=MAX_SPANS, description="Distinct spans in the trace; `max_spans` below `min_spans` is a 400."
    ),
]
Time = Annotated[str | None, WithJsonSchema(TIME_SCHEMA), Query(description=_TIME_DOC)]
KeyValues = Annotated[
    list[Annotated[str, StringConstraints(pattern=_KEY_VALUE)]],
    Query(max_length=64, description="Repeat `key=value` (the value may be empty)."),
]


def _ms_to_ns(value: float | None) -> int | None:
    return None if value is None else round(value * 1_000_000)


def v1_router(store: TraceStore, *, max_limit: int = 1000) -> APIRouter:
    """The `/v1` API over `store`; every route answers 400 for a query parameter it does not know."""
    router = APIRouter(prefix="/v1", dependencies=[Depends(reject_unknown_parameters)], tags=["v1"])

    @router.get(
        "/traces/{trace_id}",
        response_model=None,
        responses={200: {"model": TraceBody}, **error_responses(400, 404, 503)},
    )
    def get_trace(
        trace_id: TraceIdPath,
    ) -> Response:
        """One trace with all its spans, and the sampling audit of it."""
        normalized = path_trace_id(trace_id)
        found = None if normalized is None else store.get_sampled_trace(normalized)
        if found is None:
            raise ApiError(404, "not_found", f"trace {trace_id} not found")
        # pydantic serialises the models to JSON itself; FastAPI's encoder would walk every value
        # of every span again in Python.
        sampling = "null" if found.sampling is None else found.sampling.model_dump_json()
        body = f'{{"data":{found.trace.model_dump_json()},"sampling":{sampling}}}'
        return Response(body, media_type="application/json")

    @router.get(
        "/traces", response_model=None, responses={200: {"model": TracePageBody}, **error_responses(400, 503)}
    )
    def search_traces(
        service: Annotated[str | None, Query(min_length=1, max_length=4096)] = None,
        operation: Annotated[str | None, Query(min_length=1, max_length=4096)] = None,
        status: Literal["ok", "error", "unset"] | None = None,
        start: Time = None,
        end: Time = None,
        min_duration_ms: Duration = None,
        max_duration_ms: Duration = None,
        duration_scope: Literal["trace", "span"] = "trace",
        trace_service: Annotated[
            list[Annotated[str, StringConstraints(min_length=1, max_length=4096)]],
            Query(max_length=64, description="Repeat: the trace has spans of every one of these services."),
        ] = [],  # noqa: B006 - FastAPI copies defaults
        min_spans: SpanCount = None,
        max_spans: SpanCount = None,
        has_error: Annotated[
            bool | None, Query(description="Some span of the trace has status ERROR.")
        ] = None,
        attr: KeyValues = [],  # noqa: B006
        resource_attr: KeyValues = [],  # noqa: B006
        limit: int = Query(20, ge=1, le=max_limit),  # a default, not `Annotated`: bound per app
        cursor: Annotated[
            str | None, Query(max_length=200, description="`next_cursor` of the previous page, as it was.")
        ] = None,
    ) -> dict[str, Any]:
        """Traces matching every filter, newest first (see the module docstring for the semantics)."""
        end_ns = time_ns(end, "end")
        end_ns = time.time_ns() if end_ns is None else end_ns
        start_ns = time_ns(start, "start")
        start_ns = max(0, end_ns - _DAY_NS) if start_ns is None else start_ns
        check_time_range(start_ns, end_ns)
        check_order(min_duration_ms, max_duration_ms, "min_duration_ms", "max_duration_ms")
        check_order(min_spans, max_spans, "min_spans", "max_spans")
        durations = {
            "min_duration_ns": _ms_to_ns(min_duration_ms),
            "max_duration_ns": _ms_to_ns(max_duration_ms),
        }
        if duration_scope == "trace":
            durations = {k.replace("_duration", "_trace_duration"): v for k, v in durations.items()}
        query = trace_query(
            service=service,
            operation=operation,
            status=status,
            start_ns=start_ns,
            end_ns=end_ns,
            trace_services=tuple(trace_service),
            min_spans=min_spans,
            max_spans=max_spans,
            trace_error=has_error,
            attributes=key_values(attr, "attr"),
            resource_attributes=key_values(resource_attr, "resource_attr"),
            limit=limit,
            cursor=cursor,
            **durations,
        )
        page = store.search(query)
        return {"data": [t.model_dump(mode="json") for t in page.traces], "next_cursor": page.next_cursor}

    @router.get(
        "/services",
        response_model=None,
        responses={200: {"model": ServicesBody}, **error_responses(400, 503)},
    )
    def services() -> dict[str, Any]:
        """Every service with stored spans, sorted."""
        return {"data": store.services()}

    @router.get(
        "/services/{service}/operations",
        response_model=None,
        responses={200: {"model": OperationsBody}, **error_responses(400, 503)},
    )
    def operations(service: str) -> dict[str, Any]:
        """Span names and kinds of one service, sorted (empty for an unknown service)."""
        return {"data": [op.model_dump(mode="json") for op in store.operations(service)]}

    @router.get(
        "/dependencies",
        response_model=None,
        responses={200: {"model": DependenciesBody}, **error_responses(400, 503)},
    )
    def dependencies(start: Time = None, end: Time = None) -> dict[str, Any]:
        """Calls between services (each span counted once) for spans starting in [`start`, `end`]
        (default: the day before `end`, which defaults to now)."""
        end_ns = time_ns(end, "end")
        end_ns = time.time_ns() if end_ns is None else end_ns
        start_ns = time_ns(start, "start")
        start_ns = max(0, end_ns - _DAY_NS) if start_ns is None else start_ns
        check_time_range(start_ns, end_ns)
        return {"data": [e.model_dump(mode="json") for e in store.dependencies(start_ns, end_ns)]}

    @router.get(
        "/stats", response_model=None, responses={200: {"model": StatsBody}, **error_responses(400, 503)}
    )
    def stats() -> dict[str, Any]:
        """Distinct spans stored."""
        return {"data": {"spans": store.count_spans()}}

    return router
