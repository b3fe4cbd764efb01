"""Hypothesis strategies of raw OTLP protobuf: any id bytes, unknown enum values, nested values."""

from __future__ import annotations

from typing import TypeVar

from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

T = TypeVar("T")
u32 = st.integers(min_value=0, max_value=2**32 - 1)
u64 = st.integers(min_value=0, max_value=2**64 - 1)
text = st.text(max_size=8)


def _any_values() -> st.SearchStrategy[common_pb2.AnyValue]:
    scalars = st.one_of(
        st.just(common_pb2.AnyValue()),
        st.builds(common_pb2.AnyValue, string_value=text),
        st.builds(common_pb2.AnyValue, bool_value=st.booleans()),
        st.builds(common_pb2.AnyValue, int_value=st.integers(min_value=-(2**63), max_value=2**63 - 1)),
        st.builds(common_pb2.AnyValue, double_value=st.floats(allow_nan=False)),
        st.builds(common_pb2.AnyValue, bytes_value=st.binary(max_size=8)),
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.builds(
                lambda vs: common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=vs)),
                st.lists(children, max_size=3),
            ),
            st.builds(
                lambda kvs: common_pb2.AnyValue(
                    kvlist_value=common_pb2.KeyValueList(
                        values=[common_pb2.KeyValue(key=k, value=v) for k, v in kvs]
                    )
                ),
                st.lists(st.tuples(text, children), max_size=3),
            ),
        ),
        max_leaves=5,
    )


key_values = st.lists(st.builds(common_pb2.KeyValue, key=text, value=_any_values()), max_size=3)
links = st.builds(
    trace_pb2.Span.Link,
    trace_id=st.binary(max_size=17),
    span_id=st.binary(max_size=9),
    trace_state=text,
    attributes=key_values,
    dropped_attributes_count=u32,
    flags=u32,
)
events = st.builds(
    trace_pb2.Span.Event, time_unix_nano=u64, name=text, attributes=key_values, dropped_attributes_count=u32
)
pb_spans = st.builds(
    trace_pb2.Span,
    trace_id=st.binary(max_size=17),
    span_id=st.binary(max_size=9),
    parent_span_id=st.binary(max_size=9),
    trace_state=text,
    flags=u32,
    name=text,
    kind=st.integers(min_value=0, max_value=9),  # 6-9: unknown values survive as integers
    start_time_unix_nano=u64,
    end_time_unix_nano=u64,
    attributes=key_values,
    dropped_attributes_count=u32,
    events=st.lists(events, max_size=2),
    dropped_events_count=u32,
    links=st.lists(links, max_size=2),
    dropped_links_count=u32,
    status=st.builds(trace_pb2.Status, message=text, code=st.integers(min_value=0, max_value=4)),
)
scope_spans = st.builds(
    trace_pb2.ScopeSpans,
    scope=st.builds(common_pb2.InstrumentationScope, name=text, version=text, attributes=key_values),
    spans=st.lists(pb_spans, max_size=3),
    schema_url=text,
)
requests = st.builds(
    ExportTraceServiceRequest,
    resource_spans=st.lists(
        st.builds(trace_pb2.ResourceSpans, scope_spans=st.lists(scope_spans, max_size=2), schema_url=text),
        max_size=2,
    ),
)


# --- requests that probe the span rules: ids of every size, zero ids, starts around 2262 ----------

_MAX_START = 2**63 - 1  # datatracing.wire.MAX_START_TIME_NS, restated so the test can catch a change


def _mostly(
    valid: st.SearchStrategy[object], *broken: st.SearchStrategy[object]
) -> st.SearchStrategy[object]:
    """`valid` four times in five: most messages stay whole, so both store paths see valid rows too."""
    return st.sampled_from(["valid"] * 4 + ["broken"]).flatmap(
        lambda kind: valid if kind == "valid" else st.one_of(*broken)
    )


trace_ids = _mostly(st.binary(min_size=16, max_size=16), st.just(bytes(16)), st.binary(max_size=17))
span_ids = _mostly(st.binary(min_size=8, max_size=8), st.just(bytes(8)), st.binary(max_size=9))
times = _mostly(
    st.integers(min_value=1_700_000_000_000_000_000, max_value=1_700_000_000_000_001_000),
    st.integers(min_value=_MAX_START - 2, max_value=_MAX_START + 2),
    st.just(0),
    u64,
)


@st.composite
def rule_spans(draw: st.DrawFn, trace_pool: list[bytes]) -> trace_pb2.Span:
    start = draw(times)
    end = draw(st.one_of(st.just(start), st.integers(min_value=start, max_value=2**64 - 1), times))
    return trace_pb2.Span(
        trace_id=draw(st.sampled_from(trace_pool)),
        span_id=draw(span_ids),
        parent_span_id=draw(st.one_of(st.just(b""), span_ids)),
        name=draw(st.one_of(st.just(""), text)),
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        attributes=[common_pb2.KeyValue(key="k", value=common_pb2.AnyValue(string_value=draw(text)))],
        links=draw(
            st.lists(st.builds(trace_pb2.Span.Link, trace_id=trace_ids, span_id=span_ids), max_size=1)
        ),
    )


@st.composite
def rule_requests(draw: st.DrawFn) -> ExportTraceServiceRequest:
    """Requests of a few traces whose spans break the rules now and then (any rule, any place)."""
    pool = draw(st.lists(trace_ids, min_size=1, max_size=3))
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(min_value=1, max_value=2))):
        rs = request.resource_spans.add()
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", draw(st.sampled_from(["a", "b"]))
        for _ in range(draw(st.integers(min_value=1, max_value=2))):
            ss = rs.scope_spans.add()
            ss.scope.name = draw(text)
            ss.spans.extend(draw(st.lists(rule_spans(pool), max_size=3)))
    return request
