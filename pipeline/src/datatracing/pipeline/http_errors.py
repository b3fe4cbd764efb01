"""The JSON error envelope and the mapping from exceptions to HTTP status codes.

Shared by the HTTP services (the query API and the ingest gateway), so it sits below both.

Every error answer has the same shape: `{"error": {"code": "...", "message": "...", "details": [...]}}`.
Bad input is a 4xx; a store that is down is a 503 with `Retry-After`; nothing valid gives a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from datatracing.errors import InvalidDataError, UsageError
from datatracing.pipeline.errors import StoreUnavailableError

__all__ = ["ApiError", "envelope", "install_error_handlers"]

log = logging.getLogger(__name__)

_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


class ApiError(Exception):
    """An error to answer with a given status, code and message."""

    def __init__(self, status: int, code: str, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []


def envelope(
    status: int,
    code: str,
    message: str,
    details: list[Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or []}}
    out = dict(headers or {})
    if status == 503:
        out["Retry-After"] = "5"
    return JSONResponse(body, status_code=status, headers=out or None)


def _validation_details(errors: list[Any]) -> tuple[str, list[dict[str, str]]]:
    details = [
        {
            "field": ".".join(str(p) for p in e.get("loc", ()) if p not in ("query", "path")),
            "message": e["msg"],
        }
        for e in errors
    ]
    first = details[0] if details else {"field": "request", "message": "invalid"}
    return f"{first['field']}: {first['message']}", details


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception through the envelope."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return envelope(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, details = _validation_details(list(exc.errors()))
        return envelope(400, "bad_request", message, details)

    @app.exception_handler(ValidationError)
    async def _model_invalid(_: Request, exc: ValidationError) -> JSONResponse:
        message, details = _validation_details(list(exc.errors()))
        return envelope(400, "bad_request", message, details)

    @app.exception_handler(InvalidDataError)
    @app.exception_handler(UsageError)
    async def _bad_input(_: Request, exc: Exception) -> JSONResponse:
        return envelope(400, "bad_request", str(exc))

    @app.exception_handler(StoreUnavailableError)
    async def _store_down(_: Request, exc: StoreUnavailableError) -> JSONResponse:
        log.warning("store unavailable: %s", exc)
        return envelope(503, "store_unavailable", "the trace store is unavailable, retry later")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Keep the exception's headers: a 405 must say `Allow`.
        code = _CODES.get(exc.status_code, "error")
        return envelope(exc.status_code, code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:  # pragma: no cover - a bug
        log.error("unexpected error", exc_info=exc)
        return envelope(500, "internal", "internal error")
