"""W3C trace and span ids: random, lowercase hex, never all zero.

`random.getrandbits` is used rather than `os.urandom`: ids need uniqueness, not secrecy, and it is
several times cheaper per span. The `random` module reseeds itself in a forked child, so two processes
forked from one parent do not repeat each other's ids.
"""

from __future__ import annotations

import random
import re

__all__ = [
    "INVALID_SPAN_ID",
    "INVALID_TRACE_ID",
    "is_valid_span_id",
    "is_valid_trace_id",
    "new_span_id",
    "new_trace_id",
]

INVALID_TRACE_ID = "0" * 32
INVALID_SPAN_ID = "0" * 16

_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_getrandbits = random.getrandbits


def new_trace_id() -> str:
    """A random 128-bit trace id as 32 lowercase hex characters (never all zero)."""
    value = _getrandbits(128)
    while not value:  # pragma: no cover - one chance in 2**128
        value = _getrandbits(128)
    return f"{value:032x}"


def new_span_id() -> str:
    """A random 64-bit span id as 16 lowercase hex characters (never all zero)."""
    value = _getrandbits(64)
    while not value:  # pragma: no cover - one chance in 2**64
        value = _getrandbits(64)
    return f"{value:016x}"


def is_valid_trace_id(value: str) -> bool:
    """True for 32 lowercase hex characters that are not all zero."""
    return value != INVALID_TRACE_ID and _HEX32.fullmatch(value) is not None


def is_valid_span_id(value: str) -> bool:
    """True for 16 lowercase hex characters that are not all zero."""
    return value != INVALID_SPAN_ID and _HEX16.fullmatch(value) is not None
