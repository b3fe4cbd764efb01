"""`SinkWriter` against the real broker and a real chdb store (in this process, no Faust)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from datatracing.pipeline.broker import (
    HEADER_ERROR,
    HEADER_SOURCE_OFFSET,
    HEADER_SOURCE_TOPIC,
    make_producer,
)
from datatracing.pipeline.config import SinkSettings, TopicSettings
from datatracing.pipeline.sink import FaultInjectingStore, SinkMessage, SinkWriter, batch_token
from datatracing.pipeline.store import ClickHouseTraceStore, SpanBatch, open_store
from tests.pipeline.sink.sink_support import AUDIT, SPANS_PER_MESSAGE, consume_all, trace_message

FAST_RETRY = SinkSettings(retry_initial_s=0.05, retry_max_s=0.2)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseTraceStore]:
    opened = open_store("chdb://" + str(tmp_path_factory.mktemp("sink-chdb")), database="sink_writer")
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture
def fresh_store(store: ClickHouseTraceStore) -> ClickHouseTraceStore:
    store.backend.execute(f"TRUNCATE TABLE {store.database}.spans")
    return store


def messages(topic: str, payloads: list[bytes]) -> list[SinkMessage]:
    return [
        SinkMessage(topic, 0, offset, payload, AUDIT.to_headers()) for offset, payload in enumerate(payloads)
    ]


def _invalid_span_message() -> bytes:
    request = ExportTraceServiceRequest()
    request.ParseFromString(trace_message(900))
    request.resource_spans[0].scope_spans[0].spans[1].span_id = b"\x00" * 8
    return request.SerializeToString()


def _poisoned(batch: SpanBatch) -> str | None:
    return "span named poison" if "poison" in batch.table.column("name").to_pylist() else None


def test_sink_writer_bad_messages_dead_lettered_with_reason_rest_stored(
    kafka_bootstrap: str, pipeline_topics: TopicSettings, fresh_store: ClickHouseTraceStore
) -> None:
    faulty = FaultInjectingStore(fresh_store)
    faulty.reject_when(_poisoned)
    writer = SinkWriter(faulty, make_producer(kafka_bootstrap), pipeline_topics.dead_letter, FAST_RETRY)
    payloads = [trace_message(n) for n in range(8)]
    payloads[2] = b"\xff\xff not protobuf"
    payloads[4] = trace_message(4, name="poison")
    payloads[6] = _invalid_span_message()
    batch = messages(pipeline_topics.sampled, payloads)

    written = asyncio.run(writer.write(batch))

    assert written == 5 * SPANS_PER_MESSAGE
    assert fresh_store.count_spans() == 5 * SPANS_PER_MESSAGE
    dead = consume_all(kafka_bootstrap, pipeline_topics.dead_letter, 3)
    by_offset = {int(dict(r.headers())[HEADER_SOURCE_OFFSET]): r for r in dead}  # type: ignore[attr-defined]
    assert sorted(by_offset) == [2, 4, 6]
    reasons = {offset: dict(r.headers())[HEADER_ERROR].decode() for offset, r in by_offset.items()}  # type: ignore[attr-defined]
    assert reasons[2].startswith("undecodable message: not an OTLP")
    assert reasons[4].startswith("store rejected rows: injected rejection: span named poison")
    assert "span_id is all zero" in reasons[6]
    assert all(dict(r.headers())[HEADER_SOURCE_TOPIC].decode() == pipeline_topics.sampled for r in dead)  # type: ignore[attr-defined]
    assert by_offset[2].value() == payloads[2]  # type: ignore[attr-defined]
    assert writer.stats.messages_dead_lettered == 3


def test_sink_writer_store_outage_retried_until_written(
    kafka_bootstrap: str, pipeline_topics: TopicSettings, fresh_store: ClickHouseTraceStore
) -> None:
    faulty = FaultInjectingStore(fresh_store)
    faulty.fail_for(0.5)
    writer = SinkWriter(faulty, make_producer(kafka_bootstrap), pipeline_topics.dead_letter, FAST_RETRY)

    written = asyncio.run(
        writer.write(messages(pipeline_topics.sampled, [trace_message(n) for n in range(4)]))
    )

    assert written == 4 * SPANS_PER_MESSAGE
    assert fresh_store.count_spans() == 4 * SPANS_PER_MESSAGE
    assert writer.stats.store_retries >= 2
    assert faulty.counters.decode_calls == 1  # decoded once, retried inserts reuse it


def test_sink_writer_replayed_batch_same_token_writes_once(
    kafka_bootstrap: str, pipeline_topics: TopicSettings, fresh_store: ClickHouseTraceStore
) -> None:
    writer = SinkWriter(fresh_store, make_producer(kafka_bootstrap), pipeline_topics.dead_letter, FAST_RETRY)
    batch = messages(pipeline_topics.sampled, [trace_message(n) for n in range(3)])

    asyncio.run(writer.write(batch))
    asyncio.run(writer.write(list(reversed(batch))))  # same records, other order: same token

    raw = fresh_store.backend.query(f"SELECT count() AS n FROM {fresh_store.database}.spans")
    assert raw.column("n")[0].as_py() == 3 * SPANS_PER_MESSAGE
    assert batch_token(batch) == batch_token(list(reversed(batch)))


def test_fault_injecting_store_status_file_tracks_counters(
    tmp_path: Path, fresh_store: ClickHouseTraceStore
) -> None:
    status = tmp_path / "status.json"
    faulty = FaultInjectingStore(fresh_store, status_file=status)
    faulty.fail_from_next_insert(60.0)
    batch, _ = faulty.batch_from_otlp([(trace_message(1), AUDIT)])

    with pytest.raises(Exception, match="injected outage"):
        faulty.insert(batch)

    assert '"unavailable_errors": 1' in status.read_text()
    assert '"messages_decoded": 1' in status.read_text()
