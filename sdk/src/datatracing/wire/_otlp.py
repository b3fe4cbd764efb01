"""Exact mapping between the canonical model and OTLP protobuf (`ExportTraceServiceRequest`).

Encoding groups spans by (resource, scope) as OTLP expects; decoding flattens them back, so
`decode_spans(encode_spans(spans)) == spans` for any valid list (a property test holds us to it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


# --- model -> protobuf -------------------------------------------------------------------------


def _set_any_value(target: common_pb2.AnyValue, value: AttributeValue) -> None:
    # bool before int: bool is a subclass of int.
    if value is None:
        return
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise InvalidDataError(f"integer attribute {value} does not fit in int64")
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, bytes):
        target.bytes_value = value
    elif isinstance(value, list):
        target.array_value.SetInParent()
        for item in value:
            _set_any_value(target.array_value.values.add(), item)
    elif isinstance(value, dict):
        target.kvlist_value.SetInParent()
        _fill_attributes(target.kvlist_value.values, value)
    else:  # pragma: no cover - the model's type forbids it
        raise InvalidDataError(f"unsupported attribute type {type(value).__name__}")


def _fill_attributes(target: Any, attributes: Mapping[str, AttributeValue]) -> None:
    for key, value in attributes.items():
        kv = target.add()
        kv.key = key
        _set_any_value(kv.value, value)


def _resource_pb(resource: Resource) -> resource_pb2.Resource:
    pb = resource_pb2.Resource(dropped_attributes_count=resource.dropped_attributes_count)
    _fill_attributes(pb.attributes, resource.attributes)
    return pb


def _fill_span(pb: trace_pb2.Span, span: Span) -> None:
    pb.trace_id = bytes.fromhex(span.trace_id)
    pb.span_id = bytes.fromhex(span.span_id)
    if span.parent_span_id is not None:
        pb.parent_span_id = bytes.fromhex(span.parent_span_id)
    pb.trace_state = span.trace_state
    pb.flags = span.flags
    pb.name = span.name
    pb.kind = int(span.kind)  # type: ignore[assignment]
    pb.start_time_unix_nano = span.start_time_unix_nano
    pb.end_time_unix_nano = span.end_time_unix_nano
    _fill_attributes(pb.attributes, span.attributes)
    pb.dropped_attributes_count = span.dropped_attributes_count
    for event in span.events:
        ev = pb.events.add()
        ev.name = event.name
        ev.time_unix_nano = event.time_unix_nano
        _fill_attributes(ev.attributes, event.attributes)
        ev.dropped_attributes_count = event.dropped_attributes_count
    pb.dropped_events_count = span.dropped_events_count
    for link in span.links:
        lk = pb.links.add()
        lk.trace_id = bytes.fromhex(link.trace_id)
        lk.span_id = bytes.fromhex(link.span_id)
        lk.trace_state = link.trace_state
        lk.flags = link.flags
        _fill_attributes(lk.attributes, link.attributes)
        lk.dropped_attributes_count = link.dropped_attributes_count
    pb.dropped_links_count = span.dropped_links_count
    pb.status.code = int(span.status.code)  # type: ignore[assignment]
    pb.status.message = span.status.message


def spans_to_request(spans: Iterable[Span]) -> ExportTraceServiceRequest:
    """Group runs of spans sharing a resource and scope into one OTLP export request (order kept)."""
    request = ExportTraceServiceRequest()
    # Consecutive spans sharing a resource and scope share one group, so the decoded order is the
    # encoded order exactly; batches from one process are runs of one resource anyway.
    last_resource: Resource | None = None
    last_scope: InstrumentationScope | None = None
    rs: trace_pb2.ResourceSpans | None = None
    scope_spans: Any = None
    for span in spans:
        if rs is None or not (span.resource is last_resource or span.resource == last_resource):
            rs = request.resource_spans.add()
            rs.resource.CopyFrom(_resource_pb(span.resource))
            last_resource, last_scope = span.resource, None
        if (
            scope_spans is None
            or last_scope is None
            or not (span.scope is last_scope or span.scope == last_scope)
        ):
            scope_spans = rs.scope_spans.add()
            scope_spans.scope.name = span.scope.name
            scope_spans.scope.version = span.scope.version
            _fill_attributes(scope_spans.scope.attributes, span.scope.attributes)
            scope_spans.scope.dropped_attributes_count = span.scope.dropped_attributes_count
            last_scope = span.scope
        _fill_span(scope_spans.spans.add(), span)
    return request


def encode_spans(spans: Iterable[Span]) -> bytes:
    """Serialize spans as an OTLP `ExportTraceServiceRequest`, the spans topic's wire format."""
    return spans_to_request(spans).SerializeToString()


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
