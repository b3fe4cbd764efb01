"""Span limits and the cleaning of attribute values set by callers.

Callers may pass anything; the span keeps only what the model and OTLP can carry: str, bool, int
(int64), float, bytes, and lists/dicts of those. Anything else is dropped with a rate-limited log,
never an exception. The common scalar cases are checked inline by the span itself; this module is the
slow path.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from datatracing.model import AttributeValue
from datatracing.sdk._log import RateLimitedLog

__all__ = ["INT64_MAX", "INT64_MIN", "INVALID", "SpanLimits", "clean_attributes", "clean_value"]

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
_MAX_DEPTH = 8


class _Invalid:
    __slots__ = ()

    def __repr__(self) -> str:
        return "INVALID"


#: Returned by `clean_value` for a value that cannot be kept.
INVALID: Final = _Invalid()

_log = RateLimitedLog(logging.getLogger("datatracing.sdk"))


@dataclass(frozen=True, slots=True)
class SpanLimits:
    """Bounds on what one span keeps; what is over a bound is counted in the span's dropped counts.

    `max_attribute_length` truncates string values (None: no limit), as OpenTelemetry does.
    """

    max_attributes: int = 128
    max_events: int = 128
    max_links: int = 128
    max_attributes_per_event: int = 128
    max_attributes_per_link: int = 128
    max_attribute_length: int | None = None


def clean_value(value: object, max_length: int | None = None, depth: int = 0) -> AttributeValue | _Invalid:
    """`value` converted to an attribute value, or `INVALID` (logged) when it cannot be one."""
    if isinstance(value, str):
        text = "" + value  # a str subclass (StrEnum) becomes a plain str
        return text[:max_length] if max_length is not None else text
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        if INT64_MIN <= value <= INT64_MAX:
            return int(value)
        _log.warning("integer-range", "dropped an attribute integer outside int64: %d", value)
        return INVALID
    if isinstance(value, float):
        return float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if depth < _MAX_DEPTH:
        if isinstance(value, list | tuple | set | frozenset):
            items = [clean_value(item, max_length, depth + 1) if item is not None else None for item in value]
            if any(item is INVALID for item in items):
                return INVALID
            return items  # type: ignore[return-value]  # INVALID was ruled out just above
        if isinstance(value, Mapping):
            out: dict[str, AttributeValue] = {}
            for key, item in value.items():
                cleaned = clean_value(item, max_length, depth + 1) if item is not None else None
                if not isinstance(key, str) or cleaned is INVALID:
                    return INVALID
                out[key] = cleaned  # type: ignore[assignment]  # INVALID was ruled out just above
            return out
    _log.warning("attribute-type", "dropped an attribute value of type %s", type(value).__name__)
    return INVALID


def clean_attributes(
    attributes: Mapping[str, object] | None, max_count: int, max_length: int | None
) -> tuple[dict[str, AttributeValue], int]:
    """Cleaned attributes for an event or link, and how many were dropped over `max_count`."""
    out: dict[str, AttributeValue] = {}
    dropped = 0
    if not attributes:
        return out, 0
    try:
        items = list(attributes.items())
    except Exception:
        _log.warning("attribute-mapping", "dropped attributes that are not a mapping")
        return out, 0
    for key, value in items:
        if not isinstance(key, str) or not key or value is None:
            continue
        cleaned = clean_value(value, max_length)
        if cleaned is INVALID:
            continue
        if key not in out and len(out) >= max_count:
            dropped += 1
            continue
        out[key] = cleaned  # type: ignore[assignment]  # INVALID was ruled out just above
    return out, dropped
