"""Parameter errors and trace-id parsing shared by every API of the query service.

The compatible APIs render `ParamError` in their own error shape (Jaeger's envelope, `/api/v3`'s
gateway error, Tempo's plain text); `/v1` answers `ApiError` in our envelope. Either way the message
names the parameter the caller sent.
"""

from __future__ import annotations

import re

from datatracing.pipeline.query._errors import ApiError

__all__ = ["ParamError", "normalize_trace_id", "parse_trace_id"]

_HEX = re.compile(r"^[0-9a-fA-F]{1,32}$")


class ParamError(Exception):
    """A request parameter is malformed (400) or names something absent (404)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def parse_trace_id(raw: str, name: str, *, prefix: str = "") -> str:
    """A 1-32 hex character trace id as 32 lowercase characters (64-bit ids left-padded, as Jaeger does)."""
    if not _HEX.match(raw) or int(raw, 16) == 0:
        raise ParamError(f"{prefix}{name}: {raw[:64]!r} is not 1-32 hex characters, non-zero")
    return raw.lower().rjust(32, "0")


def normalize_trace_id(raw: str) -> str:
    """`parse_trace_id` for our own routes: a 400 `ApiError` naming `trace_id` when malformed."""
    try:
        return parse_trace_id(raw, "trace_id")
    except ParamError as exc:
        raise ApiError(400, "bad_request", exc.message) from exc
