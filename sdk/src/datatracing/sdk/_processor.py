"""Span processors and the exporter port: where ended spans go.

`SimpleSpanProcessor` exports each span as it ends (tests, debugging); `BatchSpanProcessor` queues
spans and exports them from a daemon thread, so the host only pays for a queue append.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from datatracing.sdk._batch import BatchEngine
from datatracing.sdk._context import Context, suppress_instrumentation
from datatracing.sdk._log import RateLimitedLog

if TYPE_CHECKING:
    from datatracing.sdk._readable import ReadableSpan

__all__ = ["BatchSpanProcessor", "ExportResult", "SimpleSpanProcessor", "SpanExporter", "SpanProcessor"]

_log = RateLimitedLog(logging.getLogger("datatracing.sdk"))


class ExportResult(enum.Enum):
    """What an exporter reports for one `export` call."""

    SUCCESS = "success"
    FAILURE = "failure"


class SpanExporter(Protocol):
    """Sends ended spans somewhere. Implementations return FAILURE rather than raise."""

    def export(self, spans: Sequence[ReadableSpan]) -> ExportResult:
        """Send `spans`; called from one thread at a time."""
        ...

    def shutdown(self) -> None:
        """Release resources; later exports return FAILURE."""
        ...

    def force_flush(self, timeout_s: float = 30) -> bool:
        """Wait up to `timeout_s` for sends in flight; False if some are still pending."""
        ...


class SpanProcessor(Protocol):
    """Hooks called by spans at start and end. `on_end` runs on the host's thread: keep it cheap."""

    def on_start(self, span: ReadableSpan, parent_context: Context) -> None: ...

    def on_end(self, span: ReadableSpan) -> None: ...

    def shutdown(self) -> None: ...

    def force_flush(self, timeout_s: float = 30) -> bool: ...


def export_quietly(exporter: SpanExporter, spans: Sequence[ReadableSpan]) -> ExportResult:
    """Export with instrumentation suppressed; an exception becomes FAILURE (logged, rate-limited)."""
    try:
        with suppress_instrumentation():
            result = exporter.export(spans)
    except Exception:
        _log.error("export-raised", "span exporter %r raised", exporter, exc_info=True)
        return ExportResult.FAILURE
    if result is not ExportResult.SUCCESS:
        _log.warning("export-failed", "span exporter %r failed to export %d spans", exporter, len(spans))
    return result


class SimpleSpanProcessor:
    """Exports every span synchronously when it ends. Blocks the host for the export: tests only."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self._is_shutdown = False

    def on_start(self, span: ReadableSpan, parent_context: Context) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if not self._is_shutdown:
            export_quietly(self.exporter, (span,))

    def shutdown(self) -> None:
        if self._is_shutdown:
            return
        self._is_shutdown = True
        try:
            self.exporter.shutdown()
        except Exception:
            _log.error(
                "exporter-shutdown", "span exporter %r failed to shut down", self.exporter, exc_info=True
            )

    def force_flush(self, timeout_s: float = 30) -> bool:
        try:
            return self.exporter.force_flush(timeout_s)
        except Exception:
            _log.error("exporter-flush", "span exporter %r failed to flush", self.exporter, exc_info=True)
            return False


class BatchSpanProcessor:
    """Queues ended spans and exports them in batches from a daemon thread.

    The queue is bounded: when full, the oldest span is dropped and counted in `dropped_spans`. The
    worker exports when `max_export_batch_size` spans are waiting or every `schedule_delay_s`.
    `force_flush` and `shutdown` (also run at interpreter exit) export what is queued;
    `export_timeout_s` bounds one round of exports and the whole of `shutdown`.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        max_queue_size: int = 2048,
        max_export_batch_size: int = 512,
        schedule_delay_s: float = 1.0,
        export_timeout_s: float = 30,
    ) -> None:
        self.exporter = exporter
        self._engine: BatchEngine[ReadableSpan] = BatchEngine(
            lambda batch: export_quietly(exporter, batch) is ExportResult.SUCCESS,
            on_shutdown=exporter.shutdown,
            on_flush=exporter.force_flush,
            max_queue_size=max_queue_size,
            max_export_batch_size=max_export_batch_size,
            schedule_delay_s=schedule_delay_s,
            export_timeout_s=export_timeout_s,
            name="datatracing-span-export",
        )

    @property
    def dropped_spans(self) -> int:
        """Spans dropped because the queue was full (the oldest go first)."""
        return self._engine.dropped

    @property
    def failed_batches(self) -> int:
        """Export calls that did not succeed."""
        return self._engine.failed_batches

    def on_start(self, span: ReadableSpan, parent_context: Context) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        self._engine.emit(span)

    def shutdown(self) -> None:
        self._engine.shutdown()

    def force_flush(self, timeout_s: float = 30) -> bool:
        return self._engine.force_flush(timeout_s)
