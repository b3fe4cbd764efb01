"""Dead letters under kill -9: a worker killed while dead-lettering, restarted, writes none twice."""

from __future__ import annotations

import random
import re
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from datatracing.pipeline.config import TopicSettings
from datatracing.wire import trace_key
from tests.pipeline.sampler.runner_support import Reader, dead_letter_sources
from tests.pipeline.sampler.worker_support import SamplerProcess, TopicReader, Workload, decisions_by_trace

pytestmark = pytest.mark.slow

_SAMPLE = re.compile(r"^(\w+)(\{[^}]*\})? ([0-9.e+-]+)$")
SENTINEL = b"test-sentinel"


def _metric(port: int, name: str) -> float:
    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines():
        match = _SAMPLE.match(line)
        if match and match.group(1) == name:
            return float(match.group(3))
    raise AssertionError(f"no metric {name}")


def _committed(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        found = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    finally:
        consumer.close()
    return sum(max(tp.offset, 0) for tp in found)


def test_sampler_worker_kill9_while_dead_lettering_no_duplicate_dead_letters(
    kafka_bootstrap: str, pipeline_topics: TopicSettings, tmp_path: Path
) -> None:
    workload = Workload.build(traces=300, seed=31)
    rng = random.Random(7)
    bad = [(trace_key(f"{rng.getrandbits(128):032x}"), b"\xff\xffnot protobuf %d" % i) for i in range(120)]
    messages = list(workload.messages)
    for record in bad:
        messages.insert(rng.randrange(len(messages) + 1), record)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "partitioner": "murmur2_random"})
    bad_at: set[tuple[int, int]] = set()
    for key, value in messages:
        is_bad = value.startswith(b"\xff\xff")
        producer.produce(
            pipeline_topics.spans,
            key=key,
            value=value,
            on_delivery=(lambda err, msg: bad_at.add((msg.partition(), msg.offset()))) if is_bad else None,
        )
        producer.poll(0)
    assert producer.flush(30) == 0
    assert len(bad_at) == len(bad)
    dead = Reader(kafka_bootstrap, pipeline_topics.dead_letter)
    decisions = TopicReader(kafka_bootstrap, pipeline_topics.decisions, pipeline_topics.partitions)
    worker = SamplerProcess(kafka_bootstrap, pipeline_topics, tmp_path)
    try:
        worker.start()
        # Kill as soon as dead letters appear: the traces around them are not decided yet, so
        # their offsets are not committed and the restart replays the dead-lettered messages.
        dead.until(lambda: len(dead.records) >= 1, 60, "first dead letters")
        worker.kill()
        worker.start()
        decisions.until(
            lambda: decisions_by_trace(decisions).keys() >= workload.expected_keep.keys(), 120, "all decided"
        )
        group = f"datatracing-sampler-{pipeline_topics.spans}"
        decisions.until(
            lambda: (
                _committed(kafka_bootstrap, group, pipeline_topics.spans, pipeline_topics.partitions)
                >= len(messages)
            ),
            60,
            "every input offset committed",
        )
        # Every dead letter is delivered before its offset is committed; a sentinel written now
        # comes after all of them on the single dead-letter partition.
        producer.produce(pipeline_topics.dead_letter, value=SENTINEL)
        assert producer.flush(30) == 0
        dead.until(lambda: any(r.value == SENTINEL for r in dead.records), 30, "the sentinel")
        letters = [r for r in dead.records if r.value != SENTINEL]
        keys = [r.key for r in letters]
        assert len(keys) == len(set(keys)), "a dead letter was written twice"
        assert sorted(dead_letter_sources(letters)) == sorted(
            (pipeline_topics.spans, p, o) for p, o in bad_at
        )
        # The restarted worker did replay dead-lettered messages, and skipped their dead letters.
        assert _metric(worker.web_port, "datatracing_sampler_dead_letters_skipped_total") > 0
    except AssertionError:
        print(worker.log_tail())
        raise
    finally:
        if worker.process and worker.process.poll() is None:
            worker.terminate()
        dead.close()
        decisions.close()
