"""The ClickHouse trace store: schema migrations, columnar inserts, get-by-id, search.

Example:
    >>> from datatracing.pipeline.store import SpanBatch, TraceQuery, open_store
    >>> store = open_store("chdb:///tmp/datatracing-doc")  # doctest: +SKIP
    >>> store.migrate()  # doctest: +SKIP
    >>> store.insert(SpanBatch.from_spans(spans), dedup_token="spans:0:0-99")  # doctest: +SKIP
    >>> store.search(TraceQuery(service="checkout", status="error"))  # doctest: +SKIP
"""

from __future__ import annotations

from datatracing.pipeline.store._cluster import cluster_statements
from datatracing.pipeline.store._engine_memory import EngineMemoryCollector, engine_memory_bytes
from datatracing.pipeline.store._errors import StoreQueryError, StoreSchemaError
from datatracing.pipeline.store._migrator import MigrationStatus
from datatracing.pipeline.store._open import open_store
from datatracing.pipeline.store._port import (
    DependencyEdge,
    Operation,
    SampledTrace,
    SqlReader,
    TracePage,
    TraceQuery,
    TraceSampling,
    TraceStore,
    TraceSummary,
)
from datatracing.pipeline.store._sqlread import (
    SqlColumn,
    SqlLimitError,
    SqlReadOnlyError,
    SqlResult,
    check_read_statement,
)
from datatracing.pipeline.store._store import ClickHouseTraceStore
from datatracing.pipeline.store.write._batch import SpanBatch

__all__ = [
    "ClickHouseTraceStore",
    "DependencyEdge",
    "EngineMemoryCollector",
    "MigrationStatus",
    "Operation",
    "SampledTrace",
    "SpanBatch",
    "SqlColumn",
    "SqlLimitError",
    "SqlReadOnlyError",
    "SqlReader",
    "SqlResult",
    "StoreQueryError",
    "StoreSchemaError",
    "TracePage",
    "TraceQuery",
    "TraceSampling",
    "TraceStore",
    "TraceSummary",
    "check_read_statement",
    "cluster_statements",
    "engine_memory_bytes",
    "open_store",
]
