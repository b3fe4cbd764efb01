"""The query service (HTTP JSON API over a `TraceStore`), with Jaeger- and Tempo-compatible routers."""

from __future__ import annotations

from datatracing.pipeline.query._app import create_app, normalize_trace_id
from datatracing.pipeline.query._errors import ApiError
from datatracing.pipeline.query._jaeger_api import jaeger_router
from datatracing.pipeline.query._tempo import tempo_router

__all__ = ["ApiError", "create_app", "jaeger_router", "normalize_trace_id", "tempo_router"]
