"""The request codec's two input paths and its one set of rules agree on random requests."""

from __future__ import annotations

import json
import re

from hypothesis import given
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2

from datatracing.wire import (
    RejectReason,
    Split,
    all_spans_valid,
    invalid_span_reason,
    parse_otlp_json,
    parse_request,
    request_to_otlp_json,
    split_request,
)
from tests.wire.pb_strategies import pb_spans, rule_requests

_TEMPLATES = [re.compile(re.escape(r.value).replace(r"\{size\}", r"\d+")) for r in RejectReason]


def _spans(request: ExportTraceServiceRequest) -> list[trace_pb2.Span]:
    return [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]


def _summary(split: Split) -> tuple[list[object], list[str]]:
    parts, rejected = split
    figures = [
        (p.trace_id, p.span_count, p.start_ns, p.end_ns, p.has_root, parse_request(p.payload)) for p in parts
    ]
    return figures, [r.reason for r in rejected]


@given(rule_requests())
def test_codec_protobuf_and_json_paths_split_alike(request: ExportTraceServiceRequest) -> None:
    payload = request.SerializeToString()
    by_proto = split_request(parse_request(payload), payload)
    decoded, not_spans = parse_otlp_json(json.dumps(request_to_otlp_json(request)).encode())
    assert not_spans == []
    assert _summary(split_request(decoded)) == _summary(by_proto)


@given(rule_requests())
def test_codec_split_refuses_exactly_the_spans_the_rules_refuse(request: ExportTraceServiceRequest) -> None:
    spans = _spans(request)
    reasons = [reason for reason in map(invalid_span_reason, spans) if reason is not None]
    parts, rejected = split_request(request, request.SerializeToString())
    assert [r.reason for r in rejected] == reasons
    assert sum(p.span_count for p in parts) == len(spans) - len(reasons)
    assert all_spans_valid(spans) == (not reasons)
    for part in parts:
        assert all_spans_valid(_spans(parse_request(part.payload)))


@given(pb_spans)
def test_codec_every_reason_is_one_of_reject_reason(span: trace_pb2.Span) -> None:
    reason = invalid_span_reason(span)
    assert reason is None or any(t.fullmatch(reason) for t in _TEMPLATES)
