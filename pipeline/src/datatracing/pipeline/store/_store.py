"""`ClickHouseTraceStore`: the `TraceStore` port over any `Backend` (chdb or a ClickHouse server)."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from datatracing.model import Trace
from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.errors import ConfigError
from datatracing.pipeline.store._backend import Backend, Params
from datatracing.pipeline.store._catalog import OperationsCatalog
from datatracing.pipeline.store._cluster import cluster_statements
from datatracing.pipeline.store._migrator import MigrationStatus, Migrator
from datatracing.pipeline.store._port import (
    DependencyEdge,
    Operation,
    SampledTrace,
    TracePage,
    TraceQuery,
    TraceSummary,
    decode_cursor,
    encode_cursor,
)
from datatracing.pipeline.store._read import rows_to_sampling, rows_to_spans, text
from datatracing.pipeline.store._schema import check_identifier, render
from datatracing.pipeline.store._sql import (
    COUNT_SPANS,
    DEPENDENCIES,
    GET_SPANS,
    OPERATIONS,
    SERVICES,
    SUMMARIES,
    TIME_BOUNDS,
    build_search,
)
from datatracing.pipeline.store._sqlread import SqlResult, run_read_sql
from datatracing.pipeline.store.write._batch import SpanBatch

__all__ = ["TABLES", "ClickHouseTraceStore"]

log = logging.getLogger(__name__)

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
# Recent windows a search tries before the whole store (see `search`).
_WINDOWS_NS = (60 * 10**9, 16 * 60 * 10**9)
_BOUNDS_TTL_S = 10.0
#: The tables that hold data (merged by `optimize`).
TABLES = ("spans", "traces", "operations")
_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
# Skip indexes an insert leaves to the merges (which build every index of the part they write):
# the key filters serve only searches for a present-but-empty value, and a fresh part is small
# enough to read whole for those, and hashing every key is a per-span cost the insert path avoids.
_MERGE_BUILT_INDEXES = "idx_attribute_keys,idx_resource_keys"
_DEFER_SETTING = "exclude_materialize_skip_indexes_on_insert"  # ClickHouse 25.x and later

#: The most ids one `existing_trace_ids` call takes (they travel as one query parameter).
MAX_EXISTING_IDS = 1000
# Which of a comma-separated list of validated hex ids have a row in `traces` (a point lookup per id).
_EXISTING_TRACE_IDS = """
SELECT DISTINCT lower(hex(trace_id)) AS id
FROM $db.traces
WHERE trace_id IN (SELECT toFixedString(unhex(arrayJoin(splitByChar(',', {ids:String}))), 16))
"""


def _summary(row: dict[str, Any]) -> TraceSummary:
    return TraceSummary(
        trace_id=text(row["id"]),
        start_ns=int(row["start_ns"]),
        end_ns=int(row["end_ns"]),
        duration_ns=int(row["end_ns"]) - int(row["start_ns"]),
        span_count=int(row["span_count"]),
        root_service=text(row["root_service"]),
        root_name=text(row["root_name"]),
        has_error=bool(row["has_error"]),
        services=[text(s) for s in row["services"]],
    )


class ClickHouseTraceStore:
    """The trace store over ClickHouse; see schema/README.md for the tables.

    Example:
        >>> from datatracing.pipeline.store import open_store
        >>> store = open_store("chdb:///var/lib/datatracing")  # doctest: +SKIP
        >>> store.migrate()  # doctest: +SKIP
        ['0001_spans.sql', '0002_traces.sql', ..., '0010_wider_merges.sql']
    """

    def __init__(
        self,
        backend: Backend,
        *,
        database: str = "datatracing",
        retention_days: int = 30,
        schema_dir: Path | None = None,
        cluster: str | None = None,
    ) -> None:
        self._backend = backend
        self._cluster = cluster
        self._db = check_identifier(database)
        self._retention_days = retention_days
        self._schema_dir = schema_dir
        self._bounds: tuple[float, tuple[int, int] | None] | None = None
        self._can_defer: bool | None = None  # whether the engine knows `_DEFER_SETTING`
        self._catalog = OperationsCatalog()
        render("", self._db, retention_days)  # validate retention now, not at the first migrate
        if cluster is not None:
            try:
                cluster_statements([], cluster)
            except ValueError as exc:
                raise ConfigError(str(exc)) from exc

    @property
    def database(self) -> str:
        return self._db

    @property
    def backend(self) -> Backend:
        return self._backend

    def _sql(self, sql: str) -> str:
        return sql.replace("$db", self._db)

    def _rows(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._backend.query(self._sql(sql), params).to_pylist()
        return rows

    # --- schema ---------------------------------------------------------------------------------

    def migrate(self) -> list[str]:
        """Apply pending migrations in order, and a changed `retention_days`, under the schema lock;
        idempotent; refuses edited or half-applied ones. Returns what this call applied."""
        return self._migrator().migrate()

    def migration_status(self) -> MigrationStatus:
        """Applied and pending migrations and the retention in force; changes nothing."""
        return self._migrator().status()

    def _migrator(self) -> Migrator:
        return Migrator(
            self._backend,
            self._db,
            self._retention_days,
            schema_dir=self._schema_dir,
            for_cluster=self._for_cluster,
        )

    def _for_cluster(self, statements: list[str]) -> list[str]:
        if self._cluster is None:
            return statements
        return cluster_statements([s.strip() for s in statements], self._cluster)

    # --- writes -----------------------------------------------------------------------------------

    def batch_from_otlp(
        self, messages: Iterable[tuple[bytes, SamplingAudit]]
    ) -> tuple[SpanBatch, list[tuple[int, str]]]:
        """`SpanBatch.from_otlp_with_rejects` decoded by the embedded engine (same rows as in Python)."""
        try:
            stage = self._backend.stage()
        except ConfigError as exc:  # e.g. this process holds another chdb engine: decode in Python
            log.warning("engine decoding unavailable, decoding in Python: %s", exc)
            stage = None
        return SpanBatch.from_otlp_with_rejects(messages, stage=stage)

    def insert(self, batch: SpanBatch, *, dedup_token: str | None = None) -> int:
        """Insert the batch in one statement. A retry with the same token is dropped by the server
        (`insert_deduplication_token`); the token is hashed, so any text is safe."""
        if len(batch) == 0:
            return 0
        # On a cluster, forward to the shards inside the INSERT (of the spans and of `operations`),
        # so success means stored (and deduplicated).
        forward: dict[str, str | int] = (
            {"distributed_foreground_insert": 1} if self._cluster is not None else {}
        )
        # Merging the block as if on insert only deduplicates rows within it: sorting and indexing
        # the part already cost enough, and reads tolerate duplicates (see schema/README.md).
        settings: dict[str, str | int] = {"optimize_on_insert": 0, **forward}
        if self._can_defer is None:
            known = self._rows(
                "SELECT count() AS n FROM system.settings WHERE name = {n:String}", {"n": _DEFER_SETTING}
            )
            self._can_defer = int(known[0]["n"]) > 0
        if self._can_defer:
            settings[_DEFER_SETTING] = _MERGE_BUILT_INDEXES
        if dedup_token is not None:
            settings["insert_deduplicate"] = 1
            settings["insert_deduplication_token"] = hashlib.sha256(dedup_token.encode()).hexdigest()
        self._backend.insert_arrow(f"{self._db}.spans", batch.table, settings)
        # After the spans: a name is listed only once spans with it are stored. A failure here
        # fails the insert, whose retry (deduplicated above) writes the names again.
        operations = self._catalog.pending(batch.table)
        if operations is not None:
            self._backend.insert_arrow(
                f"{self._db}.operations", operations, {"insert_deduplicate": 0, **forward}
            )
            self._catalog.written(operations)
        return len(batch)

    # --- reads ------------------------------------------------------------------------------------

    def get_trace(self, trace_id: str) -> Trace | None:
        """The trace's spans, read within its time range from `traces` (one statement)."""
        found = self.get_sampled_trace(trace_id)
        return None if found is None else found.trace

    def get_sampled_trace(self, trace_id: str) -> SampledTrace | None:
        """The trace and its sampling audit: the audit columns come in the same statement."""
        trace_id = trace_id.strip().lower()
        if not _HEX32.match(trace_id):
            return None
        table = self._backend.query(self._sql(GET_SPANS), {"trace_id": trace_id})
        if table.num_rows == 0:
            return None
        trace = Trace(trace_id=trace_id, spans=tuple(rows_to_spans(trace_id, table)))
        return SampledTrace(trace=trace, sampling=rows_to_sampling(table))

    def existing_trace_ids(self, trace_ids: Collection[str]) -> set[str]:
        """The ids of `trace_ids` with a row in `traces`, in one query (at most `MAX_EXISTING_IDS`)."""
        if len(trace_ids) > MAX_EXISTING_IDS:
            raise ConfigError(f"trace_ids: at most {MAX_EXISTING_IDS} ids per call, got {len(trace_ids)}")
        wanted = {t.strip().lower() for t in trace_ids}
        wanted = {t for t in wanted if _HEX32.match(t)}
        if not wanted:
            return set()
        rows = self._rows(_EXISTING_TRACE_IDS, {"ids": ",".join(sorted(wanted))})
        return {text(row["id"]) for row in rows}

    def search(self, query: TraceQuery) -> TracePage:
        """The page of ids in order (`build_search`), then their summaries from `traces`.

        Newest first only needs the newest matches, so the search first looks at the last minute,
        then the last 16 minutes, of the stored spans, and at everything only when a window holds
        too few matches. A window's page is kept only if it is exact: full, and made of traces that
        started inside the window (a trace that started earlier might match before the window too,
        which would make its key earlier).
        """
        needed = 0.0  # the width a window needs, judging by the windows already tried
        for since, width in self._windows(query):
            if width < needed:
                continue
            built = build_search(query, since)
            page = [(str(row["id"]), int(row["k"])) for row in self._rows(built.sql, built.params)]
            if since is not None and len(page) <= query.limit:
                needed = width * (query.limit + 1) / max(len(page), 1)
                continue
            found = self._summaries([trace_id for trace_id, _ in page])
            if since is not None and any(
                trace_id not in found or found[trace_id].start_ns < since for trace_id, _ in page
            ):
                continue
            next_cursor = None
            if len(page) > query.limit:
                page = page[: query.limit]
                next_cursor = encode_cursor(page[-1][1], page[-1][0])
            summaries = [found[trace_id] for trace_id, _ in page if trace_id in found]
            return TracePage(traces=summaries, next_cursor=next_cursor)
        raise AssertionError("the last search window is unbounded")  # pragma: no cover

    def _summaries(self, trace_ids: list[str]) -> dict[str, TraceSummary]:
        if not trace_ids:
            return {}
        rows = self._rows(SUMMARIES, {"ids": ",".join(trace_ids)})
        return {str(row["id"]): _summary(row) for row in rows}

    def _windows(self, query: TraceQuery) -> list[tuple[int | None, float]]:
        """(window start, width) to try, narrowest first; the last is unbounded (`None`)."""
        everything: tuple[int | None, float] = (None, float("inf"))
        bounds = self._time_bounds()
        if bounds is None:
            return [everything]
        lo, top = bounds
        if query.end_ns is not None:
            top = min(top, query.end_ns)
        if query.cursor is not None:
            top = min(top, decode_cursor(query.cursor)[0])
        floor = max(lo, query.start_ns or 0)
        windows: list[tuple[int | None, float]] = [
            (top - width, width) for width in _WINDOWS_NS if top - width > floor
        ]
        return [*windows, everything]

    def _time_bounds(self) -> tuple[int, int] | None:
        """(oldest, newest) span start in the store, cached briefly: windows only need to be near."""
        now = time.monotonic()
        cached = self._bounds
        if cached is None or cached[0] < now:
            row = self._rows(TIME_BOUNDS)[0]
            value = (int(row["lo"]), int(row["hi"])) if int(row["n"]) else None
            cached = self._bounds = (now + _BOUNDS_TTL_S, value)
        return cached[1]

    def services(self) -> list[str]:
        return [text(row["service"]) for row in self._rows(SERVICES)]

    def operations(self, service: str) -> list[Operation]:
        return [
            Operation(name=text(row["name"]), span_kind=_KINDS[int(row["kind"])])
            for row in self._rows(OPERATIONS, {"service": service})
        ]

    def dependencies(self, start_ns: int, end_ns: int) -> list[DependencyEdge]:
        params: dict[str, str | int] = {"start_ns": max(0, start_ns), "end_ns": min(end_ns, 2**63 - 1)}
        return [
            DependencyEdge(
                parent=text(row["parent"]),
                child=text(row["child"]),
                call_count=int(row["call_count"]),
            )
            for row in self._rows(DEPENDENCIES, params)
        ]

    def read_sql(self, sql: str, *, max_rows: int, max_seconds: float) -> SqlResult:
        """Analysts' SQL, read-only and within limits (see `SqlReader`); table names are qualified
        by the caller (`datatracing.spans`)."""
        return run_read_sql(self._backend, sql, max_rows=max_rows, max_seconds=max_seconds)

    def count_spans(self) -> int:
        return int(self._rows(COUNT_SPANS)[0]["n"])

    def optimize(self) -> None:
        """Merge parts now (benchmarks and tests; production leaves merging to the server)."""
        on = "" if self._cluster is None else f"_local ON CLUSTER '{self._cluster}'"
        for table in TABLES:
            self._backend.execute(f"OPTIMIZE TABLE {self._db}.{table}{on} FINAL")

    def set_merges(self, *, running: bool) -> None:
        """Stop or start background merges of every table (benchmarks time merges apart)."""
        action = "START" if running else "STOP"
        for table in TABLES:
            self._backend.execute(f"SYSTEM {action} MERGES {self._db}.{table}")

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> ClickHouseTraceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
