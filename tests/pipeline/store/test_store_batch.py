from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from datatracing.errors import InvalidDataError
from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.store import SpanBatch
from datatracing.pipeline.store._values import decode_value, encode_model_value, encode_pb_value
from datatracing.wire import encode_spans, spans_to_request
from tests.pipeline.store.store_data import attribute_values, rich_trace, span, trace_id


def _bad_span_payload(mutate: str) -> bytes:
    request = spans_to_request([span(trace_id(), 1)])
    pb = request.resource_spans[0].scope_spans[0].spans[0]
    if mutate == "short trace id":
        pb.trace_id = b"\x01" * 15
    elif mutate == "zero span id":
        pb.span_id = b"\x00" * 8
    elif mutate == "zero parent":
        pb.parent_span_id = b"\x00" * 8
    elif mutate == "end before start":
        pb.end_time_unix_nano = pb.start_time_unix_nano - 1
    elif mutate == "year 2262":
        pb.start_time_unix_nano = 2**63
        pb.end_time_unix_nano = 2**63
    elif mutate == "bad link":
        link = pb.links.add()
        link.trace_id, link.span_id = b"\x01" * 16, b"\x01" * 7
    return request.SerializeToString()


def test_from_otlp_spans_become_rows_with_audit() -> None:
    audit = SamplingAudit(policy="p", policy_version="v", sample_rate=4.0, tenant="t")
    spans = rich_trace(trace_id())

    batch = SpanBatch.from_otlp([(encode_spans(spans), audit)])

    assert len(batch) == 3
    rows = batch.table.select(["service", "parent_service", "tenant", "sample_rate"]).to_pylist()
    assert rows == [
        {"service": "frontend", "parent_service": "", "tenant": "t", "sample_rate": 4.0},
        {"service": "payments", "parent_service": "frontend", "tenant": "t", "sample_rate": 4.0},
        {"service": "db", "parent_service": "payments", "tenant": "t", "sample_rate": 4.0},
    ]


def test_from_otlp_with_rejects_keeps_good_messages() -> None:
    good = encode_spans([span(trace_id(), 1), span(trace_id(), 2)])
    messages = [(good, SamplingAudit()), (b"\xff\xff garbage", SamplingAudit()), (good, SamplingAudit())]

    batch, rejects = SpanBatch.from_otlp_with_rejects(messages)

    assert len(batch) == 4
    assert [index for index, _ in rejects] == [1]
    assert "not an OTLP" in rejects[0][1]


@pytest.mark.parametrize(
    "mutate", ["short trace id", "zero span id", "zero parent", "end before start", "year 2262", "bad link"]
)
def test_from_otlp_invalid_span_rejects_whole_message(mutate: str) -> None:
    good = encode_spans([span(trace_id(), 1)])
    # The bad span comes after a good one in the same message: both must go.
    request = ExportTraceServiceRequest()
    request.ParseFromString(encode_spans([span(trace_id(), 5)]) + _bad_span_payload(mutate))

    batch, rejects = SpanBatch.from_otlp_with_rejects(
        [(good, SamplingAudit()), (request.SerializeToString(), SamplingAudit())]
    )

    assert len(batch) == 1
    assert rejects[0][0] == 1
    assert rejects[0][1].startswith("invalid span")


def test_from_otlp_bad_message_raises_invalid_data_naming_it() -> None:
    with pytest.raises(InvalidDataError, match="message 0"):
        SpanBatch.from_otlp([(b"\x0a\x05broken", SamplingAudit())])


def test_from_otlp_repeated_attribute_key_keeps_last_value() -> None:
    request = spans_to_request([span(trace_id(), 1, attributes={"k": 1})])
    kv = request.resource_spans[0].scope_spans[0].spans[0].attributes.add()
    kv.key, kv.value.string_value = "k", "last"

    batch = SpanBatch.from_otlp([(request.SerializeToString(), SamplingAudit())])

    assert batch.table.column("attributes").to_pylist() == [[("k", "last")]]
    assert batch.table.column("attribute_types").to_pylist() == [[]]


def test_concat_batches_keeps_all_rows() -> None:
    one = SpanBatch.from_spans([span(trace_id(), 1)])
    two = SpanBatch.from_spans(rich_trace(trace_id()))

    assert len(SpanBatch.concat([one, two])) == 4
    assert len(SpanBatch.concat([])) == 0


@settings(max_examples=200)
@given(attribute_values)
def test_attribute_value_encoding_round_trips(value: object) -> None:
    text, code = encode_model_value(value)  # type: ignore[arg-type]

    assert decode_value(text, code) == value


@given(attribute_values)
def test_attribute_pb_and_model_encodings_agree(value: object) -> None:
    request = spans_to_request([span(trace_id(), 1, attributes={"k": value})])
    pb_value = request.resource_spans[0].scope_spans[0].spans[0].attributes[0].value

    assert encode_pb_value(pb_value) == encode_model_value(value)  # type: ignore[arg-type]


@given(st.binary(max_size=64))
def test_from_otlp_random_bytes_never_crash(payload: bytes) -> None:
    batch, rejects = SpanBatch.from_otlp_with_rejects([(payload, SamplingAudit())])

    assert len(batch) == 0 or not rejects
