"""Policies against a direct reference over the model spans, including the byte-level pre-filters."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from pydantic import TypeAdapter

from datatracing.model import Resource, Span, SpanEvent, Status, StatusCode
from datatracing.pipeline.sampler.policies import Condition, TraceView, build_condition
from datatracing.pipeline.sampler.policies._evaluators import (
    AllOf,
    AttributeMatch,
    Probabilistic,
    RateLimiter,
    SpanCount,
)
from datatracing.pipeline.sampler.policies._scan import KeyScan
from datatracing.wire import encode_spans
from tests.pipeline.sampler.sampler_data import span

_conditions = TypeAdapter(Condition)
KEYS = ["k", "key", "kk", "n"]  # "kk" overlaps itself: never scanned, always decoded
scalar = st.one_of(
    # Control characters that spell a key's own prefix (0x0a, length, key, 0x12) inside values.
    st.text(alphabet="key\n\x12\x01\x03:", max_size=8),
    st.integers(-3, 3),
    st.floats(-3, 3, allow_nan=False),
    st.booleans(),
)
value = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=2),
    max_leaves=4,
)
attrs = st.dictionaries(st.sampled_from(KEYS), value, max_size=3)


@st.composite
def traces(draw: st.DrawFn) -> list[Span]:
    count = draw(st.integers(1, 4))
    out = []
    for i in range(1, count + 1):
        base = span(1, i, None if i == 1 and draw(st.booleans()) else 99, attributes=draw(attrs))
        out.append(
            base.model_copy(
                update={
                    "resource": Resource(attributes=draw(attrs)),
                    "events": (SpanEvent(name="e", time_unix_nano=0, attributes=draw(attrs)),),
                }
            )
        )
    return out


def _kind_ok(kind: str, v: Any) -> bool:
    if kind == "string_attribute":
        return isinstance(v, str)
    if kind == "numeric_attribute":
        return isinstance(v, int | float) and not isinstance(v, bool)
    return isinstance(v, bool)


def _reference(config: dict[str, Any], spans: list[Span]) -> bool:
    chosen = [s for s in spans if s.parent_span_id is None] if config.get("spans") == "root" else spans
    key, kind = config["key"], config["type"]
    for s in chosen:
        source = s.resource.attributes if config.get("level") == "resource" else s.attributes
        if key not in source or not _kind_ok(kind, source[key]):
            continue
        v = source[key]
        if kind == "string_attribute" and v in config["values"]:
            return True
        if kind == "numeric_attribute" and config["min"] <= v:
            return True
        if kind == "boolean_attribute" and v is config["value"]:
            return True
    return False


configs = st.builds(
    lambda kind, key, level, spans, text, number, flag: {
        "type": kind,
        "key": key,
        "level": level,
        "spans": spans,
        **(
            {"values": [text]}
            if kind == "string_attribute"
            else {"min": number}
            if kind == "numeric_attribute"
            else {"value": flag}
        ),
    },
    st.sampled_from(["string_attribute", "numeric_attribute", "boolean_attribute"]),
    st.sampled_from(KEYS),
    st.sampled_from(["span", "resource"]),
    st.sampled_from(["any", "root"]),
    st.text(alphabet="key\n", max_size=3),
    st.integers(-3, 3),
    st.booleans(),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(configs, traces())
def test_attribute_policy_matches_model_reference(config: dict[str, Any], spans: list[Span]) -> None:
    evaluator = build_condition(_conditions.validate_python(config))
    assert (evaluator.evaluate(TraceView.from_spans(spans)) > 0) == _reference(config, spans)


@st.composite
def status_traces(draw: st.DrawFn) -> list[Span]:
    count = draw(st.integers(1, 4))
    return [
        span(
            2,
            i,
            None if i == 1 and draw(st.booleans()) else 99,
            name=draw(st.sampled_from(["a", "b", "\x18\x02"])),
            service=draw(st.sampled_from(["s", "t"])),
            attributes={"x": draw(st.sampled_from(["\x18\x02", "\x18\x01", ""]))},
        ).model_copy(update={"status": Status(code=draw(st.sampled_from(StatusCode)))})
        for i in range(1, count + 1)
    ]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(["ERROR", "OK", "UNSET"]), min_size=1, max_size=2),
    st.sampled_from(["any", "root"]),
    st.sampled_from(["a", "s"]),
    status_traces(),
)
def test_status_operation_service_match_model_reference(
    codes: list[str], select: str, name: str, spans: list[Span]
) -> None:
    view = TraceView.from_spans(spans)
    chosen = [s for s in spans if s.parent_span_id is None] if select == "root" else spans
    cases = [
        (
            {"type": "status_code", "codes": codes, "spans": select},
            any(s.status.code.name in codes for s in chosen),
        ),
        ({"type": "operation", "values": [name], "spans": select}, any(s.name == name for s in chosen)),
        ({"type": "service", "values": [name], "spans": select}, any(s.service_name == name for s in chosen)),
    ]
    for config, expected in cases:
        assert (build_condition(_conditions.validate_python(config)).evaluate(view) > 0) == expected, config


def _kv(key: str, value: int) -> bytes:
    kv = KeyValue(key=key)
    kv.value.int_value = value
    return kv.SerializeToString()


def test_key_scan_canonical_values_found() -> None:
    payload = encode_spans([span(1, 1, attributes={"http.status_code": 503}), span(1, 2, 1)])
    assert KeyScan("http.status_code").values([payload]) == {b"\x18\xf7\x03"}


def test_key_scan_gives_up_on_value_first_encoding() -> None:
    canonical = _kv("http.status_code", 503)
    key_field, value_field = canonical[:18], canonical[18:]
    payload = encode_spans([span(1, 1, attributes={"http.status_code": 503})])
    reordered = payload.replace(canonical, value_field + key_field)
    assert reordered != payload
    assert KeyScan("http.status_code").values([reordered]) is None
    # The policy still decides from a full decode.
    view = TraceView("00" * 15 + "01", [reordered], 1, 0, 1, True)
    config = {"type": "numeric_attribute", "key": "http.status_code", "min": 500}
    assert build_condition(_conditions.validate_python(config)).evaluate(view) == 1.0


def test_key_scan_gives_up_when_key_appears_inside_a_value() -> None:
    payload = encode_spans([span(1, 1, attributes={"note": "http.status_code", "http.status_code": 200})])
    assert KeyScan("http.status_code").values([payload]) is None


def test_key_scan_reads_two_byte_value_lengths() -> None:
    statement = "SELECT " + "x" * 300
    payload = encode_spans([span(1, 1, attributes={"db.statement": statement})])
    (raw,) = KeyScan("db.statement").values([payload]) or [b""]
    assert raw[:1] == b"\x0a"
    assert raw.endswith(statement.encode())


def test_key_scan_gives_up_when_a_value_holds_the_prefix() -> None:
    payload = encode_spans([span(1, 1, attributes={"k": "\n\x01k\x12\x05hello"})])
    assert KeyScan("k").values([payload]) is None


def test_key_scan_never_used_for_self_overlapping_keys() -> None:
    assert not KeyScan("a.a").usable
    assert KeyScan("a.a").values([b""]) is None


def test_and_runs_cheap_children_first_unless_one_is_stateful() -> None:
    attribute = AttributeMatch("k", "strings", lambda v: v == "x", (), False, False)
    sample = Probabilistic(10, "")
    count = SpanCount(1, None)
    assert AllOf([attribute, sample, count]).children == (sample, count, attribute)
    limiter = RateLimiter(10, 10)
    # A rate limiter spends tokens only when reached: its place (and everyone's) is kept.
    assert AllOf([attribute, limiter, sample]).children == (attribute, limiter, sample)
    nested = AllOf([AllOf([attribute]), count])
    assert nested.children[0] is count
