"""What the embedded engine holds in memory, for the store worker's `/metrics`.

The store worker's RSS is the Python heap (the sink, the query API), chdb's own allocator (its
jemalloc: query and merge buffers, caches), and the pages of chdb's library that the process has
touched (file-backed: the library is about 550 MB, and new code paths page in more of it). The
figures here separate the engine's part from the rest, so a growing RSS can be traced to its owner:

- `tracked`: the engine's `MemoryTracking` (what its queries, inserts, merges and caches hold now);
- `mark_cache`, `primary_index_cache`, `query_condition_cache`, `uncompressed_cache`: its caches
  (each bounded by its `*_size` server setting);
- `allocator_allocated`, `allocator_resident`, `allocator_retained`: what chdb's jemalloc has handed
  out now (tracked or not), what it keeps resident (that, its metadata and freed pages not yet
  returned), and what it keeps mapped but returned to the OS (`system.jemalloc_stats`).

Under load, resident sits above allocated, and moves between two scrapes: pages the engine's inserts,
merges and reads freed and will take again. Returning them (`SYSTEM JEMALLOC PURGE`) does not lower
it for long, as the engine takes them back at once (docs/performance.md, "eighth session"). The
store's memory grows where allocated and tracked grow.

Only chdb: a ClickHouse server reports its own memory (`system.asynchronous_metrics`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from datatracing.pipeline.errors import PipelineError
from datatracing.pipeline.store._backend import Backend, ChdbBackend

__all__ = ["EngineMemoryCollector", "engine_memory_bytes"]

log = logging.getLogger(__name__)

#: `system.metrics` name -> the `kind` label.
_METRICS = {
    "MemoryTracking": "tracked",
    "MarkCacheBytes": "mark_cache",
    "PrimaryIndexCacheBytes": "primary_index_cache",
    "QueryConditionCacheBytes": "query_condition_cache",
    "UncompressedCacheBytes": "uncompressed_cache",
}
_IN = ", ".join(f"'{name}'" for name in _METRICS)
#: The summary line of jemalloc's `malloc_stats_print`.
_JEMALLOC = re.compile(
    r"Allocated: (\d+), active: \d+, metadata: \d+.*?resident: (\d+), mapped: \d+, "
    r"retained: (\d+)"
)


def engine_memory_bytes(backend: Backend) -> dict[str, int]:
    """The embedded engine's memory by kind (see the module docstring); empty for a server backend."""
    if not isinstance(backend, ChdbBackend):
        return {}
    rows = backend.query(f"SELECT metric, value FROM system.metrics WHERE metric IN ({_IN})").to_pylist()
    figures = {_METRICS[str(row["metric"])]: int(row["value"]) for row in rows}
    stats = backend.query("SELECT stats FROM system.jemalloc_stats").to_pylist()
    match = _JEMALLOC.search(str(stats[0]["stats"])) if stats else None
    if match:
        figures["allocator_allocated"] = int(match.group(1))
        figures["allocator_resident"] = int(match.group(2))
        figures["allocator_retained"] = int(match.group(3))
    return figures


class EngineMemoryCollector(Collector):
    """`datatracing_store_engine_memory_bytes{kind=...}`, read from the engine at scrape time.

    A scrape that cannot read the engine (closed, busy failing) yields nothing rather than failing
    the whole `/metrics` page."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def collect(self) -> Iterator[Any]:
        try:
            figures = engine_memory_bytes(self.backend)
        except PipelineError as exc:
            log.debug("engine memory not read: %s", exc)
            return
        if not figures:
            return
        gauge = GaugeMetricFamily(
            "datatracing_store_engine_memory_bytes",
            "Memory of the embedded ClickHouse engine (chdb) by kind: tracked by the engine, its caches, "
            "its allocator's resident and retained bytes",
            labels=["kind"],
        )
        for kind, value in sorted(figures.items()):
            gauge.add_metric([kind], value)
        yield gauge
