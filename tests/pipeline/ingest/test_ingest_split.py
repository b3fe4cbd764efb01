"""Splitting export requests per trace id: keys, preserved resources and scopes, rejected spans."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from ingest_strategies import pb_spans
from ingest_support import RESOURCE, SCOPE, make_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2

from datatracing.errors import InvalidDataError
from datatracing.model import InstrumentationScope, Resource, Span
from datatracing.pipeline.ingest import Rejections, TraceMessage, invalid_span_reason, split_by_trace
from datatracing.wire import parse_request, request_to_spans, span_from_pb, spans_to_request, trace_key
from tests.strategies import hex16, hex32, resources, scopes


def _spans_of(message: TraceMessage) -> list[Span]:
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
    rejections = Rejections()
    messages = split_by_trace(spans_to_request(spans), rejections)
    assert rejections.count == 0
    assert [m.key for m in messages] == list(dict.fromkeys(trace_key(s.trace_id) for s in spans))
    for message in messages:
        expected = [s for s in spans if trace_key(s.trace_id) == message.key]
        assert _spans_of(message) == expected
        assert message.span_count == len(expected)


@given(mixed_batches(), st.data())
def test_split_invalid_spans_counted_valid_kept(spans: list[Span], data: st.DataObject) -> None:
    request = spans_to_request(spans)
    corrupted = 0
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                how = data.draw(st.sampled_from(["keep", "short_trace", "zero_span", "bad_parent", "time"]))
                if how == "short_trace":
                    span.trace_id = span.trace_id[:5]
                elif how == "zero_span":
                    span.span_id = bytes(8)
                elif how == "bad_parent":
                    span.parent_span_id = b"\x01"
                elif how == "time":
                    span.start_time_unix_nano, span.end_time_unix_nano = 2, 1
                corrupted += how != "keep"
    rejections = Rejections()
    messages = split_by_trace(request, rejections)
    assert rejections.count == corrupted
    kept = sum(m.span_count for m in messages)
    assert kept == len(spans) - corrupted
    assert sum(len(_spans_of(m)) for m in messages) == kept


@given(pb_spans)
def test_split_invalid_reason_agrees_with_model(span: trace_pb2.Span) -> None:
    reason = invalid_span_reason(span)
    try:
        span_from_pb(span, Resource(), InstrumentationScope())
    except InvalidDataError:
        assert reason is not None
    else:
        assert reason is None


def test_split_one_valid_trace_original_bytes_passed_through() -> None:
    payload = spans_to_request(make_spans([3], per_trace=4)).SerializeToString()
    request = ExportTraceServiceRequest.FromString(payload)
    (message,) = split_by_trace(request, Rejections(), payload)
    assert message.payload is payload
    assert message.span_count == 4


def test_split_three_traces_three_messages_in_first_seen_order() -> None:
    spans = make_spans([30, 10, 20], per_trace=2)
    messages = split_by_trace(spans_to_request(spans), Rejections(), b"ignored for several traces")
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
    messages = split_by_trace(request, Rejections(), max_message_bytes=limit)
    assert all(len(m.payload) <= limit for m in messages)
    assert {m.key for m in messages} == {trace_key(spans[0].trace_id)}
    assert [s for m in messages for s in _spans_of(m)] == spans
    assert sum(m.span_count for m in messages) == len(spans)


def test_split_span_over_message_limit_rejected() -> None:
    huge, small = make_spans([6], per_trace=2)
    huge = huge.model_copy(update={"attributes": {"blob": "x" * 10_000}})
    rejections = Rejections()
    messages = split_by_trace(spans_to_request([huge, small]), rejections, max_message_bytes=4096)
    assert rejections.count == 1
    assert "message limit" in rejections.message()
    assert [s for m in messages for s in _spans_of(m)] == [small]
