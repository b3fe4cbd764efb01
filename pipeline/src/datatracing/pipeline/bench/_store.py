"""Store benchmark: OTLP bytes -> rows, bytes per span, get-by-id and search latency.

Run: `datatracing bench store --size 1000000 --json` (chdb in a temporary folder).
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.bench._observe import proc_thread_cpu_s
from datatracing.pipeline.bench._traffic import SHOP_SERVICES, TrafficShape, trace_messages
from datatracing.pipeline.store import ClickHouseTraceStore, TraceQuery, open_store

__all__ = [
    "STORE_SHAPE",
    "generate_messages",
    "load",
    "measure_queries",
    "merge_by_table",
    "percentile",
    "run_store_bench",
]

_SERVICES = dict(SHOP_SERVICES)
_NAMES = list(_SERVICES)
#: Spans per insert: the size of the sink's one-second batches under heavy load.
BATCH_SPANS = 20_000
_AUDIT = SamplingAudit(policy="errors-or-slow", policy_version="3f2a9c1", sample_rate=10.0)


#: The web shop's eight services, traces of 3-30 spans (median 9) with HTTP attributes, long URLs and a
#: user id, 3% failing; traces start in time order over the last hour.
STORE_SHAPE = TrafficShape(
    min_spans=3,
    max_spans=30,
    median_spans=9.0,
    error_rate=0.03,
    services=SHOP_SERVICES,
    attributes="web",
)


def generate_messages(spans: int, seed: int = 7) -> Iterator[bytes]:
    """OTLP messages (one trace each) totalling about `spans` spans over the last hour, in the order
    a sink receives them: traces start in time order, so a sink batch holds a few seconds of spans,
    as in production.

    (Start times drawn at random over the hour would make every batch span the hour, and after
    midnight UTC fall in two day partitions: two parts per table per insert, see
    schema/README.md.)
    """
    hour = 3600 * 10**9
    # About ten spans per trace: the traces fill the hour.
    shape = replace(
        STORE_SHAPE, trace_interval_ns=hour * 10 // max(spans, 1), base_time_ns=time.time_ns() - hour
    )
    for message in trace_messages(spans=spans, seed=seed, shape=shape):
        yield message.payload


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (inclusive method); the value itself for fewer than two."""
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _timed_ms(fn: object, *args: object) -> float:
    t0 = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return (time.perf_counter() - t0) * 1000


