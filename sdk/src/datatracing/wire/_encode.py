"""The OTLP encoder: spans to `ExportTraceServiceRequest` bytes, written directly in the wire format.

One encoder serves both producers of spans. `encode_spans` takes model spans (the pipeline, the CLI,
the OpenTelemetry bridge); the SDK's exporters hand over an ended span's fields with `encode_span`,
and its resource and scope encoded once per tracer with `encode_resource` / `encode_scope`, then
assemble the request with `encode_request`, so no model object is built on the export path.
Writing the bytes from plain values, rather than filling protobuf message objects, is what keeps the
export thread cheap. `datatracing.wire.decode_spans` reads the output back to the same spans (a
property test holds us to it).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from datatracing.errors import InvalidDataError
from datatracing.model import AttributeValue, InstrumentationScope, Resource, Span

__all__ = [
    "EventFields",
    "LinkFields",
    "encode_request",
    "encode_resource",
    "encode_scope",
    "encode_span",
    "encode_spans",
    "spans_to_request",
]

#: An event as `encode_span` reads it: (name, time_unix_nano, attributes, dropped_attributes_count).
EventFields = tuple[str, int, Mapping[str, AttributeValue], int]
#: A link as `encode_span` reads it:
#: (trace_id, span_id, trace_state, flags, attributes, dropped_attributes_count), ids in hex.
LinkFields = tuple[str, str, str, int, Mapping[str, AttributeValue], int]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_U64 = 0xFFFFFFFFFFFFFFFF
_SMALL = [bytes((n,)) for n in range(128)]
_pack_double = struct.Struct("<d").pack
_pack_fixed32 = struct.Struct("<I").pack
_pack_times = struct.Struct("<BQBQ").pack  # start (field 7) and end (field 8), both fixed64
_pack_event_time = struct.Struct("<BQ").pack
_TRUE, _FALSE = b"\x10\x01", b"\x10\x00"


def _varint(value: int) -> bytes:
    if value < 128:
        return _SMALL[value]
    out = bytearray()
    while value > 127:
        out.append((value & 127) | 128)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    size = len(payload)
    return tag + (_SMALL[size] if size < 128 else _varint(size)) + payload


def _text(tag: bytes, value: str) -> bytes:
    # "replace": a lone surrogate must not make the whole batch fail to encode.
    return _field(tag, value.encode("utf-8", "replace"))


def _int(value: int) -> bytes:
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise InvalidDataError(f"integer attribute {value} does not fit in int64")
    return b"\x18" + _varint(value & _U64)


def _any(value: AttributeValue) -> bytes:
    """AnyValue: oneof members are written even when they hold their default, so the kind survives."""
    # Exact types first (the common case), bool before int since bool is an int.
    kind = type(value)
    if kind is str:
        return _text(b"\x0a", value)  # type: ignore[arg-type]
    if kind is bool:
        return _TRUE if value else _FALSE
    if kind is int:
        if _INT64_MIN <= value <= _INT64_MAX:  # type: ignore[operator]
            return b"\x18" + _varint(value & _U64)  # type: ignore[operator]
        return _int(value)  # type: ignore[arg-type]  # raises
    if kind is float:
        return b"\x21" + _pack_double(value)
    if kind is bytes:
        return _field(b"\x3a", value)  # type: ignore[arg-type]
    if kind is list:
        return _field(b"\x2a", b"".join([_field(b"\x0a", _any(item)) for item in value]))  # type: ignore[union-attr]
    if kind is dict:
        return _field(b"\x32", _key_values(b"\x0a", value))  # type: ignore[arg-type]
    if value is None:
        return b""  # an empty AnyValue
    return _any_subclass(value)


def _any_subclass(value: object) -> bytes:
    """Subclasses of the attribute types (an `IntEnum`, a `str` enum) encode as their base type."""
    if isinstance(value, bool):
        return _TRUE if value else _FALSE
    if isinstance(value, int):
        return _int(int(value))
    if isinstance(value, float):
        return b"\x21" + _pack_double(value)
    if isinstance(value, str):
        return _text(b"\x0a", str(value))
    if isinstance(value, bytes):
        return _field(b"\x3a", bytes(value))
    if isinstance(value, (list, tuple)):
        return _field(b"\x2a", b"".join([_field(b"\x0a", _any(item)) for item in value]))
    if isinstance(value, Mapping):
        return _field(b"\x32", _key_values(b"\x0a", value))
    raise InvalidDataError(f"unsupported attribute type {type(value).__name__}")


# Attribute keys and span names repeat across spans: their encodings are cached (bounded).
_KEYS: dict[str, bytes] = {}
_NAMES: dict[str, bytes] = {}
_CACHE_LIMIT = 4096


def _cached(cache: dict[str, bytes], tag: bytes, value: str) -> bytes:
    encoded = cache.get(value)
    if encoded is None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        encoded = cache[value] = _text(tag, value)
    return encoded


def _key_values(tag: bytes, attributes: Mapping[str, AttributeValue]) -> bytes:
    out = []
    for key, value in attributes.items():
        encoded_key = _KEYS.get(key) or _cached(_KEYS, b"\x0a", key)
        if type(value) is str:
            text = value.encode("utf-8", "replace")
            size = len(text)
            # KeyValue.value (field 2) holding AnyValue.string_value (field 1), lengths inline when short.
            if size < 126:
                pair = encoded_key + b"\x12" + _SMALL[size + 2] + b"\x0a" + _SMALL[size] + text
            else:
                pair = encoded_key + _field(b"\x12", _field(b"\x0a", text))
        elif type(value) is int and 0 <= value <= _INT64_MAX:
            # KeyValue.value holding AnyValue.int_value (field 3): at most 11 bytes, length inline.
            number = _varint(value)
            pair = encoded_key + b"\x12" + _SMALL[len(number) + 1] + b"\x18" + number
        else:
            pair = encoded_key + _field(b"\x12", _any(value))
        out.append(_field(tag, pair))
    return b"".join(out)


def _count(tag: bytes, value: int) -> bytes:
    return tag + _varint(value) if value else b""


def encode_resource(resource: Resource) -> bytes:
    """`ResourceSpans.resource`, tagged: the first part of one resource's group in `encode_request`."""
    body = _key_values(b"\x0a", resource.attributes) + _count(b"\x10", resource.dropped_attributes_count)
    return _field(b"\x0a", body)


