"""Micro-benchmark of the partition engine alone (no broker): spans/s and bytes per buffered span.

`run_engine_bench(quick)` feeds pre-encoded OTLP messages (each one chunk of one trace, traces of
5-50 spans with 4 attributes each, ~200 traces open at once) through `add` + `poll` under a virtual
clock, with a policy file of ten policies of every common kind (about a quarter of the traces are
kept), and measures the retained memory per buffered span with tracemalloc.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Any

from datatracing.pipeline.bench._traffic import TrafficShape, trace_messages
from datatracing.pipeline.config import SamplerSettings
from datatracing.pipeline.sampler import PartitionEngine
from datatracing.pipeline.sampler.policies import CompiledPolicy, load_policy

__all__ = [
    "BENCH_POLICY",
    "ENGINE_SHAPE",
    "bench_messages",
    "measure_buffer_bytes_per_span",
    "run_engine_bench",
]

#: Ten policies of every common kind, like a production file.
BENCH_POLICY: dict[str, Any] = {
    "version": "bench",
    "policies": [
        {"name": "no-health", "type": "drop", "policy": {"type": "operation", "values": ["GET /health"]}},
        {"name": "errors", "type": "status_code"},
        {"name": "slow", "type": "latency", "lower_ms": 900},
        {"name": "checkout", "type": "service", "values": ["checkout"], "spans": "root"},
        {"name": "server-errors", "type": "numeric_attribute", "key": "http.status_code", "min": 500},
        {"name": "debug", "type": "boolean_attribute", "key": "app.debug", "value": True},
        {
            "name": "admin",
            "type": "string_attribute",
            "key": "http.route",
            "values": ["^/admin/"],
            "match": "regex",
        },
        {"name": "big", "type": "span_count", "min": 49},
        {
            "name": "gold-sampled",
            "type": "and",
            "policies": [
                {"type": "string_attribute", "key": "tenant.tier", "values": ["gold"], "level": "resource"},
                {"type": "probabilistic", "sample_one_in": 10},
            ],
        },
        {"name": "baseline", "type": "probabilistic", "sample_one_in": 20},
    ],
}

_MS = 1_000_000

#: Ten services, one per trace (one resource per message), traces of 5-50 spans with four HTTP
#: attributes, cut into 1-3 messages with the root span last; a new trace every 0.5 ms.
ENGINE_SHAPE = TrafficShape(
    min_spans=5,
    max_spans=50,
    error_rate=0.03,
    base_time_ns=0,
    trace_interval_ns=_MS // 2,
    median_duration_ms=50.0,
    services=tuple(
        (name, ("GET /api", "SELECT items", "HTTP GET", "cache.get"))
        for name in (
            "frontend",
            "checkout",
            "cart",
            "payments",
            "inventory",
            "search",
            "ads",
            "auth",
            "mail",
            "mq",
        )
    ),
    one_service_per_trace=True,
    attributes="compact",
    max_chunks=3,
    chunk_spread_ns=100 * _MS,
    root_last=True,
)


def bench_messages(traces: int, seed: int = 7) -> tuple[list[tuple[int, bytes]], int]:
    """(virtual arrival time ns, payload) in arrival order, and the span count, from `ENGINE_SHAPE`:
    a new trace every 0.5 ms whose chunks arrive over 100 ms, so ~200 traces are open at once."""
    messages = trace_messages(traces, seed=seed, shape=ENGINE_SHAPE)
    return [(m.arrival_ns, m.payload) for m in messages], sum(m.spans for m in messages)


def _settings() -> SamplerSettings:
    return SamplerSettings(decision_wait=0.5, wait_after_root=0.05, max_trace_age=2)


def _run_once(messages: list[tuple[int, bytes]], policy: CompiledPolicy) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, kept ratio) of add + poll every 64 messages + a final flush."""
    engine = PartitionEngine(0, policy, _settings())
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    for offset, (at, payload) in enumerate(messages):
        engine.add(offset, payload, (), at)
        if offset % 64 == 0:
            engine.poll(at)
    engine.flush_all(messages[-1][0] + 10_000 * _MS)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stats = engine.stats
    return wall, cpu, stats.kept_traces / max(1, stats.kept_traces + stats.dropped_traces)


def run_engine_bench(quick: bool = False, policy: CompiledPolicy | None = None) -> dict[str, float]:
    """Throughput of `add` + `poll` (+ final flush) in spans/s, and bytes retained per buffered span.

    `spans_per_s` is wall clock, `spans_per_cpu_s` process CPU time (steadier on a shared machine);
    the full run reports the best of three rounds.
    """
    traces = 1_500 if quick else 12_000
    messages, spans = bench_messages(traces)
    policy = policy or load_policy(BENCH_POLICY, "<bench>")
    rounds = [_run_once(messages, policy) for _ in range(1 if quick else 3)]
    wall = min(r[0] for r in rounds)
    cpu = min(r[1] for r in rounds)
    return {
        "spans": float(spans),
        "traces": float(traces),
        "messages": float(len(messages)),
        "seconds": wall,
        "spans_per_s": spans / wall,
        "spans_per_cpu_s": spans / max(cpu, 1e-9),
        "kept_ratio": rounds[0][2],
        "payload_bytes_per_span": sum(len(p) for _, p in messages) / spans,
        "bytes_per_buffered_span": measure_buffer_bytes_per_span(300 if quick else 2_000),
    }


def measure_buffer_bytes_per_span(traces: int = 2_000) -> float:
    """Memory retained per buffered span (payload bytes included), by tracemalloc."""
    engine = PartitionEngine(0, load_policy(BENCH_POLICY, "<bench>"), SamplerSettings())
    gc.collect()
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        # Messages are built while tracing so their bytes, which the engine keeps, are counted.
        messages, _ = bench_messages(traces, seed=11)
        for offset, (at, payload) in enumerate(messages):
            engine.add(offset, payload, (), at // 1_000_000)  # slow clock: nothing completes
        del messages
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        if not tracing:
            tracemalloc.stop()
    return retained / max(1, engine.stats.buffered_spans)
