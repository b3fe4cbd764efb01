"""The query service (HTTP JSON API over a `TraceStore`) and its OpenAPI document."""

from __future__ import annotations

from datatracing.pipeline.query._app import create_app, normalize_trace_id
from datatracing.pipeline.query._errors import ApiError
from datatracing.pipeline.query._openapi import v1_document, v1_document_text

__all__ = ["ApiError", "create_app", "normalize_trace_id", "v1_document", "v1_document_text"]
