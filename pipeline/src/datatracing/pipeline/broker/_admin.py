"""Topic administration, producer and consumer construction, translating confluent-kafka errors at
the edge."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
)
from confluent_kafka.cimpl import NewTopic

from datatracing.pipeline.broker._security import librdkafka_security
from datatracing.pipeline.config import (
    DEFAULT_MAX_MESSAGE_BYTES,
    KafkaSecuritySettings,
    KafkaSettings,
    TopicSettings,
    wire_max_bytes,
)
from datatracing.pipeline.errors import BrokerUnavailableError, ConfigError
from datatracing.wire import PARTITIONER

log = logging.getLogger(__name__)

_PLAINTEXT = KafkaSecuritySettings()


def client_config(bootstrap_servers: str, security: KafkaSecuritySettings | None = None) -> dict[str, Any]:
    """What every librdkafka client of the pipeline starts from: the servers and the security block
    (`KafkaSettings.security`, PLAINTEXT when None)."""
    return {"bootstrap.servers": bootstrap_servers, **librdkafka_security(security or _PLAINTEXT)}


def admin_config(bootstrap_servers: str, security: KafkaSecuritySettings | None = None) -> dict[str, Any]:
    """librdkafka settings of the topic admin client (create, describe)."""
    return client_config(bootstrap_servers, security)


def topic_specs(topics: TopicSettings, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> list[NewTopic]:
    """Our topics, created explicitly (brokers may auto-create with other partition counts).

    Every topic allows records of the size contract (`KafkaSettings.max_message_bytes`). The
    dead-letter topic is compacted: its records are keyed by the source message (see
    `dead_letter_key`), so a dead letter written twice by a retry keeps one record.
    """
    n, rf = topics.partitions, topics.replication_factor
    size = {"max.message.bytes": str(wire_max_bytes(max_message_bytes))}
    return [
        NewTopic(topics.spans, n, rf, config=size),
        NewTopic(topics.sampled, n, rf, config=size),
        NewTopic(topics.decisions, n, rf, config={"cleanup.policy": "compact", **size}),
        NewTopic(topics.dead_letter, 1, rf, config={"cleanup.policy": "compact", **size}),
        NewTopic(topics.quarantine, 1, rf, config={"cleanup.policy": "compact"}),
    ]


def check_topic_sizes(
    bootstrap_servers: str,
    specs: list[NewTopic],
    timeout_s: float = 10.0,
    *,
    security: KafkaSecuritySettings | None = None,
) -> None:
    """Raise `ConfigError` when an existing topic's `max.message.bytes` is below what `specs` need.

    Topics created before the size contract keep their old limit: a kept trace that fits the
    contract would then fail to forward. A broker that cannot describe configs is only logged.
    """
    wanted = {s.topic: int(s.config.get("max.message.bytes", 0)) for s in specs if s.config}
    admin = AdminClient(admin_config(bootstrap_servers, security))
    resources = [ConfigResource("topic", name) for name in wanted]
    try:
        futures = admin.describe_configs(resources, request_timeout=timeout_s)
        found = {res.name: fut.result(timeout_s) for res, fut in futures.items()}
    except (KafkaException, ValueError) as exc:
        log.warning("cannot check topic size limits: %s", exc)
        return
    for name, entries in found.items():
        entry = entries.get("max.message.bytes")
        if entry is None or entry.value is None:
            continue
        if int(entry.value) < wanted[name]:
            raise ConfigError(
                f"topic {name}: max.message.bytes is {entry.value}, below kafka.max_message_bytes + record "
                f"overhead ({wanted[name]}); raise the topic's limit or lower kafka.max_message_bytes"
            )


def ensure_topics(
    bootstrap_servers: str,
    specs: list[NewTopic],
    timeout_s: float = 30.0,
    *,
    security: KafkaSecuritySettings | None = None,
) -> None:
    """Create the topics that do not exist yet and wait until every one is visible in metadata."""
    admin = AdminClient(admin_config(bootstrap_servers, security))
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
    """Create our topics with the size contract, and check that the existing topics the pipeline
    forwards whole payloads to (sampled spans, dead letters) can carry it. The spans topic is only
    read: a smaller limit there only means smaller input."""
    specs = topic_specs(topics, kafka.max_message_bytes)
    ensure_topics(kafka.bootstrap_servers, specs, timeout_s, security=kafka.security)
    outputs = {topics.sampled, topics.dead_letter}
    check_topic_sizes(
        kafka.bootstrap_servers, [s for s in specs if s.topic in outputs], security=kafka.security
    )


def producer_config(
    bootstrap_servers: str,
    extra: Mapping[str, object] | None = None,
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    security: KafkaSecuritySettings | None = None,
) -> dict[str, object]:
    """librdkafka settings for our producers: the security block, murmur2 partitioning, bounded
    queue, batching, lz4-compressed batches, a `message.max.bytes` that carries any message of the
    size contract with its headers, then `extra` on top.

    lz4: OTLP spans repeat their keys and resources, and a compressed batch is what the broker
    stores, sends to every consumer and (on the embedded broker) keeps in memory: 4.5x less broker
    memory and less broker CPU per span than uncompressed batches (docs/performance.md, 2026-12-07
    fourth session). Consumers decompress whatever codec a batch carries, so a producer set to
    another `compression.type` (or `none`) through `extra` mixes freely with these."""
    config: dict[str, object] = {
        **client_config(bootstrap_servers, security),
        "partitioner": PARTITIONER,
        "message.max.bytes": wire_max_bytes(max_message_bytes),
        "linger.ms": 5,
        "compression.type": "lz4",
        "enable.idempotence": False,
        "acks": "all",
        "message.timeout.ms": 30_000,
        # librdkafka's own log lines go through Python logging (served by poll), not raw stderr.
        "logger": logging.getLogger("datatracing.librdkafka"),
    }
    config.update(extra or {})
    return config


def make_producer(
    bootstrap_servers: str,
    extra: Mapping[str, object] | None = None,
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    security: KafkaSecuritySettings | None = None,
) -> Producer:
    return Producer(
        producer_config(bootstrap_servers, extra, max_message_bytes=max_message_bytes, security=security)
    )


def kafka_producer_config(kafka: KafkaSettings) -> dict[str, object]:
    """`producer_config` for `kafka`'s servers, security, extra settings and size contract."""
    return producer_config(
        kafka.bootstrap_servers,
        kafka.producer,
        max_message_bytes=kafka.max_message_bytes,
        security=kafka.security,
    )


