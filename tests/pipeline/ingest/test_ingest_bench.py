"""The ingest benchmark runs end to end (quick mode) and reports its figures."""

from __future__ import annotations

import pytest

from datatracing.pipeline.bench._ingest import bench_payloads, run_ingest_bench
from datatracing.wire import parse_request


def test_ingest_bench_payloads_twenty_spans_four_traces() -> None:
    (payload,) = bench_payloads(1)
    spans = [s for rs in parse_request(payload).resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert len(spans) == 20
    assert len({s.trace_id for s in spans}) == 4


def test_ingest_bench_quick_reports_positive_rates(kafka_bootstrap: str) -> None:
    figures = run_ingest_bench(True, kafka_bootstrap)
    assert figures["ingest_requests_per_s"] > 0
    assert figures["ingest_spans_per_s"] == pytest.approx(figures["ingest_requests_per_s"] * 20)
    assert figures["ingest_latency_p99_ms"] >= figures["ingest_latency_p50_ms"]
