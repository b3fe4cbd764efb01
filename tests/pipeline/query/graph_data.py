"""Span builders for the graph tests: short names for span ids, times as small integers."""

from __future__ import annotations

from datatracing.model import Resource, Span, SpanKind, SpanLink, Status, StatusCode, Trace

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


def sid(name: str | int) -> str:
    """A 16-hex span id for a short name (`"A"`, `"span-C"`, `7`): the same name, the same id."""
    text = str(name).encode().hex()[-16:]
    return text.rjust(16, "0")


def make_span(
    name: str | int,
    start: int,
    end: int,
    *,
    parent: str | int | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    service: str = "svc",
    error: bool = False,
    links: tuple[tuple[str, str | int], ...] = (),
    trace_id: str = TRACE_ID,
    base: int = 0,
) -> Span:
    """`links` are (trace id, span name) pairs."""
    return Span(
        trace_id=trace_id,
        span_id=sid(name),
        parent_span_id=None if parent is None else sid(parent),
        name=f"op {name}",
        kind=kind,
        start_time_unix_nano=base + start,
        end_time_unix_nano=base + end,
        status=Status(code=StatusCode.ERROR, message="failed") if error else Status(),
        resource=Resource(attributes={"service.name": service}),
        links=tuple(SpanLink(trace_id=t, span_id=sid(s)) for t, s in links),
    )


def make_trace(*spans: Span) -> Trace:
    return Trace.from_spans(list(spans))
