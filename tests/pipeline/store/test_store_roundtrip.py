from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datatracing.model import Trace
from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.store import ClickHouseTraceStore, SpanBatch, TraceQuery
from datatracing.wire import encode_spans
from tests.pipeline.store.store_data import model_spans, rich_trace, span, trace_id


def test_get_trace_rich_trace_equals_inserted_spans(store: ClickHouseTraceStore) -> None:
    tid = trace_id()
    spans = rich_trace(tid)

    assert store.insert(SpanBatch.from_spans(spans)) == 3

    assert store.get_trace(tid) == Trace.from_spans(spans)


def test_get_trace_unknown_or_malformed_id_returns_none(store: ClickHouseTraceStore) -> None:
    store.insert(SpanBatch.from_spans(rich_trace(trace_id())))

    assert store.get_trace(trace_id()) is None
    assert store.get_trace("not-a-trace-id") is None
    assert store.get_trace("'; DROP TABLE spans; --") is None


def test_get_trace_uppercase_id_finds_trace(store: ClickHouseTraceStore) -> None:
    tid = "abcdef" + trace_id()[6:]
    store.insert(SpanBatch.from_spans(rich_trace(tid)))

    trace = store.get_trace(tid.upper())

    assert trace is not None
    assert trace.trace_id == tid


def test_get_trace_spans_in_several_batches_returns_whole_trace(store: ClickHouseTraceStore) -> None:
    tid = trace_id()
    first, second, third = rich_trace(tid)
    store.insert(SpanBatch.from_spans([second]))
    store.insert(SpanBatch.from_spans([third, first]))

    trace = store.get_trace(tid)

    assert trace == Trace.from_spans([first, second, third])
    [summary] = store.search(TraceQuery()).traces
    assert (summary.span_count, summary.root_service, summary.services) == (
        3,
        "frontend",
        ["db", "frontend", "payments"],
    )
    assert (summary.start_ns, summary.end_ns) == (first.start_time_unix_nano, first.end_time_unix_nano)


def test_insert_retry_with_same_token_writes_rows_once(store: ClickHouseTraceStore) -> None:
    tid = trace_id()
    batch = SpanBatch.from_spans(rich_trace(tid))

    store.insert(batch, dedup_token="sampled-spans/0/100-199")
    store.insert(batch, dedup_token="sampled-spans/0/100-199")

    assert store.count_spans() == 3
    assert (
        store.backend.query("SELECT count() AS n FROM " + store.database + ".spans").column("n")[0].as_py()
        == 3
    )


def test_insert_replay_with_other_token_returns_no_duplicates(store: ClickHouseTraceStore) -> None:
    tid = trace_id()
    spans = rich_trace(tid)
    store.insert(SpanBatch.from_spans(spans), dedup_token="a")
    store.insert(SpanBatch.from_spans(spans[:2]), dedup_token="b")  # replayed, batched differently

    trace = store.get_trace(tid)

    assert trace == Trace.from_spans(spans)
    assert store.count_spans() == 3
    [summary] = store.search(TraceQuery()).traces
    assert summary.span_count == 3


def test_insert_empty_batch_writes_nothing(store: ClickHouseTraceStore) -> None:
    assert store.insert(SpanBatch.from_spans([])) == 0
    assert store.count_spans() == 0


def test_insert_audit_columns_hold_sampling_decision(store: ClickHouseTraceStore) -> None:
    tid = trace_id()
    audit = SamplingAudit(policy="errors", policy_version="v7", sample_rate=10.0, tenant="acme")
    store.insert(SpanBatch.from_spans([span(tid, 1)], audit))

    table = store.backend.query(
        f"SELECT toString(policy) AS p, toString(policy_version) AS v, sample_rate, toString(tenant) AS t "
        f"FROM {store.database}.spans"
    )

    assert table.to_pylist() == [{"p": "errors", "v": "v7", "sample_rate": 10.0, "t": "acme"}]


def test_insert_promoted_attribute_columns_filled_by_server(store: ClickHouseTraceStore) -> None:
    tid = trace_id()
    store.insert(SpanBatch.from_spans(rich_trace(tid)))

    table = store.backend.query(
        f"SELECT toString(http_method) AS m, toString(http_status_code) AS c, toString(db_system) AS d "
        f"FROM {store.database}.spans ORDER BY timestamp"
    )

    assert table.to_pylist()[0] == {"m": "GET", "c": "200", "d": ""}
    assert table.to_pylist()[2]["d"] == "postgresql"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_get_trace_random_spans_round_trip_exactly(store: ClickHouseTraceStore, data: st.DataObject) -> None:
    tid = trace_id()
    spans = data.draw(model_spans(tid))

    store.insert(SpanBatch.from_spans(spans))

    assert store.get_trace(tid) == Trace.from_spans(spans)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_get_trace_engine_decoded_random_spans_round_trip_exactly(
    store: ClickHouseTraceStore, data: st.DataObject
) -> None:
    tid = trace_id()
    spans = data.draw(model_spans(tid))
    batch, rejects = store.batch_from_otlp([(encode_spans(spans), SamplingAudit())])

    store.insert(batch)

    assert rejects == []
    assert store.get_trace(tid) == Trace.from_spans(spans)


def test_get_trace_engine_decoded_rich_trace_equals_inserted_spans(store: ClickHouseTraceStore) -> None:
    tid = trace_id()
    spans = rich_trace(tid)
    batch, _ = store.batch_from_otlp(
        [(encode_spans(spans[:1]), SamplingAudit()), (encode_spans(spans[1:]), SamplingAudit())]
    )

    store.insert(batch)

    assert store.get_trace(tid) == Trace.from_spans(spans)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_get_trace_rows_without_extras_read_the_server_default(
    store: ClickHouseTraceStore, data: st.DataObject
) -> None:
    """A writer that leaves `extras` out (or rows from before migration 0005) gets it from the
    column's DEFAULT, and reads back the same trace as the sink's own `extras`."""
    tid = trace_id()
    spans = data.draw(model_spans(tid))
    batch = SpanBatch.from_spans(spans)
    table = batch.table

    store.insert(SpanBatch(table.drop_columns(["extras"])))
    server = store.backend.query(
        f"SELECT span_id, extras FROM {store.database}.spans WHERE trace_id = unhex({{t:String}})",
        {"t": tid},
    ).to_pylist()

    assert store.get_trace(tid) == Trace.from_spans(spans)
    ours = dict(zip(table.column("span_id").to_pylist(), table.column("extras").to_pylist(), strict=True))
    for row in server:
        assert (row["extras"] == "") == (ours[row["span_id"]] == "")
        if ours[row["span_id"]]:
            assert json.loads(row["extras"]) == json.loads(ours[row["span_id"]])
