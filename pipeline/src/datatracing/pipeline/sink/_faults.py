"""`FaultInjectingStore`: a real store behind a switch that makes it fail on demand.

For drills and tests of the sink (like OpenTelemetry's in-memory exporter, it ships in the product):
an outage of N seconds (`StoreUnavailableError`, which the sink retries) and rows the store refuses
(`StoreRejectedError`, which the sink dead-letters). Everything else goes to the real store.
`status_file` receives a JSON snapshot of the counters after every call, so another process can
watch a sink that runs this store.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from datatracing.model import Trace
from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.errors import StoreRejectedError, StoreUnavailableError
from datatracing.pipeline.store import (
    DependencyEdge,
    Operation,
    SampledTrace,
    SpanBatch,
    TracePage,
    TraceQuery,
    TraceStore,
)

__all__ = ["FaultCounters", "FaultInjectingStore"]


@dataclass
class FaultCounters:
    """What the store saw: calls, messages decoded, rows written, failures injected."""

    decode_calls: int = 0
    messages_decoded: int = 0
    insert_calls: int = 0
    rows_written: int = 0
    unavailable_errors: int = 0
    rejections: int = 0
    outage_active: bool = False


class FaultInjectingStore:
    """Forwards to `store`; `fail_for`, `fail_from_next_insert` and `reject_when` inject faults.

    Example:
        >>> faulty = FaultInjectingStore(open_store("chdb:///tmp/x"))  # doctest: +SKIP
        >>> faulty.fail_for(5.0)  # inserts raise StoreUnavailableError for 5 s  # doctest: +SKIP
    """

    def __init__(self, store: TraceStore, *, status_file: Path | None = None) -> None:
        self._store = store
        self._status_file = status_file
        self._lock = threading.Lock()
        self._outage_until = 0.0
        self._pending_outage_s = 0.0
        self._reject: Callable[[SpanBatch], str | None] | None = None
        self.counters = FaultCounters()

    # --- switches ---------------------------------------------------------------------------------

    def fail_for(self, seconds: float) -> None:
        """Inserts raise `StoreUnavailableError` from now for `seconds`."""
        with self._lock:
            self._outage_until = time.monotonic() + seconds

    def fail_from_next_insert(self, seconds: float) -> None:
        """The next insert starts an outage of `seconds` (so it fails, and retries do until then)."""
        with self._lock:
            self._pending_outage_s = seconds

    def reject_when(self, reason_for: Callable[[SpanBatch], str | None]) -> None:
        """Inserts of batches for which `reason_for` returns a reason raise `StoreRejectedError`."""
        self._reject = reason_for

    # --- the port -----------------------------------------------------------------------------------

    def batch_from_otlp(
        self, messages: Iterable[tuple[bytes, SamplingAudit]]
    ) -> tuple[SpanBatch, list[tuple[int, str]]]:
        items = list(messages)
        result = self._store.batch_from_otlp(items)
        with self._lock:
            self.counters.decode_calls += 1
            self.counters.messages_decoded += len(items)
        self._publish()
        return result

    def insert(self, batch: SpanBatch, *, dedup_token: str | None = None) -> int:
        with self._lock:
            now = time.monotonic()
            self.counters.insert_calls += 1
            if self._pending_outage_s:
                self._outage_until, self._pending_outage_s = now + self._pending_outage_s, 0.0
            outage = now < self._outage_until
            self.counters.outage_active = outage
            if outage:
                self.counters.unavailable_errors += 1
        if outage:
            self._publish()
            raise StoreUnavailableError("injected outage: the store is unavailable")
        reason = self._reject(batch) if self._reject is not None else None
        if reason is not None:
            with self._lock:
                self.counters.rejections += 1
            self._publish()
            raise StoreRejectedError(f"injected rejection: {reason}")
        written = self._store.insert(batch, dedup_token=dedup_token)
        with self._lock:
            self.counters.rows_written += written
        self._publish()
        return written

    def migrate(self) -> list[str]:
        return self._store.migrate()

    def get_trace(self, trace_id: str) -> Trace | None:
        return self._store.get_trace(trace_id)

    def get_sampled_trace(self, trace_id: str) -> SampledTrace | None:
        return self._store.get_sampled_trace(trace_id)

    def existing_trace_ids(self, trace_ids: Collection[str]) -> set[str]:
        return self._store.existing_trace_ids(trace_ids)

    def search(self, query: TraceQuery) -> TracePage:
        return self._store.search(query)

    def services(self) -> list[str]:
        return self._store.services()

    def operations(self, service: str) -> list[Operation]:
        return self._store.operations(service)

    def dependencies(self, start_ns: int, end_ns: int) -> list[DependencyEdge]:
        return self._store.dependencies(start_ns, end_ns)

    def count_spans(self) -> int:
        return self._store.count_spans()

    def close(self) -> None:
        self._store.close()

    def _publish(self) -> None:
        if self._status_file is None:
            return
        with self._lock:
            text = json.dumps(asdict(self.counters))
        # Write then rename: a reader never sees half a file.
        partial = self._status_file.with_name(
            f"{self._status_file.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        )
        partial.write_text(text, encoding="utf-8")
        partial.replace(self._status_file)
