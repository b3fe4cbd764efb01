"""Session fixtures shared by every test folder: a real Kafka-API broker.

Which broker, in order:
1. `DATATRACING_TEST_KAFKA=host:port`: an external broker you run.
2. A Docker engine is reachable: real Apache Kafka through testcontainers.
3. Otherwise the embedded tansu broker (what CI on these machines uses).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, settings

from datatracing.pipeline.broker import EmbeddedBroker, ensure_topics
from datatracing.pipeline.config import TopicSettings

# Two shared cores, often busy with brokers and workers: judge properties, not generation speed.
settings.register_profile(
    "datatracing", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "datatracing"))


def docker_available() -> bool:
    """True when a Docker engine answers (then testcontainers can run real Kafka and ClickHouse)."""
    try:
        import docker

        client = docker.from_env(timeout=2)
        client.ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """`host:port` of a real Kafka-API broker for the whole session."""
    external = os.environ.get("DATATRACING_TEST_KAFKA")
    if external:
        yield external
        return
    if docker_available():  # pragma: no cover - no Docker engine on CI machines
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as kafka:
            yield kafka.get_bootstrap_server()
        return
    with EmbeddedBroker() as broker:
        yield broker.bootstrap_servers


@pytest.fixture
def topic_factory(kafka_bootstrap: str) -> Callable[..., str]:
    """Create a uniquely named topic: `topic_factory("spans", partitions=4)` returns its name."""

    def create(prefix: str = "t", partitions: int = 1, **config: str) -> str:
        from confluent_kafka.cimpl import NewTopic

        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        ensure_topics(kafka_bootstrap, [NewTopic(name, partitions, 1, config=dict(config))])
        return name

    return create


@pytest.fixture
def pipeline_topics(kafka_bootstrap: str) -> TopicSettings:
    """A fresh, uniquely named set of pipeline topics (spans, sampled, decisions, dead-letter)."""
    from datatracing.pipeline.broker import topic_specs

    suffix = uuid.uuid4().hex[:10]
    topics = TopicSettings(
        spans=f"spans-{suffix}",
        sampled=f"sampled-{suffix}",
        decisions=f"decisions-{suffix}",
        dead_letter=f"dlq-{suffix}",
        partitions=4,
    )
    ensure_topics(kafka_bootstrap, topic_specs(topics))
    return topics
