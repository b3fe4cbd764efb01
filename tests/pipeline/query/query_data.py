"""Known traces for the query tests, and a store whose reads can be switched off."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from datatracing.model import Resource, Span, SpanKind, Status, StatusCode, Trace
from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.errors import StoreUnavailableError
from datatracing.pipeline.sink import FaultInjectingStore
from datatracing.pipeline.store import (
    ClickHouseTraceStore,
    DependencyEdge,
    Operation,
    SampledTrace,
    SpanBatch,
    SqlResult,
    TracePage,
    TraceQuery,
)

MS = 1_000_000
BASE_NS = (time.time_ns() // 10**9 - 3600) * 10**9  # an hour ago: inside the default search window
AUDIT = SamplingAudit(policy="errors", policy_version="3f2a9c", sample_rate=4.0)


def span(
    tid: str,
    sid: int,
    *,
    parent: int | None = None,
    service: str = "checkout",
    name: str = "GET /cart",
    start_ms: int = 0,
    duration_ms: int = 1,
    error: bool = False,
    attributes: dict[str, Any] | None = None,
    region: str = "eu",
) -> Span:
    return Span(
        trace_id=tid,
        span_id=f"{sid:016x}",
        parent_span_id=None if parent is None else f"{parent:016x}",
        name=name,
        kind=SpanKind.SERVER if parent is None else SpanKind.CLIENT,
        start_time_unix_nano=BASE_NS + start_ms * MS,
        end_time_unix_nano=BASE_NS + (start_ms + duration_ms) * MS,
        attributes=attributes or {},
        status=Status(code=StatusCode.ERROR, message="failed") if error else Status(),
        resource=Resource(attributes={"service.name": service, "region": region}),
    )


@dataclass
class Seeded:
    """Trace ids by name, newest last: `long`, `wide`, `short`, `pay`."""

    ids: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        return self.ids[name]


def seed(store: ClickHouseTraceStore) -> Seeded:
    """Four traces (as in the store's trace-filter tests), `wide` stamped with `AUDIT`:

    - `long`: checkout, three sequential 10 ms spans over 100 ms (no span is long, the trace is);
    - `wide`: checkout -> payments -> ledger, ERROR on the ledger span only, `http.method=POST`;
    - `short`: one 5 ms checkout span, region us;
    - `pay`: one 300 ms payments span.
    """
    ids = Seeded({name: f"{0xA0 + n:032x}" for n, name in enumerate(("long", "wide", "short", "pay"))})
    store.insert(
        SpanBatch.from_spans(
            [
                span(ids["long"], 1, duration_ms=10),
                span(ids["long"], 2, parent=1, start_ms=45, duration_ms=10, name="step"),
                span(ids["long"], 3, parent=1, start_ms=90, duration_ms=10, name="step"),
                span(ids["short"], 1, start_ms=300, duration_ms=5, region="us"),
                span(ids["pay"], 1, start_ms=400, duration_ms=300, service="payments", name="charge"),
            ]
        )
    )
    store.insert(
        SpanBatch.from_spans(
            [
                span(ids["wide"], 1, start_ms=200, duration_ms=20, attributes={"http.method": "POST"}),
                span(ids["wide"], 2, parent=1, start_ms=201, duration_ms=5, service="payments", name="pay"),
                span(ids["wide"], 3, parent=2, start_ms=202, service="ledger", name="book", error=True),
            ],
            AUDIT,
        )
    )
    return ids


class DownableStore:
    """`FaultInjectingStore` (which fails inserts on demand) with reads that fail while `down`."""

    def __init__(self, faulty: FaultInjectingStore, real: ClickHouseTraceStore) -> None:
        self.faulty = faulty
        self.real = real
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailableError("injected outage: the store is unavailable")

    def migrate(self) -> list[str]:
        return self.faulty.migrate()

    def batch_from_otlp(
        self, messages: Iterable[tuple[bytes, SamplingAudit]]
    ) -> tuple[SpanBatch, list[tuple[int, str]]]:
        return self.faulty.batch_from_otlp(messages)

    def insert(self, batch: SpanBatch, *, dedup_token: str | None = None) -> int:
        return self.faulty.insert(batch, dedup_token=dedup_token)

    def get_trace(self, trace_id: str) -> Trace | None:
        self._check()
        return self.faulty.get_trace(trace_id)

    def get_sampled_trace(self, trace_id: str) -> SampledTrace | None:
        self._check()
        # Through `FaultInjectingStore` once it forwards this read; until then to the store behind it.
        forward = getattr(self.faulty, "get_sampled_trace", self.real.get_sampled_trace)
        found: SampledTrace | None = forward(trace_id)
        return found

    def search(self, query: TraceQuery) -> TracePage:
        self._check()
        return self.faulty.search(query)

    def services(self) -> list[str]:
        self._check()
        return self.faulty.services()

    def operations(self, service: str) -> list[Operation]:
        self._check()
        return self.faulty.operations(service)

    def dependencies(self, start_ns: int, end_ns: int) -> list[DependencyEdge]:
        self._check()
        return self.faulty.dependencies(start_ns, end_ns)

    def count_spans(self) -> int:
        self._check()
        return self.faulty.count_spans()

    def read_sql(self, sql: str, *, max_rows: int, max_seconds: float) -> SqlResult:
        self._check()
        return self.real.read_sql(sql, max_rows=max_rows, max_seconds=max_seconds)

    def close(self) -> None:
        self.faulty.close()
