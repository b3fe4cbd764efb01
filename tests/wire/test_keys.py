from __future__ import annotations

from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, TopicPartition
from hypothesis import given

from datatracing.pipeline.broker import make_producer
from datatracing.wire import murmur2, partition_for, trace_key
from tests.strategies import hex32


@pytest.mark.parametrize(
    ("data", "expected"),
    # Reference values from Apache Kafka's own UtilsTest.
    [
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ],
)
def test_murmur2_kafka_reference_values_match(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected


@given(hex32)
def test_trace_key_is_32_lowercase_hex_ascii(trace_id: str) -> None:
    key = trace_key(trace_id)
    assert len(key) == 32
    assert key.decode("ascii") == trace_id


def test_producer_murmur2_partitioner_matches_partition_for(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("keys", partitions=4)
    keys = [f"{i:032x}".encode() for i in range(1, 41)]
    producer = make_producer(kafka_bootstrap)
    for key in keys:
        producer.produce(topic, key=key, value=b"x")
    assert producer.flush(30) == 0
    consumer = Consumer(
        {"bootstrap.servers": kafka_bootstrap, "group.id": topic, "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(4)])
    seen: dict[bytes, int] = {}
    import time

    deadline = time.monotonic() + 30
    while len(seen) < len(keys) and time.monotonic() < deadline:
        for message in consumer.consume(100, timeout=0.5):
            if not message.error():
                seen[message.key()] = message.partition()
    consumer.close()
    assert seen == {key: partition_for(key, 4) for key in keys}
