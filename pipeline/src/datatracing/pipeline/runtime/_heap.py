"""What a worker process's heap allocators hold, for its `/metrics`.

A worker's anonymous memory has three allocators besides the embedded engine's own
(`store._engine_memory`):

- glibc's malloc: Python objects over 512 bytes, protobuf messages, librdkafka's buffers;
  `malloc_in_use` is what they hold now, `malloc_free` the free bytes in its arenas (a heap that
  only grows here is fragmentation, not live data; the figure counts them whether or not a trim has
  returned their pages to the OS), and `malloc_mmapped` the large blocks it mapped on their own
  (returned at once on free);
- Arrow's memory pool: the sink's column batches and the read path's results (`arrow_allocated`,
  bytes in use: mimalloc, the wheels' default, keeps freed memory that no figure here shows);
- Python's own small-object arenas, which no figure here counts: the rest of the anonymous RSS.

So a growing RSS can be told apart: live data grows `*_in_use` or `arrow_allocated`; an allocator
that keeps freed memory grows `malloc_free`, or the rest.

Under steady load, live data stays flat and the allocators keep what the threads (the consuming
loop, librdkafka's, the HTTP server's) free: in a soak of the store worker, `malloc_free` climbed
while `malloc_in_use` stayed flat, and mimalloc's arena held freed column batches while Arrow had
nothing in use (figures in docs/performance.md, "seventh session"). Two remedies:

- `trim_heap` hands glibc's free pages back to the OS (`malloc_trim(0)`: the free pages inside the
  arenas too, not only at their tops); the workers call it every `worker.heap_trim_interval_s`;
- `use_malloc_for_arrow` makes glibc's malloc Arrow's pool in the store worker, so the batches'
  memory is trimmed too, for the same CPU.

glibc figures come from `mallinfo2()` (glibc 2.33 and later; the figures are absent elsewhere).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["HEAP_TRIM", "HeapCollector", "heap_bytes", "trim_heap", "use_malloc_for_arrow"]


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",  # bytes in the arenas' main heaps (sbrk and per-thread heaps)
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",  # bytes in blocks mapped on their own
            "usmblks",
            "fsmblks",
            "uordblks",  # bytes in use in the arenas
            "fordblks",  # free bytes kept in the arenas
            "keepcost",
        )
    ]


def _libc(name: str, restype: Any, argtypes: list[Any]) -> Any:
    """glibc's function `name`, or None (another libc, or a glibc without it)."""
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    try:
        function = getattr(ctypes.CDLL(library), name)
    except (OSError, AttributeError):
        return None
    function.restype = restype
    function.argtypes = argtypes
    return function


_MALLINFO2: Callable[[], _Mallinfo2] | None = _libc("mallinfo2", _Mallinfo2, [])
_MALLOC_TRIM: Callable[[int], int] | None = _libc("malloc_trim", ctypes.c_int, [ctypes.c_size_t])
#: Whether `trim_heap` can do anything here (glibc).
HEAP_TRIM = _MALLOC_TRIM is not None


class _TrimStats:
    """Trims done in this process and the seconds they took (for `/metrics`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.trims = 0
        self.seconds = 0.0


_TRIMS = _TrimStats()


def trim_heap() -> None:
    """Return the free memory glibc's arenas keep to the OS (`malloc_trim(0)`); nothing elsewhere.

    It locks one arena at a time while it walks its free blocks: a thread allocating in that arena
    waits meanwhile (`datatracing_process_heap_trim_seconds_total` shows what the trims cost)."""
    if _MALLOC_TRIM is None:
        return
    started = time.perf_counter()
    _MALLOC_TRIM(0)
    took = time.perf_counter() - started
    with _TRIMS.lock:
        _TRIMS.trims += 1
        _TRIMS.seconds += took


def heap_bytes() -> dict[str, int]:
    """The process's heap allocators by kind (see the module docstring); kinds this platform cannot
    read are left out."""
    figures: dict[str, int] = {}
    if _MALLINFO2 is not None:
        info = _MALLINFO2()
        figures["malloc_in_use"] = int(info.uordblks) + int(info.hblkhd)
        figures["malloc_free"] = int(info.fordblks)
        figures["malloc_mmapped"] = int(info.hblkhd)
    try:
        import pyarrow as pa  # the workers that use Arrow have it loaded already
    except ImportError:  # pragma: no cover - a dependency of the pipeline
        return figures
    figures["arrow_allocated"] = int(pa.total_allocated_bytes())
    return figures


def use_malloc_for_arrow() -> None:
    """Make glibc's malloc Arrow's default memory pool in this process (instead of the wheels'
    mimalloc), unless `ARROW_DEFAULT_MEMORY_POOL` names one, or this platform cannot trim (not glibc).
    Call it before Arrow allocates: buffers keep the pool they came from."""
    if not HEAP_TRIM or os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


class HeapCollector(Collector):
    """`datatracing_process_heap_bytes{kind=...}`, read at scrape time; with glibc, also the trims
    done (`datatracing_process_heap_trims_total`, `datatracing_process_heap_trim_seconds_total`)."""

    def collect(self) -> Iterator[Any]:
        gauge = GaugeMetricFamily(
            "datatracing_process_heap_bytes",
            "Memory held by the process's heap allocators by kind: glibc malloc in use, kept free in "
            "its arenas, mapped on its own; Arrow's memory pool",
            labels=["kind"],
        )
        for kind, value in sorted(heap_bytes().items()):
            gauge.add_metric([kind], value)
        yield gauge
        if HEAP_TRIM:
            with _TRIMS.lock:
                trims, seconds = _TRIMS.trims, _TRIMS.seconds
            yield CounterMetricFamily(
                "datatracing_process_heap_trims", "Heap trims (free memory returned to the OS)", value=trims
            )
            yield CounterMetricFamily(
                "datatracing_process_heap_trim_seconds", "Time spent in heap trims", value=seconds
            )
