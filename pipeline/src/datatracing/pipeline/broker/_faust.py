"""Faust application factory shared by the sampler and store workers.

Payloads stay raw bytes (`value_serializer="raw"`): we decode OTLP ourselves, once, where needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust

from datatracing.pipeline.broker._security import faust_credentials
from datatracing.pipeline.config import Settings, wire_max_bytes


def make_faust_app(settings: Settings, app_id: str, *, web_port: int, **extra: Any) -> faust.App:
    """A Faust app on our broker with raw serializers, its data under `data_dir/faust/<app_id>`.

    Its consumer fetches and its producer sends whole records of the size contract
    (`kafka.max_message_bytes`), and it authenticates with `kafka.security` (`faust_credentials`),
    like every other client of the pipeline.
    """
    wire = wire_max_bytes(settings.kafka.max_message_bytes)
    datadir = Path(settings.data_dir) / "faust" / app_id
    datadir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        app_id,
        broker=f"kafka://{settings.kafka.bootstrap_servers}",
        broker_credentials=faust_credentials(settings.kafka.security),
        key_serializer="raw",
        value_serializer="raw",
        datadir=str(datadir),
        web_port=web_port,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=settings.topics.replication_factor,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.kafka.session_timeout_ms / 1000,
        broker_heartbeat_interval=max(0.5, settings.kafka.session_timeout_ms / 3000),
        broker_commit_interval=0.5,
        stream_buffer_maxsize=4096,
        stream_wait_empty=False,
        producer_max_batch_size=1,
        consumer_max_fetch_size=max(4 * 1024 * 1024, wire),
        producer_max_request_size=max(1024 * 1024, wire),
        **extra,
    )


def raw_topic(app: faust.App, name: str) -> Any:
    """A topic of bytes keys and values, never declared by Faust (we create ours explicitly)."""
    return app.topic(name, key_type=bytes, value_type=bytes, allow_empty=True)
