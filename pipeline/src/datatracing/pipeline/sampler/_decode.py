"""Split one spans-topic message into per-trace chunks of OTLP protobuf, and dead letters.

The hot path is OTLP protobuf holding one trace: it is parsed once with the upb classes, each span
is checked with the model's rules (ids, end ≥ start) by a few field reads, and the original bytes are
kept untouched. Anything else (several traces, invalid spans, OTLP JSON, the model's JSON) is
re-encoded per trace. Invalid spans become one dead letter each, holding that span with its resource
and scope, so the valid spans of the same message are never lost.
"""

from __future__ import annotations

import operator

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2

from datatracing.pipeline.sampler._jsonin import model_json_request, otlp_json_request
from datatracing.pipeline.sampler._results import DeadLetter
from datatracing.wire import (
    CONTENT_TYPE_MODEL_JSON,
    CONTENT_TYPE_OTLP_JSON,
    CONTENT_TYPE_OTLP_PROTO,
)
from datatracing.wire import invalid_span_reason as invalid_reason

__all__ = ["Chunk", "content_type_of", "split_message", "split_request"]

_Z16 = bytes(16)
_Z8 = bytes(8)
_LEN8 = {8}


class Chunk:
    """The spans of one trace from one message: OTLP protobuf bytes plus the scalars the engine needs."""

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


def _one_span_request(rs: trace_pb2.ResourceSpans, ss: trace_pb2.ScopeSpans, span: trace_pb2.Span) -> bytes:
    request = ExportTraceServiceRequest()
    out_rs = request.resource_spans.add()
    out_rs.resource.CopyFrom(rs.resource)
    out_rs.schema_url = rs.schema_url
    out_ss = out_rs.scope_spans.add()
    out_ss.scope.CopyFrom(ss.scope)
    out_ss.schema_url = ss.schema_url
    out_ss.spans.add().CopyFrom(span)
    return request.SerializeToString()


def _split_slow(request: ExportTraceServiceRequest) -> tuple[list[Chunk], list[DeadLetter]]:
    """Several traces or invalid spans: one request per trace, one dead letter per invalid span."""
    per_trace: dict[bytes, ExportTraceServiceRequest] = {}
    stats: dict[bytes, list[int]] = {}  # trace id -> [span count, min start, max end, has root]
    dead: list[DeadLetter] = []
    for rs in request.resource_spans:
        rs_targets: dict[bytes, trace_pb2.ResourceSpans] = {}
        for ss in rs.scope_spans:
            ss_targets: dict[bytes, trace_pb2.ScopeSpans] = {}
            for span in ss.spans:
                reason = invalid_reason(span)
                if reason is not None:
                    dead.append(DeadLetter(_one_span_request(rs, ss, span), reason))
                    continue
                tid = span.trace_id
                target = ss_targets.get(tid)
                if target is None:
                    out_rs = rs_targets.get(tid)
                    if out_rs is None:
                        out = per_trace.get(tid)
                        if out is None:
                            out = per_trace[tid] = ExportTraceServiceRequest()
                            stats[tid] = [0, span.start_time_unix_nano, span.end_time_unix_nano, 0]
                        out_rs = rs_targets[tid] = out.resource_spans.add()
                        out_rs.resource.CopyFrom(rs.resource)
                        out_rs.schema_url = rs.schema_url
                    target = ss_targets[tid] = out_rs.scope_spans.add()
                    target.scope.CopyFrom(ss.scope)
                    target.schema_url = ss.schema_url
                target.spans.add().CopyFrom(span)
                st = stats[tid]
                st[0] += 1
                st[1] = min(st[1], span.start_time_unix_nano)
                st[2] = max(st[2], span.end_time_unix_nano)
                st[3] = st[3] or not span.parent_span_id
    chunks = [
        Chunk(tid.hex(), out.SerializeToString(), st[0], st[1], st[2], bool(st[3]))
        for tid, out in per_trace.items()
        for st in (stats[tid],)
    ]
    return chunks, dead


def split_request(
    request: ExportTraceServiceRequest, original: bytes | None
) -> tuple[list[Chunk], list[DeadLetter]]:
    """Chunks per trace; `original` (the request's own bytes) is reused when it holds one valid trace.

    The fast path reads each field of all spans of a scope in one comprehension and checks them
    with C-level built-ins; anything unusual goes to the per-span slow path.
    """
    trace_id: bytes | None = None
    count = 0
    start = end = 0
    root = False
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            spans = list(ss.spans)
            if not spans:
                continue
            tids = {s.trace_id for s in spans}
            if len(tids) != 1:
                return _split_slow(request)
            tid = tids.pop()
            if trace_id is None:
                if len(tid) != 16 or tid == _Z16:
                    return _split_slow(request)
                trace_id = tid
            elif tid != trace_id:
                return _split_slow(request)
            sids = [s.span_id for s in spans]
            pids = [s.parent_span_id for s in spans]
            starts = [s.start_time_unix_nano for s in spans]
            ends = [s.end_time_unix_nano for s in spans]
            parents = [p for p in pids if p]
            if (
                set(map(len, sids)) != _LEN8
                or _Z8 in sids
                or (parents and (set(map(len, parents)) != _LEN8 or _Z8 in parents))
                or not all(map(operator.ge, ends, starts))
                or (any([s.links for s in spans]) and any(invalid_reason(s) for s in spans))
            ):
                return _split_slow(request)
            lo, hi = min(starts), max(ends)
            if count == 0:
                start, end = lo, hi
            else:
                start, end = min(start, lo), max(end, hi)
            count += len(spans)
            root = root or len(parents) < len(spans)
    if trace_id is None:
        return [], []
    payload = original if original is not None else request.SerializeToString()
    return [Chunk(trace_id.hex(), payload, count, start, end, root)], []


def content_type_of(value: bytes | None) -> str:
    """Normalise a content-type header value (parameters dropped, lower case); absent → protobuf."""
    if not value:
        return CONTENT_TYPE_OTLP_PROTO
    return value.decode("latin-1").split(";", 1)[0].strip().lower()


def split_message(payload: bytes, content_type: str) -> tuple[list[Chunk], list[DeadLetter]]:
    """Decode one message (by its normalised content type) into per-trace chunks and dead letters."""
    if content_type == CONTENT_TYPE_OTLP_PROTO:
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(payload)
        except DecodeError as exc:
            reason = f"undecodable: not an OTLP ExportTraceServiceRequest: {exc}"
            return [], [DeadLetter(payload, reason, content_type)]
        return split_request(request, payload)
    if content_type == CONTENT_TYPE_OTLP_JSON:
        converted = otlp_json_request(payload)
    elif content_type == CONTENT_TYPE_MODEL_JSON:
        converted = model_json_request(payload)
    else:
        return [], [DeadLetter(payload, f"unsupported content-type {content_type!r}", content_type)]
    if isinstance(converted, DeadLetter):
        return [], [converted]
    request, dead = converted
    chunks, more_dead = split_request(request, None)
    return chunks, dead + more_dead
