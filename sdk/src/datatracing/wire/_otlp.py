"""Decoding OTLP protobuf (`ExportTraceServiceRequest`) into the canonical model.

Decoding flattens OTLP's (resource, scope) groups back into flat spans, so
`decode_spans(encode_spans(spans)) == spans` for any valid list (a property test holds us to it);
the encoder is `datatracing.wire._encode`.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from pydantic import ValidationError

from datatracing.errors import InvalidDataError
from datatracing.model import (
    Attributes,
    AttributeValue,
    InstrumentationScope,
    Resource,
    Span,
    SpanEvent,
    SpanKind,
    SpanLink,
    Status,
    StatusCode,
)
from datatracing.wire._rules import invalid_span_reason

# --- protobuf -> model -------------------------------------------------------------------------


def any_value(pb: common_pb2.AnyValue) -> AttributeValue:
    """Convert one OTLP `AnyValue` to the model's attribute value."""
    which = pb.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(v) for v in pb.array_value.values]
    if which == "kvlist_value":
        return attributes(pb.kvlist_value.values)
    value: AttributeValue = getattr(pb, which)
    return value


def attributes(kvs: Sequence[common_pb2.KeyValue]) -> Attributes:
    """Convert OTLP key/values to a dict (a repeated key keeps its last value)."""
    return {kv.key: any_value(kv.value) for kv in kvs}


def _hex_id(raw: bytes, what: str, size: int) -> str:
    if len(raw) != size:
        raise InvalidDataError(f"{what} must be {size} bytes, got {len(raw)}")
    return raw.hex()


def span_from_pb(pb: trace_pb2.Span, resource: Resource, scope: InstrumentationScope) -> Span:
    """Build a validated model span; raises `InvalidDataError` naming what is wrong.

    The pipeline's rules (`invalid_span_reason`) come first, with their reason; the model checks the
    rest (field ranges).
    """
    reason = invalid_span_reason(pb)
    if reason is not None:
        raise InvalidDataError(reason)
    try:
        return Span(
            trace_id=_hex_id(pb.trace_id, "trace_id", 16),
            span_id=_hex_id(pb.span_id, "span_id", 8),
            parent_span_id=_hex_id(pb.parent_span_id, "parent_span_id", 8) if pb.parent_span_id else None,
            trace_state=pb.trace_state,
            flags=pb.flags,
            name=pb.name,
            kind=SpanKind(pb.kind) if pb.kind in SpanKind._value2member_map_ else SpanKind.UNSPECIFIED,
            start_time_unix_nano=pb.start_time_unix_nano,
            end_time_unix_nano=pb.end_time_unix_nano,
            attributes=attributes(pb.attributes),
            dropped_attributes_count=pb.dropped_attributes_count,
            events=tuple(
                SpanEvent(
                    name=e.name,
                    time_unix_nano=e.time_unix_nano,
                    attributes=attributes(e.attributes),
                    dropped_attributes_count=e.dropped_attributes_count,
                )
                for e in pb.events
            ),
            dropped_events_count=pb.dropped_events_count,
            links=tuple(
                SpanLink(
                    trace_id=_hex_id(lk.trace_id, "link trace_id", 16),
                    span_id=_hex_id(lk.span_id, "link span_id", 8),
                    trace_state=lk.trace_state,
                    flags=lk.flags,
                    attributes=attributes(lk.attributes),
                    dropped_attributes_count=lk.dropped_attributes_count,
                )
                for lk in pb.links
            ),
            dropped_links_count=pb.dropped_links_count,
            status=Status(
                code=StatusCode(pb.status.code)
                if pb.status.code in StatusCode._value2member_map_
                else StatusCode.UNSET,
                message=pb.status.message,
            ),
            resource=resource,
            scope=scope,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "span"
        raise InvalidDataError(f"invalid span: {where}: {first['msg']}") from exc


def resource_from_pb(pb: resource_pb2.Resource) -> Resource:
    return Resource(
        attributes=attributes(pb.attributes), dropped_attributes_count=pb.dropped_attributes_count
    )


def scope_from_pb(pb: common_pb2.InstrumentationScope) -> InstrumentationScope:
    return InstrumentationScope(
        name=pb.name,
        version=pb.version,
        attributes=attributes(pb.attributes),
        dropped_attributes_count=pb.dropped_attributes_count,
    )


def parse_request(payload: bytes) -> ExportTraceServiceRequest:
    """Parse OTLP protobuf bytes; raises `InvalidDataError` when they do not decode."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(payload)
    except DecodeError as exc:
        raise InvalidDataError(f"not an OTLP ExportTraceServiceRequest: {exc}") from exc
    return request


def request_to_spans(request: ExportTraceServiceRequest) -> list[Span]:
    """Flatten a request into model spans; the first invalid span raises `InvalidDataError`."""
    spans: list[Span] = []
    for rs in request.resource_spans:
        resource = resource_from_pb(rs.resource)
        for ss in rs.scope_spans:
            scope = scope_from_pb(ss.scope)
            spans.extend(span_from_pb(pb, resource, scope) for pb in ss.spans)
    return spans


def decode_spans(payload: bytes) -> list[Span]:
    """Decode a spans-topic message (OTLP protobuf) into model spans."""
    return request_to_spans(parse_request(payload))
