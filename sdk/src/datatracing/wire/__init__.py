"""The wire format of the spans topics (OTLP protobuf, keyed by trace id) and the request codec.

Every stage that reads export requests uses this package for it: `parse_request`, `parse_otlp_json`
and `parse_model_json` decode a request, `split_request` cuts it into one part per trace and refuses
the spans that break the pipeline's one set of rules (`invalid_span_reason`, `RejectReason`), and
the store checks its rows against the same rules (`all_spans_valid` and the constants).

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
from datatracing.wire._json import (
    JsonRequest,
    RejectedJson,
    otlp_json_to_request,
    parse_model_json,
    parse_otlp_json,
    request_to_otlp_json,
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
from datatracing.wire._rules import (
    MAX_START_TIME_NS,
    SPAN_ID_BYTES,
    TRACE_ID_BYTES,
    RejectReason,
    all_spans_valid,
    invalid_span_reason,
)
from datatracing.wire._split import RejectedSpan, Split, TracePart, split_request

__all__ = [
    "CONTENT_TYPE_HEADER",
    "CONTENT_TYPE_MODEL_JSON",
    "CONTENT_TYPE_OTLP_JSON",
    "CONTENT_TYPE_OTLP_PROTO",
    "MAX_START_TIME_NS",
    "PARTITIONER",
    "SPAN_ID_BYTES",
    "TRACE_ID_BYTES",
    "EventFields",
    "JsonRequest",
    "LinkFields",
    "RejectReason",
    "RejectedJson",
    "RejectedSpan",
    "Split",
    "TracePart",
    "all_spans_valid",
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
    "otlp_json_to_request",
    "parse_model_json",
    "parse_otlp_json",
    "parse_request",
    "partition_for",
    "request_to_otlp_json",
    "request_to_spans",
    "resource_from_pb",
    "scope_from_pb",
    "span_from_pb",
    "spans_to_request",
    "split_request",
    "trace_key",
]
