"""Parameter errors and trace-id parsing shared by every API of the query service.

The compatible APIs render `ParamError` in their own error shape (Jaeger's envelope, `/api/v3`'s
gateway error, Tempo's plain text); the message names the parameter the caller sent. `/v1` routes
check ids with a path pattern (documented in the OpenAPI document) and use `path_trace_id`.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path

__all__ = ["ParamError", "TraceIdPath", "parse_trace_id", "path_trace_id"]

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


#: A `/v1` path trace id, checked and documented (OpenAPI) by its pattern.
TraceIdPath = Annotated[
    str, Path(pattern="^[0-9a-fA-F]{1,32}$", description="1-32 hex digits (64-bit ids are left-padded).")
]


def path_trace_id(raw: str) -> str | None:
    """A `/v1` path id (1-32 hex digits, checked by the route's pattern) as 32 lowercase characters;
    None for the all-zero id, which no trace has (the route answers 404, as for any unknown id)."""
    normalized = raw.lower().rjust(32, "0")
    return None if int(normalized, 16) == 0 else normalized
