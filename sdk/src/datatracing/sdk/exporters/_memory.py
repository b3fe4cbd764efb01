"""`InMemorySpanExporter`: keeps exported spans as model objects, for users' tests and ours."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from datatracing.model import Span
from datatracing.sdk._processor import ExportResult
from datatracing.sdk._readable import ReadableSpan

__all__ = ["InMemorySpanExporter"]

_log = logging.getLogger("datatracing.sdk")


class InMemorySpanExporter:
    """Collects exported spans in memory.

    Example:
        >>> from datatracing.sdk import SimpleSpanProcessor, TracerProvider
        >>> exporter = InMemorySpanExporter()
        >>> provider = TracerProvider(service_name="test", shutdown_on_exit=False)
        >>> provider.add_span_processor(SimpleSpanProcessor(exporter))
        >>> provider.get_tracer("t").start_span("work").end()
        >>> [s.name for s in exporter.get_finished_spans()]
        ['work']
    """

    def __init__(self) -> None:
        self._spans: list[Span] = []
        self._lock = threading.Lock()
        self._is_shutdown = False

    def export(self, spans: Sequence[ReadableSpan]) -> ExportResult:
        if self._is_shutdown:
            return ExportResult.FAILURE
        converted: list[Span] = []
        result = ExportResult.SUCCESS
        for span in spans:
            try:
                converted.append(span.to_model())
            except Exception:
                _log.warning("in-memory exporter could not convert span %r", span, exc_info=True)
                result = ExportResult.FAILURE
        with self._lock:
            self._spans.extend(converted)
        return result

    def get_finished_spans(self) -> list[Span]:
        """The spans exported so far, in export order (a copy)."""
        with self._lock:
            return list(self._spans)

    def clear(self) -> None:
        """Forget the spans exported so far."""
        with self._lock:
            self._spans.clear()

    def shutdown(self) -> None:
        self._is_shutdown = True

    def force_flush(self, timeout_s: float = 30) -> bool:
        return True
