from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.trace.v1 import trace_pb2

from datatracing.errors import InvalidDataError
from datatracing.model import Resource, Span
from datatracing.wire import decode_spans, encode_spans, parse_request, spans_to_request
from tests.strategies import spans


def _same(a: object, b: object) -> bool:
    # NaN never equals itself; the strategies exclude NaN, so plain equality is exact here.
    return a == b


@given(st.lists(spans(), max_size=5))
def test_otlp_roundtrip_any_spans_identical(items: list[Span]) -> None:
    assert _same(decode_spans(encode_spans(items)), items)


@given(st.lists(spans(trace_id="4bf92f3577b34da6a3ce929d0e0e4736"), min_size=1, max_size=5))
def test_encode_shared_resource_grouped_once(items: list[Span]) -> None:
    shared = Resource(attributes={"service.name": "svc"})
    same = [s.model_copy(update={"resource": shared}) for s in items]
    request = spans_to_request(same)
    assert len(request.resource_spans) == 1
    assert sum(len(ss.spans) for ss in request.resource_spans[0].scope_spans) == len(same)


def test_decode_garbage_raises_invalid_data() -> None:
    with pytest.raises(InvalidDataError, match="not an OTLP"):
        parse_request(b"\xff\xff\xff\xff")


def _request_with(span: trace_pb2.Span) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.append(span)
    return request.SerializeToString()


@pytest.mark.parametrize(
    ("span", "message"),
    [
        (trace_pb2.Span(trace_id=b"\x01" * 15, span_id=b"\x01" * 8), "trace_id must be 16 bytes"),
        (trace_pb2.Span(trace_id=b"\x00" * 16, span_id=b"\x01" * 8), "trace_id"),
        (trace_pb2.Span(trace_id=b"\x01" * 16, span_id=b"\x01" * 7), "span_id must be 8 bytes"),
        (
            trace_pb2.Span(
                trace_id=b"\x01" * 16, span_id=b"\x01" * 8, start_time_unix_nano=5, end_time_unix_nano=4
            ),
            "end_time_unix_nano is before",
        ),
    ],
)
def test_decode_invalid_span_names_the_problem(span: trace_pb2.Span, message: str) -> None:
    with pytest.raises(InvalidDataError, match=message):
        decode_spans(_request_with(span))


def test_encode_int_outside_int64_raises_invalid_data() -> None:
    span = Span(
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        span_id="00f067aa0ba902b7",
        name="x",
        start_time_unix_nano=1,
        end_time_unix_nano=2,
        attributes={"big": 2**70},
    )
    with pytest.raises(InvalidDataError, match="int64"):
        encode_spans([span])


def test_decode_float_attribute_keeps_value() -> None:
    span = Span(
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        span_id="00f067aa0ba902b7",
        name="x",
        start_time_unix_nano=1,
        end_time_unix_nano=2,
        attributes={"pi": math.pi},
    )
    assert decode_spans(encode_spans([span]))[0].attributes["pi"] == math.pi
