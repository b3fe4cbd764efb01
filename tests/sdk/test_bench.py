"""The SDK benchmark runs and meets its goal: a span costs at most half of OpenTelemetry's."""

from __future__ import annotations

from datatracing.sdk._bench import run_sdk_bench


def test_run_sdk_bench_quick_ratio_within_goal() -> None:
    results = run_sdk_bench(quick=True, bootstrap_servers=None)
    assert {"ours_us_per_span", "otel_us_per_span", "ratio", "otlp_encode_us_per_span"} <= set(results)
    assert results["ratio"] <= 0.5, results


def test_run_sdk_bench_with_broker_reports_throughput(kafka_bootstrap: str) -> None:
    results = run_sdk_bench(quick=True, bootstrap_servers=kafka_bootstrap)
    assert results["exporter_delivered_spans"] == 20_000
    assert results["exporter_spans_per_s"] > 0
