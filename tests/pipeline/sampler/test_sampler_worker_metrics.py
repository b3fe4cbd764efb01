"""The sampler worker's Prometheus metrics, read from its HTTP port while real traffic flows."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from datatracing.pipeline.config import TopicSettings
from tests.pipeline.sampler.worker_support import SamplerProcess, TopicReader, Workload, decisions_by_trace

pytestmark = pytest.mark.slow

_SAMPLE = re.compile(r"^(\w+)(\{[^}]*\})? ([0-9.e+-]+)$")


def _scrape(port: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            key = match.group(1) + (match.group(2) or "")
            out[key] = float(match.group(3))
    return out


def _total(samples: dict[str, float], name: str) -> float:
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


def test_sampler_worker_metrics_count_spans_decisions_and_lag(
    kafka_bootstrap: str, pipeline_topics: TopicSettings, tmp_path: Path
) -> None:
    workload = Workload.build(traces=120, seed=21)
    spans = sum(len(s) for s in workload.spans_by_trace.values())
    worker = SamplerProcess(kafka_bootstrap, pipeline_topics, tmp_path).start()
    decisions = TopicReader(kafka_bootstrap, pipeline_topics.decisions, pipeline_topics.partitions)
    try:
        workload.produce(kafka_bootstrap, pipeline_topics.spans)
        decisions.until(
            lambda: decisions_by_trace(decisions).keys() >= workload.expected_keep.keys(), 90, "decisions"
        )
        deadline = time.monotonic() + 30
        while True:  # the lag gauge refreshes once a second
            samples = _scrape(worker.web_port)
            lag = {k: v for k, v in samples.items() if k.startswith("datatracing_sampler_consumer_lag{")}
            if len(lag) == pipeline_topics.partitions and not any(lag.values()):
                break
            assert time.monotonic() < deadline, lag
            time.sleep(0.2)
        assert _total(samples, "datatracing_sampler_spans_total") == spans
        kept = sum(workload.expected_keep.values())
        decided = {
            k: v for k, v in samples.items() if k.startswith("datatracing_sampler_traces_decided_total{")
        }
        assert sum(v for k, v in decided.items() if 'decision="keep"' in k) == kept
        assert sum(decided.values()) == len(workload.expected_keep)
        assert samples['datatracing_sampler_buffered{unit="spans"}'] == 0
        assert _total(samples, "datatracing_sampler_uncommitted_offsets") == 0
        assert samples["datatracing_sampler_decision_latency_seconds_count"] == len(workload.expected_keep)
        assert samples["datatracing_sampler_paused_partitions"] == 0
    finally:
        decisions.close()
        worker.terminate()
