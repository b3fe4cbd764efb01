"""`OtlpHttpSpanExporter`: OTLP/HTTP protobuf to a collector's `/v1/traces`, with the standard library.

Retries what the OTLP spec calls retryable (429, 502, 503, 504, connection errors) with exponential
backoff until `timeout_s` is spent; `shutdown` cuts a backoff short.
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Literal

from datatracing.errors import UsageError
from datatracing.sdk._log import RateLimitedLog
from datatracing.sdk._otlp import encode_otlp_spans
from datatracing.sdk._processor import ExportResult
from datatracing.sdk._readable import ReadableSpan
from datatracing.wire import CONTENT_TYPE_OTLP_PROTO

__all__ = ["OtlpHttpSpanExporter"]

_log = RateLimitedLog(logging.getLogger("datatracing.sdk.otlp"))
_RETRYABLE = frozenset({429, 502, 503, 504})
_PATH = "/v1/traces"


class OtlpHttpSpanExporter:
    """POSTs each batch as one OTLP protobuf `ExportTraceServiceRequest`.

    `endpoint` is the collector's base URL (`/v1/traces` is appended unless already there).

    Example:
        >>> exporter = OtlpHttpSpanExporter("http://collector:4318")  # doctest: +SKIP
    """

    def __init__(
        self,
        endpoint: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
        compression: Literal["none", "gzip"] = "none",
    ) -> None:
        parsed = urllib.parse.urlsplit(endpoint)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UsageError(f"OTLP endpoint must be an http(s) URL, got {endpoint!r}")
        if compression not in ("none", "gzip"):
            raise UsageError(f"compression must be 'none' or 'gzip', got {compression!r}")
        url = endpoint.rstrip("/")
        self.url = url if url.endswith(_PATH) else url + _PATH
        self._headers = {"Content-Type": CONTENT_TYPE_OTLP_PROTO, **(headers or {})}
        if compression == "gzip":
            self._headers["Content-Encoding"] = "gzip"
        self._compression = compression
        self._timeout_s = timeout_s
        self._stop = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> ExportResult:
        if self._stop.is_set():
            return ExportResult.FAILURE
        body = encode_otlp_spans(spans)
        if self._compression == "gzip":
            body = gzip.compress(body)
        deadline = time.monotonic() + self._timeout_s
        backoff = 0.5
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return ExportResult.FAILURE
            retry = self._post(body, remaining)
            if retry is None:
                return ExportResult.SUCCESS
            if not retry or time.monotonic() + backoff >= deadline or self._stop.wait(backoff):
                return ExportResult.FAILURE
            backoff *= 2

    def _post(self, body: bytes, timeout_s: float) -> bool | None:
        """None on success, else whether the failure is worth retrying."""
        request = urllib.request.Request(self.url, data=body, headers=self._headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                response.read()
            return None
        except urllib.error.HTTPError as exc:
            _log.warning("otlp-http-status", "OTLP export to %s failed: HTTP %d", self.url, exc.code)
            return exc.code in _RETRYABLE
        except (urllib.error.URLError, OSError) as exc:
            _log.warning("otlp-http-connect", "OTLP export to %s failed: %s", self.url, exc)
            return True

    def shutdown(self) -> None:
        self._stop.set()

    def force_flush(self, timeout_s: float = 30) -> bool:
        return True  # nothing is buffered here: each export completes or fails before returning
