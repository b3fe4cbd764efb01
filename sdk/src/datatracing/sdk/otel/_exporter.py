"""`DataTracingKafkaSpanExporter`: OpenTelemetry SDK spans onto DataTracing's spans topic.

The same message format and keying as `datatracing.sdk.KafkaSpanExporter`, through the same producer
engine (`KafkaTracePublisher`): one OTLP protobuf `ExportTraceServiceRequest` per trace per batch,
key = the trace id as 32 lowercase hex characters, murmur2 partitioner, `content-type:
application/x-protobuf`. A service already on OpenTelemetry swaps its exporter and needs no Collector
in between.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from datatracing.model import Span
from datatracing.sdk._log import RateLimitedLog
from datatracing.sdk.exporters._publisher import KafkaTracePublisher, PublisherCounters
from datatracing.sdk.otel._convert import ModelCache, otel_span_to_model
from datatracing.wire import encode_spans

__all__ = ["DataTracingKafkaSpanExporter"]

_log = RateLimitedLog(logging.getLogger("datatracing.sdk.otel"))


class DataTracingKafkaSpanExporter(PublisherCounters, SpanExporter):
    """An OpenTelemetry `SpanExporter` producing to DataTracing's spans topic.

    Never blocks or raises into the host: `export` only queues to librdkafka (bounded by
    `max_queue_messages` / `max_queue_kbytes`; a full queue drops and counts), delivery runs on
    librdkafka's threads. Spans that cannot be converted (an attribute out of the int64 range, an end
    before the start) are dropped and counted in `invalid_spans`. `producer_config` entries override
    the defaults. Other counters: `dropped_spans`, `failed_spans`, `delivered_spans`, `broker_errors`.

    Example:
        >>> from opentelemetry.sdk.trace import TracerProvider  # doctest: +SKIP
        >>> from opentelemetry.sdk.trace.export import BatchSpanProcessor  # doctest: +SKIP
        >>> exporter = DataTracingKafkaSpanExporter("kafka:9092")  # doctest: +SKIP
        >>> TracerProvider().add_span_processor(BatchSpanProcessor(exporter))  # doctest: +SKIP
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str = "otlp_spans",
        *,
        producer_config: Mapping[str, Any] | None = None,
        max_queue_messages: int = 100_000,
        max_queue_kbytes: int = 65_536,
        delivery_timeout_s: float = 30.0,
        max_message_bytes: int = 900_000,
        shutdown_timeout_s: float = 10.0,
    ) -> None:
        self._publisher = KafkaTracePublisher(
            bootstrap_servers,
            log=_log,
            label="DataTracing Kafka exporter",
            producer_config=producer_config,
            max_queue_messages=max_queue_messages,
            max_queue_kbytes=max_queue_kbytes,
            delivery_timeout_s=delivery_timeout_s,
            max_message_bytes=max_message_bytes,
            shutdown_timeout_s=shutdown_timeout_s,
        )
        self.topic = topic
        self.invalid_spans = 0
        """Spans that could not be converted to OTLP (logged, rate-limited)."""

    def _by_trace(self, spans: Sequence[ReadableSpan]) -> dict[str, list[Span]]:
        cache = ModelCache()
        by_trace: dict[str, list[Span]] = {}
        for span in spans:
            try:
                model = otel_span_to_model(span, cache)
            except Exception:
                self.invalid_spans += 1
                _log.warning(
                    "otel-convert", "dropped a span that does not convert: %r", span.name, exc_info=True
                )
                continue
            by_trace.setdefault(model.trace_id, []).append(model)
        return by_trace

    def _encode(self, spans: list[Span]) -> bytes | None:
        try:
            return encode_spans(spans)
        except Exception:
            # One bad attribute value fails the whole encode: the publisher halves to find it.
            if len(spans) == 1:
                self.invalid_spans += 1
                _log.warning("otel-encode", "dropped a span that does not encode", exc_info=True)
            return None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Queue one message per trace; FAILURE when any span could not be converted or queued."""
        if self._publisher.is_shutdown:
            return SpanExportResult.FAILURE
        # Delivery failures of earlier exports are counted by callbacks; only this call's problems count.
        invalid_before = self.invalid_spans
        ok = self._publisher.publish(self.topic, self._by_trace(spans), self._encode)
        ok = ok and self.invalid_spans == invalid_before
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait up to `timeout_millis` for queued messages; False if some are still undelivered."""
        return self._publisher.flush(max(timeout_millis, 0) / 1000)

    def shutdown(self) -> None:
        """Flush (up to `shutdown_timeout_s`), then drop what is still queued, counted as failed."""
        self._publisher.shutdown()
