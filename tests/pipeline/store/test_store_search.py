from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from datatracing.pipeline.store import ClickHouseTraceStore, SpanBatch, TraceQuery
from tests.pipeline.store.store_data import BASE_NS, hostile_text, resource, span, trace_id

MS = 1_000_000


@pytest.fixture
def corpus(store: ClickHouseTraceStore) -> dict[str, str]:
    """Five traces with distinct shapes; returns name -> trace id."""
    ids = {name: trace_id() for name in ("get", "post", "slow", "error", "kafka")}
    spans = [
        span(ids["get"], 1, start=0, attributes={"http.method": "GET", "user": "ann"}),
        span(ids["get"], 2, parent=1, service="payments", name="charge", start=1 * MS, kind=2),
        span(
            ids["post"],
            1,
            start=10 * MS,
            name="POST /cart",
            attributes={"http.method": "POST", "user": "bob"},
        ),
        span(
            ids["slow"],
            1,
            start=20 * MS,
            duration=900 * MS,
            service="reports",
            name="render",
            res=resource("reports", region="eu"),
        ),
        span(
            ids["error"],
            1,
            start=30 * MS,
            service="payments",
            name="charge",
            error=True,
            attributes={"http.status_code": 502},
        ),
        span(
            ids["kafka"],
            1,
            start=40 * MS,
            service="worker",
            name="process orders",
            attributes={"messaging.destination.name": "orders"},
            res=resource("worker", region="us"),
        ),
    ]
    store.insert(SpanBatch.from_spans(spans))
    return ids


def _ids(store: ClickHouseTraceStore, **filters: object) -> list[str]:
    return [t.trace_id for t in store.search(TraceQuery(**filters)).traces]  # type: ignore[arg-type]


def test_search_no_filter_returns_all_newest_first(
    store: ClickHouseTraceStore, corpus: dict[str, str]
) -> None:
    assert _ids(store) == [corpus[n] for n in ("kafka", "error", "slow", "post", "get")]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"service": "payments"}, ["error", "get"]),
        ({"service": "payments", "operation": "charge"}, ["error", "get"]),
        ({"operation": "POST /cart"}, ["post"]),
        ({"status": "error"}, ["error"]),
        ({"status": "unset", "service": "reports"}, ["slow"]),
        ({"min_duration_ns": 500 * MS}, ["slow"]),
        ({"max_duration_ns": 1 * MS, "service": "checkout"}, ["post", "get"]),
        ({"start_ns": BASE_NS + 15 * MS, "end_ns": BASE_NS + 35 * MS}, ["error", "slow"]),
        ({"start_ns": BASE_NS + 1 * MS, "end_ns": BASE_NS + 1 * MS}, ["get"]),
        ({"attributes": {"http.method": "GET"}}, ["get"]),
        ({"attributes": {"http.method": "GET", "user": "bob"}}, []),
        ({"attributes": {"user": "bob"}}, ["post"]),
        ({"attributes": {"http.status_code": "502"}}, ["error"]),
        ({"attributes": {"messaging.destination.name": "orders"}}, ["kafka"]),
        ({"resource_attributes": {"region": "eu"}}, ["slow"]),
        ({"resource_attributes": {"region": "us"}, "service": "worker"}, ["kafka"]),
        ({"service": "payments", "status": "error", "attributes": {"http.status_code": "502"}}, ["error"]),
        ({"service": "nobody"}, []),
        ({"tenant": "default", "service": "worker"}, ["kafka"]),
        ({"tenant": "other"}, []),
    ],
)
def test_search_filter_returns_matching_traces(
    store: ClickHouseTraceStore, corpus: dict[str, str], filters: dict[str, object], expected: list[str]
) -> None:
    assert _ids(store, **filters) == [corpus[n] for n in expected]


def test_search_filters_must_hold_on_one_span(store: ClickHouseTraceStore, corpus: dict[str, str]) -> None:
    # Trace "get" has a checkout span with http.method=GET and a payments span, but no payments span
    # with http.method=GET.
    assert _ids(store, service="payments", attributes={"http.method": "GET"}) == []


def test_search_order_is_earliest_matching_span_start(store: ClickHouseTraceStore) -> None:
    early_match, late_match = trace_id(), trace_id()
    # early_match starts later overall but its payments span starts earlier than late_match's.
    store.insert(
        SpanBatch.from_spans(
            [
                span(early_match, 1, start=10 * MS),
                span(early_match, 2, parent=1, service="payments", start=11 * MS),
                span(late_match, 1, start=0),
                span(late_match, 2, parent=1, service="payments", start=20 * MS),
            ]
        )
    )

    assert _ids(store, service="payments") == [late_match, early_match]
    assert _ids(store) == [early_match, late_match]


def test_search_summary_describes_whole_trace(store: ClickHouseTraceStore, corpus: dict[str, str]) -> None:
    [summary] = store.search(TraceQuery(operation="charge", service="payments", status="unset")).traces

    assert summary.trace_id == corpus["get"]
    assert summary.span_count == 2
    assert summary.root_service == "checkout"
    assert summary.root_name == "GET /cart"
    assert summary.services == ["checkout", "payments"]
    assert summary.has_error is False
    assert (summary.start_ns, summary.end_ns, summary.duration_ns) == (BASE_NS, BASE_NS + 2 * MS, 2 * MS)


def test_search_attribute_empty_value_needs_key_present(store: ClickHouseTraceStore) -> None:
    with_empty, without = trace_id(), trace_id()
    store.insert(
        SpanBatch.from_spans([span(with_empty, 1, attributes={"note": ""}), span(without, 1, start=MS)])
    )

    assert _ids(store, attributes={"note": ""}) == [with_empty]


