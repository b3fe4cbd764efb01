"""The wire format of the spans topics: OTLP protobuf, keyed by trace id.

Example:
    >>> from datatracing.wire import decode_spans, encode_spans
    >>> decode_spans(encode_spans([])) == []
    True
"""

from __future__ import annotations

from datatracing.wire._encode import (
    EventFields,
    LinkFields,
    encode_request,
    encode_resource,
    encode_scope,
    encode_span,
    encode_spans,
    spans_to_request,
)
from datatracing.wire._keys import (
    CONTENT_TYPE_HEADER,
    CONTENT_TYPE_MODEL_JSON,
    CONTENT_TYPE_OTLP_JSON,
    CONTENT_TYPE_OTLP_PROTO,
    PARTITIONER,
    murmur2,
    partition_for,
    trace_key,
)
from datatracing.wire._otlp import (
    any_value,
    attributes,
    decode_spans,
    parse_request,
    request_to_spans,
    resource_from_pb,
    scope_from_pb,
    span_from_pb,
)
from datatracing.wire._validate import invalid_span_reason

__all__ = [
    "CONTENT_TYPE_HEADER",
    "CONTENT_TYPE_MODEL_JSON",
    "CONTENT_TYPE_OTLP_JSON",
    "CONTENT_TYPE_OTLP_PROTO",
    "PARTITIONER",
    "EventFields",
    "LinkFields",
    "any_value",
    "attributes",
    "decode_spans",
    "encode_request",
    "encode_resource",
    "encode_scope",
    "encode_span",
    "encode_spans",
    "invalid_span_reason",
    "murmur2",
    "parse_request",
    "partition_for",
    "request_to_spans",
    "resource_from_pb",
    "scope_from_pb",
    "span_from_pb",
    "spans_to_request",
    "trace_key",
]
