"""`split_request`: one part per trace id, resources and scopes kept, refused spans reported."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2

from datatracing.errors import InvalidDataError
from datatracing.model import InstrumentationScope, Resource, Span
from datatracing.wire import (
    MAX_START_TIME_NS,
    RejectReason,
    TracePart,
    invalid_span_reason,
    parse_request,
    request_to_spans,
    span_from_pb,
    spans_to_request,
    split_request,
    trace_key,
)
from tests.strategies import hex16, hex32, resources, scopes
from tests.wire.pb_strategies import pb_spans
from tests.wire.wire_data import RESOURCE, SCOPE, make_spans


def _spans_of(message: TracePart) -> list[Span]:
    return request_to_spans(parse_request(message.payload))


@st.composite
def mixed_batches(draw: st.DrawFn) -> list[Span]:
    """Spans of a few traces, from a few resources and scopes, in any order."""
    trace_ids = draw(st.lists(hex32, min_size=1, max_size=4, unique=True))
    resource_pool = draw(st.lists(resources, min_size=1, max_size=2))
    scope_pool = draw(st.lists(scopes, min_size=1, max_size=2))
    # Light spans (the codec's own tests cover every field): what matters here is the grouping.
    light = st.builds(
        Span,
        trace_id=st.sampled_from(trace_ids),
        span_id=hex16,
        parent_span_id=st.none() | hex16,
        name=st.text(max_size=4),
        start_time_unix_nano=st.integers(min_value=0, max_value=10),
        end_time_unix_nano=st.integers(min_value=10, max_value=20),
        resource=st.sampled_from(resource_pool),
        scope=st.sampled_from(scope_pool),
    )
    return draw(st.lists(light, max_size=10))


@given(mixed_batches())
def test_split_each_message_one_trace_spans_resources_scopes_kept(spans: list[Span]) -> None:
    messages, rejected = split_request(spans_to_request(spans))
    assert rejected == []
    assert [m.key for m in messages] == list(dict.fromkeys(trace_key(s.trace_id) for s in spans))
    for message in messages:
        expected = [s for s in spans if trace_key(s.trace_id) == message.key]
        assert _spans_of(message) == expected
        assert message.span_count == len(expected)
        assert message.start_ns == min(s.start_time_unix_nano for s in expected)
        assert message.end_ns == max(s.end_time_unix_nano for s in expected)
        assert message.has_root == any(s.parent_span_id is None for s in expected)


@given(mixed_batches(), st.data())
def test_split_invalid_spans_reported_valid_kept(spans: list[Span], data: st.DataObject) -> None:
    request = spans_to_request(spans)
    corrupted = 0
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                how = data.draw(
                    st.sampled_from(["keep", "short_trace", "zero_span", "bad_parent", "time", "year_2262"])
                )
                if how == "short_trace":
                    span.trace_id = span.trace_id[:5]
                elif how == "zero_span":
                    span.span_id = bytes(8)
                elif how == "bad_parent":
                    span.parent_span_id = b"\x01"
                elif how == "time":
                    span.start_time_unix_nano, span.end_time_unix_nano = 2, 1
                elif how == "year_2262":
                    span.start_time_unix_nano = span.end_time_unix_nano = MAX_START_TIME_NS + 1
                corrupted += how != "keep"
    messages, rejected = split_request(request)
    assert len(rejected) == corrupted
    kept = sum(m.span_count for m in messages)
    assert kept == len(spans) - corrupted
    assert sum(len(_spans_of(m)) for m in messages) == kept


@given(pb_spans)
def test_split_invalid_reason_is_the_decoders_reason(span: trace_pb2.Span) -> None:
    reason = invalid_span_reason(span)
    if reason is None:
        span_from_pb(span, Resource(), InstrumentationScope())
    else:
        with pytest.raises(InvalidDataError, match=re.escape(reason)):
            span_from_pb(span, Resource(), InstrumentationScope())


def test_split_one_valid_trace_original_bytes_passed_through() -> None:
    payload = spans_to_request(make_spans([3], per_trace=4)).SerializeToString()
    request = ExportTraceServiceRequest.FromString(payload)
    ((message,), _) = split_request(request, payload)
    assert message.payload is payload
    assert message.span_count == 4


def test_split_three_traces_three_messages_in_first_seen_order() -> None:
    spans = make_spans([30, 10, 20], per_trace=2)
    messages, _ = split_request(spans_to_request(spans), b"ignored for several traces")
    assert [m.key for m in messages] == [trace_key(f"{t:032x}") for t in (30, 10, 20)]
    for message in messages:
        request = parse_request(message.payload)
        assert len(request.resource_spans) == 1
        assert request_to_spans(request)[0].resource == RESOURCE
        assert request_to_spans(request)[0].scope == SCOPE


@given(st.integers(min_value=4096, max_value=20_000))
def test_split_large_trace_cut_under_limit_order_kept(limit: int) -> None:
    spans = make_spans([5], per_trace=150)
    request = spans_to_request(spans)
    request.resource_spans[0].schema_url = "https://opentelemetry.io/schemas/1.21.0"
    messages, _ = split_request(request, max_message_bytes=limit)
    assert all(len(m.payload) <= limit for m in messages)
    assert {m.key for m in messages} == {trace_key(spans[0].trace_id)}
    assert [s for m in messages for s in _spans_of(m)] == spans
    assert sum(m.span_count for m in messages) == len(spans)


def test_split_span_over_message_limit_rejected() -> None:
    huge, small = make_spans([6], per_trace=2)
    huge = huge.model_copy(update={"attributes": {"blob": "x" * 10_000}})
    messages, rejected = split_request(spans_to_request([huge, small]), max_message_bytes=4096)
    assert [r.reason for r in rejected] == [RejectReason.TOO_LARGE.text(limit=4096)]
    assert [s for m in messages for s in _spans_of(m)] == [small]


def test_split_span_past_2262_refused_with_the_stores_reason() -> None:
    (late, ok) = make_spans([7], per_trace=2)
    request = spans_to_request([late, ok])
    far = request.resource_spans[0].scope_spans[0].spans[0]
    far.start_time_unix_nano = far.end_time_unix_nano = MAX_START_TIME_NS + 1
    (part,), (refused,) = split_request(request, request.SerializeToString())
    assert refused.reason == "invalid span: start_time_unix_nano is past the year 2262"
    assert _spans_of(part) == [ok]
    alone = parse_request(refused.payload())
    assert alone.resource_spans[0].scope_spans[0].spans[0] == far
    assert alone.resource_spans[0].scope_spans[0].scope.name == SCOPE.name


def test_split_span_at_the_last_storable_start_kept() -> None:
    (span,) = make_spans([8], per_trace=1)
    request = spans_to_request([span])
    pb = request.resource_spans[0].scope_spans[0].spans[0]
    pb.start_time_unix_nano = pb.end_time_unix_nano = MAX_START_TIME_NS
    (part,), rejected = split_request(request)
    assert (part.span_count, rejected) == (1, [])
