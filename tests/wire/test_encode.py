"""The one OTLP encoder: what it writes, protobuf (opentelemetry-proto) reads back to the same spans."""

from __future__ import annotations

import enum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datatracing.errors import InvalidDataError
from datatracing.model import InstrumentationScope, Resource, Span, SpanEvent, SpanKind, SpanLink
from datatracing.wire import (
    decode_spans,
    encode_request,
    encode_resource,
    encode_scope,
    encode_span,
    encode_spans,
    parse_request,
    spans_to_request,
)
from tests.strategies import hex16, hex32, spans

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"

# Wider than the shared strategies: any unicode (no lone surrogates: OTLP strings are UTF-8), and
# values repeated until they need multi-byte length prefixes (cheap to draw, large to encode).
wide_text = st.text(max_size=30) | st.builds(
    lambda s, n: s * n, st.text(min_size=1, max_size=8), st.integers(20, 3_000)
)
wide_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | wide_text
    | st.builds(lambda b, n: b * n, st.binary(max_size=8), st.integers(0, 3_000))
)
wide_values = st.recursive(
    wide_scalars,
    lambda children: st.lists(children, max_size=20) | st.dictionaries(wide_text, children, max_size=4),
    max_leaves=30,
)
wide_maps = st.dictionaries(wide_text, wide_values, max_size=4)


@st.composite
def wide_spans(draw: st.DrawFn) -> Span:
    base = draw(spans())
    return base.model_copy(
        update={
            "name": draw(wide_text),
            "attributes": draw(wide_maps),
            "events": tuple(
                SpanEvent(name=draw(wide_text), time_unix_nano=1, attributes=draw(wide_maps))
                for _ in range(draw(st.integers(0, 2)))
            ),
            "links": tuple(
                SpanLink(trace_id=draw(hex32), span_id=draw(hex16), attributes=draw(wide_maps))
                for _ in range(draw(st.integers(0, 2)))
            ),
            "resource": Resource(attributes=draw(wide_maps)),
        }
    )


def _span(**fields: object) -> Span:
    return Span(
        trace_id=TRACE, span_id=SPAN, name="op", start_time_unix_nano=1, end_time_unix_nano=2, **fields
    )  # type: ignore[arg-type]


@given(st.lists(spans(), max_size=6))
def test_encode_spans_random_spans_decode_identical(items: list[Span]) -> None:
    assert decode_spans(encode_spans(items)) == items


@given(st.lists(wide_spans(), max_size=3))
def test_encode_spans_unicode_huge_and_nested_attributes_decode_identical(items: list[Span]) -> None:
    assert decode_spans(encode_spans(items)) == items


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"": ""},
        {"blob": b"\x00" * 1_000_000, "text": "ü" * 300_000},
        {"array": list(range(10_000)), "mixed": [1, "a", 1.5, True, None, b"x", [], {}]},
        {"nested": {"a": {"b": {"c": [{"d": b""}]}}}},
        {"min": -(2**63), "max": 2**63 - 1, "zero": 0, "f": -0.0},
    ],
)
def test_encode_spans_edge_attributes_decode_identical(attributes: dict[str, object]) -> None:
    span = _span(attributes=attributes)
    assert decode_spans(encode_spans([span])) == [span]


def test_encode_spans_resource_runs_keep_order_and_group_consecutive() -> None:
    first, second = Resource(attributes={"service.name": "a"}), Resource(attributes={"service.name": "b"})
    items = [
        _span(resource=first),
        _span(resource=first, scope=InstrumentationScope(name="other")),
        _span(resource=second),
        _span(resource=first),
    ]
    request = spans_to_request(items)
    assert [len(rs.scope_spans) for rs in request.resource_spans] == [2, 1, 1]
    assert decode_spans(encode_spans(items)) == items


class _Level(enum.IntEnum):
    HIGH = 3


class _Colour(enum.StrEnum):
    RED = "red"


def test_encode_spans_subclassed_values_encode_as_their_base_type() -> None:
    span = _span(attributes={"level": _Level.HIGH, "colour": _Colour.RED})
    decoded = decode_spans(encode_spans([span]))[0]
    assert decoded.attributes == {"level": 3, "colour": "red"}
    assert type(decoded.attributes["level"]) is int


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, [2**64]])
def test_encode_spans_int_outside_int64_raises_invalid_data(value: object) -> None:
    with pytest.raises(InvalidDataError, match="int64"):
        encode_spans([_span(attributes={"big": value})])


def test_encode_request_from_parts_decodes_to_span_fields() -> None:
    resource = Resource(attributes={"service.name": "svc"})
    scope = InstrumentationScope(name="lib", version="1")
    encoded = encode_span(
        TRACE, SPAN, None, "k=v", 0x101, "op", int(SpanKind.SERVER), 5, 9, {"a": 1}, 2,
        [("ev", 6, {"e": "x"}, 0)], 0, [(TRACE, "1" * 16, "", 1, {}, 0)], 3, 2, "failed",
    )  # fmt: skip
    (span,) = decode_spans(encode_request([(encode_resource(resource), [(encode_scope(scope), [encoded])])]))
    assert (span.trace_state, span.flags, span.kind, span.duration_ns) == ("k=v", 0x101, SpanKind.SERVER, 4)
    assert (span.resource, span.scope, span.attributes) == (resource, scope, {"a": 1})
    assert (span.events[0].name, span.links[0].span_id, span.dropped_links_count) == ("ev", "1" * 16, 3)
    assert (span.status.code, span.status.message, span.dropped_attributes_count) == (2, "failed", 2)


def test_spans_to_request_is_the_parsed_encoding() -> None:
    items = [_span(attributes={"k": "v"}), _span(resource=Resource(attributes={"x": 1}))]
    assert spans_to_request(items) == parse_request(encode_spans(items))
    assert encode_spans([]) == b""
