"""Synthetic data-pipeline traces for benchmarks and tests: realistic shapes, deterministic by seed.

A trace is an ingest request (HTTP server span, Kafka produce), a consumer transforming the record
(process span, a few DB calls), and sometimes a batch loader writing to a warehouse. About 5% of traces
hold an error and durations are skewed (log-normal, a slow tail).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from datatracing.model import Attributes, Resource, Span, SpanKind, Status, StatusCode

SERVICES = ("ingest-api", "enricher", "warehouse-loader", "feature-store", "fraud-scorer")
_RESOURCES = {
    name: Resource(
        attributes={"service.name": name, "service.version": "1.4.2", "deployment.environment": "bench"}
    )
    for name in SERVICES
}


@dataclass(frozen=True)
class TrafficShape:
    min_spans: int = 5
    max_spans: int = 50
    error_rate: float = 0.05
    #: Start of the first trace; None: one hour ago (recent, so store retention keeps the rows).
    base_time_ns: int | None = None


def _hex(rng: random.Random, nbytes: int) -> str:
    value = rng.getrandbits(nbytes * 8) or 1
    return f"{value:0{nbytes * 2}x}"


def synthetic_trace(rng: random.Random, shape: TrafficShape, start_ns: int) -> list[Span]:
    """One trace of `min_spans..max_spans` spans across several services."""
    trace_id = _hex(rng, 16)
    n = rng.randint(shape.min_spans, shape.max_spans)
    error_at = rng.randrange(n) if rng.random() < shape.error_rate else -1
    total_ms = rng.lognormvariate(3.0, 1.0)  # median ~20 ms, long tail
    spans: list[Span] = []
    ids: list[str] = []
    for i in range(n):
        service = SERVICES[0] if i == 0 else rng.choice(SERVICES)
        parent = None if i == 0 else ids[rng.randrange(len(ids))]
        span_id = _hex(rng, 8)
        offset = 0 if i == 0 else int(rng.random() * total_ms * 0.8e6)
        duration = int(total_ms * 1e6) if i == 0 else max(1000, int(rng.lognormvariate(0.5, 1.0) * 1e6))
        kind = (
            SpanKind.SERVER if i == 0 else rng.choice((SpanKind.INTERNAL, SpanKind.CLIENT, SpanKind.PRODUCER))
        )
        attributes: Attributes = {
            "pipeline.job": "orders-etl",
            "pipeline.stage": rng.choice(("ingest", "transform", "load")),
            "pipeline.records.in": rng.randint(1, 5000),
            "messaging.system": "kafka",
            "messaging.destination.name": rng.choice(("orders", "payments", "enriched-orders")),
            "db.system": "clickhouse",
            "http.request.method": rng.choice(("GET", "POST")),
            "http.response.status_code": 500 if i == error_at else 200,
            "customer.tier": rng.choice(("free", "pro", "enterprise")),
            "retry": rng.random() < 0.1,
        }
        spans.append(
            Span(
                trace_id=trace_id,
                span_id=span_id,
                parent_span_id=parent,
                name=f"{service}.{rng.choice(('handle', 'produce', 'transform', 'query', 'load'))}",
                kind=kind,
                start_time_unix_nano=start_ns + offset,
                end_time_unix_nano=start_ns + offset + duration,
                attributes=attributes,
                status=Status(code=StatusCode.ERROR, message="boom") if i == error_at else Status(),
                resource=_RESOURCES[service],
            )
        )
        ids.append(span_id)
    return spans


def synthetic_traces(count: int, *, seed: int = 7, shape: TrafficShape | None = None) -> list[list[Span]]:
    """`count` traces, one millisecond apart."""
    rng = random.Random(seed)
    shape = shape or TrafficShape()
    base = shape.base_time_ns if shape.base_time_ns is not None else time.time_ns() - 3600 * 10**9
    return [synthetic_trace(rng, shape, base + i * 1_000_000) for i in range(count)]
