"""Span builders and hypothesis strategies for the store tests (times near now: TTL drops old rows)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

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
from datatracing.pipeline.store import ClickHouseTraceStore

BASE_NS = (time.time_ns() // 10**9 - 3600) * 10**9  # an hour ago, whole second
_ids = itertools.count(1)


def trace_id(n: int | None = None) -> str:
    return f"{next(_ids) if n is None else n:032x}"


def span_id(n: int) -> str:
    return f"{n:016x}"


def resource(service: str, **attributes: Any) -> Resource:
    return Resource(attributes={"service.name": service, **attributes})


def span(
    tid: str,
    sid: int,
    *,
    parent: int | None = None,
    service: str = "checkout",
    name: str = "GET /cart",
    start: int = 0,
    duration: int = 1_000_000,
    kind: SpanKind = SpanKind.SERVER,
    error: bool = False,
    attributes: dict[str, Any] | None = None,
    res: Resource | None = None,
) -> Span:
    return Span(
        trace_id=tid,
        span_id=span_id(sid),
        parent_span_id=None if parent is None else span_id(parent),
        name=name,
        kind=kind,
        start_time_unix_nano=BASE_NS + start,
        end_time_unix_nano=BASE_NS + start + duration,
        attributes=attributes or {},
        status=Status(code=StatusCode.ERROR, message="failed") if error else Status(),
        resource=res or resource(service),
    )


def rich_trace(tid: str, start: int = 0) -> list[Span]:
    """Three services, events, links, typed attributes, an error: every column in use."""
    frontend = resource("frontend", **{"host.name": "web-1", "pid": 42, "tags": ["a", "b"]})
    scope = InstrumentationScope(name="datatracing.test", version="1.2", attributes={"lib": True})
    root = Span(
        trace_id=tid,
        span_id=span_id(1),
        name="GET /checkout",
        kind=SpanKind.SERVER,
        start_time_unix_nano=BASE_NS + start,
        end_time_unix_nano=BASE_NS + start + 50_000_000,
        attributes={"http.method": "GET", "http.status_code": 200, "ratio": 0.25, "cached": False},
        events=(
            SpanEvent(name="cache miss", time_unix_nano=BASE_NS + start + 10, attributes={"key": b"\x00k"}),
        ),
        status=Status(code=StatusCode.OK),
        resource=frontend,
        scope=scope,
        trace_state="vendor=1",
        flags=1,
    )
    charge = Span(
        trace_id=tid,
        span_id=span_id(2),
        parent_span_id=span_id(1),
        name="charge",
        kind=SpanKind.CLIENT,
        start_time_unix_nano=BASE_NS + start + 1_000_000,
        end_time_unix_nano=BASE_NS + start + 40_000_000,
        attributes={"payment.id": "p-1", "nested": {"k": [1, 2.5, None, b"\x01"]}, "nothing": None},
        links=(
            SpanLink(
                trace_id="f" * 32, span_id="e" * 16, trace_state="x=y", attributes={"why": "retry"}, flags=3
            ),
        ),
        status=Status(code=StatusCode.ERROR, message="card declined"),
        resource=resource("payments", region="eu"),
        dropped_attributes_count=2,
        dropped_events_count=1,
        dropped_links_count=4,
    )
    query = span(
        tid,
        3,
        parent=2,
        service="db",
        name="SELECT cards",
        start=start + 2_000_000,
        kind=SpanKind.CLIENT,
        attributes={"db.system": "postgresql"},
    )
    return [root, charge, query]


# --- hypothesis ------------------------------------------------------------------------------------

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_scalar = (
    _text
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.binary(max_size=8)
    | st.none()
)
attribute_values = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)
attribute_dicts = st.dictionaries(_text, attribute_values, max_size=5)
# Hostile text for filters: quotes, backslashes, escapes, SQL, control characters, placeholders.
hostile_text = st.one_of(
    st.sampled_from(
        ["'", "\\", "\\'", "' OR 1=1 --", "'); DROP TABLE spans; --", "{x:String}", "\\N", "\t\n\r", "$db"]
    ),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20),
)


@st.composite
def model_spans(draw: st.DrawFn, tid: str) -> list[Span]:
    """A small trace with random attributes, events and links under one trace id."""
    count = draw(st.integers(1, 4))
    spans = []
    for i in range(1, count + 1):
        start = draw(st.integers(0, 10**9))
        spans.append(
            Span(
                trace_id=tid,
                span_id=span_id(i),
                parent_span_id=None if i == 1 else span_id(draw(st.integers(1, i - 1))),
                name=draw(_text),
                kind=draw(st.sampled_from(SpanKind)),
                start_time_unix_nano=BASE_NS + start,
                end_time_unix_nano=BASE_NS + start + draw(st.integers(0, 10**9)),
                attributes=draw(attribute_dicts),
                events=tuple(
                    SpanEvent(
                        name=draw(_text),
                        time_unix_nano=BASE_NS + draw(st.integers(0, 10**9)),
                        attributes=draw(attribute_dicts),
                    )
                    for _ in range(draw(st.integers(0, 2)))
                ),
                links=tuple(
                    SpanLink(
                        trace_id=trace_id(),
                        span_id=span_id(draw(st.integers(1, 2**32))),
                        attributes=draw(attribute_dicts),
                    )
                    for _ in range(draw(st.integers(0, 2)))
                ),
                status=Status(code=draw(st.sampled_from(StatusCode)), message=draw(_text)),
                resource=Resource(attributes={"service.name": draw(_text), **draw(attribute_dicts)}),
                scope=InstrumentationScope(
                    name=draw(_text), version=draw(_text), attributes=draw(attribute_dicts)
                ),
            )
        )
    return spans


StoreFactory = Callable[..., ClickHouseTraceStore]