def encode_scope(scope: InstrumentationScope) -> bytes:
    """`ScopeSpans.scope`, tagged: the first part of one scope's group in `encode_request`."""
    body = (
        (_text(b"\x0a", scope.name) if scope.name else b"")
        + (_text(b"\x12", scope.version) if scope.version else b"")
        + _key_values(b"\x1a", scope.attributes)
        + _count(b"\x20", scope.dropped_attributes_count)
    )
    return _field(b"\x0a", body)


def _event(event: EventFields) -> bytes:
    name, when, attributes, dropped = event
    body = (
        _pack_event_time(0x09, when)
        + _text(b"\x12", name)
        + _key_values(b"\x1a", attributes)
        + _count(b"\x20", dropped)
    )
    return _field(b"\x5a", body)


def _link(link: LinkFields) -> bytes:
    trace_id, span_id, trace_state, flags, attributes, dropped = link
    body = (
        bytes.fromhex("0a10" + trace_id + "1208" + span_id)
        + (_text(b"\x1a", trace_state) if trace_state else b"")
        + _key_values(b"\x22", attributes)
        + _count(b"\x28", dropped)
        + b"\x35"
        + _pack_fixed32(flags)
    )
    return _field(b"\x6a", body)


def encode_span(
    trace_id: str,
    span_id: str,
    parent_span_id: str | None,
    trace_state: str,
    flags: int,
    name: str,
    kind: int,
    start_time_unix_nano: int,
    end_time_unix_nano: int,
    attributes: Mapping[str, AttributeValue],
    dropped_attributes_count: int,
    events: Sequence[EventFields] | None,
    dropped_events_count: int,
    links: Sequence[LinkFields] | None,
    dropped_links_count: int,
    status_code: int,
    status_message: str,
) -> bytes:
    """One `ScopeSpans.spans` entry, tagged, from a span's fields (ids in hex, as in the model).

    Scalar fields holding their default are left out, as protobuf serialisers do.

    Positional on purpose: the SDK calls it once per exported span. Raises `InvalidDataError` for an
    integer attribute outside int64 or a value of no attribute type.
    """
    ids = "0a10" + trace_id + "1208" + span_id
    parts = [bytes.fromhex(ids + "2208" + parent_span_id if parent_span_id is not None else ids)]
    if trace_state:
        parts.append(_text(b"\x1a", trace_state))
    parts.append(_NAMES.get(name) or _cached(_NAMES, b"\x2a", name))
    if kind:
        parts.append(b"\x30" + _SMALL[kind])
    parts.append(_pack_times(0x39, start_time_unix_nano, 0x41, end_time_unix_nano))
    if attributes:
        parts.append(_key_values(b"\x4a", attributes))
    if dropped_attributes_count:
        parts.append(b"\x50" + _varint(dropped_attributes_count))
    if events:
        parts.extend([_event(event) for event in events])
    if dropped_events_count:
        parts.append(b"\x60" + _varint(dropped_events_count))
    if links:
        parts.extend([_link(link) for link in links])
    if dropped_links_count:
        parts.append(b"\x70" + _varint(dropped_links_count))
    if status_code or status_message:
        status = _text(b"\x12", status_message) if status_message else b""
        parts.append(_field(b"\x7a", status + b"\x18" + _SMALL[status_code]))
    if flags:
        parts.append(b"\x85\x01" + _pack_fixed32(flags))
    return _field(b"\x12", b"".join(parts))


