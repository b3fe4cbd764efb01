"""Fit a kept trace's payloads into messages of the size contract before forwarding them.

Payloads normally go out as the bytes that came in, and each fits: the sampler accepts no message
over `max_message_bytes`. A payload re-encoded by the decoder can still grow past it (a resource
copied into each trace of a message), so any payload over the limit is cut into several OTLP
requests on span boundaries, each with its span's resource and scope, in span order (same key, so
the same partition). A single span over the limit cannot be cut: it comes back as `oversized`.
"""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2

__all__ = ["fit_payload"]

_Item = tuple[trace_pb2.ResourceSpans, trace_pb2.ScopeSpans, trace_pb2.Span]


def _encode(items: list[_Item]) -> bytes:
    request = ExportTraceServiceRequest()
    last_rs: trace_pb2.ResourceSpans | None = None
    last_ss: trace_pb2.ScopeSpans | None = None
    out_rs = out_ss = None
    for rs, ss, span in items:
        if rs is not last_rs or out_rs is None:
            out_rs = request.resource_spans.add()
            out_rs.resource.CopyFrom(rs.resource)
            out_rs.schema_url = rs.schema_url
            last_rs, last_ss = rs, None
        if ss is not last_ss or out_ss is None:
            out_ss = out_rs.scope_spans.add()
            out_ss.scope.CopyFrom(ss.scope)
            out_ss.schema_url = ss.schema_url
            last_ss = ss
        out_ss.spans.add().CopyFrom(span)
    return request.SerializeToString()


def _halves(items: list[_Item], max_bytes: int, out: list[bytes], oversized: list[bytes]) -> None:
    payload = _encode(items)
    if len(payload) <= max_bytes:
        out.append(payload)
    elif len(items) == 1:
        oversized.append(payload)
    else:
        half = len(items) // 2
        _halves(items[:half], max_bytes, out, oversized)
        _halves(items[half:], max_bytes, out, oversized)


def fit_payload(payload: bytes, max_bytes: int) -> tuple[list[bytes], list[bytes]]:
    """(payloads of at most `max_bytes`, single-span payloads that cannot fit) for one OTLP payload.

    Example:
        >>> fit_payload(b"", 10)
        ([b''], [])
    """
    if len(payload) <= max_bytes:
        return [payload], []
    request = ExportTraceServiceRequest()
    request.ParseFromString(payload)
    items = [(rs, ss, span) for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
    if not items:
        return [], [payload]
    out: list[bytes] = []
    oversized: list[bytes] = []
    _halves(items, max_bytes, out, oversized)
    return out, oversized
