"""OTLP JSON and the model's JSON → protobuf, held to a round trip against protobuf → OTLP JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2

from datatracing.errors import InvalidDataError
from datatracing.model import Span
from datatracing.wire import (
    otlp_json_to_request,
    parse_model_json,
    parse_otlp_json,
    request_to_otlp_json,
    request_to_spans,
    spans_to_request,
)
from datatracing.wire._jsonspan import fast_span, parse_span_slow
from tests.strategies import spans as model_spans
from tests.wire.pb_strategies import requests
from tests.wire.wire_data import make_spans

_INT64_KEYS = {"startTimeUnixNano", "endTimeUnixNano", "timeUnixNano", "intValue"}


def _as_json_text(doc: Any) -> Any:
    return json.loads(json.dumps(doc))


def _int64_as_numbers(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {
            k: int(v) if k in _INT64_KEYS and isinstance(v, str) else _int64_as_numbers(v)
            for k, v in doc.items()
        }
    if isinstance(doc, list):
        return [_int64_as_numbers(v) for v in doc]
    return doc


def _snake_keys(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {re.sub(r"(?<!^)([A-Z])", r"_\1", k).lower(): _snake_keys(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_snake_keys(v) for v in doc]
    return doc


@given(st.lists(model_spans(), max_size=4))
def test_otlp_json_model_spans_round_trip_equal(spans: list[Span]) -> None:
    request = spans_to_request(spans)
    back, rejected = otlp_json_to_request(_as_json_text(request_to_otlp_json(request)))
    assert (back, rejected) == (request, [])
    assert request_to_spans(back) == spans


@given(requests, st.sampled_from(["strings", "numbers", "snake_case"]))
def test_otlp_json_any_request_round_trip_equal(request: ExportTraceServiceRequest, variant: str) -> None:
    doc = _as_json_text(request_to_otlp_json(request))
    for rs in doc.get("resourceSpans", ()):
        for ss in rs.get("scopeSpans", ()):
            for span in ss.get("spans", ()):
                for name in ("traceId", "spanId", "parentSpanId"):
                    assert re.fullmatch("[0-9a-f]*", span.get(name, ""))
    if variant == "numbers":
        doc = _int64_as_numbers(doc)
    elif variant == "snake_case":
        doc = _snake_keys(doc)
    assert otlp_json_to_request(doc) == (request, [])


def _one_span_doc(**span: Any) -> dict[str, Any]:
    base = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "name": "op"}
    return {"resourceSpans": [{"scopeSpans": [{"spans": [{**base, **span}]}]}]}


def _only_span(request: ExportTraceServiceRequest) -> trace_pb2.Span:
    (span,) = request.resource_spans[0].scope_spans[0].spans
    return span


def test_otlp_json_spec_example_fields_decoded() -> None:
    doc = _one_span_doc(
        parentSpanId="",
        kind=2,
        startTimeUnixNano=1544712660000000000,
        endTimeUnixNano="1544712661000000000",
        attributes=[{"key": "my.span.attr", "value": {"stringValue": "some value"}}],
        status={"code": 2, "message": "boom"},
        droppedAttributesCount=1,
        unknownField={"ignored": True},
    )
    span = _only_span(otlp_json_to_request(doc).request)
    assert span.trace_id.hex() == "0af7651916cd43dd8448eb211c80319c"
    assert span.span_id.hex() == "b7ad6b7169203331"
    assert span.parent_span_id == b""
    assert span.kind == trace_pb2.Span.SPAN_KIND_SERVER
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (1544712660000000000, 1544712661000000000)
    assert span.attributes[0].value.string_value == "some value"
    assert (span.status.code, span.status.message) == (2, "boom")


def test_otlp_json_uppercase_hex_and_enum_names_accepted() -> None:
    doc = _one_span_doc(spanId="B7AD6B7169203331", kind="SPAN_KIND_CLIENT")
    span = _only_span(otlp_json_to_request(doc).request)
    assert span.span_id.hex() == "b7ad6b7169203331"
    assert span.kind == trace_pb2.Span.SPAN_KIND_CLIENT


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("traceId", "0af7 651916cd43dd8448eb211c80319c", "not hex"),
        ("spanId", 12345, "must be a hex string"),
        ("startTimeUnixNano", "soon", "startTimeUnixNano"),
        ("links", [{"traceId": "zz", "spanId": "b7ad6b7169203331"}], "not hex"),
        ("links", "nope", "links"),
    ],
)
def test_otlp_json_bad_span_rejected_others_kept(field: str, value: Any, reason: str) -> None:
    doc = _one_span_doc(**{field: value})
    good = _one_span_doc()["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"].append(good)
    request, (rejected,) = otlp_json_to_request(doc)
    assert rejected.reason.startswith("invalid span: ")
    assert reason in rejected.reason
    assert _only_span(request).span_id.hex() == "b7ad6b7169203331"
    piece = json.loads(rejected.payload())
    assert piece["resourceSpans"][0]["scopeSpans"][0]["spans"] == [
        doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    ]


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"resourceSpans": {}},
        {"resourceSpans": [3]},
        {"resourceSpans": [{"resource": {"attributes": 5}}]},
        {"resourceSpans": [{"scopeSpans": [{"scope": {"name": 5}}]}]},
        {"resourceSpans": [{"schemaUrl": 7}]},
    ],
)
def test_otlp_json_bad_structure_invalid_data_error(doc: Any) -> None:
    with pytest.raises(InvalidDataError):
        otlp_json_to_request(doc)


@pytest.mark.parametrize("payload", [b"{", b"\xff\xfe", b"[" * 100_000])
def test_otlp_json_undecodable_invalid_data_error(payload: bytes) -> None:
    with pytest.raises(InvalidDataError, match="not JSON"):
        parse_otlp_json(payload)


# --- the fast path agrees with json_format wherever it accepts a span ---------------------------

_odd_scalars = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=6),
    st.sampled_from(["5", "-5", " 5", "+5", "007", "1e3", "\u0663", "NaN", "Infinity", "00ff", "ABCD"]),
    st.booleans(),
    st.none(),
)
_odd_any_values = st.recursive(
    st.dictionaries(
        st.sampled_from(["stringValue", "intValue", "boolValue", "doubleValue", "bytesValue", "x"]),
        _odd_scalars,
        max_size=2,
    ),
    lambda children: st.one_of(
        st.fixed_dictionaries(
            {"arrayValue": st.fixed_dictionaries({"values": st.lists(children, max_size=2)})}
        ),
        st.fixed_dictionaries(
            {
                "kvlistValue": st.fixed_dictionaries(
                    {
                        "values": st.lists(
                            st.fixed_dictionaries({"key": st.text(max_size=3), "value": children})
                        )
                    }
                )
            }
        ),
    ),
    max_leaves=4,
)
_odd_attributes = st.lists(
    st.dictionaries(
        st.sampled_from(["key", "value", "other"]), st.one_of(st.text(max_size=3), _odd_any_values)
    ),
    max_size=2,
)
_odd_fields = st.one_of(
    st.tuples(
        st.sampled_from(
            [
                "traceId",
                "spanId",
                "parentSpanId",
                "name",
                "traceState",
                "flags",
                "kind",
                "startTimeUnixNano",
                "endTimeUnixNano",
                "droppedAttributesCount",
                "trace_id",
                "links",
            ]
        ),
        _odd_scalars,
    ),
    st.tuples(st.just("attributes"), _odd_attributes),
    st.tuples(
        st.just("status"),
        st.dictionaries(st.sampled_from(["code", "message", "x"]), _odd_scalars, max_size=2),
    ),
    st.tuples(
        st.just("events"),
        st.lists(
            st.dictionaries(
                st.sampled_from(["timeUnixNano", "name", "droppedAttributesCount"]), _odd_scalars, max_size=3
            ),
            max_size=2,
        ),
    ),
)


def _spans_in(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        span
        for rs in doc.get("resourceSpans", ())
        for ss in rs.get("scopeSpans", ())
        for span in ss.get("spans", ())
    ]


@given(requests, st.lists(_odd_fields, max_size=3))
def test_otlp_json_fast_path_agrees_with_json_format(
    request: ExportTraceServiceRequest, odd: list[tuple[str, Any]]
) -> None:
    docs = _spans_in(_as_json_text(request_to_otlp_json(request))) or [{}]
    for doc in docs:
        doc.update(odd)
        fast = trace_pb2.Span()
        if not fast_span(doc, fast):
            continue
        slow = trace_pb2.Span()
        parse_span_slow(doc, slow)  # must not raise where the fast path accepted
        assert fast == slow


def test_otlp_json_fast_path_takes_typical_spans() -> None:
    doc = request_to_otlp_json(spans_to_request(make_spans([1, 2], per_trace=3)))
    assert all(fast_span(span, trace_pb2.Span()) for span in _spans_in(_as_json_text(doc)))


def test_model_json_invalid_item_rejected_rest_kept() -> None:
    items = [s.model_dump(mode="json") for s in make_spans([1], per_trace=3)]
    items[1]["span_id"] = "0" * 16
    request, (rejected,) = parse_model_json(json.dumps({"spans": items}).encode())
    assert rejected.reason.startswith("invalid span: span_id")
    assert json.loads(rejected.payload()) == [items[1]]
    assert [s.span_id for s in request_to_spans(request)] == [items[0]["span_id"], items[2]["span_id"]]


@pytest.mark.parametrize("payload", [b"{not json", b'{"spans": 3}', b"3"])
def test_model_json_not_a_list_of_spans_invalid_data_error(payload: bytes) -> None:
    with pytest.raises(InvalidDataError):
        parse_model_json(payload)
