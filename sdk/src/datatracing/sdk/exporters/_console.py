"""Exporters writing one model JSON object per span per line: to a stream, or appended to a file."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from datatracing.sdk._log import RateLimitedLog
from datatracing.sdk._processor import ExportResult
from datatracing.sdk._readable import ReadableSpan

__all__ = ["ConsoleSpanExporter", "JsonlFileSpanExporter"]

_log = RateLimitedLog(logging.getLogger("datatracing.sdk"))


def _lines(spans: Sequence[ReadableSpan]) -> tuple[str, bool]:
    """The JSON lines of `spans` (`Span.model_dump_json()`), and whether every span converted."""
    lines: list[str] = []
    ok = True
    for span in spans:
        try:
            lines.append(span.to_model().model_dump_json() + "\n")
        except Exception:
            # e.g. bytes attributes that are not UTF-8, which the model's JSON cannot hold.
            _log.warning("jsonl-convert", "could not write span %r as JSON", span, exc_info=True)
            ok = False
    return "".join(lines), ok


class ConsoleSpanExporter:
    """Writes each span as one JSON line to `stream` (default: standard output at export time)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._is_shutdown = False

    def export(self, spans: Sequence[ReadableSpan]) -> ExportResult:
        if self._is_shutdown:
            return ExportResult.FAILURE
        text, ok = _lines(spans)
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            with self._lock:
                stream.write(text)
                stream.flush()
        except (OSError, ValueError):
            _log.warning("console-write", "could not write spans to %r", stream, exc_info=True)
            return ExportResult.FAILURE
        return ExportResult.SUCCESS if ok else ExportResult.FAILURE

    def shutdown(self) -> None:
        self._is_shutdown = True

    def force_flush(self, timeout_s: float = 30) -> bool:
        return True


class JsonlFileSpanExporter:
    """Appends each span as one JSON line (`Span.model_dump_json()`) to the file at `path`.

    The file is opened on the first export and closed by `shutdown`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._file: TextIO | None = None
        self._lock = threading.Lock()
        self._is_shutdown = False

    def export(self, spans: Sequence[ReadableSpan]) -> ExportResult:
        text, ok = _lines(spans)
        with self._lock:
            if self._is_shutdown:
                return ExportResult.FAILURE
            try:
                if self._file is None:
                    self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
                self._file.write(text)
                self._file.flush()
            except OSError:
                _log.warning("jsonl-write", "could not append spans to %s", self.path, exc_info=True)
                return ExportResult.FAILURE
        return ExportResult.SUCCESS if ok else ExportResult.FAILURE

    def shutdown(self) -> None:
        with self._lock:
            self._is_shutdown = True
            if self._file is not None:
                try:
                    self._file.close()
                except OSError:
                    _log.warning("jsonl-close", "could not close %s", self.path, exc_info=True)
                self._file = None

    def force_flush(self, timeout_s: float = 30) -> bool:
        with self._lock:
            if self._file is not None:
                try:
                    self._file.flush()
                except OSError:
                    return False
        return True
