"""The sampler worker's HTTP port as a process against the real broker: `/healthz`, `/readyz` (the
broker answers), `/metrics`; other paths 404 with the envelope."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from datatracing.pipeline.config import TopicSettings
from tests.pipeline.sampler.worker_support import SamplerProcess

pytestmark = pytest.mark.slow


def test_sampler_worker_health_ready_and_metrics_on_web_port(
    kafka_bootstrap: str, pipeline_topics: TopicSettings, tmp_path: Path
) -> None:
    worker = SamplerProcess(kafka_bootstrap, pipeline_topics, tmp_path).start()
    base = f"http://127.0.0.1:{worker.web_port}"
    try:
        health = httpx.get(base + "/healthz", timeout=5)
        ready = httpx.get(base + "/readyz", timeout=10)
        metrics = httpx.get(base + "/metrics", timeout=5)
        other = httpx.get(base + "/elsewhere", timeout=5)
    finally:
        assert worker.terminate() == 0, worker.log_tail()
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"broker": "ok"}}
    assert "datatracing_sampler_spans_total" in metrics.text
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "not_found"
