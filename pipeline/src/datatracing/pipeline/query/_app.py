"""The query service: `create_app(store)` builds the FastAPI app; `/v1` is our own JSON API.

Routes (all JSON; errors use the envelope from `_errors`; the document is `docs/openapi-v1.json`):

- `GET /v1/traces/{trace_id}`: one trace, spans sorted by start time, and its sampling audit.
- `GET /v1/traces`: trace summaries, newest first, with span- and trace-level filters (`_v1`).
- `GET /v1/services`, `GET /v1/services/{service}/operations`, `GET /v1/dependencies?start=&end=`.
- `GET /v1/stats` (stored span count), `GET /healthz`.

Other APIs are routers of their own, added with `app.include_router(...)` in `create_app`.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

from datatracing.pipeline.query._errors import ApiError, install_error_handlers
from datatracing.pipeline.query._openapi import service_document
from datatracing.pipeline.query._v1 import v1_router
from datatracing.pipeline.store import TraceStore

__all__ = ["create_app", "normalize_trace_id"]

_HEX = re.compile(r"^[0-9a-fA-F]{1,32}$")


def normalize_trace_id(raw: str) -> str:
    """Lowercase, left-pad to 32 hex characters (64-bit ids as Jaeger does); 400 when not hex."""
    if not _HEX.match(raw) or int(raw, 16) == 0:
        raise ApiError(400, "bad_request", f"trace_id: {raw[:64]!r} is not 1-32 hex characters, non-zero")
    return raw.lower().rjust(32, "0")


def create_app(store: TraceStore, *, max_limit: int = 1000) -> FastAPI:
    """Build the query service over `store` (blocking calls run in FastAPI's thread pool)."""
    app = FastAPI(title="DataTracing query service", version="0.1.0")
    install_error_handlers(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(v1_router(store, max_limit=max_limit))

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = service_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
