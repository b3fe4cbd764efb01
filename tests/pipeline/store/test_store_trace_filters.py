"""Trace-level search filters, the sampling audit of get-by-id, reads counting a span stored twice once."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.store import ClickHouseTraceStore, SpanBatch, TraceQuery, TraceSampling
from tests.pipeline.store.store_data import BASE_NS, span, trace_id

MS = 1_000_000


@pytest.fixture
def shapes(store: ClickHouseTraceStore) -> dict[str, str]:
    """Four traces; returns name -> trace id.

    - `long`: checkout, three sequential 10 ms spans over 100 ms (no span is long, the trace is);
    - `wide`: checkout -> payments -> ledger, an ERROR on the ledger span only;
    - `short`: one 5 ms checkout span;
    - `pay`: one 300 ms payments span.
    """
    ids = {name: trace_id() for name in ("long", "wide", "short", "pay")}
    spans = [
        span(ids["long"], 1, start=0, duration=10 * MS),
        span(ids["long"], 2, parent=1, start=45 * MS, duration=10 * MS, name="step"),
        span(ids["long"], 3, parent=1, start=90 * MS, duration=10 * MS, name="step"),
        span(ids["wide"], 1, start=200 * MS, duration=20 * MS),
        span(ids["wide"], 2, parent=1, start=201 * MS, duration=5 * MS, service="payments", name="charge"),
        span(ids["wide"], 3, parent=2, start=202 * MS, duration=1 * MS, service="ledger", error=True),
        span(ids["short"], 1, start=300 * MS, duration=5 * MS),
        span(ids["pay"], 1, start=400 * MS, duration=300 * MS, service="payments", name="charge"),
    ]
    store.insert(SpanBatch.from_spans(spans))
    return ids


def _ids(store: ClickHouseTraceStore, **filters: object) -> set[str]:
    return {t.trace_id for t in store.search(TraceQuery(**filters)).traces}  # type: ignore[arg-type]


# Each filter alone (source: `traces`) and beside a span filter (source: `spans`, time-bounded).
_SPAN_FILTER = {"start_ns": BASE_NS - 10**9, "end_ns": BASE_NS + 10 * 10**9}


@pytest.mark.parametrize("with_span_filter", [False, True])
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"min_trace_duration_ns": 50 * MS}, {"long", "pay"}),
        ({"min_trace_duration_ns": 50 * MS, "max_trace_duration_ns": 200 * MS}, {"long"}),
        ({"max_trace_duration_ns": 20 * MS}, {"wide", "short"}),
        ({"trace_services": ("checkout", "payments")}, {"wide"}),
        ({"trace_services": ("payments",)}, {"wide", "pay"}),
        ({"min_spans": 3}, {"long", "wide"}),
        ({"max_spans": 1}, {"short", "pay"}),
        ({"min_spans": 2, "max_spans": 3, "trace_error": False}, {"long"}),
        ({"trace_error": True}, {"wide"}),
    ],
)
def test_search_trace_level_filter_holds_on_the_whole_trace(
    store: ClickHouseTraceStore,
    shapes: dict[str, str],
    filters: dict[str, object],
    expected: set[str],
    with_span_filter: bool,
) -> None:
    extra = _SPAN_FILTER if with_span_filter else {}
    assert _ids(store, **filters, **extra) == {shapes[name] for name in expected}


def test_search_trace_duration_differs_from_span_duration(
    store: ClickHouseTraceStore, shapes: dict[str, str]
) -> None:
    assert _ids(store, min_duration_ns=50 * MS) == {shapes["pay"]}
    assert _ids(store, min_trace_duration_ns=50 * MS) == {shapes["long"], shapes["pay"]}


def test_search_error_anywhere_differs_from_matching_span_status(
    store: ClickHouseTraceStore, shapes: dict[str, str]
) -> None:
    assert _ids(store, service="checkout", status="error") == set()
    assert _ids(store, service="checkout", trace_error=True) == {shapes["wide"]}


def test_search_trace_and_span_filters_combine(store: ClickHouseTraceStore, shapes: dict[str, str]) -> None:
    assert _ids(store, service="payments", trace_services=("ledger",)) == {shapes["wide"]}
    assert _ids(store, service="payments", min_trace_duration_ns=100 * MS) == {shapes["pay"]}
    assert _ids(store, operation="step", max_spans=2) == set()


@pytest.mark.parametrize(
    "bad",
    [
        {"min_trace_duration_ns": 5, "max_trace_duration_ns": 4},
        {"min_spans": 3, "max_spans": 2},
        {"trace_services": ("",)},
        {"min_trace_duration_ns": -1},
        {"max_spans": 2**64},
    ],
)
def test_trace_query_bad_trace_filters_raise_validation_error(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TraceQuery(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [1, 2])
def test_search_windows_with_trace_filters_give_the_full_scan_order(
    store: ClickHouseTraceStore, seed: int
) -> None:
    """Traces over three hours, some running across the windows' edges: paging a span filter with
    a trace filter through the windows gives the exact order of a full scan."""
    rng = random.Random(seed)
    minute = 60 * 10**9
    spans, keys = [], {}
    for _ in range(150):
        tid = trace_id()
        start = rng.randrange(-120 * minute, 0)
        matching, services, end = [], set(), start
        for sid in range(1, rng.randrange(2, 5)):
            offset = 0 if sid == 1 else rng.randrange(0, 10 * minute)
            service = rng.choice(["checkout", "payments", "ledger"])
            spans.append(span(tid, sid, service=service, start=start + offset))
            services.add(service)
            end = max(end, start + offset + 1_000_000)
            if service == "payments":
                matching.append(start + offset)
        if matching and "ledger" in services and end - start >= minute:
            keys[tid] = BASE_NS + min(matching)
    store.insert(SpanBatch.from_spans(spans))
    expected = sorted(keys, key=lambda t: (keys[t], t), reverse=True)

    for limit in (1, 5):
        seen, cursor = [], None
        while True:
            query = TraceQuery(
                service="payments",
                trace_services=("ledger",),
                min_trace_duration_ns=minute,
                limit=limit,
                cursor=cursor,
            )
            page = store.search(query)
            seen.extend(t.trace_id for t in page.traces)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == expected


def test_get_sampled_trace_returns_the_audit_the_sampler_stamped(store: ClickHouseTraceStore) -> None:
    kept, plain = trace_id(), trace_id()
    audit = SamplingAudit(policy="errors", policy_version="v7", sample_rate=10.0)
    store.insert(SpanBatch.from_spans([span(kept, 1), span(kept, 2, parent=1)], audit))
    store.insert(SpanBatch.from_spans([span(plain, 1)]))

    found = store.get_sampled_trace(kept)
    unstamped = store.get_sampled_trace(plain)

    assert found is not None
    assert found.sampling == TraceSampling(policy="errors", policy_version="v7", sample_rate=10.0)
    assert found.trace == store.get_trace(kept)
    assert unstamped is not None
    assert unstamped.sampling is None
    assert store.get_sampled_trace(trace_id()) is None


def test_reads_count_a_span_stored_twice_once_before_and_after_merge(store: ClickHouseTraceStore) -> None:
    """A crash between insert and commit replays a batch under another dedup token: the rows are
    stored twice until a merge. Every read answers the same before and after `OPTIMIZE ... FINAL`."""
    spans = []
    for n in range(5):
        tid = trace_id()
        spans += [
            span(tid, 1, start=n * MS),
            span(tid, 2, parent=1, start=n * MS, service="payments", name="charge"),
            span(tid, 3, parent=2, start=n * MS, service="ledger", error=n == 0),
        ]
    batch = SpanBatch.from_spans(spans)
    store.insert(batch, dedup_token="sampled-spans:0:0-99")
    store.insert(batch, dedup_token="sampled-spans:0:0-99 replayed")
    window = (BASE_NS - 10**9, BASE_NS + 10**9)

    def reads() -> tuple[object, ...]:
        return (
            store.dependencies(*window),
            store.services(),
            store.operations("payments"),
            store.count_spans(),
            store.search(TraceQuery(limit=100)),
            store.search(TraceQuery(service="payments", min_spans=3, max_spans=3, limit=100)),
            store.get_trace(spans[0].trace_id),
        )

    raw = store.backend.query(f"SELECT count() AS n FROM {store.database}.spans")
    stored_rows = raw.column("n")[0].as_py()
    before = reads()
    store.optimize()
    after = reads()

    assert stored_rows == 30
    assert before == after
    assert {(e.parent, e.child, e.call_count) for e in before[0]} == {  # type: ignore[attr-defined]
        ("checkout", "payments", 5),
        ("payments", "ledger", 5),
    }
    assert len(before[5].traces) == 5  # type: ignore[attr-defined]


def test_trace_filters_read_every_part_of_a_trace_stored_in_several_inserts(
    store: ClickHouseTraceStore,
) -> None:
    """A trace whose spans arrive in two inserts, the second after the search's `end`: its
    duration and span count are those of the whole trace, not of the rows inside the range."""
    tid = trace_id()
    store.insert(SpanBatch.from_spans([span(tid, 1, start=0, duration=10 * MS)]))
    store.insert(SpanBatch.from_spans([span(tid, 2, parent=1, start=5_000 * MS, duration=10 * MS)]))
    early = {"start_ns": BASE_NS - 10**9, "end_ns": BASE_NS + 10**9}

    assert _ids(store, min_trace_duration_ns=5_000 * MS, **early) == {tid}
    assert _ids(store, min_spans=2, max_spans=2, **early) == {tid}
    assert _ids(store, max_trace_duration_ns=100 * MS, **early) == set()
