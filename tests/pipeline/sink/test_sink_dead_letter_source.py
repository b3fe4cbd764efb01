"""Sink dead letters name the original spans-topic message and are keyed so replays dedupe."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from datatracing.pipeline.broker import (
    HEADER_STAGE,
    make_producer,
    parse_dead_letter_key,
    read_source,
    source_headers,
)
from datatracing.pipeline.config import SinkSettings, TopicSettings
from datatracing.pipeline.sink import SinkMessage, SinkWriter
from datatracing.pipeline.store import ClickHouseTraceStore, open_store
from tests.pipeline.sink.sink_support import AUDIT, SPANS_PER_MESSAGE, consume_all, trace_message

FAST_RETRY = SinkSettings(retry_initial_s=0.05, retry_max_s=0.2)
#: 2300-01-01 in Unix nanoseconds: past what the store's DateTime64(9) columns hold.
PAST_2262_NS = 10_413_792_000 * 10**9


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseTraceStore]:
    opened = open_store("chdb://" + str(tmp_path_factory.mktemp("sink-dl-chdb")), database="sink_dl")
    opened.migrate()
    yield opened
    opened.close()


def _far_future(n: int) -> bytes:
    request = ExportTraceServiceRequest()
    request.ParseFromString(trace_message(n))
    for span in request.resource_spans[0].scope_spans[0].spans:
        span.start_time_unix_nano = PAST_2262_NS
        span.end_time_unix_nano = PAST_2262_NS + 1000
    return request.SerializeToString()


def test_sink_dead_letter_names_original_source_and_replay_keeps_key(
    kafka_bootstrap: str, pipeline_topics: TopicSettings, store: ClickHouseTraceStore
) -> None:
    writer = SinkWriter(store, make_producer(kafka_bootstrap), pipeline_topics.dead_letter, FAST_RETRY)
    payloads = [trace_message(1), _far_future(2), b"\xff\xff not protobuf", trace_message(3)]
    # As the sampler forwards them: each record names its spans-topic message.
    batch = [
        SinkMessage(
            pipeline_topics.sampled,
            0,
            i,
            payload,
            [*AUDIT.to_headers(), *source_headers(pipeline_topics.spans, 2, 100 + i)],
        )
        for i, payload in enumerate(payloads)
    ]

    assert asyncio.run(writer.write(batch)) == 2 * SPANS_PER_MESSAGE
    asyncio.run(writer.write(batch))  # a replay after a crash before the offset commit

    dead = consume_all(kafka_bootstrap, pipeline_topics.dead_letter, 4)
    sources = sorted(read_source(r.headers()) for r in dead)  # type: ignore[attr-defined]
    assert sources == sorted([(pipeline_topics.spans, 2, 101)] * 2 + [(pipeline_topics.spans, 2, 102)] * 2)
    assert all(dict(r.headers())[HEADER_STAGE] == b"sink" for r in dead)  # type: ignore[attr-defined]
    # The replay wrote the same keys: compaction and readers keep one record per source message.
    keys = [r.key() for r in dead]  # type: ignore[attr-defined]
    assert len(set(keys)) == 2
    refs = {parse_dead_letter_key(k) for k in keys}
    assert {(r.stage, r.topic, r.partition, r.offset) for r in refs if r} == {
        ("sink", pipeline_topics.spans, 2, 101),
        ("sink", pipeline_topics.spans, 2, 102),
    }
