"""Topic administration, producer and consumer construction, translating confluent-kafka errors at
the edge."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from datatracing.pipeline.config import KafkaSettings, TopicSettings
from datatracing.pipeline.errors import BrokerUnavailableError
from datatracing.wire import PARTITIONER

log = logging.getLogger(__name__)


def topic_specs(topics: TopicSettings) -> list[NewTopic]:
    """Our topics, created explicitly (brokers may auto-create with other partition counts)."""
    n, rf = topics.partitions, topics.replication_factor
    return [
        NewTopic(topics.spans, n, rf),
        NewTopic(topics.sampled, n, rf),
        NewTopic(topics.decisions, n, rf, config={"cleanup.policy": "compact"}),
        NewTopic(topics.dead_letter, 1, rf),
    ]


def ensure_topics(bootstrap_servers: str, specs: list[NewTopic], timeout_s: float = 30.0) -> None:
    """Create the topics that do not exist yet and wait until every one is visible in metadata."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    deadline = time.monotonic() + timeout_s
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
        missing = [s for s in specs if s.topic not in existing]
        if missing:
            for topic, future in admin.create_topics(missing, operation_timeout=timeout_s).items():
                try:
                    future.result(timeout=timeout_s)
                except KafkaException as exc:
                    if "TOPIC_ALREADY_EXISTS" not in str(exc):
                        raise
                log.info("created topic %s", topic)
        wanted = {s.topic for s in specs}
        while True:
            metadata = admin.list_topics(timeout=max(0.5, deadline - time.monotonic()))
            if wanted <= set(metadata.topics):
                return
            if time.monotonic() > deadline:
                raise BrokerUnavailableError(f"topics not visible after {timeout_s}s: {sorted(wanted)}")
            time.sleep(0.05)
    except KafkaException as exc:
        raise BrokerUnavailableError(f"broker {bootstrap_servers}: {exc}") from exc


def ensure_pipeline_topics(kafka: KafkaSettings, topics: TopicSettings, timeout_s: float = 30.0) -> None:
    ensure_topics(kafka.bootstrap_servers, topic_specs(topics), timeout_s)


def producer_config(bootstrap_servers: str, extra: Mapping[str, object] | None = None) -> dict[str, object]:
    """librdkafka settings for our producers: murmur2 partitioning, bounded queue, batching."""
    config: dict[str, object] = {
        "bootstrap.servers": bootstrap_servers,
        "partitioner": PARTITIONER,
        "linger.ms": 5,
        "enable.idempotence": False,
        "acks": "all",
        "message.timeout.ms": 30_000,
        # librdkafka's own log lines go through Python logging (served by poll), not raw stderr.
        "logger": logging.getLogger("datatracing.librdkafka"),
    }
    config.update(extra or {})
    return config


def make_producer(bootstrap_servers: str, extra: Mapping[str, object] | None = None) -> Producer:
    return Producer(producer_config(bootstrap_servers, extra))


def consumer_config(
    bootstrap_servers: str, group_id: str, session_timeout_ms: int, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """librdkafka settings for a group member that commits by hand, with a bounded prefetch."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": session_timeout_ms,
        "heartbeat.interval.ms": max(500, session_timeout_ms // 3),
        # Also the JoinGroup rebalance timeout: how long a rebalance may wait for a member that
        # stopped polling. librdkafka's 300 s default stalled joins on the embedded broker after
        # crashed members; Faust's rebalance timeout was 60 s.
        "max.poll.interval.ms": 60_000,
        # librdkafka prefetches up to this much per consumer: a memory bound, not a throughput knob.
        "queued.max.messages.kbytes": 32_768,
        "logger": logging.getLogger("datatracing.librdkafka"),
    }
    config.update(extra or {})
    return config


def make_reader(bootstrap_servers: str, purpose: str) -> Consumer:
    """A consumer for reading assigned partitions to a known end (restore, replay): a group of its
    own that never commits, end-of-partition events on, and no broker wait on empty fetches."""
    return Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"datatracing-{purpose}-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 20,
        }
    )