def load(
    store: ClickHouseTraceStore,
    messages: list[bytes],
    on_quiet: Callable[[], dict[str, float]] | None = None,
) -> dict[str, float]:
    """Decode and insert in sink-sized batches (`BATCH_SPANS`) with background
    merges running, as in production; wait until the merges are quiet; then merge each table into
    one part (`merge_by_table`), so the reads that follow see the same layout whatever the merges did.

    CPU is what "per core" means: the embedded engine decodes and inserts on several threads, so
    spans per wall-clock second on a 2-core machine overstate what one core does. The merges run
    on the engine's `MergeMutate` threads, whose CPU is read from `/proc` (`proc_thread_cpu_s`):
    the steady-state merge cost (`store_merge_cpu_us_per_span`) is theirs from the first insert until
    the merges are quiet, and the decode and insert figures are the process's CPU minus theirs. The
    final `OPTIMIZE` is reported apart (`store_final_merge_cpu_us_per_span`): it merges what the
    background merges left, a cost that depends on when one looks.

    `on_quiet` runs once the merges are quiet, before the final `OPTIMIZE`: its figures join the
    result with the prefix `steady_` (reads over the parts a running store holds).
    """
    batch_spans = BATCH_SPANS
    rows, inserts, wall, decode_cpu, insert_cpu = 0, 0, 0.0, 0.0, 0.0
    pending: list[bytes] = []
    pending_spans = 0
    merges0 = _merge_cpu_s()
    for i, payload in enumerate(messages):
        pending.append(payload)
        pending_spans += 10  # rough; the batch knows the exact count
        if pending_spans >= batch_spans or i == len(messages) - 1:
            t0, c0, m0 = time.perf_counter(), time.process_time(), _merge_cpu_s()
            batch, rejects = store.batch_from_otlp([(p, _AUDIT) for p in pending])
            if rejects:
                raise ValueError(f"generated messages rejected: {rejects[:3]}")
            c1, m1 = time.process_time(), _merge_cpu_s()
            rows += store.insert(batch, dedup_token=f"bench-{i}")
            inserts += 1
            c2, m2 = time.process_time(), _merge_cpu_s()
            wall += time.perf_counter() - t0
            decode_cpu += c1 - c0 - (m1 - m0)
            insert_cpu += c2 - c1 - (m2 - m1)
            pending, pending_spans = [], 0
    _wait_merges_quiet(store)
    merge_cpu = _merge_cpu_s() - merges0
    parts_left = _active_parts(store)
    steady = {f"steady_{key}": value for key, value in on_quiet().items()} if on_quiet else {}
    store.set_merges(running=False)
    try:
        by_table = merge_by_table(store, rows)
    finally:
        store.set_merges(running=True)
    final_merge = sum(by_table.values())
    cpu = decode_cpu + insert_cpu
    per_span_us = 1e6 / max(rows, 1)
    return {
        "spans": float(rows),
        "sink_spans_per_s_per_core": rows / cpu,
        "sink_spans_per_s": rows / wall,
        "sink_decode_cpu_us_per_span": decode_cpu * per_span_us,
        "sink_insert_cpu_us_per_span": insert_cpu * per_span_us,
        "store_merge_cpu_us_per_span": merge_cpu * per_span_us,
        "sink_and_merge_spans_per_s_per_core": rows / (cpu + merge_cpu),
        "store_final_merge_cpu_us_per_span": final_merge,
        "inserts": float(inserts),
        **{f"parts_after_merges_{table}": float(n) for table, n in parts_left.items()},
        **{f"final_{key}": value for key, value in by_table.items()},
        **steady,
    }


def _merge_cpu_s() -> float:
    return proc_thread_cpu_s(os.getpid()).get("MergeMutate", 0.0)


def _wait_merges_quiet(store: ClickHouseTraceStore, quiet_s: float = 3.0, timeout_s: float = 600.0) -> None:
    """Wait until no merge of the store's database has run for `quiet_s` (or `timeout_s` passed)."""
    deadline = time.monotonic() + timeout_s
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        running = store.backend.query(
            "SELECT count() AS n FROM system.merges WHERE database = {db:String}", {"db": store.database}
        ).to_pylist()[0]["n"]
        now = time.monotonic()
        if running:
            quiet_since = now
        elif now - quiet_since >= quiet_s:
            return
        time.sleep(0.25)


def _active_parts(store: ClickHouseTraceStore) -> dict[str, int]:
    rows = store.backend.query(
        "SELECT table, count() AS parts FROM system.parts WHERE database = {db:String} AND active "
        "AND table IN ('spans', 'traces') GROUP BY table ORDER BY table",
        {"db": store.database},
    ).to_pylist()
    return {str(row["table"]): int(row["parts"]) for row in rows}


def merge_by_table(store: ClickHouseTraceStore, rows: int) -> dict[str, float]:
    """Merge every table into one part (`OPTIMIZE FINAL`), one table at a time: the CPU of each
    table's merge per stored span. A materialized view's target table is a table here like the others.

    Call it with background merges stopped (`set_merges(running=False)`): each table's merges are
    started just before its own `OPTIMIZE`, so no other table's merge runs in the CPU it is charged.
    """
    tables = store.backend.query(
        "SELECT DISTINCT table FROM system.parts WHERE database = {db:String} AND active "
        "AND table != 'schema_migrations' ORDER BY table",
        {"db": store.database},
    ).to_pylist()
    figures: dict[str, float] = {}
    for row in tables:
        table = str(row["table"])
        store.backend.execute(f"SYSTEM START MERGES {store.database}.{table}")
        c0 = time.process_time()
        store.backend.execute(f"OPTIMIZE TABLE {store.database}.{table} FINAL")
        figures[f"merge_cpu_us_per_span_{table}"] = (time.process_time() - c0) * 1e6 / max(rows, 1)
    return figures


