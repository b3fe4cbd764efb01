"""The generated protobuf code is current, the benchmark runs, the public names are importable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from datatracing.pipeline.bench._engine import run_engine_bench
from datatracing.pipeline.sampler import policies

ROOT = Path(__file__).resolve().parents[3]


def test_genproto_check_generated_code_is_current() -> None:
    result = subprocess.run(
        [str(ROOT / "scripts" / "genproto"), "--check"],
        capture_output=True,
        text=True,
        env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_engine_bench_quick_reports_throughput_and_memory() -> None:
    figures = run_engine_bench(quick=True)
    assert figures["spans"] > 10_000
    assert figures["spans_per_s"] > 0
    assert 0 < figures["kept_ratio"] < 1
    # Payload bytes are retained; the overhead per span stays small (goal: <= 400 B per span).
    assert figures["payload_bytes_per_span"] < figures["bytes_per_buffered_span"] < 400


def test_policies_public_names_importable() -> None:
    assert policies.__all__ == sorted(policies.__all__, key=lambda n: (not n.isupper(), n))
    for name in policies.__all__:
        assert getattr(policies, name) is not None
