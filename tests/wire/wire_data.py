"""Small fixed spans for the request codec's tests."""

from __future__ import annotations

from collections.abc import Sequence

from datatracing.model import InstrumentationScope, Resource, Span

RESOURCE = Resource(attributes={"service.name": "checkout", "host.name": "h1"})
SCOPE = InstrumentationScope(name="checkout.orders", version="1.2")
T0 = 1_700_000_000_000_000_000


def make_spans(traces: Sequence[int], per_trace: int = 2) -> list[Span]:
    """`per_trace` spans for each trace number (the first a root), interleaved across traces."""
    return [
        Span(
            trace_id=f"{t:032x}",
            span_id=f"{t * 1000 + i + 1:016x}",
            parent_span_id=None if i == 0 else f"{t * 1000 + 1:016x}",
            name=f"op{i}",
            start_time_unix_nano=T0 + i,
            end_time_unix_nano=T0 + 100 + i,
            attributes={"i": i, "trace": t},
            resource=RESOURCE,
            scope=SCOPE,
        )
        for i in range(per_trace)
        for t in traces
    ]
