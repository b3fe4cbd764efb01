"""Settings for an embedded stack on the session broker, with topics of its own and free ports."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from datatracing.pipeline.broker import ensure_topics, free_port, topic_specs
from datatracing.pipeline.config import KafkaSettings, QuerySettings, Settings, TopicSettings, WorkerSettings


def stack_settings(kafka_bootstrap: str, data_dir: Path, **sections: Any) -> Settings:
    """`Settings` for a `Stack` under `data_dir`: new topics (created now), free query and worker
    ports; `sections` (e.g. `sampler=`, `auth=`) are added as they are."""
    suffix = uuid.uuid4().hex[:8]
    topics = TopicSettings(
        spans=f"spans-{suffix}",
        sampled=f"sampled-{suffix}",
        decisions=f"decisions-{suffix}",
        dead_letter=f"dlq-{suffix}",
    )
    ensure_topics(kafka_bootstrap, topic_specs(topics))
    return Settings(
        data_dir=data_dir,
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
        topics=topics,
        query=QuerySettings(port=free_port()),
        worker=WorkerSettings(web_port=free_port()),
        **sections,
    )
