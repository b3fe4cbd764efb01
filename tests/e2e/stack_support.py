"""Settings for an embedded stack on the session broker, with topics of its own and free ports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datatracing.pipeline.bench._kafka import bench_topics
from datatracing.pipeline.broker import free_port
from datatracing.pipeline.config import KafkaSettings, QuerySettings, Settings, WorkerSettings


def stack_settings(kafka_bootstrap: str, data_dir: Path, **sections: Any) -> Settings:
    """`Settings` for a `Stack` under `data_dir`: new topics (created now), free query and worker
    ports; `sections` (e.g. `sampler=`, `auth=`) are added as they are."""
    topics = bench_topics(kafka_bootstrap)
    return Settings(
        data_dir=data_dir,
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
        topics=topics,
        query=QuerySettings(port=free_port()),
        worker=WorkerSettings(web_port=free_port()),
        **sections,
    )
