"""Suite `sampler`: one sampler worker process with ten policies, beside the raw broker copy rate.

Traces of 5-50 spans in 1-3 messages each (12,000 traces, or about `size` spans) are loaded into
the spans topic first; then the real
sampler worker (`datatracing worker sampler`) starts, and its own metrics tell when it began taking
spans and when every trace was decided. Spans/s is spans over that window; the raw copy baseline moves
the same messages with a plain consumer + producer in the same run. Peak RSS is the worker's VmHWM.
Bytes per buffered span come from the engine itself (tracemalloc, payload included).
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path

import httpx

from datatracing.pipeline.bench._engine import BENCH_POLICY, bench_messages, measure_buffer_bytes_per_span
from datatracing.pipeline.bench._kafka import bench_topics, produce_all, raw_copy_rate
from datatracing.pipeline.broker import EmbeddedBroker, free_port
from datatracing.pipeline.config import KafkaSettings, QuerySettings, Settings, WorkerSettings
from datatracing.pipeline.runtime import Stack
from datatracing.pipeline.sampler import SamplerSettings
from datatracing.wire import parse_request, trace_key

_SAMPLE = re.compile(r"^(\w+)(\{[^}]*\})? ([0-9.e+-]+)$")


def _metrics(url: str) -> dict[str, float]:
    """Sum of each metric over its labels, plus quantile gauges by name+quantile."""
    totals: dict[str, float] = {}
    for line in httpx.get(url, timeout=5).text.splitlines():
        match = _SAMPLE.match(line)
        if not match:
            continue
        name, labels, value = match.group(1), match.group(2) or "", float(match.group(3))
        if name.endswith("_quantile_seconds"):
            name += labels
        totals[name] = totals.get(name, 0.0) + value
    return totals


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _keyed(traces: int) -> tuple[list[tuple[bytes, bytes]], int, int]:
    arrivals, spans = bench_messages(traces, seed=5)
    messages = []
    ids = set()
    for _, payload in arrivals:
        trace_id = parse_request(payload).resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
        ids.add(trace_id)
        messages.append((trace_key(trace_id), payload))
    return messages, spans, len(ids)


def _traces_for(size: int) -> int:
    """Traces of the bench's shape that hold about `size` spans (measured on a sample of them)."""
    sample = 500
    _, spans = bench_messages(sample, seed=5)
    return max(1, round(size * sample / spans))


def run_sampler_bench(quick: bool, size: int | None = None) -> dict[str, float]:
    """`size` (spans, about) sets the load; by default 12,000 traces (~330k spans), 1,000 quick."""
    count = _traces_for(size) if size else (1_000 if quick else 12_000)
    messages, spans, traces = _keyed(count)
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        topics = bench_topics(broker.bootstrap_servers)
        produce_all(broker.bootstrap_servers, topics.spans, messages)
        policy = Path(tmp) / "policy.json"
        policy.write_text(json.dumps(BENCH_POLICY))
        settings = Settings(
            data_dir=Path(tmp),
            kafka=KafkaSettings(bootstrap_servers=broker.bootstrap_servers),
            topics=topics,
            query=QuerySettings(port=free_port()),
            worker=WorkerSettings(web_port=free_port(), log_level="warning"),
            sampler=SamplerSettings(decision_wait=1.0, wait_after_root=0.5),
            policy_file=policy,
        )
        stack = Stack(settings, broker_port=None, roles=("sampler",))
        stack.start()
        try:
            # The window runs from the last poll that saw no span taken to the first that saw them
            # all: it holds the worker's whole run (so a short run taken between two polls is not a
            # window of zero), and overstates it by at most a poll interval on each side.
            nothing_taken = time.perf_counter()
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                now = time.perf_counter()
                figures = _metrics(stack.metrics_url)
                taken = figures.get("datatracing_sampler_spans_total", 0.0)
                if not taken:
                    nothing_taken = now
                if taken >= spans:
                    all_taken = now
                    break
                time.sleep(0.05)
            else:
                all_taken = time.perf_counter()
            while time.monotonic() < deadline:
                figures = _metrics(stack.metrics_url)
                if figures.get("datatracing_sampler_traces_decided_total", 0.0) >= traces:
                    break
                time.sleep(0.1)
            worker = stack.workers["sampler"]
            peak_rss = _peak_rss_mb(worker.pid)
        finally:
            stack.stop()
        raw = raw_copy_rate(broker.bootstrap_servers, topics.spans, topics.partitions, len(messages), spans)
    elapsed = max(1e-6, all_taken - nothing_taken)
    rate = spans / elapsed
    return {
        "spans": float(spans),
        "traces": float(traces),
        "traces_decided": figures.get("datatracing_sampler_traces_decided_total", 0.0),
        "spans_per_s": round(rate, 1),
        "raw_copy_spans_per_s": round(raw, 1),
        "ratio": round(rate / raw, 3) if raw else 0.0,
        "peak_rss_mb": round(peak_rss, 1),
        "bytes_per_buffered_span": round(measure_buffer_bytes_per_span(500 if quick else 2_000), 1),
        "decision_latency_p50_ms": round(
            figures.get('datatracing_sampler_decision_latency_quantile_seconds{quantile="0.5"}', 0.0) * 1e3, 1
        ),
        "decision_latency_p95_ms": round(
            figures.get('datatracing_sampler_decision_latency_quantile_seconds{quantile="0.95"}', 0.0) * 1e3,
            1,
        ),
    }
