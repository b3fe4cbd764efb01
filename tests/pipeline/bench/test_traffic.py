"""The one traffic generator: deterministic by seed, decodable, shaped as asked, keyed by trace id."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datatracing.pipeline.bench._engine import ENGINE_SHAPE, bench_messages
from datatracing.pipeline.bench._ingest import INGEST_SHAPE, bench_payloads
from datatracing.pipeline.bench._store import STORE_SHAPE, generate_messages
from datatracing.pipeline.bench._traffic import (
    PIPELINE_SERVICES,
    SHOP_SERVICES,
    TrafficShape,
    otlp_payloads,
    synthetic_traces,
    trace_messages,
)
from datatracing.wire import decode_spans, trace_key

BASE = 1_700_000_000_000_000_000


@st.composite
def shapes(draw: st.DrawFn) -> TrafficShape:
    low = draw(st.integers(1, 20))
    high = draw(st.integers(low, 40))
    return TrafficShape(
        min_spans=low,
        max_spans=high,
        median_spans=draw(st.none() | st.floats(1.0, 40.0)),
        error_rate=draw(st.sampled_from((0.0, 0.05, 1.0))),
        base_time_ns=BASE,
        trace_interval_ns=draw(st.integers(1, 10**9)),
        median_duration_ms=draw(st.floats(0.01, 2000.0)),
        services=draw(st.sampled_from((PIPELINE_SERVICES, SHOP_SERVICES, SHOP_SERVICES[:1]))),
        one_service_per_trace=draw(st.booleans()),
        attributes=draw(st.sampled_from(("pipeline", "web", "compact"))),
        max_chunks=draw(st.integers(1, 5)),
        root_last=draw(st.booleans()),
        traces_per_request=draw(st.integers(1, 5)),
    )


@settings(max_examples=40, deadline=None)
@given(shape=shapes(), seed=st.integers(0, 2**32), traces=st.integers(1, 6))
def test_trace_messages_any_shape_decode_keyed_and_within_shape(
    shape: TrafficShape, seed: int, traces: int
) -> None:
    messages = trace_messages(traces, seed=seed, shape=shape)

    by_trace: dict[str, list[str]] = {}
    for message in messages:
        spans = decode_spans(message.payload)
        assert len(spans) == message.spans >= 1
        (trace_id,) = {s.trace_id for s in spans}  # a message holds one trace's spans
        assert message.key == trace_key(trace_id)
        by_trace.setdefault(trace_id, []).extend(s.span_id for s in spans)
    assert len(by_trace) == traces
    for span_ids in by_trace.values():
        assert shape.min_spans <= len(span_ids) <= shape.max_spans
        assert len(set(span_ids)) == len(span_ids)
    chunks = {key: sum(m.key == key for m in messages) for key in {m.key for m in messages}}
    assert max(chunks.values()) <= shape.max_chunks
    arrivals = [m.arrival_ns for m in messages]
    assert arrivals == sorted(arrivals)


@settings(max_examples=25, deadline=None)
@given(shape=shapes(), seed=st.integers(0, 2**32))
def test_generator_same_seed_same_bytes_other_seed_other_bytes(shape: TrafficShape, seed: int) -> None:
    assert trace_messages(3, seed=seed, shape=shape) == trace_messages(3, seed=seed, shape=shape)
    assert otlp_payloads(2, seed=seed, shape=shape) == otlp_payloads(2, seed=seed, shape=shape)
    assert synthetic_traces(2, seed=seed, shape=shape) == synthetic_traces(2, seed=seed, shape=shape)
    assert trace_messages(3, seed=seed, shape=shape) != trace_messages(3, seed=seed + 1, shape=shape)


@settings(max_examples=25, deadline=None)
@given(shape=shapes(), seed=st.integers(0, 2**32), count=st.integers(1, 4))
def test_otlp_payloads_any_shape_hold_whole_traces(shape: TrafficShape, seed: int, count: int) -> None:
    payloads = otlp_payloads(count, seed=seed, shape=shape)

    assert len(payloads) == count
    for payload in payloads:
        spans = decode_spans(payload)
        traces = {s.trace_id for s in spans}
        assert len(traces) == shape.traces_per_request
        for trace_id in traces:
            assert shape.min_spans <= sum(s.trace_id == trace_id for s in spans) <= shape.max_spans


@settings(max_examples=25, deadline=None)
@given(shape=shapes(), seed=st.integers(0, 2**32))
def test_synthetic_trace_any_shape_one_root_parents_inside_trace(shape: TrafficShape, seed: int) -> None:
    (trace,) = synthetic_traces(1, seed=seed, shape=shape)

    roots = [s for s in trace if s.parent_span_id is None]
    assert len(roots) == 1
    assert (trace[-1] if shape.root_last else trace[0]) is roots[0]
    ids = {s.span_id for s in trace}
    assert all(s.parent_span_id in ids for s in trace if s.parent_span_id is not None)
    assert all(roots[0].start_time_unix_nano <= s.start_time_unix_nano <= s.end_time_unix_nano for s in trace)
    if shape.one_service_per_trace:
        assert len({s.resource.attributes["service.name"] for s in trace}) == 1


def test_trace_messages_spans_target_stops_after_enough_whole_traces() -> None:
    messages = trace_messages(spans=500, seed=3, shape=TrafficShape(base_time_ns=BASE))

    total = sum(m.spans for m in messages)
    assert 500 <= total < 500 + TrafficShape().max_spans


@pytest.mark.parametrize("kwargs", [{}, {"traces": 1, "spans": 1}])
def test_trace_messages_both_or_neither_count_raises(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        trace_messages(**kwargs)  # type: ignore[arg-type]


def test_store_messages_one_trace_each_with_user_ids() -> None:
    payloads = list(generate_messages(300, seed=5))

    for payload in payloads:
        spans = decode_spans(payload)
        assert len({s.trace_id for s in spans}) == 1
        assert STORE_SHAPE.min_spans <= len(spans) <= STORE_SHAPE.max_spans
        assert all(str(s.attributes["user.id"]).startswith("user-") for s in spans)


def test_engine_messages_one_service_root_in_last_chunk() -> None:
    arrivals, count = bench_messages(50, seed=4)

    spans_by_trace: dict[str, list[str]] = {}
    for _, payload in arrivals:
        spans = decode_spans(payload)
        assert len({s.resource.attributes["service.name"] for s in spans}) == 1
        for span in spans:
            spans_by_trace.setdefault(span.trace_id, []).append(
                span.span_id if span.parent_span_id else "root"
            )
    assert sum(len(v) for v in spans_by_trace.values()) == count
    assert all(ids[-1] == "root" and ids.count("root") == 1 for ids in spans_by_trace.values())
    assert ENGINE_SHAPE.max_chunks == 3


def test_ingest_payloads_one_resource_per_request() -> None:
    (payload,) = bench_payloads(1)

    spans = decode_spans(payload)
    assert len(spans) == INGEST_SHAPE.traces_per_request * INGEST_SHAPE.max_spans
    assert all(s.resource == spans[0].resource for s in spans)