def kafka_producer(kafka: KafkaSettings) -> Producer:
    """The producer of the workers (output topics, dead letters, crash records): `kafka_producer_config`."""
    return Producer(kafka_producer_config(kafka))


def consumer_config(
    bootstrap_servers: str,
    group_id: str,
    session_timeout_ms: int,
    extra: Mapping[str, Any] | None = None,
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    security: KafkaSecuritySettings | None = None,
) -> dict[str, Any]:
    """librdkafka settings for a group member that commits by hand, with the security block and a
    bounded prefetch that always fetches a whole record of the size contract; `extra` on top."""
    wire = wire_max_bytes(max_message_bytes)
    config: dict[str, Any] = {
        **client_config(bootstrap_servers, security),
        "fetch.max.bytes": max(52_428_800, wire),
        "receive.message.max.bytes": max(100_000_000, wire + 512) + 512,
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


def kafka_consumer_config(kafka: KafkaSettings, group_id: str) -> dict[str, Any]:
    """`consumer_config` for `kafka`'s servers, security, session timeout, extra consumer settings
    and size contract: the sampler's consumer."""
    return consumer_config(
        kafka.bootstrap_servers,
        group_id,
        kafka.session_timeout_ms,
        kafka.consumer,
        max_message_bytes=kafka.max_message_bytes,
        security=kafka.security,
    )


def reader_config(kafka: KafkaSettings, purpose: str) -> dict[str, Any]:
    """librdkafka settings of a reader (see `make_reader`): `kafka`'s servers and security, a group
    of its own that never commits, end-of-partition events on, no broker wait on empty fetches, and
    fetches that take a whole record of the size contract."""
    wire = wire_max_bytes(kafka.max_message_bytes)
    return {
        **client_config(kafka.bootstrap_servers, kafka.security),
        "group.id": f"datatracing-{purpose}-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "fetch.wait.max.ms": 20,
        "fetch.max.bytes": max(52_428_800, wire),
        "receive.message.max.bytes": max(100_000_000, wire + 512) + 512,
    }


def make_reader(kafka: KafkaSettings, purpose: str) -> Consumer:
    """A consumer for reading assigned partitions to a known end (restore, replay, scans), configured
    by `reader_config`."""
    return Consumer(reader_config(kafka, purpose))
