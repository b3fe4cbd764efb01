"""Health and readiness of every process: `/healthz` (alive) and `/readyz` (its dependencies answer).

Shared by the HTTP services and the workers' small HTTP servers, so it sits below all of them.

`ReadinessProbe` runs named checks (blocking callables that raise when a dependency is unreachable,
such as a store query or a broker metadata request) in a thread, and keeps the result for `ttl_s`
seconds: a storm of probes or scrapes costs the store and the broker one check per interval.
`/readyz` answers 200 `{"status": "ready", "checks": {...}}`, or 503 with the error envelope (code
`not_ready`) naming each failing check.

Example:
    >>> probe = ReadinessProbe({"store": store.count_spans})  # doctest: +SKIP
    >>> app = worker_http_app(probe, render_metrics)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datatracing.pipeline.http_errors import envelope

__all__ = ["READINESS_TTL_S", "ReadinessProbe", "healthz_response", "metadata_check", "worker_http_app"]

log = logging.getLogger(__name__)

#: How long a readiness result is reused before the checks run again.
READINESS_TTL_S = 2.0

#: Text format of Prometheus' exposition (what `prometheus_client.CONTENT_TYPE_LATEST` names).
_PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"

Check = Callable[[], object]

#: How long a broker check waits for the metadata answer.
_BROKER_TIMEOUT_S = 2.0


def metadata_check(client: Any, timeout_s: float = _BROKER_TIMEOUT_S) -> Check:
    """A check asking the broker for its metadata through a confluent-kafka `client` (a producer or
    an admin client): it raises when no broker answers within `timeout_s`."""

    def check() -> object:
        return client.list_topics(timeout=timeout_s)

    return check


class ReadinessProbe:
    """Named dependency checks, run together at most once per `ttl_s`, results cached."""

    def __init__(self, checks: Mapping[str, Check], *, ttl_s: float = READINESS_TTL_S) -> None:
        self.checks = dict(checks)
        self.ttl_s = ttl_s
        self._at = float("-inf")
        self._result: dict[str, str] = {}
        self._lock: asyncio.Lock | None = None

    def run_checks(self) -> dict[str, str]:
        """Run every check now (blocking): `"ok"` or `"failing: <reason>"` by name."""
        result: dict[str, str] = {}
        for name, check in self.checks.items():
            try:
                check()
            except Exception as exc:  # any failure of a dependency means "not ready", with its reason
                reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                result[name] = f"failing: {reason}"
                log.info("readiness check %s failing: %s", name, reason)
            else:
                result[name] = "ok"
        return result

    async def status(self) -> dict[str, str]:
        """The checks' results, at most `ttl_s` old; concurrent callers share one run."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if time.monotonic() - self._at >= self.ttl_s:
                self._result = await asyncio.to_thread(self.run_checks)
                self._at = time.monotonic()
            return dict(self._result)

    async def response(self) -> Response:
        """`/readyz`'s answer: 200 when every check passed, else 503 with the envelope."""
        result = await self.status()
        failing = {name: state for name, state in result.items() if state != "ok"}
        if not failing:
            return JSONResponse({"status": "ready", "checks": result})
        message = "not ready: " + "; ".join(f"{name} {state}" for name, state in sorted(failing.items()))
        details = [{"check": name, "status": state} for name, state in sorted(result.items())]
        return envelope(503, "not_ready", message, details)


def healthz_response(**extra: Any) -> JSONResponse:
    """`/healthz`'s answer: the process is alive and serving."""
    return JSONResponse({"status": "ok", **extra})


def worker_http_app(probe: ReadinessProbe, render_metrics: Callable[[], bytes]) -> Starlette:
    """A worker's HTTP app: `/metrics` (Prometheus text), `/healthz`, `/readyz`; other paths 404."""

    async def metrics(_: Request) -> Response:
        return Response(render_metrics(), media_type=_PROMETHEUS_TEXT)

    async def healthz(_: Request) -> Response:
        return healthz_response()

    async def readyz(_: Request) -> Response:
        return await probe.response()

    async def not_found(_: Request, exc: Exception) -> Response:
        return envelope(404, "not_found", "not found: this server answers /metrics, /healthz and /readyz")

    routes = [
        Route("/metrics", metrics, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={404: not_found})
