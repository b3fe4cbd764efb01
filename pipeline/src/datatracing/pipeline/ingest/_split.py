"""Split an export request into one request per trace id, as the spans topic is keyed.

Each output request keeps its spans' resource and scope (with their schema URLs), so a message on
the topic is a complete OTLP request about one trace, like the ones our Kafka exporter writes.
Spans the pipeline's model would refuse (ids of the wrong size or all zero, end before start) are
left out and counted: the client hears about them in `partial_success`, the valid spans go on.
A trace too large for one Kafka message is cut into several (the pipeline accepts a trace in any
number of messages); a single span too large for a message is rejected.
"""

from __future__ import annotations

import operator
from typing import NamedTuple

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2

from datatracing.pipeline.ingest._otlpjson import Rejections
from datatracing.wire import invalid_span_reason, trace_key

__all__ = ["TraceMessage", "invalid_span_reason", "split_by_trace"]

_Z16 = bytes(16)
_Z8 = bytes(8)


class TraceMessage(NamedTuple):
    """One message for the spans topic: key (trace id as hex), OTLP protobuf payload, span count."""

    key: bytes
    payload: bytes
    span_count: int


def _all_valid(spans: list[trace_pb2.Span]) -> bool:
    """Whether every span passes `invalid_span_reason`, checked a field at a time (the common case)."""
    tids = {s.trace_id for s in spans}
    if _Z16 in tids or any(len(t) != 16 for t in tids):
        return False
    sids = [s.span_id for s in spans]
    if _Z8 in sids or any(len(sid) != 8 for sid in sids):
        return False
    pids = {s.parent_span_id for s in spans}
    pids.discard(b"")
    if _Z8 in pids or any(len(p) != 8 for p in pids):
        return False
    if not all(
        map(operator.ge, [s.end_time_unix_nano for s in spans], [s.start_time_unix_nano for s in spans])
    ):
        return False
    return not any([s.links for s in spans]) or all(invalid_span_reason(s) is None for s in spans)


def _keep_valid(spans: list[trace_pb2.Span], rejections: Rejections) -> list[trace_pb2.Span]:
    kept: list[trace_pb2.Span] = []
    for span in spans:
        reason = invalid_span_reason(span)
        if reason is None:
            kept.append(span)
        else:
            rejections.add(reason)
    return kept


def _chunked(
    request: ExportTraceServiceRequest, key: bytes, limit: int, rejections: Rejections
) -> list[TraceMessage]:
    """Cut one trace's request into requests of at most `limit` bytes (sizes estimated upwards)."""
    out: list[TraceMessage] = []
    current = ExportTraceServiceRequest()
    size = count = 0
    for rs in request.resource_spans:
        # Tags and length prefixes of the nested messages: 16 bytes per level is an upper bound.
        rs_head = rs.resource.ByteSize() + len(rs.schema_url.encode()) + 16
        cur_rs: trace_pb2.ResourceSpans | None = None
        for ss in rs.scope_spans:
            ss_head = ss.scope.ByteSize() + len(ss.schema_url.encode()) + 16
            cur_ss: trace_pb2.ScopeSpans | None = None
            for span in ss.spans:
                span_size = span.ByteSize() + 8
                if rs_head + ss_head + span_size > limit:
                    rejections.add(f"invalid span: larger than the {limit}-byte message limit")
                    continue
                need = span_size + (ss_head if cur_ss is None else 0) + (rs_head if cur_rs is None else 0)
                if count and size + need > limit:
                    out.append(TraceMessage(key, current.SerializeToString(), count))
                    current = ExportTraceServiceRequest()
                    size = count = 0
                    cur_rs = cur_ss = None
                if cur_rs is None:
                    cur_rs = current.resource_spans.add()
                    cur_rs.resource.CopyFrom(rs.resource)
                    cur_rs.schema_url = rs.schema_url
                    size += rs_head
                if cur_ss is None:
                    cur_ss = cur_rs.scope_spans.add()
                    cur_ss.scope.CopyFrom(ss.scope)
                    cur_ss.schema_url = ss.schema_url
                    size += ss_head
                cur_ss.spans.append(span)
                size += span_size
                count += 1
    if count:
        out.append(TraceMessage(key, current.SerializeToString(), count))
    return out


def split_by_trace(
    request: ExportTraceServiceRequest,
    rejections: Rejections,
    original: bytes | None = None,
    *,
    max_message_bytes: int = 900_000,
) -> list[TraceMessage]:
    """One message per trace id, in order of first appearance; invalid spans go to `rejections`.

    `original`, the request's own protobuf bytes, is passed through untouched when the request
    holds exactly one trace and nothing was rejected (no re-encoding on that path). A trace larger
    than `max_message_bytes` becomes several messages with the same key.
    """
    per_trace: dict[bytes, ExportTraceServiceRequest] = {}
    counts: dict[bytes, int] = {}
    changed = False  # anything dropped, so `original` no longer matches the output
    for rs in request.resource_spans:
        rs_targets: dict[bytes, trace_pb2.ResourceSpans] = {}
        for ss in rs.scope_spans:
            spans = list(ss.spans)
            if not _all_valid(spans):
                spans = _keep_valid(spans, rejections)
                changed = True
            groups: dict[bytes, list[trace_pb2.Span]] = {}
            for span in spans:
                group = groups.get(span.trace_id)
                if group is None:
                    groups[span.trace_id] = [span]
                else:
                    group.append(span)
            for tid, group in groups.items():
                out_rs = rs_targets.get(tid)
                if out_rs is None:
                    out = per_trace.get(tid)
                    if out is None:
                        out = per_trace[tid] = ExportTraceServiceRequest()
                        counts[tid] = 0
                    out_rs = rs_targets[tid] = out.resource_spans.add()
                    out_rs.resource.CopyFrom(rs.resource)
                    out_rs.schema_url = rs.schema_url
                target = out_rs.scope_spans.add()
                target.scope.CopyFrom(ss.scope)
                target.schema_url = ss.schema_url
                target.spans.extend(group)
                counts[tid] += len(group)
    if original is not None and len(per_trace) == 1 and not changed and len(original) <= max_message_bytes:
        ((tid, _),) = per_trace.items()
        return [TraceMessage(trace_key(tid.hex()), original, counts[tid])]
    messages: list[TraceMessage] = []
    for tid, out in per_trace.items():
        key = trace_key(tid.hex())
        payload = out.SerializeToString()
        if len(payload) <= max_message_bytes:
            messages.append(TraceMessage(key, payload, counts[tid]))
        else:
            messages.extend(_chunked(out, key, max_message_bytes, rejections))
    return messages
