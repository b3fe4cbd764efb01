"""W3C trace context and baggage: parsing, never raising, and interop with OpenTelemetry Python."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import baggage as otel_baggage
from opentelemetry import trace as otel_trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from datatracing.sdk import (
    BaggagePropagator,
    CompositePropagator,
    Context,
    NonRecordingSpan,
    SpanContext,
    TraceContextPropagator,
    Tracer,
    extract,
    get_all_baggage,
    get_baggage,
    get_current_span,
    get_global_propagator,
    inject,
    remove_baggage,
    set_baggage,
    set_span_in_context,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
VALID = f"00-{TRACE_ID}-{SPAN_ID}-01"
hex32 = st.integers(min_value=1, max_value=2**128 - 1).map(lambda v: f"{v:032x}")
hex16 = st.integers(min_value=1, max_value=2**64 - 1).map(lambda v: f"{v:016x}")
tracestate_keys = st.from_regex(r"[a-z][a-z0-9_\-*/]{0,10}", fullmatch=True)
tracestate_values = st.from_regex(r"[\x21-\x2b\x2d-\x3c\x3e-\x7e]{1,10}", fullmatch=True)


def _context_of(carrier: dict[str, str]) -> SpanContext:
    return get_current_span(TraceContextPropagator().extract(carrier, Context())).span_context


def test_extract_valid_traceparent_remote_context() -> None:
    ctx = _context_of({"traceparent": VALID, "tracestate": "a=1, b=2"})
    assert (ctx.trace_id, ctx.span_id, ctx.trace_flags) == (TRACE_ID, SPAN_ID, 1)
    assert ctx.is_remote
    assert ctx.trace_state == "a=1,b=2"


def test_extract_header_any_case_found() -> None:
    assert _context_of({"TraceParent": VALID}).trace_id == TRACE_ID


@pytest.mark.parametrize(
    "header",
    [
        "",
        "00-" + "0" * 32 + f"-{SPAN_ID}-01",  # all-zero trace id
        f"00-{TRACE_ID}-" + "0" * 16 + "-01",  # all-zero span id
        f"ff-{TRACE_ID}-{SPAN_ID}-01",  # forbidden version
        f"00-{TRACE_ID}-{SPAN_ID}-01-extra",  # version 00 has exactly four fields
        f"00-{TRACE_ID.upper()}-{SPAN_ID}-01",  # upper-case hex
        f"00-{TRACE_ID[:-1]}-{SPAN_ID}-01",
        f"00-{TRACE_ID}-{SPAN_ID}-1",
        "garbage",
    ],
)
def test_extract_malformed_traceparent_context_unchanged(header: str) -> None:
    incoming = Context().with_value("k", "v")
    assert TraceContextPropagator().extract({"traceparent": header}, incoming) is incoming


def test_extract_future_version_extra_fields_accepted() -> None:
    assert _context_of({"traceparent": f"cc-{TRACE_ID}-{SPAN_ID}-01-what-ever"}).trace_id == TRACE_ID


@pytest.mark.parametrize("tracestate", ["a=1,a=2", "UPPER=1", "a=1,=2", "k=" + "x" * 300])
def test_extract_invalid_tracestate_dropped_traceparent_kept(tracestate: str) -> None:
    ctx = _context_of({"traceparent": VALID, "tracestate": tracestate})
    assert ctx.trace_id == TRACE_ID
    assert ctx.trace_state == ""


@given(st.dictionaries(st.sampled_from(["traceparent", "tracestate", "baggage", "x"]), st.text(max_size=200)))
def test_extract_arbitrary_headers_never_raises(carrier: dict[str, str]) -> None:
    incoming = Context()
    result = get_global_propagator().extract(carrier, incoming)
    if get_current_span(result).span_context.is_valid:
        assert "traceparent" in carrier


@given(st.text(max_size=100))
def test_extract_arbitrary_traceparent_invalid_keeps_context(header: str) -> None:
    incoming = Context()
    result = TraceContextPropagator().extract({"traceparent": header}, incoming)
    assert result is incoming or get_current_span(result).span_context.trace_id != "0" * 32


@given(hex32, hex16, st.sampled_from([0, 1]), st.dictionaries(tracestate_keys, tracestate_values, max_size=4))
def test_inject_extract_round_trip_same_context(
    trace_id: str, span_id: str, flags: int, state: dict[str, str]
) -> None:
    trace_state = ",".join(f"{k}={v}" for k, v in state.items())
    sent = SpanContext(trace_id, span_id, flags, trace_state)
    carrier: dict[str, str] = {}
    TraceContextPropagator().inject(carrier, set_span_in_context(NonRecordingSpan(sent), Context()))
    got = _context_of(carrier)
    assert (got.trace_id, got.span_id, got.trace_flags, got.trace_state) == (
        trace_id,
        span_id,
        flags,
        trace_state,
    )


def test_inject_no_span_nothing_written() -> None:
    carrier: dict[str, str] = {}
    inject(carrier, Context())
    assert carrier == {}


def test_inject_current_span_writes_traceparent(tracer: Tracer) -> None:
    carrier: dict[str, str] = {}
    with tracer.start_as_current_span("client") as span:
        inject(carrier)
    ctx = span.span_context
    assert carrier["traceparent"] == f"00-{ctx.trace_id}-{ctx.span_id}-01"


def test_extract_then_start_span_joins_remote_trace(tracer: Tracer) -> None:
    span = tracer.start_span("server", context=extract({"traceparent": VALID}))
    assert span.span_context.trace_id == TRACE_ID
    span.end()


# --- OpenTelemetry interop --------------------------------------------------------------------


@given(hex32, hex16, st.sampled_from([0, 1]), st.dictionaries(tracestate_keys, tracestate_values, max_size=4))
def test_otel_inject_our_extract_same_context(
    trace_id: str, span_id: str, flags: int, state: dict[str, str]
) -> None:
    otel_ctx = otel_trace.SpanContext(
        int(trace_id, 16),
        int(span_id, 16),
        is_remote=False,
        trace_flags=otel_trace.TraceFlags(flags),
        trace_state=otel_trace.TraceState(list(state.items())),
    )
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(
        carrier, otel_trace.set_span_in_context(otel_trace.NonRecordingSpan(otel_ctx))
    )
    got = _context_of(carrier)
    assert (got.trace_id, got.span_id, got.trace_flags) == (trace_id, span_id, flags)
    assert got.trace_state == otel_ctx.trace_state.to_header()


@given(hex32, hex16, st.sampled_from([0, 1]), st.dictionaries(tracestate_keys, tracestate_values, max_size=4))
def test_our_inject_otel_extract_same_context(
    trace_id: str, span_id: str, flags: int, state: dict[str, str]
) -> None:
    trace_state = ",".join(f"{k}={v}" for k, v in state.items())
    carrier: dict[str, str] = {}
    ours = SpanContext(trace_id, span_id, flags, trace_state)
    TraceContextPropagator().inject(carrier, set_span_in_context(NonRecordingSpan(ours), Context()))
    got = otel_trace.get_current_span(TraceContextTextMapPropagator().extract(carrier)).get_span_context()
    assert (f"{got.trace_id:032x}", f"{got.span_id:016x}", int(got.trace_flags)) == (trace_id, span_id, flags)
    assert got.trace_state.to_header() == trace_state


baggage_keys = st.from_regex(r"[A-Za-z0-9_.\-]{1,12}", fullmatch=True)
baggage_values = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=20).map(
    str.strip
)


@given(st.dictionaries(baggage_keys, baggage_values, max_size=5))
def test_otel_baggage_inject_our_extract_same_entries(entries: dict[str, str]) -> None:
    otel_ctx = None
    for key, value in entries.items():
        otel_ctx = otel_baggage.set_baggage(key, value, otel_ctx)
    carrier: dict[str, str] = {}
    W3CBaggagePropagator().inject(carrier, otel_ctx)
    assert dict(get_all_baggage(BaggagePropagator().extract(carrier, Context()))) == entries


@given(st.dictionaries(baggage_keys, baggage_values, max_size=5))
def test_our_baggage_inject_otel_extract_same_entries(entries: dict[str, str]) -> None:
    ctx = Context()
    for key, value in entries.items():
        ctx = set_baggage(key, value, ctx)
    carrier: dict[str, str] = {}
    BaggagePropagator().inject(carrier, ctx)
    assert dict(otel_baggage.get_all(W3CBaggagePropagator().extract(carrier))) == entries


# --- baggage API and composite ----------------------------------------------------------------


def test_baggage_set_get_remove_immutable_contexts() -> None:
    first = set_baggage("tenant", "acme", Context())
    second = set_baggage("user", "u1", first)
    assert get_baggage("tenant", second) == "acme"
    assert get_baggage("user", first) is None
    assert get_baggage("tenant", remove_baggage("tenant", second)) is None
    assert get_baggage("tenant", second) == "acme"


def test_baggage_extract_properties_dropped_bad_members_skipped() -> None:
    ctx = BaggagePropagator().extract({"baggage": "a=1;prop=x, bad member, b=two%20words, =x"}, Context())
    assert dict(get_all_baggage(ctx)) == {"a": "1", "b": "two words"}


def test_composite_extract_both_trace_and_baggage() -> None:
    propagator = CompositePropagator([TraceContextPropagator(), BaggagePropagator()])
    ctx = propagator.extract({"traceparent": VALID, "baggage": "k=v"}, Context())
    assert get_current_span(ctx).span_context.trace_id == TRACE_ID
    assert get_baggage("k", ctx) == "v"
    assert propagator.fields == {"traceparent", "tracestate", "baggage"}
