from __future__ import annotations

import pytest

from datatracing.model import SpanKind
from datatracing.pipeline.store import (
    ClickHouseTraceStore,
    DependencyEdge,
    Operation,
    SpanBatch,
    StoreQueryError,
)
from datatracing.pipeline.store._catalog import REFRESH_S
from tests.pipeline.store.store_data import BASE_NS, rich_trace, span, trace_id

BASE_S = BASE_NS // 10**9


def _operation_rows(store: ClickHouseTraceStore) -> list[tuple[str, int]]:
    """The rows written to `operations` (before any merge folds them): (name, last_seen seconds)."""
    table = store.backend.query(
        f"SELECT toString(name) AS name, toUInt32(last_seen) AS seen FROM {store.database}.operations "
        "ORDER BY seen"
    )
    return [(str(r["name"]), int(r["seen"]) - BASE_S) for r in table.to_pylist()]


def test_services_and_operations_list_what_was_stored(store: ClickHouseTraceStore) -> None:
    store.insert(SpanBatch.from_spans(rich_trace(trace_id())))
    store.insert(
        SpanBatch.from_spans([span(trace_id(), 1, service="payments", name="refund", kind=SpanKind.SERVER)])
    )

    assert store.services() == ["db", "frontend", "payments"]
    assert store.operations("payments") == [
        Operation(name="charge", span_kind="client"),
        Operation(name="refund", span_kind="server"),
    ]
    assert store.operations("nobody") == []


def test_operations_same_name_two_kinds_listed_twice(store: ClickHouseTraceStore) -> None:
    tid = trace_id()
    store.insert(
        SpanBatch.from_spans(
            [
                span(tid, 1, name="op", kind=SpanKind.SERVER),
                span(tid, 2, name="op", kind=SpanKind.UNSPECIFIED),
            ]
        )
    )

    assert store.operations("checkout") == [
        Operation(name="op", span_kind="unspecified"),
        Operation(name="op", span_kind="server"),
    ]


def test_dependencies_count_cross_service_calls_in_window(store: ClickHouseTraceStore) -> None:
    store.insert(SpanBatch.from_spans(rich_trace(trace_id()) + rich_trace(trace_id(), start=10**9)))
    # A same-service child is not an edge; a child whose parent is in another batch is not either.
    tid = trace_id()
    store.insert(SpanBatch.from_spans([span(tid, 1, start=2), span(tid, 2, parent=1, start=3)]))

    edges = store.dependencies(BASE_NS, BASE_NS + 2 * 10**9)

    assert edges == [
        DependencyEdge(parent="frontend", child="payments", call_count=2),
        DependencyEdge(parent="payments", child="db", call_count=2),
    ]
    assert store.dependencies(BASE_NS + 10**9 - 1, BASE_NS + 2 * 10**9) == [
        DependencyEdge(parent="frontend", child="payments", call_count=1),
        DependencyEdge(parent="payments", child="db", call_count=1),
    ]
    assert store.dependencies(0, 10) == []


def test_operations_written_once_per_name_until_last_seen_is_due(store: ClickHouseTraceStore) -> None:
    tid = trace_id()
    store.insert(SpanBatch.from_spans([span(tid, 1, start=0)]))
    store.insert(SpanBatch.from_spans([span(tid, 2, start=10**9), span(tid, 3, start=2 * 10**9)]))

    assert _operation_rows(store) == [("GET /cart", 0)]

    later = (REFRESH_S + 5) * 10**9
    store.insert(SpanBatch.from_spans([span(tid, 4, start=later), span(tid, 5, name="new", start=3 * 10**9)]))

    assert _operation_rows(store) == [("GET /cart", 0), ("new", 3), ("GET /cart", REFRESH_S + 5)]
    assert store.operations("checkout") == [
        Operation(name="GET /cart", span_kind="server"),
        Operation(name="new", span_kind="server"),
    ]


def test_operations_from_another_writer_keep_the_newest_last_seen(store: ClickHouseTraceStore) -> None:
    # A second writer (another sink, or this one restarted) knows nothing written before it.
    other = ClickHouseTraceStore(store.backend, database=store.database)
    tid = trace_id()
    store.insert(SpanBatch.from_spans([span(tid, 1, start=100 * 10**9)]))
    other.insert(SpanBatch.from_spans([span(tid, 2, start=0)]))
    store.optimize()

    assert _operation_rows(store) == [("GET /cart", 100)]
    assert store.operations("checkout") == [Operation(name="GET /cart", span_kind="server")]


def test_operations_not_written_when_the_spans_insert_fails(store: ClickHouseTraceStore) -> None:
    tid = trace_id()
    store.backend.execute(f"RENAME TABLE {store.database}.spans TO {store.database}.spans_away")
    try:
        with pytest.raises(StoreQueryError):
            store.insert(SpanBatch.from_spans([span(tid, 1)]))
        assert _operation_rows(store) == []
    finally:
        store.backend.execute(f"RENAME TABLE {store.database}.spans_away TO {store.database}.spans")

    store.insert(SpanBatch.from_spans([span(tid, 1)]))

    assert _operation_rows(store) == [("GET /cart", 0)]


def test_operations_insert_failure_fails_the_insert_and_its_retry_writes_names_once(
    store: ClickHouseTraceStore,
) -> None:
    tid = trace_id()
    batch = SpanBatch.from_spans([span(tid, 1), span(tid, 2, parent=1)])
    store.backend.execute(f"RENAME TABLE {store.database}.operations TO {store.database}.operations_away")
    try:
        with pytest.raises(StoreQueryError, match="operations"):
            store.insert(batch, dedup_token="batch-1")
    finally:
        store.backend.execute(f"RENAME TABLE {store.database}.operations_away TO {store.database}.operations")

    # The spans were stored; the retry (same token) is deduplicated and writes the names.
    assert store.count_spans() == 2
    store.insert(batch, dedup_token="batch-1")

    assert store.count_spans() == 2
    assert _operation_rows(store) == [("GET /cart", 0)]
