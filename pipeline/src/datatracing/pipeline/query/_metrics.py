"""Request metrics of the query service, served with the process's other metrics at `/metrics`.

- `datatracing_query_requests_total{route,method,status}`: requests answered.
- `datatracing_query_request_duration_seconds{route}`: time to the end of the answer (histogram).

`route` is the route's template (`/v1/traces/{trace_id}`), never the raw path, so trace ids cannot grow
the label set; a request no route matched, or refused before routing (401 without an API key),
counts as `unmatched`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["RequestMetrics", "RequestMetricsMiddleware"]

_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


class RequestMetrics:
    """The query service's request counter and duration histogram, on `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "datatracing_query_requests",
            "Query service requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "datatracing_query_request_duration_seconds",
            "Query service time to answer, by route template",
            ["route"],
            buckets=_BUCKETS_S,
            registry=registry,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.duration.labels(route).observe(seconds)


def _route_of(scope: MutableMapping[str, Any]) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestMetricsMiddleware:
    """ASGI middleware counting and timing every HTTP request into `RequestMetrics`."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe(_route_of(scope), str(scope.get("method", "")), status, elapsed)
