"""Split an OTLP export request into one request per trace id, as the spans topic is keyed.

The ingest gateway cuts each client request with it before publishing, and the sampler each topic
message before buffering. Each output request keeps its spans' resource and scope (with their schema
URLs), so it is a complete OTLP request about one trace. Spans that break the rules of `_rules` are
left out and reported (`RejectedSpan`), the valid spans of the same request go on. A trace larger
than `max_message_bytes` is cut into several requests (the pipeline accepts a trace in any number of
messages); a single span too large for one is refused.

The hot case, one valid trace, reads each field of a scope's spans in one comprehension, checks it
with C-level built-ins and passes the request's original bytes through untouched.
"""

from __future__ import annotations

from typing import TypeAlias

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2

from datatracing.wire._keys import trace_key
from datatracing.wire._rules import (
    RejectReason,
    invalid_span_reason,
    scope_summary,
)

__all__ = ["RejectedSpan", "Split", "TracePart", "split_request"]


class TracePart:
    """The spans of one trace from one request: OTLP protobuf bytes and the figures a sampler needs.

    `trace_id` is lowercase hex; `start_ns`/`end_ns` the earliest start and latest end of the spans.
    """

    __slots__ = ("end_ns", "has_root", "payload", "span_count", "start_ns", "trace_id")

    def __init__(
        self, trace_id: str, payload: bytes, span_count: int, start_ns: int, end_ns: int, has_root: bool
    ) -> None:
        self.trace_id = trace_id
        self.payload = payload
        self.span_count = span_count
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.has_root = has_root

    @property
    def key(self) -> bytes:
        """The spans topic's message key for this part (`trace_key`)."""
        return trace_key(self.trace_id)

    def __repr__(self) -> str:
        return f"TracePart({self.trace_id}, {self.span_count} spans, {len(self.payload)} bytes)"


class RejectedSpan:
    """A span the rules refuse, with why; `payload()` is that span alone as an OTLP request (with its
    resource and scope), built only when asked (for a dead letter)."""

    __slots__ = ("_rs", "_span", "_ss", "reason")

    def __init__(
        self, reason: str, rs: trace_pb2.ResourceSpans, ss: trace_pb2.ScopeSpans, span: trace_pb2.Span
    ) -> None:
        self.reason = reason
        self._rs, self._ss, self._span = rs, ss, span

    def payload(self) -> bytes:
        request = ExportTraceServiceRequest()
        out_rs = request.resource_spans.add()
        out_rs.resource.CopyFrom(self._rs.resource)
        out_rs.schema_url = self._rs.schema_url
        out_ss = out_rs.scope_spans.add()
        out_ss.scope.CopyFrom(self._ss.scope)
        out_ss.schema_url = self._ss.schema_url
        out_ss.spans.add().CopyFrom(self._span)
        return request.SerializeToString()

    def __repr__(self) -> str:
        return f"RejectedSpan({self.reason!r})"


#: What `split_request` returns: the per-trace parts in order of first appearance, and the refused
#: spans in request order. A plain tuple: the sampler splits every message it reads.
Split: TypeAlias = tuple[list[TracePart], list[RejectedSpan]]


def _one_valid_trace(request: ExportTraceServiceRequest) -> tuple[bytes, int, int, int, bool] | None:
    """(trace id, span count, start, end, has root) when the request holds one trace and every span
    is valid; None when the general path must look (also for a request without spans)."""
    trace_id: bytes | None = None
    count = start = end = 0
    root = False
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            pb_spans = ss.spans
            if not pb_spans:
                continue
            if pb_spans[0].trace_id != pb_spans[-1].trace_id:  # several traces: no list built
                return None
            spans = list(pb_spans)
            tids = {s.trace_id for s in spans}
            if len(tids) != 1:
                return None
            (tid,) = tids
            if trace_id is None:
                trace_id = tid
            elif tid != trace_id:
                return None
            summary = scope_summary(spans, tids)
            if summary is None:
                return None
            lo, hi, has_root = summary
            if count == 0:
                start, end = lo, hi
            else:
                start, end = min(start, lo), max(end, hi)
            count += len(spans)
            root = root or has_root
    if trace_id is None:
        return None
    return trace_id, count, start, end, root


class _Trace:
    """One trace's output request while the general path fills it."""

    __slots__ = ("count", "end", "request", "root", "start")

    def __init__(self) -> None:
        self.request = ExportTraceServiceRequest()
        self.count = self.start = self.end = 0
        self.root = False

    def add(self, spans: list[trace_pb2.Span]) -> None:
        self.count += len(spans)

    def add_with_summary(self, spans: list[trace_pb2.Span]) -> None:
        lo = min(s.start_time_unix_nano for s in spans)
        hi = max(s.end_time_unix_nano for s in spans)
        self.start, self.end = (lo, hi) if self.count == 0 else (min(self.start, lo), max(self.end, hi))
        self.count += len(spans)
        self.root = self.root or not all(s.parent_span_id for s in spans)


