"""The one set of span validity rules of the pipeline, and the one list of reasons a span is refused.

A span is valid when its ids have OTLP's sizes and are not all zero (its links' ids too), its end is
not before its start, and its start fits the store's `DateTime64(9)` column (a signed 64-bit count of
nanoseconds, so nothing past 2262-04-11). Every stage that reads spans checks these rules with these
functions or constants: the ingest gateway and the sampler on each request (`split_request`), the
store's write path on each message. The first stage that sees a bad span refuses it with the text of
`RejectReason`, so a span the store would refuse is never kept by the sampler.

Example:
    >>> from opentelemetry.proto.trace.v1 import trace_pb2
    >>> invalid_span_reason(trace_pb2.Span(trace_id=b"\\x01" * 15, span_id=b"\\x01" * 8))
    'invalid span: trace_id must be 16 bytes, got 15'
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Sequence
from typing import Any

from opentelemetry.proto.trace.v1 import trace_pb2

__all__ = [
    "MAX_START_TIME_NS",
    "SPAN_ID_BYTES",
    "TRACE_ID_BYTES",
    "RejectReason",
    "all_spans_valid",
    "invalid_span_reason",
]

#: Sizes of OTLP's binary ids.
TRACE_ID_BYTES = 16
SPAN_ID_BYTES = 8
#: The latest start time the store holds: `DateTime64(9)` is a signed 64-bit nanosecond count.
MAX_START_TIME_NS = 2**63 - 1

_Z16 = bytes(TRACE_ID_BYTES)
_Z8 = bytes(SPAN_ID_BYTES)
_LEN8 = {SPAN_ID_BYTES}


class RejectReason(enum.Enum):
    """Why a span (or a piece of a request) is refused; the value is the message template.

    Use `text(...)` for the message: the same text is a dead letter's `dt-error` header in the sampler
    and the sink, and the gateway's `partial_success.error_message`.

    Example:
        >>> RejectReason.TOO_LARGE.text(limit=1000)
        'invalid span: larger than the 1000-byte message limit'
    """

    TRACE_ID_SIZE = "invalid span: trace_id must be 16 bytes, got {size}"
    TRACE_ID_ZERO = "invalid span: trace_id is all zero"
    SPAN_ID_SIZE = "invalid span: span_id must be 8 bytes, got {size}"
    SPAN_ID_ZERO = "invalid span: span_id is all zero"
    PARENT_ID_SIZE = "invalid span: parent_span_id must be 8 bytes, got {size}"
    PARENT_ID_ZERO = "invalid span: parent_span_id is all zero"
    END_BEFORE_START = "invalid span: end_time_unix_nano is before start_time_unix_nano"
    START_PAST_2262 = "invalid span: start_time_unix_nano is past the year 2262"
    LINK_TRACE_ID = "invalid span: a link's trace_id must be 16 bytes, not all zero"
    LINK_SPAN_ID = "invalid span: a link's span_id must be 8 bytes, not all zero"
    TOO_LARGE = "invalid span: larger than the {limit}-byte message limit"
    NOT_A_SPAN = "invalid span: {error}"

    def text(self, **values: Any) -> str:
        """The message, with the template's fields filled from `values`."""
        return self.value.format(**values) if values else str(self.value)


def invalid_span_reason(span: trace_pb2.Span) -> str | None:
    """Why the pipeline refuses this OTLP span (a `RejectReason` text), or None when it is valid.

    The rules are checked in the order of `RejectReason`, so a span breaking two gets the first.
    """
    tid, sid, pid = span.trace_id, span.span_id, span.parent_span_id
    if len(tid) != TRACE_ID_BYTES:
        return RejectReason.TRACE_ID_SIZE.text(size=len(tid))
    if tid == _Z16:
        return RejectReason.TRACE_ID_ZERO.text()
    if len(sid) != SPAN_ID_BYTES:
        return RejectReason.SPAN_ID_SIZE.text(size=len(sid))
    if sid == _Z8:
        return RejectReason.SPAN_ID_ZERO.text()
    if pid and len(pid) != SPAN_ID_BYTES:
        return RejectReason.PARENT_ID_SIZE.text(size=len(pid))
    if pid == _Z8:
        return RejectReason.PARENT_ID_ZERO.text()
    start = span.start_time_unix_nano
    if span.end_time_unix_nano < start:
        return RejectReason.END_BEFORE_START.text()
    if start > MAX_START_TIME_NS:
        return RejectReason.START_PAST_2262.text()
    for link in span.links:
        if len(link.trace_id) != TRACE_ID_BYTES or link.trace_id == _Z16:
            return RejectReason.LINK_TRACE_ID.text()
        if len(link.span_id) != SPAN_ID_BYTES or link.span_id == _Z8:
            return RejectReason.LINK_SPAN_ID.text()
    return None


def scope_summary(spans: Sequence[trace_pb2.Span], tids: set[bytes]) -> tuple[int, int, bool] | None:
    """(earliest start, latest end, whether a root span is among them) when every span of a
    non-empty list is valid, else None; `tids` is the set of the spans' trace ids.

    One comprehension per field and C-level built-ins over the lists: the common all-valid case
    costs a few reads per span and no per-span Python call. Spans with links (rare) are checked one
    by one. When this is None, `invalid_span_reason` names each bad span's problem.
    """
    for tid in tids:  # usually one
        if len(tid) != TRACE_ID_BYTES or tid == _Z16:
            return None
    sids = [s.span_id for s in spans]
    if _Z8 in sids or set(map(len, sids)) != _LEN8:
        return None
    pids = [s.parent_span_id for s in spans]
    parents = [p for p in pids if p]
    if parents and (_Z8 in parents or set(map(len, parents)) != _LEN8):
        return None
    starts = [s.start_time_unix_nano for s in spans]
    ends = [s.end_time_unix_nano for s in spans]
    if not all(map(operator.ge, ends, starts)):
        return None
    latest_end = max(ends)
    # Every end is at or after its start, so an early latest end bounds every start.
    if latest_end > MAX_START_TIME_NS and max(starts) > MAX_START_TIME_NS:
        return None
    if any([s.links for s in spans]) and any(invalid_span_reason(s) is not None for s in spans):
        return None
    return min(starts), latest_end, len(parents) < len(spans)


def all_spans_valid(spans: Sequence[trace_pb2.Span]) -> bool:
    """Whether `invalid_span_reason` is None for every span (True for none), a field at a time."""
    return not spans or scope_summary(spans, {s.trace_id for s in spans}) is not None
