"""A running pipeline (sampler worker + store worker with the query API) on the session broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from datatracing.pipeline.broker import free_port
from datatracing.pipeline.config import KafkaSettings, QuerySettings, Settings, TopicSettings, WorkerSettings
from datatracing.pipeline.runtime._stack import Stack
from datatracing.pipeline.sampler import SamplerSettings


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    import uuid

    from datatracing.pipeline.broker import ensure_topics, topic_specs

    suffix = uuid.uuid4().hex[:8]
    topics = TopicSettings(
        spans=f"spans-{suffix}",
        sampled=f"sampled-{suffix}",
        decisions=f"decisions-{suffix}",
        dead_letter=f"dlq-{suffix}",
    )
    ensure_topics(kafka_bootstrap, topic_specs(topics))
    settings = Settings(
        data_dir=Path(tmp_path_factory.mktemp("stack")),
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
        topics=topics,
        query=QuerySettings(port=free_port()),
        worker=WorkerSettings(web_port=free_port()),
        sampler=SamplerSettings(decision_wait=1.0, wait_after_root=0.3),
    )
    running = Stack(settings, broker_port=None)
    try:
        running.start(timeout_s=120)
        yield running
    finally:
        running.stop()
        for log in sorted((settings.data_dir / "logs").glob("*.log")):
            tail = log.read_text(errors="replace")[-3000:]
            print(f"--- {log.name} (tail)\n{tail}")
