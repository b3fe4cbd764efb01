"""`KafkaSpanExporter`: OTLP protobuf onto the spans topic, one message per trace, keyed by trace id.

Never blocks or raises into the host: `produce` only appends to librdkafka's local queue, which is
bounded (`queue.buffering.max.messages` / `kbytes`); a full queue drops the message and counts its
spans. Delivery (retries, timeouts) happens on librdkafka's threads and is reported through delivery
callbacks, served by `poll(0)` after each export.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from datatracing.errors import UsageError
from datatracing.sdk._log import RateLimitedLog
from datatracing.sdk._otlp import encode_otlp_spans
from datatracing.sdk._processor import ExportResult
from datatracing.sdk._readable import ReadableSpan
from datatracing.wire import CONTENT_TYPE_HEADER, CONTENT_TYPE_OTLP_PROTO, PARTITIONER, trace_key

__all__ = ["KafkaSpanExporter"]

_log = RateLimitedLog(logging.getLogger("datatracing.sdk.kafka"))
_HEADERS = [(CONTENT_TYPE_HEADER, CONTENT_TYPE_OTLP_PROTO.encode("ascii"))]


class _LibrdkafkaLog:
    """Receives librdkafka's log lines (a reconnect loop logs every few hundred ms) and rate-limits them."""

    def log(self, level: int, fmt: str, *args: object) -> None:
        key = str(args[0]) if args else fmt
        _log.log(level, "librdkafka:" + key, fmt, *args)


class KafkaSpanExporter:
    """Produces each trace's spans of a batch as one OTLP `ExportTraceServiceRequest` message.

    Messages are keyed by `datatracing.wire.trace_key` and partitioned with murmur2, like every
    DataTracing producer, so one trace stays on one partition. A trace chunk larger than
    `max_message_bytes` is split. `producer_config` entries override the defaults.

    Example:
        >>> exporter = KafkaSpanExporter("broker:9092")  # doctest: +SKIP
        >>> provider.add_span_processor(BatchSpanProcessor(exporter))  # doctest: +SKIP
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
        from confluent_kafka import KafkaException, Producer  # lazy: keeps `import datatracing.sdk` light

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
            "logger": _LibrdkafkaLog(),
            "error_cb": self._on_error,
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
        self.dropped_spans = 0
        """Spans never queued: librdkafka's queue was full, or a span alone exceeded the size limit."""
        self.failed_spans = 0
        """Spans queued but not delivered (delivery error, timeout, purge at shutdown)."""
        self.delivered_spans = 0
        self.broker_errors = 0

    def _on_error(self, error: Any) -> None:
        self.broker_errors += 1
        _log.warning("kafka-error", "Kafka span exporter: %s", error)

    def _on_delivery(self, count: int, error: Any, message: Any) -> None:
        if error is None:
            self.delivered_spans += count
        else:
            self.failed_spans += count
            _log.warning("kafka-delivery", "Kafka span exporter: %d spans not delivered: %s", count, error)

    def _chunks(self, spans: list[ReadableSpan]) -> Iterator[tuple[bytes, int]]:
        payload = encode_otlp_spans(spans)
        if len(payload) <= self._max_message_bytes:
            yield payload, len(spans)
        elif len(spans) > 1:
            half = len(spans) // 2
            yield from self._chunks(spans[:half])
            yield from self._chunks(spans[half:])
        else:
            self.dropped_spans += 1
            _log.warning("kafka-oversize", "dropped a span of %d bytes (max_message_bytes)", len(payload))

    def export(self, spans: Sequence[ReadableSpan]) -> ExportResult:
        """Queue one message per trace; FAILURE when any span could not be queued."""
        if self._is_shutdown:
            return ExportResult.FAILURE
        by_trace: dict[str, list[ReadableSpan]] = {}
        for span in spans:
            trace_id = span.span_context.trace_id
            group = by_trace.get(trace_id)
            if group is None:
                by_trace[trace_id] = [span]
            else:
                group.append(span)
        ok = True
        produce = self._producer.produce
        dropped_before = self.dropped_spans
        for trace_id, group in by_trace.items():
            key = trace_key(trace_id)
            for payload, count in self._chunks(group):
                try:
                    produce(
                        self.topic,
                        payload,
                        key,
                        headers=_HEADERS,
                        on_delivery=functools.partial(self._on_delivery, count),
                    )
                except BufferError:
                    self.dropped_spans += count
                    ok = False
                except Exception:
                    self.failed_spans += count
                    ok = False
                    _log.warning("kafka-produce", "Kafka span exporter: produce failed", exc_info=True)
        self._poll()
        if self.dropped_spans != dropped_before:
            _log.warning(
                "kafka-dropped", "Kafka span exporter: local queue full, %d spans dropped", self.dropped_spans
            )
        return ExportResult.SUCCESS if ok and self.dropped_spans == dropped_before else ExportResult.FAILURE

    def _poll(self) -> None:
        try:
            self._producer.poll(0)
        except Exception:  # a failing callback must not escape into the export loop
            _log.warning("kafka-poll", "Kafka span exporter: poll failed", exc_info=True)

    def force_flush(self, timeout_s: float = 30) -> bool:
        """Wait up to `timeout_s` for queued messages; False if some are still undelivered."""
        try:
            remaining: int = self._producer.flush(max(timeout_s, 0.0))
        except Exception:
            _log.warning("kafka-flush", "Kafka span exporter: flush failed", exc_info=True)
            return False
        return remaining == 0

    def shutdown(self) -> None:
        """Flush (up to `shutdown_timeout_s`), then drop what is still queued, counted as failed."""
        with self._lock:
            if self._is_shutdown:
                return
            self._is_shutdown = True
        if not self.force_flush(self._shutdown_timeout_s):
            try:
                self._producer.purge()
                self._producer.poll(0)  # delivers the purge errors to the counters
            except Exception:
                _log.warning("kafka-purge", "Kafka span exporter: purge failed", exc_info=True)
