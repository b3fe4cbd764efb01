"""`DataTracingKafkaSpanExporter`: OpenTelemetry SDK spans onto DataTracing's spans topic.

The same message format and keying as `datatracing.sdk.KafkaSpanExporter`: one OTLP protobuf
`ExportTraceServiceRequest` per trace per batch, key = the trace id as 32 lowercase hex characters,
murmur2 partitioner, `content-type: application/x-protobuf`. A service already on OpenTelemetry
swaps its exporter and needs no Collector in between.
"""

from __future__ import annotations

import functools
import logging
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from datatracing.errors import UsageError
from datatracing.model import Span
from datatracing.sdk._log import RateLimitedLog
from datatracing.sdk.otel._convert import ModelCache, otel_span_to_model
from datatracing.wire import (
    CONTENT_TYPE_HEADER,
    CONTENT_TYPE_OTLP_PROTO,
    PARTITIONER,
    encode_spans,
    trace_key,
)

__all__ = ["DataTracingKafkaSpanExporter"]

_log = RateLimitedLog(logging.getLogger("datatracing.sdk.otel"))
_HEADERS = [(CONTENT_TYPE_HEADER, CONTENT_TYPE_OTLP_PROTO.encode("ascii"))]


def _on_error(ref: weakref.ref[DataTracingKafkaSpanExporter], error: Any) -> None:
    exporter = ref()
    if exporter is not None:
        exporter.broker_errors += 1
    _log.warning("kafka-error", "DataTracing Kafka exporter: %s", error)


class DataTracingKafkaSpanExporter(SpanExporter):
    """An OpenTelemetry `SpanExporter` producing to DataTracing's spans topic.

    Never blocks or raises into the host: `export` only queues to librdkafka (bounded by
    `max_queue_messages` / `max_queue_kbytes`; a full queue drops and counts), delivery runs on
    librdkafka's threads. Spans that cannot be converted (an attribute out of the int64 range, an end
    before the start) are dropped and counted in `invalid_spans`. `producer_config` entries override
    the defaults.

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
        from confluent_kafka import KafkaException, Producer

        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "partitioner": PARTITIONER,
            "queue.buffering.max.messages": max_queue_messages,
            "queue.buffering.max.kbytes": max_queue_kbytes,
            "message.timeout.ms": int(delivery_timeout_s * 1000),
            "message.send.max.retries": 10,
            "retry.backoff.ms": 200,
            "linger.ms": 20,
            "socket.timeout.ms": 10_000,
            "reconnect.backoff.max.ms": 10_000,
            # Weak: a producer -> callback -> exporter cycle would leave the librdkafka client to the
            # cyclic GC, which may then run in a forked child and destroy it there (hang or crash).
            "error_cb": functools.partial(_on_error, weakref.ref(self)),
        }
        config.update(producer_config or {})
        try:
            self._producer: Any = Producer(config)
        except (KafkaException, TypeError, ValueError) as exc:
            raise UsageError(f"invalid Kafka producer configuration: {exc}") from exc
        self.topic = topic
        self._max_message_bytes = max_message_bytes
        self._shutdown_timeout_s = shutdown_timeout_s
        self._lock = threading.Lock()
        self._is_shutdown = False
        self.invalid_spans = 0
        """Spans that could not be converted to OTLP (logged, rate-limited)."""
        self.dropped_spans = 0
        """Spans never queued: librdkafka's queue was full, or a span alone exceeded the size limit."""
        self.failed_spans = 0
        """Spans queued but not delivered (delivery error, timeout, purge at shutdown)."""
        self.delivered_spans = 0
        self.broker_errors = 0

    def _on_delivery(self, count: int, error: Any, message: Any) -> None:
        if error is None:
            self.delivered_spans += count
        else:
            self.failed_spans += count
            _log.warning(
                "kafka-delivery", "DataTracing Kafka exporter: %d spans not delivered: %s", count, error
            )

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

    def _chunks(self, spans: list[Span]) -> Iterator[tuple[bytes, int]]:
        try:
            payload = encode_spans(spans)
        except Exception:
            # One bad attribute value fails the whole encode: find it by halving.
            if len(spans) == 1:
                self.invalid_spans += 1
                _log.warning("otel-encode", "dropped a span that does not encode", exc_info=True)
                return
            payload = b""
        if payload and len(payload) <= self._max_message_bytes:
            yield payload, len(spans)
        elif len(spans) > 1:
            half = len(spans) // 2
            yield from self._chunks(spans[:half])
            yield from self._chunks(spans[half:])
        else:
            self.dropped_spans += 1
            _log.warning("kafka-oversize", "dropped a span of %d bytes (max_message_bytes)", len(payload))

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Queue one message per trace; FAILURE when any span could not be converted or queued."""
        if self._is_shutdown:
            return SpanExportResult.FAILURE
        # Delivery failures of earlier exports are counted by callbacks; only this call's problems count.
        before = (self.invalid_spans, self.dropped_spans)
        ok = True
        for trace_id, group in self._by_trace(spans).items():
            key = trace_key(trace_id)
            for payload, count in self._chunks(group):
                try:
                    self._producer.produce(
                        self.topic,
                        payload,
                        key,
                        headers=_HEADERS,
                        on_delivery=functools.partial(self._on_delivery, count),
                    )
                except BufferError:
                    self.dropped_spans += count
                except Exception:
                    self.failed_spans += count
                    ok = False
                    _log.warning("kafka-produce", "DataTracing Kafka exporter: produce failed", exc_info=True)
        try:
            self._producer.poll(0)
        except Exception:  # a failing callback must not escape into the export loop
            _log.warning("kafka-poll", "DataTracing Kafka exporter: poll failed", exc_info=True)
        ok = ok and (self.invalid_spans, self.dropped_spans) == before
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait up to `timeout_millis` for queued messages; False if some are still undelivered."""
        try:
            remaining: int = self._producer.flush(max(timeout_millis, 0) / 1000)
        except Exception:
            _log.warning("kafka-flush", "DataTracing Kafka exporter: flush failed", exc_info=True)
            return False
        return remaining == 0

    def shutdown(self) -> None:
        """Flush (up to `shutdown_timeout_s`), then drop what is still queued, counted as failed."""
        with self._lock:
            if self._is_shutdown:
                return
            self._is_shutdown = True
        if not self.force_flush(int(self._shutdown_timeout_s * 1000)):
            try:
                self._producer.purge()
                self._producer.poll(0)
            except Exception:
                _log.warning("kafka-purge", "DataTracing Kafka exporter: purge failed", exc_info=True)
