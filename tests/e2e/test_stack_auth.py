"""The embedded stack with API keys on: the key given to the supervisor (plain, from its settings)
reaches the store worker as a digest, and the query service it hosts accepts that key only."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from datatracing.pipeline.broker import ensure_topics, free_port, topic_specs
from datatracing.pipeline.config import (
    AuthSettings,
    KafkaSettings,
    QuerySettings,
    Settings,
    TopicSettings,
    WorkerSettings,
)
from datatracing.pipeline.runtime import Stack

pytestmark = pytest.mark.slow

KEY = "stack-auth-key-0c4d"


def test_stack_auth_key_reaches_store_worker_as_digest_and_is_required(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    topics = TopicSettings(
        spans=f"spans-{suffix}",
        sampled=f"sampled-{suffix}",
        decisions=f"decisions-{suffix}",
        dead_letter=f"dlq-{suffix}",
    )
    ensure_topics(kafka_bootstrap, topic_specs(topics))
    settings = Settings(
        data_dir=tmp_path,
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
        topics=topics,
        query=QuerySettings(port=free_port()),
        worker=WorkerSettings(web_port=free_port()),
        auth=AuthSettings(enabled=True, keys=[SecretStr(KEY)]),
    )
    stack = Stack(settings, broker_port=None)
    try:
        state = stack.start(timeout_s=120)
        written = (tmp_path / "worker-settings.yaml").read_text()
        url = state.query_url + "/v1/services"
        without = httpx.get(url, timeout=30)
        masked = httpx.get(url, headers={"Authorization": "Bearer **********"}, timeout=30)
        right = httpx.get(url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
        ready = httpx.get(state.query_url + "/readyz", timeout=30)
    finally:
        stack.stop()
    assert KEY not in written
    assert (without.status_code, masked.status_code, right.status_code) == (401, 401, 200)
    assert ready.status_code == 200
