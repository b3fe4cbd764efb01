"""JSONL export (store or query service) and import (store or Kafka) of traces."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from datatracing.model import (
    InstrumentationScope,
    Resource,
    Span,
    SpanEvent,
    SpanKind,
    Status,
    StatusCode,
    Trace,
)
from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.bench._serve import serve_in_thread
from datatracing.pipeline.cli._io import IMPORT_AUDIT, KafkaTarget, export_traces, import_jsonl
from datatracing.pipeline.config import TopicSettings
from datatracing.pipeline.query import create_app
from datatracing.pipeline.store import ClickHouseTraceStore, SpanBatch, TraceQuery, open_store
from datatracing.wire import decode_spans, trace_key

BASE_NS = (time.time_ns() // 10**9 - 1800) * 10**9


def trace(n: int) -> list[Span]:
    tid = uuid.uuid4().hex
    resource = Resource(attributes={"service.name": "shop", "tags": ["a", "b"], "pid": 7})
    root = Span(
        trace_id=tid,
        span_id=f"{1:016x}",
        name=f"GET /{n}",
        kind=SpanKind.SERVER,
        start_time_unix_nano=BASE_NS + n * 10**6,
        end_time_unix_nano=BASE_NS + n * 10**6 + 5000,
        attributes={"n": n, "ratio": 0.5, "ok": True, "nested": {"k": [1, "x", None]}},
        events=(SpanEvent(name="retry", time_unix_nano=BASE_NS + n * 10**6 + 10, attributes={"attempt": 2}),),
        status=Status(code=StatusCode.ERROR, message="boom") if n % 2 else Status(),
        resource=resource,
        scope=InstrumentationScope(name="test", version="1"),
    )
    child = root.model_copy(
        update={"span_id": f"{2:016x}", "parent_span_id": root.span_id, "name": "db", "events": ()}
    )
    return [root, child]


@pytest.fixture(scope="module")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = "chdb://" + str(tmp_path_factory.mktemp("io-chdb"))
    keeper = open_store(url)
    yield url
    keeper.close()


def _store(url: str) -> ClickHouseTraceStore:
    store = open_store(url, database="io_" + uuid.uuid4().hex[:10])
    store.migrate()
    return store


@pytest.fixture
def source(chdb_path: str) -> Iterator[tuple[ClickHouseTraceStore, list[list[Span]]]]:
    store = _store(chdb_path)
    traces = [trace(n) for n in range(5)]
    for spans in traces:
        store.insert(SpanBatch.from_spans(spans))
    yield store, traces
    store.close()


@pytest.fixture
def query_url(source: tuple[ClickHouseTraceStore, list[list[Span]]]) -> Iterator[str]:
    """The query service over the source store, served on a free port in a thread."""
    with serve_in_thread(create_app(source[0])) as url:
        yield url


def test_export_traces_by_id_from_store_writes_one_model_span_per_line(
    source: tuple[ClickHouseTraceStore, list[list[Span]]],
) -> None:
    store, traces = source
    out = io.StringIO()

    summary = export_traces(store, out, trace_ids=[traces[0][0].trace_id, "f" * 32])

    lines = out.getvalue().splitlines()
    assert (summary.traces, summary.spans, summary.missing) == (1, 2, ["f" * 32])
    assert [Span.model_validate(json.loads(line)) for line in lines] == traces[0]


def test_export_then_import_direct_round_trips_and_reimport_writes_nothing_twice(
    tmp_path: Path, chdb_path: str, source: tuple[ClickHouseTraceStore, list[list[Span]]]
) -> None:
    store, traces = source
    path = tmp_path / "traces.jsonl"
    with path.open("w") as out:
        export_traces(store, out, query=TraceQuery(limit=2))
    target = _store(chdb_path)
    try:
        first = import_jsonl(path, target, batch_spans=3)
        again = import_jsonl(path, target, batch_spans=3)

        assert (first.spans, first.batches, first.bad_lines) == (10, 4, [])
        assert again.spans == 10
        assert target.count_spans() == 10
        raw = target.backend.query(f"SELECT count() AS n FROM {target.database}.spans")
        assert raw.column("n")[0].as_py() == 10
        for spans in traces:
            assert target.get_trace(spans[0].trace_id) == Trace.from_spans(spans)
        policy = target.backend.query(f"SELECT DISTINCT toString(policy) AS p FROM {target.database}.spans")
        assert policy.column("p").to_pylist() == [IMPORT_AUDIT.policy]
    finally:
        target.close()


def test_export_traces_query_via_http_pages_newest_first(
    source: tuple[ClickHouseTraceStore, list[list[Span]]], query_url: str
) -> None:
    _, traces = source
    out = io.StringIO()

    summary = export_traces(query_url, out, query=TraceQuery(limit=2, start_ns=BASE_NS - 10**9), max_traces=4)

    exported = [Span.model_validate_json(line) for line in out.getvalue().splitlines()]
    assert (summary.traces, summary.spans) == (4, 8)
    newest_first = [spans[0].trace_id for spans in reversed(traces)][:4]
    assert [s.trace_id for s in exported[::2]] == newest_first
    assert exported[:2] == traces[4]


def test_export_traces_http_unknown_or_bad_id_reported_missing(query_url: str) -> None:
    out = io.StringIO()

    summary = export_traces(query_url, out, trace_ids=["0" * 31 + "1", "not-an-id"])

    assert summary.missing == ["0" * 31 + "1", "not-an-id"]
    assert out.getvalue() == ""


def test_import_jsonl_bad_lines_skipped_and_reported(chdb_path: str) -> None:
    good = trace(1)
    lines = [good[0].model_dump_json(), "{not json", '{"trace_id": "xyz"}', "", good[1].model_dump_json()]
    target = _store(chdb_path)
    try:
        summary = import_jsonl(io.StringIO("\n".join(lines) + "\n"), target)

        assert summary.spans == 2
        assert [number for number, _ in summary.bad_lines] == [2, 3]
        assert target.get_trace(good[0].trace_id) == Trace.from_spans(good)
    finally:
        target.close()


def test_import_jsonl_via_kafka_one_message_per_trace_keyed_by_trace_id(
    kafka_bootstrap: str, pipeline_topics: TopicSettings
) -> None:
    traces = [trace(n) for n in range(3)]
    text = "".join(span.model_dump_json() + "\n" for spans in traces for span in spans)

    summary = import_jsonl(io.StringIO(text), KafkaTarget(kafka_bootstrap, pipeline_topics.sampled))

    assert summary.spans == 6
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": uuid.uuid4().hex})
    consumer.assign(
        [
            TopicPartition(pipeline_topics.sampled, p, OFFSET_BEGINNING)
            for p in range(pipeline_topics.partitions)
        ]
    )
    records = []
    deadline = time.monotonic() + 30
    while len(records) < 3 and time.monotonic() < deadline:
        record = consumer.poll(0.5)
        if record is not None and record.error() is None:
            records.append(record)
    consumer.close()
    by_key = {r.key(): decode_spans(r.value()) for r in records}
    assert by_key == {trace_key(spans[0].trace_id): spans for spans in traces}
    assert all(SamplingAudit.from_headers(r.headers()) == IMPORT_AUDIT for r in records)