def encode_request(groups: Iterable[tuple[bytes, Iterable[tuple[bytes, Iterable[bytes]]]]]) -> bytes:
    """An `ExportTraceServiceRequest` from `(resource, [(scope, [span, ...]), ...])` groups, in order.

    The parts are the outputs of `encode_resource`, `encode_scope` and `encode_span`.
    """
    out = []
    for resource, scopes in groups:
        scope_spans = [_field(b"\x12", scope + b"".join(spans)) for scope, spans in scopes]
        out.append(_field(b"\x0a", resource + b"".join(scope_spans)))
    return b"".join(out)


def _model_span(span: Span) -> bytes:
    status = span.status
    return encode_span(
        span.trace_id,
        span.span_id,
        span.parent_span_id,
        span.trace_state,
        span.flags,
        span.name,
        span.kind,
        span.start_time_unix_nano,
        span.end_time_unix_nano,
        span.attributes,
        span.dropped_attributes_count,
        [(e.name, e.time_unix_nano, e.attributes, e.dropped_attributes_count) for e in span.events],
        span.dropped_events_count,
        [
            (lk.trace_id, lk.span_id, lk.trace_state, lk.flags, lk.attributes, lk.dropped_attributes_count)
            for lk in span.links
        ],
        span.dropped_links_count,
        status.code,
        status.message,
    )


def encode_spans(spans: Iterable[Span]) -> bytes:
    """Serialize model spans as an OTLP `ExportTraceServiceRequest`, the spans topic's wire format.

    Consecutive spans sharing a resource and scope share one group, so the decoded order is the
    encoded order exactly; batches from one process are runs of one resource anyway.

    Example:
        >>> from datatracing.wire import decode_spans
        >>> decode_spans(encode_spans([]))
        []
    """
    groups: list[tuple[bytes, list[tuple[bytes, list[bytes]]]]] = []
    resource: Resource | None = None
    scope: InstrumentationScope | None = None
    encoded: list[bytes] = []
    for span in spans:
        if resource is None or not (span.resource is resource or span.resource == resource):
            resource, scope = span.resource, None
            groups.append((encode_resource(resource), []))
        if scope is None or not (span.scope is scope or span.scope == scope):
            scope = span.scope
            encoded = []
            groups[-1][1].append((encode_scope(scope), encoded))
        encoded.append(_model_span(span))
    return encode_request(groups)


def spans_to_request(spans: Iterable[Span]) -> ExportTraceServiceRequest:
    """The protobuf message of `encode_spans(spans)`, for callers that edit or inspect it."""
    return ExportTraceServiceRequest.FromString(encode_spans(spans))
