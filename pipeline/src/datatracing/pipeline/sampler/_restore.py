"""Rebuild a partition's decision cache from the compacted `decisions` topic.

Decisions are keyed by trace id like the spans, so decisions partition N holds the decisions of spans
partition N. Reading "to the end" does not trust the high watermark (the embedded broker reports the
base offset of the last record batch + 1): `true_end_offset` reads that last batch and takes the offset
after its last record, which is also right on real Kafka.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition

from datatracing.errors import InvalidDataError
from datatracing.pipeline.broker import make_reader
from datatracing.pipeline.config import KafkaSettings
from datatracing.pipeline.errors import BrokerUnavailableError
from datatracing.pipeline.sampler._decisions import DecisionCache

log = logging.getLogger(__name__)


def true_end_offset(consumer: Consumer, topic: str, partition: int, timeout_s: float = 10.0) -> int:
    """The offset after the last record of `topic`/`partition`, whatever the reported watermark."""
    low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
    if high <= low:
        return high
    consumer.assign([TopicPartition(topic, partition, high - 1)])
    end = high
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        error = message.error()
        if error is not None:
            if error.code() == error._PARTITION_EOF:
                break
            raise BrokerUnavailableError(f"reading {topic}[{partition}]: {error}")
        end = max(end, (message.offset() or 0) + 1)
    return end


def restore_decisions(
    kafka: KafkaSettings,
    topic: str,
    partition: int,
    cache: DecisionCache,
    now_ns: int,
    timeout_s: float = 30.0,
) -> int:
    """Replay `topic`/`partition` into `cache`; returns how many live decisions were restored."""
    consumer = make_reader(kafka, "restore")
    restored = 0
    try:
        end = true_end_offset(consumer, topic, partition, timeout_s)
        low, _ = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
        if end <= low:
            return 0
        consumer.assign([TopicPartition(topic, partition, low)])
        deadline = time.monotonic() + timeout_s
        position = low
        while position < end:
            if time.monotonic() > deadline:
                raise BrokerUnavailableError(f"restoring {topic}[{partition}] timed out at {position}/{end}")
            for message in consumer.consume(1000, timeout=0.5):
                if message.error() is not None:
                    continue
                position = (message.offset() or 0) + 1
                try:
                    if cache.restore(message.value(), now_ns) is not None:
                        restored += 1
                except InvalidDataError as exc:
                    log.warning(
                        "skipping undecodable decision at %s[%d]@%d: %s", topic, partition, position - 1, exc
                    )
    except KafkaException as exc:
        raise BrokerUnavailableError(f"restoring {topic}[{partition}]: {exc}") from exc
    finally:
        consumer.close()
    return restored
