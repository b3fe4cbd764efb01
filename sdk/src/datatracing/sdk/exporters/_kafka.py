"""`KafkaSpanExporter`: OTLP protobuf onto the spans topic, one message per trace, keyed by trace id.

A thin adapter over `KafkaTracePublisher`, the producer engine it shares with the OpenTelemetry bridge
exporter: `export` only queues to librdkafka's bounded local queue, so it never blocks or raises into
the host; delivery is reported through callbacks served after each export.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from datatracing.sdk._log import RateLimitedLog
from datatracing.sdk._otlp import encode_otlp_spans
from datatracing.sdk._processor import ExportResult
from datatracing.sdk._readable import ReadableSpan
from datatracing.sdk.exporters._publisher import KafkaTracePublisher, LibrdkafkaLog, PublisherCounters

__all__ = ["KafkaSpanExporter"]

_log = RateLimitedLog(logging.getLogger("datatracing.sdk.kafka"))


class KafkaSpanExporter(PublisherCounters):
    """Produces each trace's spans of a batch as one OTLP `ExportTraceServiceRequest` message.

    Messages are keyed by `datatracing.wire.trace_key` and partitioned with murmur2, like every
    DataTracing producer, so one trace stays on one partition. A trace chunk larger than
    `max_message_bytes` is split. `producer_config` entries override the defaults. Counters:
    `dropped_spans`, `failed_spans`, `delivered_spans`, `broker_errors`.

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
        self._publisher = KafkaTracePublisher(
            bootstrap_servers,
            log=_log,
            label="Kafka span exporter",
            producer_config={"logger": LibrdkafkaLog(_log), **(producer_config or {})},
            max_queue_messages=max_queue_messages,
            max_queue_kbytes=max_queue_kbytes,
            delivery_timeout_s=delivery_timeout_s,
            max_message_bytes=max_message_bytes,
            shutdown_timeout_s=shutdown_timeout_s,
        )
        self.topic = topic

    def export(self, spans: Sequence[ReadableSpan]) -> ExportResult:
        """Queue one message per trace; FAILURE when any span could not be queued."""
        if self._publisher.is_shutdown:
            return ExportResult.FAILURE
        by_trace: dict[str, list[ReadableSpan]] = {}
        for span in spans:
            trace_id = span.span_context.trace_id
            group = by_trace.get(trace_id)
            if group is None:
                by_trace[trace_id] = [span]
            else:
                group.append(span)
        dropped_before = self._publisher.dropped_spans
        ok = self._publisher.publish(self.topic, by_trace, encode_otlp_spans)
        if self._publisher.dropped_spans != dropped_before:
            _log.warning(
                "kafka-dropped", "Kafka span exporter: local queue full, %d spans dropped", self.dropped_spans
            )
        return ExportResult.SUCCESS if ok else ExportResult.FAILURE

    def force_flush(self, timeout_s: float = 30) -> bool:
        """Wait up to `timeout_s` for queued messages; False if some are still undelivered."""
        return self._publisher.flush(timeout_s)

    def shutdown(self) -> None:
        """Flush (up to `shutdown_timeout_s`), then drop what is still queued, counted as failed."""
        self._publisher.shutdown()
