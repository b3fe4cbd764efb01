from __future__ import annotations

from store_data import BASE_NS, rich_trace, span, trace_id

from datatracing.model import SpanKind
from datatracing.pipeline.store import ClickHouseTraceStore, DependencyEdge, Operation, SpanBatch


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
