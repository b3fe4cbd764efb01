"""The query service: `create_app(store)` builds the FastAPI app; `/v1` is our own JSON API.

Routes (all JSON; errors use the envelope from `_errors`; the document is `docs/openapi-v1.json`):

- `GET /v1/traces/{trace_id}`: one trace, spans sorted by start time, and its sampling audit.
- `GET /v1/traces`: trace summaries, newest first, with span- and trace-level filters (`_v1`).
- `GET /v1/services`, `GET /v1/services/{service}/operations`, `GET /v1/dependencies?start=&end=`.
- `GET /v1/traces/{trace_id}/graph`: the trace's graph and critical path (`_graph_api`).
- `GET /v1/stats` (stored span count), `GET /healthz`.

Jaeger's query API (`/api/...`, `/api/v3/...`), Tempo's trace by id (`/api/v2/traces/{id}`) and
the web UI (`/`) are routers of their own, added in `create_app`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from datatracing.pipeline.http_errors import install_error_handlers
from datatracing.pipeline.query._graph_api import graph_router
from datatracing.pipeline.query._jaeger_api import jaeger_router
from datatracing.pipeline.query._openapi import service_document
from datatracing.pipeline.query._sql_api import sql_router
from datatracing.pipeline.query._tempo import tempo_router
from datatracing.pipeline.query._ui import ui_router
from datatracing.pipeline.query._v1 import v1_router
from datatracing.pipeline.store import TraceStore

__all__ = ["create_app"]


def create_app(store: TraceStore, *, max_limit: int = 1000) -> FastAPI:
    """Build the query service over `store` (blocking calls run in FastAPI's thread pool)."""
    app = FastAPI(title="DataTracing query service", version="0.1.0")
    install_error_handlers(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(v1_router(store, max_limit=max_limit))
    app.include_router(graph_router(store))
    app.include_router(sql_router(store))  # POST /v1/sql
    app.include_router(jaeger_router(store))  # /api/... and /api/v3/...
    app.include_router(tempo_router(store))  # /api/v2/traces/{id}
    app.include_router(ui_router())  # /, /search, /trace/{id}, /services, /static/...

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = service_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
