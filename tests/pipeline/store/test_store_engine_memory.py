"""The embedded engine's memory figures (`datatracing_store_engine_memory_bytes`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from datatracing.pipeline.runtime.workers import _purge_engine
from datatracing.pipeline.store import (
    EngineMemoryCollector,
    engine_memory_bytes,
    open_store,
    purge_engine_allocator,
)


def test_the_embedded_engine_reports_its_memory_by_kind(chdb_url: str) -> None:
    store = open_store(chdb_url, database="engine_memory")
    try:
        store.migrate()
        figures = engine_memory_bytes(store.backend)
    finally:
        store.close()

    assert {"tracked", "mark_cache", "query_condition_cache", "allocator_resident"} <= set(figures)
    assert figures["tracked"] > 0
    assert 0 < figures["allocator_allocated"] <= figures["allocator_resident"]
    assert all(value >= 0 for value in figures.values())


def test_the_collector_serves_each_kind_as_a_labelled_gauge(chdb_url: str) -> None:
    store = open_store(chdb_url, database="engine_memory_metrics")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineMemoryCollector(store.backend))
    try:
        text = generate_latest(registry).decode()
    finally:
        store.close()

    assert 'datatracing_store_engine_memory_bytes{kind="tracked"}' in text
    assert 'datatracing_store_engine_memory_bytes{kind="allocator_resident"}' in text


def test_a_closed_store_leaves_the_metrics_page_without_the_engine_figures(chdb_url: str) -> None:
    store = open_store(chdb_url, database="engine_memory_closed")
    store.close()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineMemoryCollector(store.backend))

    assert "datatracing_store_engine_memory_bytes" not in generate_latest(registry).decode()


def _purges(registry: CollectorRegistry) -> tuple[float, float]:
    values = {
        line.split()[0]: float(line.split()[1])
        for line in generate_latest(registry).decode().splitlines()
        if line and not line.startswith("#")
    }
    prefix = "datatracing_store_engine_purge"
    return values[f"{prefix}s_total"], values[f"{prefix}_seconds_total"]


def test_a_purge_returns_the_allocators_free_pages_and_is_counted(chdb_url: str) -> None:
    store = open_store(chdb_url, database="engine_memory_purge")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineMemoryCollector(store.backend))
    try:
        store.migrate()
        purges, seconds = _purges(registry)
        # Freed pages the allocator keeps: a query that builds ~100 MB of strings, then frees them.
        store.backend.query("SELECT length(groupArray(toString(number))) FROM numbers(2000000)")
        kept = engine_memory_bytes(store.backend)["allocator_resident"]
        purge_engine_allocator(store.backend)
        after = engine_memory_bytes(store.backend)["allocator_resident"]
        purges_after, seconds_after = _purges(registry)
    finally:
        store.close()

    assert purges_after == purges + 1
    assert seconds_after > seconds
    assert kept - after > 50 * 2**20


def test_the_workers_purge_skips_a_closed_store(chdb_url: str) -> None:
    store = open_store(chdb_url, database="engine_memory_purge_closed")
    store.close()

    _purge_engine(store)()  # logged, not raised into the trim timer
