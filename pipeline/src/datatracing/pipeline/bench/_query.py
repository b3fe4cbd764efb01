"""Suite `query`: what the query service adds to the store's own time, the graph, and the UI paint.

On the store bench's data (`--size` generated spans, plus one trace of 10,000 spans), with the real
query app served by uvicorn on loopback and called through HTTP:

- `store_trace_p95_ms`: `TraceStore.get_trace` called directly (the raw baseline);
- `trace_p95_ms`, `jaeger_trace_p95_ms`: `/v1/traces/{id}` and `/api/traces/{id}` for the same ids,
  and `*_overhead_p95_ms`, their p95 minus the store's;
- `search_p95_ms`: `/v1/traces?service=…&limit=20`;
- `graph_10k_ms`: the trace graph and critical path of the 10,000-span trace (the pure function,
  best of a few runs), and `graph_10k_http_ms` for the whole route (store read included);
- `ui_10k_paint_ms`: headless Chromium, from navigation to the painted waterfall of that trace
  (only where a Chromium is installed).
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import httpx

from datatracing.model import Trace
from datatracing.pipeline.bench._serve import serve_in_thread
from datatracing.pipeline.bench._store import generate_messages, load, percentile
from datatracing.pipeline.bench._traffic import TrafficShape, synthetic_trace
from datatracing.pipeline.query import create_app, trace_graph
from datatracing.pipeline.store import ClickHouseTraceStore, SpanBatch, open_store

__all__ = ["run_query_bench"]

_BIG = 10_000


def _big_trace() -> Trace:
    shape = TrafficShape(min_spans=_BIG, max_spans=_BIG, error_rate=1.0, base_time_ns=time.time_ns() - 10**12)
    return Trace.from_spans(synthetic_trace(random.Random(5), shape, shape.base_time_ns or 0))


def _sample_ids(store: ClickHouseTraceStore, n: int) -> list[str]:
    rows = store.backend.query(
        f"SELECT trace_id AS t FROM {store.database}.traces ORDER BY rand() LIMIT {{n:UInt32}}", {"n": n}
    ).to_pylist()
    return [bytes(r["t"]).hex() for r in rows]


def _timed_get(client: httpx.Client, url: str) -> float:
    t0 = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - t0) * 1000
    response.raise_for_status()
    return elapsed


def _latencies(store: ClickHouseTraceStore, base: str, ids: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    store_ms: list[float] = []
    v1_ms: list[float] = []
    jaeger_ms: list[float] = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for t in ids[:10]:  # warm-up, as a running service would be
            store.get_trace(t)
            client.get(f"/v1/traces/{t}")
            client.get(f"/api/traces/{t}")
        for t in ids[10:]:
            t0 = time.perf_counter()
            store.get_trace(t)
            store_ms.append((time.perf_counter() - t0) * 1000)
            v1_ms.append(_timed_get(client, f"/v1/traces/{t}"))
            jaeger_ms.append(_timed_get(client, f"/api/traces/{t}"))
        services = client.get("/v1/services").json()["data"]
        rng = random.Random(3)
        searches = [
            _timed_get(client, f"/v1/traces?service={rng.choice(services)}&limit=20") for _ in range(len(ids))
        ]
    out["store_trace_p95_ms"] = percentile(store_ms, 95)
    out["trace_p95_ms"] = percentile(v1_ms, 95)
    out["jaeger_trace_p95_ms"] = percentile(jaeger_ms, 95)
    out["trace_overhead_p95_ms"] = out["trace_p95_ms"] - out["store_trace_p95_ms"]
    out["jaeger_trace_overhead_p95_ms"] = out["jaeger_trace_p95_ms"] - out["store_trace_p95_ms"]
    out["search_p95_ms"] = percentile(searches, 95)
    return out


def _graph(store: ClickHouseTraceStore, base: str, big: Trace) -> dict[str, float]:
    stored = store.get_trace(big.trace_id)
    if stored is None or len(stored.spans) != _BIG:
        raise RuntimeError("the 10,000-span trace was not stored whole")
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        trace_graph(stored)
        best = min(best, (time.perf_counter() - t0) * 1000)
    with httpx.Client(base_url=base, timeout=60) as client:
        http_ms = min(_timed_get(client, f"/v1/traces/{big.trace_id}/graph") for _ in range(3))
    return {"graph_10k_ms": best, "graph_10k_http_ms": http_ms}


def _paint(base: str, trace_id: str) -> dict[str, float]:
    if shutil.which("chromium") is None:
        return {}
    from datatracing.pipeline.bench._browser import paint_ms

    return {"ui_10k_paint_ms": min(paint_ms(f"{base}/trace/{trace_id}") for _ in range(3))}


def run_query_bench(spans: int, quick: bool, workdir: Path) -> dict[str, float]:
    """Fill a chdb store under `workdir` with about `spans` spans and time the query service on it."""
    store = open_store("chdb://" + str((workdir / "chdb").resolve()), database="bench_query")
    try:
        store.migrate()
        result = {"spans": load(store, list(generate_messages(spans)))["spans"]}
        big = _big_trace()
        store.insert(SpanBatch.from_spans(big.spans))
        ids = _sample_ids(store, 10 + (20 if quick else 200))
        with serve_in_thread(create_app(store)) as base:
            result.update(_latencies(store, base, ids))
            result.update(_graph(store, base, big))
            result.update(_paint(base, big.trace_id))
        return result
    finally:
        store.close()
