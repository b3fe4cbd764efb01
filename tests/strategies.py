"""Hypothesis strategies for the canonical model, shared by codec and store tests."""

from __future__ import annotations

from hypothesis import strategies as st

from datatracing.model import (
    InstrumentationScope,
    Resource,
    Span,
    SpanEvent,
    SpanKind,
    SpanLink,
    Status,
    StatusCode,
)

hex32 = st.integers(min_value=1, max_value=2**128 - 1).map(lambda v: f"{v:032x}")
hex16 = st.integers(min_value=1, max_value=2**64 - 1).map(lambda v: f"{v:016x}")
# Up to the latest start the pipeline accepts (`datatracing.wire.MAX_START_TIME_NS`).
nanos = st.integers(min_value=0, max_value=2**63 - 1)
text = st.text(max_size=20)
u32 = st.integers(min_value=0, max_value=2**32 - 1)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | text
    | st.binary(max_size=16)
)
attribute_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=6,
)
attribute_maps = st.dictionaries(text, attribute_values, max_size=4)

resources = st.builds(Resource, attributes=attribute_maps, dropped_attributes_count=u32)
scopes = st.builds(InstrumentationScope, name=text, version=text, attributes=attribute_maps)
events = st.builds(SpanEvent, name=text, time_unix_nano=nanos, attributes=attribute_maps)
links = st.builds(
    SpanLink, trace_id=hex32, span_id=hex16, trace_state=text, attributes=attribute_maps, flags=u32
)


@st.composite
def spans(draw: st.DrawFn, trace_id: str | None = None) -> Span:
    start = draw(nanos)
    return Span(
        trace_id=trace_id or draw(hex32),
        span_id=draw(hex16),
        parent_span_id=draw(st.none() | hex16),
        trace_state=draw(text),
        flags=draw(u32),
        name=draw(text),
        kind=draw(st.sampled_from(SpanKind)),
        start_time_unix_nano=start,
        end_time_unix_nano=draw(st.integers(min_value=start, max_value=2**64 - 1)),
        attributes=draw(attribute_maps),
        dropped_attributes_count=draw(u32),
        events=tuple(draw(st.lists(events, max_size=2))),
        dropped_events_count=draw(u32),
        links=tuple(draw(st.lists(links, max_size=2))),
        dropped_links_count=draw(u32),
        status=Status(code=draw(st.sampled_from(StatusCode)), message=draw(text)),
        resource=draw(resources),
        scope=draw(scopes),
    )
