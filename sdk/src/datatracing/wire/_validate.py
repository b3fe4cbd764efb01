"""Span validity on raw OTLP protobuf: the model's rules, without building the model."""

from __future__ import annotations

from opentelemetry.proto.trace.v1 import trace_pb2

_Z16 = bytes(16)
_Z8 = bytes(8)


def invalid_span_reason(span: trace_pb2.Span) -> str | None:
    """Why `datatracing.model.Span` would reject this OTLP span, or None: the same rules, checked on
    the protobuf without building the model (ingest and sampler use it on every span)."""
    tid, sid, pid = span.trace_id, span.span_id, span.parent_span_id
    if len(tid) != 16:
        return f"invalid span: trace_id must be 16 bytes, got {len(tid)}"
    if tid == _Z16:
        return "invalid span: trace_id is all zero"
    if len(sid) != 8:
        return f"invalid span: span_id must be 8 bytes, got {len(sid)}"
    if sid == _Z8:
        return "invalid span: span_id is all zero"
    if pid and len(pid) != 8:
        return f"invalid span: parent_span_id must be 8 bytes, got {len(pid)}"
    if pid == _Z8:
        return "invalid span: parent_span_id is all zero"
    if span.end_time_unix_nano < span.start_time_unix_nano:
        return "invalid span: end_time_unix_nano is before start_time_unix_nano"
    for link in span.links:
        if len(link.trace_id) != 16 or link.trace_id == _Z16:
            return "invalid span: a link's trace_id must be 16 bytes, not all zero"
        if len(link.span_id) != 8 or link.span_id == _Z8:
            return "invalid span: a link's span_id must be 8 bytes, not all zero"
    return None
