from __future__ import annotations

from pathlib import Path

from datatracing.pipeline.bench._store import run_store_bench

KEYS = {
    "spans",
    "sink_spans_per_s_per_core",
    "bytes_per_span",
    "get_trace_p95_ms",
    "search_p95_ms",
    "attribute_search_p95_ms",
    # The same reads over the parts the background merges left, before the final merge.
    "steady_get_trace_p95_ms",
    "steady_search_p95_ms",
}


def test_run_store_bench_quick_reports_every_figure(tmp_path: Path) -> None:
    result = run_store_bench(2000, quick=True, workdir=tmp_path)

    assert set(result) >= KEYS
    assert result["spans"] >= 2000
    assert all(value > 0 for key, value in result.items() if key in KEYS)