def _group(
    request: ExportTraceServiceRequest, rejected: list[RejectedSpan], summaries: bool
) -> dict[bytes, _Trace]:
    """Valid spans grouped per trace id, in first-seen order; refused spans go to `rejected`.
    With `summaries`, each trace's start, end and root are kept too."""
    traces: dict[bytes, _Trace] = {}
    for rs in request.resource_spans:
        rs_targets: dict[bytes, trace_pb2.ResourceSpans] = {}
        for ss in rs.scope_spans:
            spans = list(ss.spans)
            if not spans:
                continue
            if scope_summary(spans, {s.trace_id for s in spans}) is None:
                kept: list[trace_pb2.Span] = []
                for span in spans:
                    reason = invalid_span_reason(span)
                    if reason is None:
                        kept.append(span)
                    else:
                        rejected.append(RejectedSpan(reason, rs, ss, span))
                spans = kept
            groups: dict[bytes, list[trace_pb2.Span]] = {}
            for span in spans:
                group = groups.get(span.trace_id)
                if group is None:
                    groups[span.trace_id] = [span]
                else:
                    group.append(span)
            for tid, group in groups.items():
                trace = traces.get(tid)
                if trace is None:
                    trace = traces[tid] = _Trace()
                out_rs = rs_targets.get(tid)
                if out_rs is None:
                    out_rs = rs_targets[tid] = trace.request.resource_spans.add()
                    out_rs.resource.CopyFrom(rs.resource)
                    out_rs.schema_url = rs.schema_url
                target = out_rs.scope_spans.add()
                target.scope.CopyFrom(ss.scope)
                target.schema_url = ss.schema_url
                target.spans.extend(group)
                if summaries:
                    trace.add_with_summary(group)
                else:
                    trace.add(group)
    return traces


def _chunked(
    request: ExportTraceServiceRequest, trace_id: str, limit: int, rejected: list[RejectedSpan]
) -> list[TracePart]:
    """Cut one trace's request into requests of at most `limit` bytes (sizes estimated upwards)."""
    out: list[TracePart] = []
    current = _Trace()
    size = 0
    too_large = RejectReason.TOO_LARGE.text(limit=limit)
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
                    rejected.append(RejectedSpan(too_large, rs, ss, span))
                    continue
                need = span_size + (ss_head if cur_ss is None else 0) + (rs_head if cur_rs is None else 0)
                if current.count and size + need > limit:
                    out.append(_part(trace_id, current, current.request.SerializeToString()))
                    current = _Trace()
                    size = 0
                    cur_rs = cur_ss = None
                if cur_rs is None:
                    cur_rs = current.request.resource_spans.add()
                    cur_rs.resource.CopyFrom(rs.resource)
                    cur_rs.schema_url = rs.schema_url
                    size += rs_head
                if cur_ss is None:
                    cur_ss = cur_rs.scope_spans.add()
                    cur_ss.scope.CopyFrom(ss.scope)
                    cur_ss.schema_url = ss.schema_url
                    size += ss_head
                cur_ss.spans.append(span)
                current.add_with_summary([span])
                size += span_size
    if current.count:
        out.append(_part(trace_id, current, current.request.SerializeToString()))
    return out


def _part(trace_id: str, trace: _Trace, payload: bytes) -> TracePart:
    return TracePart(trace_id, payload, trace.count, trace.start, trace.end, trace.root)


def split_request(
    request: ExportTraceServiceRequest,
    original: bytes | None = None,
    *,
    max_message_bytes: int | None = None,
    summaries: bool = True,
) -> Split:
    """One part per trace id, in order of first appearance; invalid spans are refused.

    `original`, the request's own protobuf bytes, is passed through untouched when the request
    holds exactly one trace and nothing was refused (no re-encoding on that path). With
    `max_message_bytes`, a trace larger than it becomes several parts with the same trace id.
    `summaries=False` is for a caller that forwards the parts without reading them (the ingest
    gateway): a part of a request holding several traces then has `start_ns`, `end_ns` 0 and
    `has_root` False instead of its trace's values, which cost a read of every span to compute.

    Example:
        >>> from datatracing.wire import spans_to_request
        >>> split_request(spans_to_request([]))
        ([], [])
    """
    rejected: list[RejectedSpan] = []
    one = _one_valid_trace(request)
    if one is not None:
        tid, count, start, end, root = one
        payload = original if original is not None else request.SerializeToString()
        if max_message_bytes is None or len(payload) <= max_message_bytes:
            return [TracePart(tid.hex(), payload, count, start, end, root)], rejected
        return _chunked(request, tid.hex(), max_message_bytes, rejected), rejected
    # Several traces or a refused span: `original` no longer matches any one part.
    traces = _group(request, rejected, summaries)
    parts: list[TracePart] = []
    for tid, trace in traces.items():
        payload = trace.request.SerializeToString()
        if max_message_bytes is None or len(payload) <= max_message_bytes:
            parts.append(_part(tid.hex(), trace, payload))
        else:
            parts.extend(_chunked(trace.request, tid.hex(), max_message_bytes, rejected))
    return parts, rejected
