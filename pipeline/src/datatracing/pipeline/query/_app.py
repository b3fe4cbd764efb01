"""The query service: `create_app(store)` builds the FastAPI app; `/v1` is our own JSON API.

Routes (all JSON; errors use the envelope from `_errors`; the document is `docs/openapi-v1.json`):

- `GET /v1/traces/{trace_id}`: one trace, spans sorted by start time, and its sampling audit.
- `GET /v1/traces`: trace summaries, newest first, with span- and trace-level filters (`_v1`).
- `GET /v1/services`, `GET /v1/services/{service}/operations`, `GET /v1/dependencies?start=&end=`.
- `GET /v1/traces/{trace_id}/graph`: the trace's graph and critical path (`_graph_api`).
- `GET /v1/stats` (stored span count), `GET /healthz` (alive), `GET /readyz` (the store answers:
  200, else 503 with the envelope; the check's result is reused for `READINESS_TTL_S`).
- `GET /metrics`: Prometheus text of `app.state.metrics_registry` (the request metrics of `_metrics`,
  and whatever the hosting process registers there, such as the sink's).

With an `Authenticator`, every route but the probes, `/metrics`, `/openapi.json` and the UI's page
shell and static files answers 401 without a known key (see `datatracing.pipeline.http_auth`); the
UI's scripts send the key the user typed.

Jaeger's query API (`/api/...`, `/api/v3/...`), Tempo's trace by id (`/api/v2/traces/{id}`) and
the web UI (`/`) are routers of their own, added in `create_app`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from datatracing.pipeline.http_auth import Authenticator, AuthMiddleware
from datatracing.pipeline.http_errors import install_error_handlers
from datatracing.pipeline.http_health import ReadinessProbe, healthz_response
from datatracing.pipeline.query._graph_api import graph_router
from datatracing.pipeline.query._jaeger_api import jaeger_router
from datatracing.pipeline.query._metrics import RequestMetrics, RequestMetricsMiddleware
from datatracing.pipeline.query._openapi import service_document
from datatracing.pipeline.query._sql_api import DEFAULT_SQL_ROWS, MAX_SQL_ROWS, SQL_SECONDS, sql_router
from datatracing.pipeline.query._tempo import tempo_router
from datatracing.pipeline.query._ui import ui_router
from datatracing.pipeline.query._v1 import v1_router
from datatracing.pipeline.store import TraceStore

__all__ = ["create_app"]


#: Paths the web UI needs before it can ask for a key: its page shell, static files, and the API
#: document its search form reads.
_UI_PAGES = frozenset({"/", "/search", "/services", "/openapi.json"})


def _ui_open(path: str) -> bool:
    return path in _UI_PAGES or path.startswith(("/static/", "/trace/"))


def create_app(
    store: TraceStore,
    *,
    max_limit: int = 1000,
    auth: Authenticator | None = None,
    readiness: Mapping[str, Callable[[], object]] | None = None,
    registry: CollectorRegistry | None = None,
    sql_default_rows: int = DEFAULT_SQL_ROWS,
    sql_max_rows: int = MAX_SQL_ROWS,
    sql_timeout_s: float = SQL_SECONDS,
) -> FastAPI:
    """Build the query service over `store` (blocking calls run in FastAPI's thread pool).

    `auth` turns API keys on; `readiness` names the checks of `/readyz` (by default the store's);
    `registry` is where the request metrics go and what `/metrics` serves (by default a new one, at
    `app.state.metrics_registry`); `sql_*` are the limits of `POST /v1/sql`.
    """
    app = FastAPI(title="DataTracing query service", version="0.1.0")
    install_error_handlers(app)
    registry = registry if registry is not None else CollectorRegistry(auto_describe=False)
    app.state.metrics_registry = registry

    def store_answers() -> object:  # looked up when called: building the app never touches the store
        return store.count_spans()

    probe = ReadinessProbe(readiness if readiness is not None else {"store": store_answers})
    if auth is not None:
        app.add_middleware(AuthMiddleware, authenticator=auth, is_open=_ui_open)
    # Added last, so outermost: refused requests are counted too.
    app.add_middleware(RequestMetricsMiddleware, metrics=RequestMetrics(registry))

    @app.get("/healthz")
    def healthz() -> Response:
        return healthz_response()

    @app.get("/readyz", responses={503: {"description": "the store (or broker) does not answer"}})
    async def readyz() -> Response:
        return await probe.response()

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(v1_router(store, max_limit=max_limit))
    app.include_router(graph_router(store))
    app.include_router(  # POST /v1/sql
        sql_router(store, default_rows=sql_default_rows, max_rows=sql_max_rows, max_seconds=sql_timeout_s)
    )
    app.include_router(jaeger_router(store))  # /api/... and /api/v3/...
    app.include_router(tempo_router(store))  # /api/v2/traces/{id}
    app.include_router(ui_router())  # /, /search, /trace/{id}, /services, /static/...

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = service_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
