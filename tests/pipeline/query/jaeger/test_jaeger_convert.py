"""Model → Jaeger UI JSON, as Jaeger's query path and the Collector's translator map OTLP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datatracing.model import (
    InstrumentationScope,
    Resource,
    SpanEvent,
    SpanKind,
    SpanLink,
    Status,
    StatusCode,
    Trace,
)
from datatracing.pipeline.query._jaeger import jaeger_id, jaeger_tag, jaeger_trace
from tests.pipeline.query.jaeger.jaeger_data import BASE_NS, sid, span, spans_from_otlp_json

FIXTURES = Path(__file__).parents[3] / "fixtures" / "jaeger"
TID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _one(**kwargs: object) -> dict[str, object]:
    trace = jaeger_trace(Trace.from_spans([span(TID, 1, **kwargs)]))  # type: ignore[arg-type]
    result: dict[str, object] = trace["spans"][0]
    return result


def _tags(jspan: dict[str, object]) -> dict[str, tuple[str, object]]:
    return {t["key"]: (t["type"], t["value"]) for t in jspan["tags"]}  # type: ignore[attr-defined]


def test_jaeger_trace_jaeger_fixture_matches_exactly() -> None:
    golden = json.loads((FIXTURES / "otlp2jaeger.json").read_text())
    spans = spans_from_otlp_json(golden["otlp"])
    assert [jaeger_trace(Trace.from_spans(spans))] == golden["jaeger"]["data"]


def test_jaeger_trace_error_status_adds_code_error_and_description_tags() -> None:
    jspan = _one(error=True, kind=SpanKind.CLIENT)
    assert jspan["tags"][-4:] == [  # type: ignore[index]
        {"key": "span.kind", "type": "string", "value": "client"},
        {"key": "otel.status_code", "type": "string", "value": "ERROR"},
        {"key": "error", "type": "bool", "value": True},
        {"key": "otel.status_description", "type": "string", "value": "failed"},
    ]


def test_jaeger_trace_ok_status_and_unspecified_kind_tags() -> None:
    jspan = _one(kind=SpanKind.UNSPECIFIED, status=Status(code=StatusCode.OK))
    assert jspan["tags"] == [{"key": "otel.status_code", "type": "string", "value": "OK"}]


def test_jaeger_trace_scope_first_attributes_sorted_tracestate_last() -> None:
    jspan = _one(
        attributes={"b": 1, "a": "x", "C": True},
        scope=InstrumentationScope(name="lib", version="2.0"),
        trace_state="k=v",
    )
    keys = [t["key"] for t in jspan["tags"]]  # type: ignore[attr-defined]
    assert keys == ["otel.scope.name", "otel.scope.version", "C", "a", "b", "span.kind", "w3c.tracestate"]


def test_jaeger_tag_values_typed_as_jaeger_ui_expects() -> None:
    assert jaeger_tag("i", 2**53 - 1) == {"key": "i", "type": "int64", "value": 2**53 - 1}
    assert jaeger_tag("i", 2**53) == {"key": "i", "type": "int64", "value": str(2**53)}
    assert jaeger_tag("i", -(2**63)) == {"key": "i", "type": "int64", "value": str(-(2**63))}
    assert jaeger_tag("f", 0.5) == {"key": "f", "type": "float64", "value": 0.5}
    assert jaeger_tag("f", float("nan"))["value"] == "NaN"
    assert jaeger_tag("f", float("-inf"))["value"] == "-Inf"
    assert jaeger_tag("l", [float("inf")])["value"] == '["+Inf"]'
    assert jaeger_tag("b", False) == {"key": "b", "type": "bool", "value": False}
    assert jaeger_tag("x", b"\x00\xff") == {"key": "x", "type": "binary", "value": "AP8="}
    assert jaeger_tag("n", None) == {"key": "n", "type": "string", "value": ""}
    assert jaeger_tag("l", ["a", 1, 2.0, b"\x01"]) == {
        "key": "l",
        "type": "string",
        "value": '["a",1,2,"AQ=="]',
    }
    assert jaeger_tag("m", {"z": 1, "a": {"b": None}}) == {
        "key": "m",
        "type": "string",
        "value": '{"a":{"b":null},"z":1}',
    }


def test_jaeger_trace_parent_first_child_of_links_follows_from() -> None:
    other = "0af7651916cd43dd8448eb211c80319c"
    jspan = _one(
        parent=7,
        links=(
            SpanLink(trace_id=other, span_id=sid(9)),
            SpanLink(trace_id=other, span_id=sid(10), attributes={"opentracing.ref_type": "child_of"}),
        ),
    )
    assert jspan["references"] == [
        {"refType": "CHILD_OF", "traceID": TID, "spanID": sid(7)},
        {"refType": "FOLLOWS_FROM", "traceID": other, "spanID": sid(9)},
        {"refType": "CHILD_OF", "traceID": other, "spanID": sid(10)},
    ]


def test_jaeger_trace_link_to_parent_retypes_parent_reference() -> None:
    link = SpanLink(trace_id=TID, span_id=sid(7), attributes={"opentracing.ref_type": "follows_from"})
    jspan = _one(parent=7, links=(link,))
    assert jspan["references"] == [{"refType": "FOLLOWS_FROM", "traceID": TID, "spanID": sid(7)}]


def test_jaeger_trace_root_has_empty_references_and_logs() -> None:
    jspan = _one()
    assert (jspan["references"], jspan["logs"], jspan["warnings"]) == ([], [], None)
    assert "flags" not in jspan


def test_jaeger_trace_events_become_logs_sorted_by_time() -> None:
    events = (
        SpanEvent(name="late", time_unix_nano=BASE_NS + 9_999, attributes={"z": 1, "a": "x"}),
        SpanEvent(name="named", time_unix_nano=BASE_NS + 5_000, attributes={"event": "own"}),
        SpanEvent(name="", time_unix_nano=BASE_NS + 7_000),
    )
    assert _one(events=events)["logs"] == [
        {
            "timestamp": (BASE_NS + 5_000) // 1000,
            "fields": [{"key": "event", "type": "string", "value": "own"}],
        },
        {"timestamp": (BASE_NS + 7_000) // 1000, "fields": []},
        {
            "timestamp": (BASE_NS + 9_999) // 1000,
            "fields": [
                {"key": "event", "type": "string", "value": "late"},
                {"key": "a", "type": "string", "value": "x"},
                {"key": "z", "type": "int64", "value": 1},
            ],
        },
    ]


def test_jaeger_trace_microseconds_truncated_like_go() -> None:
    jspan = _one(start=1_999, duration=2_999)
    assert (jspan["startTime"], jspan["duration"]) == ((BASE_NS + 1_999) // 1000, 2)


def test_jaeger_trace_processes_one_per_distinct_resource_in_first_use_order() -> None:
    web = Resource(attributes={"service.name": "web", "zone": "b", "host": "h1"})
    spans = [
        span(TID, 1, resource=web),
        span(TID, 2, parent=1, start=1, service="db"),
        span(
            TID,
            3,
            parent=1,
            start=2,
            resource=Resource(attributes={"host": "h1", "zone": "b", "service.name": "web"}),
        ),
        span(TID, 4, parent=1, start=3, resource=Resource()),
        span(TID, 5, parent=1, start=4, resource=Resource(attributes={"pid": 7})),
    ]
    jtrace = jaeger_trace(Trace.from_spans(spans))
    assert [s["processID"] for s in jtrace["spans"]] == ["p1", "p2", "p1", "p3", "p4"]
    assert jtrace["processes"] == {
        "p1": {
            "serviceName": "web",
            "tags": [
                {"key": "host", "type": "string", "value": "h1"},
                {"key": "zone", "type": "string", "value": "b"},
            ],
        },
        "p2": {"serviceName": "db", "tags": []},
        "p3": {"serviceName": "OTLPResourceNoServiceName", "tags": []},
        "p4": {"serviceName": "", "tags": [{"key": "pid", "type": "int64", "value": 7}]},
    }


def test_jaeger_id_zero_high_half_prints_sixteen_characters() -> None:
    assert jaeger_id("0" * 16 + "a" * 16) == "a" * 16
    assert jaeger_id(TID) == TID
    spans = [span("0" * 16 + "a" * 16, 1), span("0" * 16 + "a" * 16, 2, parent=1)]
    jtrace = jaeger_trace(Trace.from_spans(spans))
    assert jtrace["traceID"] == jtrace["spans"][1]["references"][0]["traceID"] == "a" * 16


_values = st.recursive(
    st.text(max_size=5)
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.binary(max_size=4)
    | st.none(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=5,
)


@given(
    st.dictionaries(st.text(max_size=6), _values, max_size=6),
    st.sampled_from(SpanKind),
    st.sampled_from(StatusCode),
)
def test_jaeger_trace_any_span_is_strict_json_with_every_attribute(
    attributes: dict[str, object], kind: SpanKind, code: StatusCode
) -> None:
    s = span(TID, 1, attributes=attributes, kind=kind, status=Status(code=code))  # type: ignore[arg-type]
    jtrace = jaeger_trace(Trace.from_spans([s]))
    json.dumps(jtrace, allow_nan=False)
    keys = [t["key"] for t in jtrace["spans"][0]["tags"]]
    assert keys[: len(attributes)] == sorted(attributes)
    for tag in jtrace["spans"][0]["tags"]:
        assert tag["type"] in {"string", "bool", "int64", "float64", "binary"}
        if tag["type"] == "int64" and isinstance(tag["value"], int):
            assert abs(tag["value"]) <= 2**53 - 1


_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)


@st.composite
def _traces(draw: st.DrawFn) -> Trace:
    resources = [
        Resource(
            attributes={"service.name": draw(_text), **draw(st.dictionaries(_text, _values, max_size=3))}
        )
        for _ in range(draw(st.integers(1, 3)))
    ]
    count = draw(st.integers(1, 5))
    spans = []
    for i in range(1, count + 1):
        links = tuple(
            SpanLink(
                trace_id=draw(st.sampled_from([TID, "f" * 32])), span_id=sid(draw(st.integers(1, count)))
            )
            for _ in range(draw(st.integers(0, 2)))
        )
        events = tuple(
            SpanEvent(
                name=draw(_text),
                time_unix_nano=BASE_NS + draw(st.integers(0, 10**6)),
                attributes=draw(st.dictionaries(_text, _values, max_size=2)),
            )
            for _ in range(draw(st.integers(0, 2)))
        )
        spans.append(
            span(
                TID,
                i,
                parent=None if i == 1 else draw(st.integers(1, i - 1)),
                name=draw(_text),
                start=draw(st.integers(0, 10**6)),
                attributes=draw(st.dictionaries(_text, _values, max_size=3)),
                resource=draw(st.sampled_from(resources)),
                links=links,
                events=events,
                status=Status(code=draw(st.sampled_from(StatusCode)), message=draw(_text)),
                trace_state=draw(st.sampled_from(["", "a=b"])),
            )
        )
    return Trace.from_spans(spans)


@given(_traces())
def test_jaeger_trace_json_any_trace_strict_json_every_field_carried(trace: Trace) -> None:
    from datatracing.pipeline.query._jaeger import jaeger_trace_json

    text = jaeger_trace_json(trace)
    jtrace = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert len(jtrace["spans"]) == len(trace.spans)
    services = {p["serviceName"] for p in jtrace["processes"].values()}
    assert services == {s.service_name for s in trace.spans}
    for model, got in zip(trace.spans, jtrace["spans"], strict=True):
        assert (got["spanID"], got["operationName"]) == (model.span_id, model.name)
        assert jtrace["processes"][got["processID"]]["serviceName"] == model.service_name
        assert len(got["logs"]) == len(model.events)
        expected_refs = (
            len(model.links)
            + (model.parent_span_id is not None)
            - sum(1 for lk in model.links if lk.trace_id == TID and lk.span_id == model.parent_span_id)
        )
        assert len(got["references"]) == expected_refs
        if model.parent_span_id is not None:
            assert got["references"][0]["spanID"] == model.parent_span_id
        attributes = model.attributes  # no scope here: the sorted attributes lead the tags
        want = [jaeger_tag(k, attributes[k]) for k in sorted(attributes)]
        assert got["tags"][: len(attributes)] == want
        for tag, key in zip(want, sorted(attributes), strict=True):
            if isinstance(attributes[key], str):
                assert tag["value"] == attributes[key]
