"""The embedded engine's memory figures (`datatracing_store_engine_memory_bytes`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from datatracing.pipeline.store import EngineMemoryCollector, engine_memory_bytes, open_store


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