@pytest.mark.parametrize("filters", [{}, {"service": "checkout"}], ids=["traces", "spans"])
def test_search_pages_with_cursor_cover_all_once(
    store: ClickHouseTraceStore, filters: dict[str, str]
) -> None:
    ids = [trace_id() for _ in range(23)]
    # Pairs share a start time so the trace id tie-break is exercised.
    store.insert(SpanBatch.from_spans([span(t, 1, start=(i // 2) * MS) for i, t in enumerate(ids)]))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = store.search(TraceQuery(limit=5, cursor=cursor, **filters))
        seen.extend(t.trace_id for t in page.traces)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert pages == 5
    expected = sorted(ids, key=lambda t: (ids.index(t) // 2, t), reverse=True)
    assert seen == expected


@pytest.mark.parametrize("filters", [{}, {"service": "checkout"}], ids=["traces", "spans"])
def test_search_cursor_stable_when_newer_traces_arrive(
    store: ClickHouseTraceStore, filters: dict[str, str]
) -> None:
    old = [trace_id() for _ in range(4)]
    store.insert(SpanBatch.from_spans([span(t, 1, start=i * MS) for i, t in enumerate(old)]))
    first = store.search(TraceQuery(limit=2, **filters))
    store.insert(SpanBatch.from_spans([span(trace_id(), 1, start=100 * MS)]))

    second = store.search(TraceQuery(limit=2, cursor=first.next_cursor, **filters))

    assert [t.trace_id for t in second.traces] == [old[1], old[0]]
    assert second.next_cursor is None


@pytest.mark.parametrize(
    "bad",
    [
        {"limit": 0},
        {"limit": 1001},
        {"status": "failed"},
        {"start_ns": -1},
        {"start_ns": 10, "end_ns": 5},
        {"min_duration_ns": 10, "max_duration_ns": 5},
        {"cursor": "garbage!"},
        {"attributes": {"": "x"}},
        {"service": ""},
        {"unknown": 1},
    ],
)
def test_trace_query_bad_values_raise_validation_error(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TraceQuery(**bad)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=hostile_text, key=hostile_text)
def test_search_hostile_values_are_inert(
    store: ClickHouseTraceStore, corpus: dict[str, str], value: str, key: str
) -> None:
    tid = trace_id()
    store.insert(SpanBatch.from_spans([span(tid, 1, service=value, name=value, attributes={key: value})]))

    assert _ids(store, service=value, operation=value, attributes={key: value}) == [tid]
    assert _ids(store, service=value + "'", attributes={key: value}) == []
    assert store.count_spans() >= 7  # nothing was dropped or altered
    assert value in store.services()


@given(st.integers(0, 2**63 - 1), st.text("0123456789abcdef", min_size=32, max_size=32))
def test_cursor_encode_decode_round_trips(start: int, tid: str) -> None:
    from datatracing.pipeline.store._port import decode_cursor, encode_cursor

    assert decode_cursor(encode_cursor(start, tid)) == (start, tid)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_search_windows_give_the_same_pages_as_a_full_scan(store: ClickHouseTraceStore, seed: int) -> None:
    """Traces spread over three hours, some running for minutes across the search windows' edges
    (one and sixteen minutes back): paging with windows gives the exact full-scan order."""
    rng = random.Random(seed)
    minute = 60 * 10**9
    spans, keys = [], {}
    for _ in range(200):
        tid = trace_id()
        start = rng.randrange(-120 * minute, 0)
        matching = []
        for sid in range(1, rng.randrange(2, 5)):
            offset = 0 if sid == 1 else rng.randrange(0, 10 * minute)
            service = rng.choice(["checkout", "payments"])
            spans.append(span(tid, sid, service=service, start=start + offset))
            if service == "payments":
                matching.append(start + offset)
        if matching:
            keys[tid] = BASE_NS + min(matching)
    store.insert(SpanBatch.from_spans(spans))
    expected = sorted(keys, key=lambda t: (keys[t], t), reverse=True)

    for limit in (1, 4, 7):
        seen, cursor = [], None
        while True:
            page = store.search(TraceQuery(service="payments", limit=limit, cursor=cursor))
            seen.extend(t.trace_id for t in page.traces)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == expected


def test_key_indexes_are_built_by_merges_and_empty_values_still_found(store: ClickHouseTraceStore) -> None:
    known = store.backend.query(
        "SELECT count() AS n FROM system.settings WHERE name = 'exclude_materialize_skip_indexes_on_insert'"
    )
    if not known.column("n")[0].as_py():
        pytest.skip("this ClickHouse builds every skip index on insert")

    def index_bytes() -> dict[str, int]:
        rows = store.backend.query(
            "SELECT toString(name) AS name, data_compressed_bytes AS b FROM system.data_skipping_indices "
            "WHERE database = {d:String} AND table = 'spans'",
            {"d": store.database},
        ).to_pylist()
        return {row["name"]: int(row["b"]) for row in rows}

    tid = trace_id()
    store.insert(SpanBatch.from_spans([span(tid, 1, attributes={"k": "", "v": "x"})]))
    store.insert(SpanBatch.from_spans([span(trace_id(), 1, attributes={"v": "y"})]))

    fresh = index_bytes()
    found = store.search(TraceQuery(attributes={"k": ""}))
    store.optimize()
    merged = index_bytes()

    assert fresh["idx_attribute_keys"] == 0
    assert fresh["idx_attribute_values"] > 0
    assert [t.trace_id for t in found.traces] == [tid]
    assert merged["idx_attribute_keys"] > 0
