"""Traces for the UI tests: a request fanning out to a queue, a batch consumer linking back, an error,
and a wide 10,000-span trace (times near now so the default search range finds them)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from datatracing.model import Resource, Span, SpanEvent, SpanKind, SpanLink, Status, StatusCode

MS = 1_000_000
BASE_NS = (time.time_ns() // 10**9 - 600) * 10**9  # ten minutes ago, whole second

CHECKOUT = "c0ffee" + "0" * 25 + "1"
BATCH = "ba7c4" + "0" * 26 + "2"
FAILED = "e7707" + "0" * 26 + "3"
WIDE = "a1de" + "0" * 27 + "4"
MISSING = "dead" + "0" * 27 + "5"  # linked to, never stored


def _sid(n: int) -> str:
    return f"{n:016x}"


@dataclass
class _Builder:
    trace_id: str
    start: int

    def span(
        self,
        n: int,
        name: str,
        service: str,
        *,
        parent: int | None = None,
        at_ms: float = 0,
        ms: float = 1,
        kind: SpanKind = SpanKind.INTERNAL,
        error: str | None = None,
        attributes: dict[str, Any] | None = None,
        links: tuple[SpanLink, ...] = (),
        events: tuple[SpanEvent, ...] = (),
    ) -> Span:
        start = self.start + int(at_ms * MS)
        return Span(
            trace_id=self.trace_id,
            span_id=_sid(n),
            parent_span_id=None if parent is None else _sid(parent),
            name=name,
            kind=kind,
            start_time_unix_nano=start,
            end_time_unix_nano=start + int(ms * MS),
            attributes=attributes or {},
            links=links,
            events=events,
            status=Status(code=StatusCode.ERROR, message=error) if error else Status(),
            resource=Resource(attributes={"service.name": service, "host.name": f"{service}-1"}),
        )


def checkout_trace() -> list[Span]:
    """web → payments over HTTP, and web → worker through a queue (producer → consumer)."""
    b = _Builder(CHECKOUT, BASE_NS)
    return [
        b.span(
            1, "GET /checkout", "web", ms=120, kind=SpanKind.SERVER, attributes={"http.route": "/checkout"}
        ),
        b.span(2, "validate cart", "web", parent=1, at_ms=2, ms=8),
        b.span(3, "POST /payments", "web", parent=1, at_ms=12, ms=70, kind=SpanKind.CLIENT),
        b.span(4, "charge card", "payments", parent=3, at_ms=14, ms=64, kind=SpanKind.SERVER),
        b.span(
            5,
            "INSERT payments",
            "payments",
            parent=4,
            at_ms=20,
            ms=40,
            kind=SpanKind.CLIENT,
            attributes={"db.system": "postgresql"},
        ),
        b.span(
            6,
            "send orders",
            "web",
            parent=1,
            at_ms=90,
            ms=5,
            kind=SpanKind.PRODUCER,
            attributes={"messaging.destination.name": "orders"},
        ),
        b.span(
            7,
            "process orders",
            "worker",
            parent=6,
            at_ms=130,
            ms=50,
            kind=SpanKind.CONSUMER,
            attributes={"messaging.destination.name": "orders"},
        ),
        b.span(8, "transform order", "worker", parent=7, at_ms=135, ms=30),
    ]


def batch_trace() -> list[Span]:
    """A batch consumer whose span links to the checkout's producer span and to a trace not stored."""
    b = _Builder(BATCH, BASE_NS + 300 * MS)
    links = (
        SpanLink(trace_id=CHECKOUT, span_id=_sid(6), attributes={"messaging.kafka.offset": 41}),
        SpanLink(trace_id=MISSING, span_id=_sid(1)),
    )
    return [
        b.span(
            1,
            "process orders batch",
            "loader",
            ms=60,
            kind=SpanKind.CONSUMER,
            links=links,
            attributes={"pipeline.records.in": 2},
        ),
        b.span(2, "INSERT warehouse.orders", "loader", parent=1, at_ms=5, ms=50, kind=SpanKind.CLIENT),
    ]


def failed_trace() -> list[Span]:
    """A request whose inventory lookup failed with an exception event."""
    b = _Builder(FAILED, BASE_NS + 600 * MS)
    boom = SpanEvent(
        name="exception",
        time_unix_nano=BASE_NS + 650 * MS,
        attributes={"exception.type": "TimeoutError", "exception.message": "inventory timed out"},
    )
    return [
        b.span(1, "GET /cart", "web", ms=80, kind=SpanKind.SERVER, error="lookup failed"),
        b.span(
            2,
            "lookup stock",
            "inventory",
            parent=1,
            at_ms=3,
            ms=75,
            kind=SpanKind.SERVER,
            error="inventory timed out",
            events=(boom,),
        ),
    ]


def wide_trace(spans: int = 10_000) -> list[Span]:
    """A root over batch spans of up to 98 records each: `spans` spans in all, three levels deep."""
    b = _Builder(WIDE, BASE_NS + 900 * MS)
    out = [b.span(1, "run pipeline", "scheduler", ms=spans / 10 + 10, kind=SpanKind.SERVER)]
    n = 2
    batch = 0
    while n <= spans:
        batch_id = n
        out.append(b.span(batch_id, f"batch {batch}", "worker", parent=1, at_ms=batch * 10, ms=9))
        n += 1
        for k in range(98):
            if n > spans:
                break
            out.append(
                b.span(
                    n,
                    f"record {k}",
                    "worker",
                    parent=batch_id,
                    at_ms=batch * 10 + k * 0.09,
                    ms=0.08,
                    attributes={"record.key": f"k-{batch}-{k}"},
                )
            )
            n += 1
        batch += 1
    return out[:spans]