def _storage(store: ClickHouseTraceStore, rows: int) -> dict[str, float]:
    parts = store.backend.query(
        "SELECT table, sum(bytes_on_disk) AS disk, sum(data_compressed_bytes) AS data "
        "FROM system.parts WHERE database = {db:String} AND active GROUP BY table",
        {"db": store.database},
    ).to_pylist()
    by_table = {str(p["table"]): (int(p["disk"]), int(p["data"])) for p in parts}
    spans_disk = by_table.get("spans", (0, 0))[0]
    return {
        "bytes_per_span": spans_disk / max(rows, 1),
        "bytes_per_span_data_only": by_table.get("spans", (0, 0))[1] / max(rows, 1),
        "bytes_per_span_all_tables": sum(d for d, _ in by_table.values()) / max(rows, 1),
    }


def measure_queries(store: ClickHouseTraceStore, quick: bool) -> dict[str, float]:
    """get_trace and search latencies (ms) on whatever `store` holds."""
    rng = random.Random(13)
    result: dict[str, float] = {}
    ids = [
        bytes(r["t"]).hex()
        for r in store.backend.query(
            f"SELECT trace_id AS t FROM {store.database}.traces ORDER BY rand() LIMIT {{n:UInt32}}",
            {"n": 2 * (20 if quick else 200)},
        ).to_pylist()
    ]
    # Warm up on other ids first, as a running service would be; then time fresh ones.
    warm, ids = ids[: len(ids) // 2], ids[len(ids) // 2 :]
    for t in warm:
        store.get_trace(t)
    gets = [_timed_ms(store.get_trace, t) for t in ids]
    result["get_trace_p50_ms"], result["get_trace_p95_ms"] = percentile(gets, 50), percentile(gets, 95)
    n = 10 if quick else 50
    kinds: dict[str, list[TraceQuery]] = {
        "service_operation": [
            TraceQuery(service=s, operation=rng.choice(_SERVICES[s])) for s in rng.choices(_NAMES, k=n)
        ],
        "duration": [TraceQuery(min_duration_ns=10**8, max_duration_ns=5 * 10**8) for _ in range(n)],
        "attribute": [TraceQuery(attributes={"user.id": f"user-{rng.randrange(100_000)}"}) for _ in range(n)],
        "combined": [
            TraceQuery(
                service="payments",
                status="error",
                min_duration_ns=10**6,
                attributes={"http.status_code": "500"},
            )
            for _ in range(n)
        ],
    }
    for kind, queries in kinds.items():
        store.search(queries[0])
        result[f"search_{kind}_p95_ms"] = percentile([_timed_ms(store.search, q) for q in queries], 95)
    result["attribute_search_p95_ms"] = result["search_attribute_p95_ms"]
    result["search_p95_ms"] = max(result[f"search_{k}_p95_ms"] for k in kinds)
    return result


def run_store_bench(spans: int, quick: bool, workdir: Path) -> dict[str, float]:
    """Measure the store on about `spans` generated spans; `quick` runs fewer lookups."""
    rng = random.Random(11)
    messages = list(generate_messages(spans))
    store = open_store(
        "chdb://" + str((workdir / "chdb").resolve()), database="bench_" + str(rng.randrange(10**9))
    )
    try:
        store.migrate()

        def steady_reads() -> dict[str, float]:
            # The input (~4 GB at 10M spans) would crowd the page cache out while reads are timed;
            # a query service does not hold the sink's input.
            messages.clear()
            os.sync()
            return measure_queries(store, quick)

        # Reads twice: over the parts the background merges left (`steady_*`, what a running store
        # serves), then after the final merge into one part per table (the figures the goals name).
        result = load(store, messages, on_quiet=steady_reads)
        rows = int(result["spans"])
        # Let the bulk load's written pages reach the disk before timing reads: the writeback of
        # a freshly merged 10M-span part otherwise stalls reads for seconds, unlike steady state.
        os.sync()
        result.update(_storage(store, rows))
        result.update(measure_queries(store, quick))
        return result
    finally:
        store.close()
