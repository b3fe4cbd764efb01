"""The HTTP servers of the store-side workers, as processes against the real broker and chdb:
`worker sink` on `worker.web_port + 1` (`/metrics`, `/healthz`, `/readyz`) and `worker store` (the
query service, its `/readyz` checking broker and store, the sink's metrics on its `/metrics`)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from datatracing.pipeline.broker import free_port
from datatracing.pipeline.config import TopicSettings
from tests.pipeline.sink.sink_support import (
    SPANS_PER_MESSAGE,
    WorkerProcess,
    produce,
    trace_message,
    wait_until,
    write_settings,
)

pytestmark = pytest.mark.slow

WORKER_SCRIPT = Path(__file__).with_name("sink_worker.py")
KEY = "store-worker-key-3d9f"


def _get(url: str, headers: dict[str, str] | None = None) -> httpx.Response | None:
    try:
        return httpx.get(url, headers=headers, timeout=5)
    except httpx.TransportError:
        return None


def _samples(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        match = re.match(r"^(\w+)(\{.*\})? ([0-9.e+-]+|NaN)$", line)
        if match:
            out[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return out


def _metric(base: str, name: str) -> dict[str, float]:
    response = _get(base + "/metrics")
    if response is None or response.status_code != 200:
        return {}
    return {k: v for k, v in _samples(response.text).items() if k == name or k.startswith(name + "{")}


def _up(worker: WorkerProcess, url: str) -> bool:
    assert worker.alive(), worker.output()
    response = _get(url)
    return response is not None and response.status_code == 200


def test_sink_worker_alone_serves_metrics_health_and_ready_on_web_port_plus_one(
    tmp_path: Path, kafka_bootstrap: str, pipeline_topics: TopicSettings
) -> None:
    total = 300
    produce(kafka_bootstrap, pipeline_topics.sampled, [trace_message(n) for n in range(total)])
    config = write_settings(tmp_path, kafka_bootstrap, pipeline_topics)
    base = f"http://127.0.0.1:{yaml.safe_load(config.read_text())['worker']['web_port'] + 1}"
    args = ["-m", "datatracing.pipeline.cli", "worker", "sink", "--config", str(config)]
    worker = WorkerProcess(args, tmp_path / "worker.log")
    try:
        wait_until(lambda: _up(worker, base + "/healthz"), 90, "the sink's /healthz")
        wait_until(lambda: _up(worker, base + "/readyz"), 30, "the sink's /readyz")
        ready = _get(base + "/readyz")
        assert ready is not None
        assert ready.json() == {
            "status": "ready",
            "checks": {"broker": "ok", "store": "ok"},
        }

        def written() -> float:
            return sum(_metric(base, "datatracing_sink_spans_written_total").values())

        wait_until(lambda: written() == total * SPANS_PER_MESSAGE, 90, "every span written")

        def caught_up() -> bool:
            lag = _metric(base, "datatracing_sink_consumer_lag")
            return len(lag) == pipeline_topics.partitions and not any(lag.values())

        wait_until(caught_up, 30, "the consumer lag to reach 0 on every partition")
        assert (
            _metric(base, "datatracing_sink_insert_duration_seconds_count")[
                "datatracing_sink_insert_duration_seconds_count"
            ]
            >= 1
        )
        assert _metric(base, "datatracing_sink_paused") == {"datatracing_sink_paused": 0.0}
        other = _get(base + "/v1/services")
        assert other is not None
        assert other.status_code == 404
        assert other.json()["error"]["code"] == "not_found"
    finally:
        assert worker.stop() == 0, worker.output()


def test_sink_worker_store_outage_paused_gauge_then_resumes(
    tmp_path: Path, kafka_bootstrap: str, pipeline_topics: TopicSettings
) -> None:
    status = tmp_path / "status.json"
    produce(kafka_bootstrap, pipeline_topics.sampled, [trace_message(n) for n in range(100)])
    config = write_settings(tmp_path, kafka_bootstrap, pipeline_topics, batch_max_messages=20)
    base = f"http://127.0.0.1:{yaml.safe_load(config.read_text())['worker']['web_port'] + 1}"
    group = f"sink-paused-{uuid.uuid4().hex[:8]}"
    worker = WorkerProcess(
        [str(WORKER_SCRIPT), str(config), str(status), "8", group], tmp_path / "worker.log"
    )
    try:
        wait_until(lambda: _up(worker, base + "/healthz"), 90, "the sink's /healthz")
        wait_until(
            lambda: _metric(base, "datatracing_sink_paused").get("datatracing_sink_paused") == 1,
            60,
            "the sink to report itself paused during the outage",
            step_s=0.1,
        )
        wait_until(
            lambda: (
                sum(_metric(base, "datatracing_sink_spans_written_total").values()) == 100 * SPANS_PER_MESSAGE
            ),
            90,
            "every span written after the outage",
        )
        assert _metric(base, "datatracing_sink_paused") == {"datatracing_sink_paused": 0.0}
        assert sum(_metric(base, "datatracing_sink_store_retries_total").values()) >= 1
    finally:
        assert worker.stop() == 0, worker.output()


def test_store_worker_query_port_ready_metrics_and_api_keys(
    tmp_path: Path, kafka_bootstrap: str, pipeline_topics: TopicSettings
) -> None:
    produce(kafka_bootstrap, pipeline_topics.sampled, [trace_message(n) for n in range(50)])
    port = free_port()
    extra = {"query": {"port": port}, "auth": {"enabled": True, "keys": [KEY]}}
    config = write_settings(tmp_path, kafka_bootstrap, pipeline_topics, extra)
    base = f"http://127.0.0.1:{port}"
    args = ["-m", "datatracing.pipeline.cli", "worker", "store", "--config", str(config)]
    worker = WorkerProcess(args, tmp_path / "worker.log")
    try:
        wait_until(lambda: _up(worker, base + "/readyz"), 90, "the store worker's /readyz")
        ready = _get(base + "/readyz")
        assert ready is not None
        assert ready.json()["checks"] == {"broker": "ok", "store": "ok"}
        assert _up(worker, base + "/healthz")

        refused = _get(base + "/v1/services")
        assert refused is not None
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"

        def services() -> bool:
            response = _get(base + "/v1/services", {"Authorization": f"Bearer {KEY}"})
            return response is not None and response.status_code == 200 and len(response.json()["data"]) == 3

        wait_until(services, 90, "the sink to store the spans, read with the key")
        wait_until(
            lambda: (
                sum(_metric(base, "datatracing_sink_spans_written_total").values()) == 50 * SPANS_PER_MESSAGE
            ),
            30,
            "the sink's metrics on the query port",
        )
        requests = _metric(base, "datatracing_query_requests_total")
        assert (
            requests['datatracing_query_requests_total{method="GET",route="/v1/services",status="200"}'] >= 1
        )
        assert "datatracing_sink_consumer_lag" in (_get(base + "/metrics") or httpx.Response(500)).text
    finally:
        assert worker.stop() == 0, worker.output()
