"""Process runtime: the `datatracing up` supervisor (`Stack`), its watch on the embedded broker's
memory (`BrokerMemoryWatch`, with the `/proc` readers it uses, which the benchmarks share), the
workers' heap gauge (`HeapCollector`), and the worker processes.

The worker processes are in the public module `workers`, not re-exported here: importing it loads
Faust, the query service and the store, which the CLI's other commands do not need.
"""

from __future__ import annotations

from datatracing.pipeline.runtime._heap import (
    HEAP_TRIM,
    HeapCollector,
    heap_bytes,
    trim_heap,
    use_malloc_for_arrow,
)
from datatracing.pipeline.runtime._memory import (
    BrokerMemoryWatch,
    meminfo_bytes,
    memory_limit_bytes,
    proc_rss_anon_bytes,
    proc_rss_bytes,
)
from datatracing.pipeline.runtime._stack import Stack, StackState, read_state, state_path, wait_healthy

__all__ = [
    "HEAP_TRIM",
    "BrokerMemoryWatch",
    "HeapCollector",
    "Stack",
    "StackState",
    "heap_bytes",
    "meminfo_bytes",
    "memory_limit_bytes",
    "proc_rss_anon_bytes",
    "proc_rss_bytes",
    "read_state",
    "state_path",
    "trim_heap",
    "use_malloc_for_arrow",
    "wait_healthy",
]
