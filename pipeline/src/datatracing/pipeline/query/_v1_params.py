"""Query parameters of `/v1` as users send them, turned into store values or a 400 naming them.

FastAPI checks each parameter against its declared type and bounds (finite numbers only: `inf`,
`nan` and `1e309` are a 400, as is anything out of the declared range). What a schema cannot say is
checked here: parameters a route does not know, time ranges in order, ranges whose low end is above
the high end, and the store's own validation, whose messages are rewritten to the names the user
sent (`end`, not `end_ns`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

from datatracing.pipeline.http_errors import ApiError
from datatracing.pipeline.store import TraceQuery

__all__ = [
    "MAX_DURATION_MS",
    "MAX_SPANS",
    "TIME_SCHEMA",
    "check_order",
    "check_time_range",
    "key_values",
    "reject_unknown_parameters",
    "time_ns",
    "trace_query",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
#: How the time parameters are documented: what `time_ns` accepts.
TIME_SCHEMA: dict[str, Any] = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}]}
_MAX_NS = 2**63 - 1
#: Upper bound of the duration parameters (about 285 years): nanoseconds stay within Int64.
MAX_DURATION_MS = 9_000_000_000_000
#: Upper bound of the span-count parameters.
MAX_SPANS = 2**32
_UNKNOWN_SHOWN = 10

# Store field -> the query parameter a user sent for it (for messages).
_FIELD_PARAMETER = {
    "start_ns": "start",
    "end_ns": "end",
    "min_duration_ns": "min_duration_ms",
    "max_duration_ns": "max_duration_ms",
    "min_trace_duration_ns": "min_duration_ms",
    "max_trace_duration_ns": "max_duration_ms",
    "trace_services": "trace_service",
    "trace_error": "has_error",
    "attributes": "attr",
    "resource_attributes": "resource_attr",
}


async def reject_unknown_parameters(request: Request) -> None:
    """A 400 naming every query parameter the matched route does not declare.

    A misspelt filter (`servise=`) would otherwise be ignored and widen the search silently.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = {param.alias for param in route.dependant.query_params}
    unknown = sorted({name for name in request.query_params if name not in known})
    if unknown:
        shown = ", ".join(repr(name[:64]) for name in unknown[:_UNKNOWN_SHOWN])
        more = f" and {len(unknown) - _UNKNOWN_SHOWN} more" if len(unknown) > _UNKNOWN_SHOWN else ""
        raise ApiError(
            400,
            "bad_request",
            f"unknown query parameter(s): {shown}{more}; known: {', '.join(sorted(known)) or 'none'}",
            [{"field": name[:64], "message": "unknown query parameter"} for name in unknown[:_UNKNOWN_SHOWN]],
        )


def time_ns(value: str | None, name: str) -> int | None:
    """Epoch nanoseconds of a time parameter, clamped to what the store keeps: 1970-01-01 to
    2262-04-11 (Int64 nanoseconds). A number is Unix time in seconds, or in milliseconds when its
    size is above 2e10 (as pydantic reads numbers as times); text is an ISO 8601 / RFC 3339 time,
    naive meaning UTC. Integer arithmetic on the parsed time: any year parses, none overflows."""
    if value is None:
        return None
    text = value.strip()
    if _NUMBER.match(text):
        number = float(text)
        scale = 1e6 if abs(number) > 2e10 else 1e9
        if not math.isfinite(number * scale):
            return 0 if number < 0 else _MAX_NS
        return min(max(int(number * scale), 0), _MAX_NS)
    try:
        moment = _DATETIME.validate_python(text)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"] if exc.errors() else "not a time"
        raise ApiError(
            400, "bad_request", f"{name}: {message}", [{"field": name, "message": message}]
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    ns = ((moment - _EPOCH) // timedelta(microseconds=1)) * 1000
    return min(max(ns, 0), _MAX_NS)


def check_time_range(start_ns: int, end_ns: int) -> None:
    if end_ns < start_ns:
        raise ApiError(
            400, "bad_request", "end: is before start", [{"field": "end", "message": "before start"}]
        )


def check_order(low: float | None, high: float | None, low_name: str, high_name: str) -> None:
    """400 when both ends of a range are given and `high` is below `low`."""
    if low is not None and high is not None and high < low:
        message = f"is below {low_name}"
        raise ApiError(
            400, "bad_request", f"{high_name}: {message}", [{"field": high_name, "message": message}]
        )


def key_values(values: list[str], name: str) -> dict[str, str]:
    """`key=value` items of a repeated parameter (the value may be empty or hold `=`)."""
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ApiError(400, "bad_request", f"{name}: expected key=value, got {item[:100]!r}")
        out[key] = value
    return out


def trace_query(**fields: Any) -> TraceQuery:
    """A `TraceQuery`, or a 400 whose message and details name the query parameters."""
    try:
        return TraceQuery(**fields)
    except ValidationError as exc:
        details = [
            {"field": _parameter(err.get("loc", ())), "message": _plain(err.get("msg", "invalid"))}
            for err in exc.errors()
        ]
        first = details[0] if details else {"field": "request", "message": "invalid"}
        raise ApiError(400, "bad_request", f"{first['field']}: {first['message']}", details) from None


def _parameter(loc: tuple[Any, ...] | list[Any]) -> str:
    if not loc:
        return "request"
    field = str(loc[0])
    return _FIELD_PARAMETER.get(field, field)


def _plain(message: str) -> str:
    """Store messages say field names; say the parameter names instead."""
    message = message.removeprefix("Value error, ")
    for field, parameter in _renames().items():
        message = message.replace(field, parameter)
    return message


def _renames() -> Mapping[str, str]:
    # Longest first, so `min_trace_duration_ns` is not half-replaced by `min_duration_ns`.
    return dict(sorted(_FIELD_PARAMETER.items(), key=lambda item: -len(item[0])))
