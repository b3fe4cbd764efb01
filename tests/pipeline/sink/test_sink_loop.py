"""`SinkConsumerLoop` against the real broker, with writers that record or fail (no store)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from typing import cast

from datatracing.pipeline.broker import consumer_config, make_producer
from datatracing.pipeline.config import SinkSettings, TopicSettings
from datatracing.pipeline.sink import SinkConsumerLoop, SinkMessage, SinkWriter
from datatracing.pipeline.store import TraceStore
from tests.pipeline.sink.sink_support import committed_total, produce, trace_message, wait_until

SETTINGS = SinkSettings(batch_max_messages=7, batch_max_wait_s=0.2)


class RecordingWriter(SinkWriter):
    """Records every batch instead of storing it; `fail` makes `write` raise (a bug, not an outage)."""

    def __init__(self, bootstrap: str, topics: TopicSettings, *, fail: bool = False) -> None:
        super().__init__(cast("TraceStore", None), make_producer(bootstrap), topics.dead_letter, SETTINGS)
        self.fail = fail
        self.batches: list[list[SinkMessage]] = []

    async def write(self, messages: Sequence[SinkMessage]) -> int:
        if self.fail:
            raise RuntimeError("writer bug")
        self.batches.append(list(messages))
        return len(messages)


def _loop(
    bootstrap: str,
    topics: TopicSettings,
    writer: SinkWriter,
    group: str,
    on_crash: Callable[[BaseException], None] | None = None,
    settings: SinkSettings = SETTINGS,
) -> SinkConsumerLoop:
    config = consumer_config(bootstrap, group, 3000)
    return SinkConsumerLoop(writer, topics.sampled, config, settings, on_crash=on_crash)


def _committed(bootstrap: str, group: str, topics: TopicSettings) -> int:
    return committed_total(bootstrap, group, topics.sampled, topics.partitions)


def test_sink_loop_every_message_written_in_bounded_batches_then_committed(
    kafka_bootstrap: str, pipeline_topics: TopicSettings
) -> None:
    total = 40
    produce(kafka_bootstrap, pipeline_topics.sampled, [trace_message(n) for n in range(total)])
    group = f"sink-loop-{uuid.uuid4().hex[:8]}"
    writer = RecordingWriter(kafka_bootstrap, pipeline_topics)
    loop = _loop(kafka_bootstrap, pipeline_topics, writer, group)
    loop.start()
    try:
        wait_until(
            lambda: (
                committed_total(kafka_bootstrap, group, pipeline_topics.sampled, pipeline_topics.partitions)
                == total
            ),
            90,
            "every offset committed",
        )
    finally:
        loop.stop()

    seen = [(m.partition, m.offset) for batch in writer.batches for m in batch]
    assert len(seen) == total
    assert len(set(seen)) == total
    assert all(len(batch) <= SETTINGS.batch_max_messages for batch in writer.batches)


def test_sink_loop_writer_raises_nothing_committed_host_told(
    kafka_bootstrap: str, pipeline_topics: TopicSettings
) -> None:
    produce(kafka_bootstrap, pipeline_topics.sampled, [trace_message(n) for n in range(5)])
    group = f"sink-loop-{uuid.uuid4().hex[:8]}"
    crashed = threading.Event()
    errors: list[BaseException] = []

    def on_crash(exc: BaseException) -> None:
        errors.append(exc)
        crashed.set()

    writer = RecordingWriter(kafka_bootstrap, pipeline_topics, fail=True)
    loop = _loop(kafka_bootstrap, pipeline_topics, writer, group, on_crash=on_crash)
    loop.start()
    try:
        assert crashed.wait(90)
    finally:
        loop.stop()

    assert isinstance(errors[0], RuntimeError)
    assert committed_total(kafka_bootstrap, group, pipeline_topics.sampled, pipeline_topics.partitions) == 0


def test_sink_loop_batch_bytes_bound_holds_within_one_message(
    kafka_bootstrap: str, pipeline_topics: TopicSettings
) -> None:
    payloads = [trace_message(n) for n in range(60)]
    largest = max(len(p) for p in payloads)
    settings = SinkSettings(batch_max_messages=1_000, batch_max_bytes=4 * largest, batch_max_wait_s=0.5)
    produce(kafka_bootstrap, pipeline_topics.sampled, payloads)
    group = f"sink-loop-{uuid.uuid4().hex[:8]}"
    writer = RecordingWriter(kafka_bootstrap, pipeline_topics)
    loop = _loop(kafka_bootstrap, pipeline_topics, writer, group, settings=settings)
    loop.start()
    try:
        wait_until(lambda: _committed(kafka_bootstrap, group, pipeline_topics) == 60, 90, "every commit")
    finally:
        loop.stop()

    sizes = [sum(len(m.value) for m in batch) for batch in writer.batches]
    assert sum(len(batch) for batch in writer.batches) == 60
    assert max(sizes) < settings.batch_max_bytes + largest


def test_sink_loop_revoked_partitions_batch_written_and_committed_before_they_go(
    kafka_bootstrap: str, pipeline_topics: TopicSettings
) -> None:
    # A batch that would wait a minute: only the revocation can write it within the deadline.
    settings = SinkSettings(batch_max_messages=1_000, batch_max_wait_s=60.0)
    produce(kafka_bootstrap, pipeline_topics.sampled, [trace_message(n) for n in range(20)])
    group = f"sink-loop-{uuid.uuid4().hex[:8]}"
    first_writer = RecordingWriter(kafka_bootstrap, pipeline_topics)
    second_writer = RecordingWriter(kafka_bootstrap, pipeline_topics)
    first = _loop(kafka_bootstrap, pipeline_topics, first_writer, group, settings=settings)
    second = _loop(kafka_bootstrap, pipeline_topics, second_writer, group, settings=settings)
    first.start()
    try:
        wait_until(lambda: len(first._pending) == 20, 60, "the first member holding every message")
        second.start()
        wait_until(lambda: _committed(kafka_bootstrap, group, pipeline_topics) == 20, 40, "the revoked batch")
    finally:
        second.stop(timeout_s=5)
        first.stop(timeout_s=5)

    assert [len(batch) for batch in first_writer.batches] == [20]
    assert second_writer.batches == []
