"""No single message stops the sampler: oversized traces, hostile messages and handler failures,
against the real broker with the consumer loop running as in the worker."""

from __future__ import annotations

import pytest

from datatracing.pipeline.broker import DEAD_LETTER_PREFIX_BYTES
from datatracing.pipeline.config import TopicSettings
from datatracing.pipeline.sampler import decode_decision
from datatracing.wire import decode_spans, encode_spans
from tests.pipeline.sampler.runner_support import (
    InProcessSampler,
    Reader,
    dead_letter_keys,
    dead_letter_sources,
    produce_big,
    settings_for,
)
from tests.pipeline.sampler.sampler_data import span, trace_id, trace_spans

pytestmark = pytest.mark.slow

MB = 1_000_000


def _ordinary(count: int, first: int = 1) -> list[tuple[str, bytes]]:
    """`count` traces of two messages of 2 spans each, interleaved like concurrent traffic."""
    firsts = [(trace_id(n), encode_spans(trace_spans(n, 2))) for n in range(first, first + count)]
    seconds = [
        (trace_id(n), encode_spans(trace_spans(n, 2, root=False, first_id=3)))
        for n in range(first, first + count)
    ]
    return [m for pair in zip(firsts, seconds, strict=True) for m in pair]


def _span_ids_by_trace(records: list[object]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in records:
        for s in decode_spans(r.value):  # type: ignore[attr-defined]
            out.setdefault(s.trace_id, []).append(s.span_id)
    return out


def _decided(reader: Reader) -> set[str]:
    return {decode_decision(r.value).trace_id for r in reader.poll()}


def test_runner_big_trace_and_5mb_message_among_traffic_never_crashes(
    kafka_bootstrap: str, pipeline_topics: TopicSettings
) -> None:
    big_trace = trace_id(900)
    big = [span(900, 1, attributes={"blob": "a" * MB}), span(900, 2, 1)]
    huge = encode_spans([span(901, 1, attributes={"blob": "b" * (5 * MB)})])
    traffic = _ordinary(20)
    messages = [
        *traffic[:10],
        (big_trace, encode_spans(big)),
        *traffic[10:30],
        (trace_id(901), huge),
        *traffic[30:],
    ]
    where = produce_big(kafka_bootstrap, pipeline_topics.spans, messages)
    huge_at = where[messages.index((trace_id(901), huge))]
    decisions = Reader(kafka_bootstrap, pipeline_topics.decisions)
    sampled = Reader(kafka_bootstrap, pipeline_topics.sampled)
    dead = Reader(kafka_bootstrap, pipeline_topics.dead_letter)
    expected = {trace_id(n) for n in range(1, 21)} | {big_trace}
    try:
        with InProcessSampler(settings_for(kafka_bootstrap, pipeline_topics)) as sampler:
            decisions.until(lambda: _decided(decisions) >= expected, 60, "every trace decided")
            dead.until(lambda: len(dead.records) >= 1, 30, "the dead letter of the 5 MB message")
            sampled.until(lambda: set(_span_ids_by_trace(sampled.records)) >= expected, 30, "kept spans")
            assert sampler.alive, sampler.crashes
            assert sampler.runner.quarantined_messages == 0
        # Every ordinary trace exactly: each span once; the 1 MB trace whole, attribute intact.
        got = _span_ids_by_trace(sampled.poll())
        for n in range(1, 21):
            assert sorted(got[trace_id(n)]) == [f"{i:016x}" for i in range(1, 5)]
        assert sorted(got[big_trace]) == [f"{i:016x}" for i in (1, 2)]
        blob = [s for r in sampled.records for s in decode_spans(r.value) if s.trace_id == big_trace]
        assert any(s.attributes.get("blob") == "a" * MB for s in blob)
        # Every kept record names the spans-topic message it came from.
        assert all(r.headers["dt-source-topic"] == pipeline_topics.spans.encode() for r in sampled.records)
        # The 5 MB message: one dead letter, by reference (a bounded prefix), naming its offset.
        assert dead_letter_sources(dead.poll()) == [(pipeline_topics.spans, *huge_at)]
        record = dead.records[0]
        assert len(record.value) == DEAD_LETTER_PREFIX_BYTES
        assert record.value == huge[:DEAD_LETTER_PREFIX_BYTES]
        assert int(record.headers["dt-payload-bytes"]) == len(huge)
        assert record.headers["dt-error"].startswith(b"oversized")
        dead_letter_keys(dead.records)
    finally:
        for reader in (decisions, sampled, dead):
            reader.close()


def test_runner_message_over_small_contract_dead_lettered_by_reference(
    kafka_bootstrap: str, pipeline_topics: TopicSettings
) -> None:
    """With a 256 KiB contract the 1 MB-attribute trace is over the limit: dead-lettered, not sent."""
    big = encode_spans([span(900, 1, attributes={"blob": "a" * MB})])
    messages = [*_ordinary(3), (trace_id(900), big)]
    where = produce_big(kafka_bootstrap, pipeline_topics.spans, messages)
    settings = settings_for(kafka_bootstrap, pipeline_topics, max_message_bytes=256 * 1024)
    decisions = Reader(kafka_bootstrap, pipeline_topics.decisions)
    dead = Reader(kafka_bootstrap, pipeline_topics.dead_letter)
    try:
        with InProcessSampler(settings) as sampler:
            want = {trace_id(n) for n in range(1, 4)}
            decisions.until(lambda: _decided(decisions) >= want, 60, "ordinary traces decided")
            dead.until(lambda: len(dead.records) >= 1, 30, "the dead letter")
            assert sampler.alive, sampler.crashes
        assert trace_id(900) not in _decided(decisions)
        assert dead_letter_sources(dead.poll()) == [(pipeline_topics.spans, *where[-1])]
        assert len(dead.records[0].value) == DEAD_LETTER_PREFIX_BYTES
    finally:
        decisions.close()
        dead.close()


def test_runner_handler_raises_on_one_message_quarantined_once_rest_decided(
    kafka_bootstrap: str, pipeline_topics: TopicSettings
) -> None:
    messages = _ordinary(15)
    where = produce_big(kafka_bootstrap, pipeline_topics.spans, messages)
    poison = where[7]

    def hook(partition: int, offset: int, value: bytes) -> None:
        if (partition, offset) == poison:
            raise RuntimeError("boom on the poison message")

    poisoned_trace = messages[7][0]
    decisions = Reader(kafka_bootstrap, pipeline_topics.decisions)
    dead = Reader(kafka_bootstrap, pipeline_topics.dead_letter)
    try:
        with InProcessSampler(settings_for(kafka_bootstrap, pipeline_topics), fault_hook=hook) as sampler:
            want = {trace_id(n) for n in range(1, 16)}
            decisions.until(lambda: _decided(decisions) >= want, 60, "every trace decided")
            dead.until(lambda: len(dead.records) >= 1, 30, "the quarantined message")
            assert sampler.alive, sampler.crashes
            assert sampler.runner.quarantined_messages == 1
        assert dead_letter_sources(dead.poll()) == [(pipeline_topics.spans, *poison)]
        record = dead.records[0]
        assert record.headers["dt-error-class"] == b"RuntimeError"
        assert b"boom on the poison message" in record.headers["dt-error"]
        assert record.value == messages[7][1]
        # The poisoned message's trace is still decided from its other message.
        assert poisoned_trace in _decided(decisions)
    finally:
        decisions.close()
        dead.close()


class WorkerCrash(BaseException):
    """Not an `Exception`: escapes the per-message quarantine and kills the loop, like a fatal bug."""


def test_runner_message_crashing_worker_twice_skipped_on_next_start(
    kafka_bootstrap: str, pipeline_topics: TopicSettings
) -> None:
    messages = _ordinary(10)
    where = produce_big(kafka_bootstrap, pipeline_topics.spans, messages)
    crasher = where[5]

    def hook(partition: int, offset: int, value: bytes) -> None:
        if (partition, offset) == crasher:
            raise WorkerCrash("fatal on this message")

    settings = settings_for(kafka_bootstrap, pipeline_topics)
    group = f"crash-{pipeline_topics.spans}"
    decisions = Reader(kafka_bootstrap, pipeline_topics.decisions)
    dead = Reader(kafka_bootstrap, pipeline_topics.dead_letter)
    try:
        for _ in range(2):
            with InProcessSampler(settings, fault_hook=hook, group=group) as sampler:
                dead.until(lambda s=sampler: bool(s.crashes), 60, "the crash")  # type: ignore[misc]
                assert isinstance(sampler.crashes[0], WorkerCrash)
        # Third start: the message that crashed the worker twice is passed over, the rest decided.
        with InProcessSampler(settings, fault_hook=hook, group=group) as sampler:
            want = {trace_id(n) for n in range(1, 11)}
            decisions.until(lambda: _decided(decisions) >= want, 60, "every trace decided")
            dead.until(lambda: len(dead.records) >= 1, 30, "the crasher's dead letter")
            assert sampler.alive, sampler.crashes
            assert sampler.runner.crash_quarantined == 1
        assert dead_letter_sources(dead.poll()) == [(pipeline_topics.spans, *crasher)]
        assert dead.records[0].headers["dt-error-class"] == b"WorkerCrash"
        assert dead.records[0].value == messages[5][1]
    finally:
        decisions.close()
        dead.close()
