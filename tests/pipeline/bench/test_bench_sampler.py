from __future__ import annotations

from datatracing.pipeline.bench._sampler import run_sampler_bench


def test_run_sampler_bench_decides_every_trace_of_the_asked_size() -> None:
    result = run_sampler_bench(quick=True, size=20_000)

    # `size` is in spans: about 20,000 spans, in traces of the bench's shape.
    assert 10_000 <= result["spans"] <= 30_000
    assert result["traces_decided"] == result["traces"]
    assert result["spans_per_s"] > 0
    assert result["raw_copy_spans_per_s"] > 0
    assert abs(result["ratio"] - result["spans_per_s"] / result["raw_copy_spans_per_s"]) <= 0.001
