"""The SDK benchmark runs and reports every figure (the figures themselves go to docs/performance.md)."""

from __future__ import annotations

import math

from datatracing.pipeline.bench._sdk import run_sdk_bench

KEYS = {"ours_us_per_span", "otel_us_per_span", "ratio", "otlp_encode_us_per_span", "wire_encode_us_per_span"}


def test_run_sdk_bench_quick_without_broker_reports_span_and_encode_figures() -> None:
    results = run_sdk_bench(quick=True, bootstrap_servers=None)
    assert set(results) == KEYS
    assert all(math.isfinite(value) and value > 0 for value in results.values()), results


def test_run_sdk_bench_with_broker_delivers_every_span(kafka_bootstrap: str) -> None:
    results = run_sdk_bench(quick=True, bootstrap_servers=kafka_bootstrap)
    assert set(results) >= KEYS | {"exporter_spans_per_s", "exporter_delivered_spans"}
    assert results["exporter_delivered_spans"] == 20_000
    assert results["exporter_dropped_spans"] == 0
