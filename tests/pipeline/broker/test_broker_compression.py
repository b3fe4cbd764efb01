"""Our producers compress (lz4), and our consumers read whatever codec another producer chose.

A stock OpenTelemetry Collector, an older SDK or a producer set to `none` may share the spans topic
with ours, so every codec librdkafka ships must come back byte for byte through our consumer config.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from datatracing.pipeline.broker import consumer_config, producer_config

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")


def _produce(bootstrap: str, topic: str, codec: str, values: list[bytes]) -> None:
    producer = Producer(producer_config(bootstrap, {"compression.type": codec}))
    errors: list[object] = []
    for value in values:
        producer.produce(topic, value=value, on_delivery=lambda err, _msg: errors.append(err))
    assert producer.flush(30) == 0
    assert errors == [None] * len(values)


def _consume(bootstrap: str, topic: str, count: int, deadline_s: float = 30.0) -> list[bytes]:
    consumer = Consumer(consumer_config(bootstrap, f"{topic}-reader", 6000))
    consumer.assign([TopicPartition(topic, 0, 0)])
    got: list[bytes] = []
    deadline = time.monotonic() + deadline_s
    try:
        while len(got) < count and time.monotonic() < deadline:
            for message in consumer.consume(100, timeout=0.5):
                if message.error() is None:
                    got.append(message.value() or b"")
    finally:
        consumer.close()
    return got


def test_producer_config_compresses_with_lz4_unless_extra_says_otherwise() -> None:
    assert producer_config("x:1")["compression.type"] == "lz4"
    assert producer_config("x:1", {"compression.type": "none"})["compression.type"] == "none"


def test_every_codec_on_one_topic_reads_back_byte_for_byte(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("codecs")
    # Repetitive like spans (compressible) and random (not): both must survive every codec.
    sent: list[bytes] = []
    for codec in CODECS:
        values = [codec.encode() * 200, os.urandom(3000)]
        _produce(kafka_bootstrap, topic, codec, values)
        sent.extend(values)

    assert _consume(kafka_bootstrap, topic, len(sent)) == sent


@pytest.mark.parametrize("codec", ["lz4", "zstd"])
def test_incompressible_message_of_megabytes_passes_compressed(
    kafka_bootstrap: str, topic_factory: Callable[..., str], codec: str
) -> None:
    topic = topic_factory("big")
    value = os.urandom(3 * 1024 * 1024)  # below the 4 MiB contract; compression cannot shrink it

    _produce(kafka_bootstrap, topic, codec, [value])

    assert _consume(kafka_bootstrap, topic, 1) == [value]
