"""The query service (HTTP JSON API over a `TraceStore`)."""

from __future__ import annotations

from datatracing.pipeline.query._app import create_app, normalize_trace_id
from datatracing.pipeline.query._errors import ApiError

__all__ = ["ApiError", "create_app", "normalize_trace_id"]
