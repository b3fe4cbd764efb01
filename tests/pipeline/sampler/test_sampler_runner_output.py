"""The runner's output path against the real broker: cutting kept payloads to the size contract,
and dead letters that cannot be produced at first."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.broker import KafkaHeaders, kafka_producer, read_source
from datatracing.pipeline.config import Settings, TopicSettings
from datatracing.pipeline.sampler._runner import SamplerRunner
from datatracing.pipeline.sampler.policies import default_policy
from datatracing.wire import decode_spans, encode_spans, trace_key
from tests.pipeline.sampler.runner_support import Reader, settings_for
from tests.pipeline.sampler.sampler_data import span, trace_id

KIB = 1024


def _runner(settings: Settings) -> SamplerRunner:
    return SamplerRunner(settings, default_policy(), settings.sampler, kafka_producer(settings.kafka))


def test_runner_kept_payload_over_contract_forwarded_as_several_messages_same_key(
    kafka_bootstrap: str, pipeline_topics: TopicSettings
) -> None:
    settings = settings_for(kafka_bootstrap, pipeline_topics, max_message_bytes=64 * KIB)
    runner = _runner(settings)
    spans = [span(5, i, None if i == 1 else 1, attributes={"pad": "p" * 20_000}) for i in range(1, 11)]
    payload = encode_spans(spans)
    assert len(payload) > 3 * 64 * KIB
    runner._forward(3, trace_id(5), SamplingAudit(policy="all"), [payload], [7])
    assert runner.deliveries.flush(30)
    sampled = Reader(kafka_bootstrap, pipeline_topics.sampled)
    try:
        sampled.until(lambda: sum(len(decode_spans(r.value)) for r in sampled.records) >= 10, 30, "all spans")
        records = sampled.records
    finally:
        sampled.close()
    assert len(records) >= 4
    assert all(len(r.value) <= 64 * KIB for r in records)
    assert {r.key for r in records} == {trace_key(trace_id(5))}
    assert len({r.partition for r in records}) == 1
    assert [s.span_id for r in records for s in decode_spans(r.value)] == [s.span_id for s in spans]
    assert {read_source(list(r.headers.items())) for r in records} == {(pipeline_topics.spans, 3, 7)}
    assert runner.split_payloads == 1


class _RefusingFirst(SamplerRunner):
    """Refuses the first `refusals` dead-letter produces, as a broker in trouble would."""

    refusals = 2

    def _produce(self, topic: str, key: bytes | None, value: bytes, headers: KafkaHeaders) -> None:
        if topic == self.topics.dead_letter and self.refusals:
            self.refusals -= 1
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        super()._produce(topic, key, value, headers)


def test_runner_dead_letter_refused_retried_with_backoff_then_written_once(
    kafka_bootstrap: str, pipeline_topics: TopicSettings
) -> None:
    settings = settings_for(kafka_bootstrap, pipeline_topics)
    pauses: list[float] = []
    runner = _RefusingFirst(
        settings, default_policy(), settings.sampler, kafka_producer(settings.kafka), sleep=pauses.append
    )
    runner.dead_letter(1, 42, "0", b"bad bytes", "undecodable: test")
    runner.dead_letter(1, 42, "0", b"bad bytes", "undecodable: test")  # a retry of the same message
    assert runner.deliveries.flush(30)
    assert pauses == [0.1, 0.2]
    assert (runner.dead_letter_failures, runner.dead_lettered, runner.dead_letters_skipped) == (2, 1, 1)
    dead = Reader(kafka_bootstrap, pipeline_topics.dead_letter)
    try:
        dead.until(lambda: len(dead.records) >= 1, 30, "the dead letter")
        assert [(r.value, read_source(list(r.headers.items()))) for r in dead.records] == [
            (b"bad bytes", (pipeline_topics.spans, 1, 42))
        ]
    finally:
        dead.close()


@pytest.mark.parametrize("size", [10, 64 * KIB])
def test_runner_dead_letter_payload_within_contract_kept_whole(
    kafka_bootstrap: str, pipeline_topics: TopicSettings, size: int
) -> None:
    settings = settings_for(kafka_bootstrap, pipeline_topics, max_message_bytes=64 * KIB)
    runner = _runner(settings)
    runner.dead_letter(0, 1, "0", b"x" * size, "test")
    assert runner.deliveries.flush(30)
    dead = Reader(kafka_bootstrap, pipeline_topics.dead_letter)
    try:
        dead.until(lambda: len(dead.records) >= 1, 30, "the dead letter")
        assert dead.records[0].value == b"x" * size
        assert "dt-payload-truncated" not in dead.records[0].headers
    finally:
        dead.close()
