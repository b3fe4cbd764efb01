"""`KafkaTracePublisher`: the librdkafka producer engine behind both Kafka span exporters.

Never blocks or raises into the host: `produce` only appends to librdkafka's local queue, which is
bounded (`queue.buffering.max.messages` / `kbytes`); a full queue drops the message and counts its
spans. Delivery (retries, timeouts) happens on librdkafka's threads and is reported through delivery
callbacks, served by `poll(0)` after each publish. The exporters are thin adapters: they group their
spans by trace and hand over the groups with a function encoding a list of spans to OTLP protobuf.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from datatracing.errors import UsageError
from datatracing.sdk._log import RateLimitedLog
from datatracing.wire import CONTENT_TYPE_HEADER, CONTENT_TYPE_OTLP_PROTO, PARTITIONER, trace_key

__all__ = ["KafkaTracePublisher", "LibrdkafkaLog", "PublisherCounters", "halving_chunks"]

T = TypeVar("T")
_HEADERS = [(CONTENT_TYPE_HEADER, CONTENT_TYPE_OTLP_PROTO.encode("ascii"))]


def halving_chunks(
    items: list[T], encode: Callable[[list[T]], bytes | None], max_bytes: int
) -> Iterator[tuple[bytes | None, int]]:
    """Yield `(payload, item count)` for consecutive runs of `items`, halving until each fits.

    `encode` returns None when its items cannot be encoded, which is halved like a payload that is
    too large. A run of one item is yielded whatever it gives: over `max_bytes`, or None; the caller
    decides what to do with it. Items keep their order across the chunks.
    """
    payload = encode(items)
    if payload is not None and len(payload) <= max_bytes:
        yield payload, len(items)
    elif len(items) > 1:
        half = len(items) // 2
        yield from halving_chunks(items[:half], encode, max_bytes)
        yield from halving_chunks(items[half:], encode, max_bytes)
    else:
        yield payload, len(items)


class LibrdkafkaLog:
    """Receives librdkafka's log lines (a reconnect loop logs every few hundred ms) and rate-limits them.

    Holds only the log, never an exporter: the producer keeps it, so a reference back would make a cycle.
    """

    def __init__(self, log: RateLimitedLog) -> None:
        self._log = log

    def log(self, level: int, fmt: str, *args: object) -> None:
        key = str(args[0]) if args else fmt
        self._log.log(level, "librdkafka:" + key, fmt, *args)


def _on_error(
    ref: weakref.ref[KafkaTracePublisher], rate_log: RateLimitedLog, label: str, error: Any
) -> None:
    publisher = ref()
    if publisher is not None:
        publisher.broker_errors += 1
    rate_log.warning("kafka-error", "%s: %s", label, error)


class KafkaTracePublisher:
    """Owns a librdkafka producer, its counters and its lifecycle; produces one message per trace.

    Keys are `datatracing.wire.trace_key` and the partitioner murmur2, as for every DataTracing
    producer, so one trace stays on one partition. `producer_config` entries override the defaults.
    `log` and `label` (the exporter's name, prefixed to messages) say who is talking. Raises
    `UsageError` for a configuration librdkafka rejects.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        log: RateLimitedLog,
        label: str,
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
            # Spans compress about 4x: fewer bytes on the network and on the broker, for librdkafka's
            # own thread's CPU (never the host's threads). `producer_config` may set another codec.
            "compression.type": "lz4",
            "socket.timeout.ms": 10_000,
            "reconnect.backoff.max.ms": 10_000,
            # Weak: a producer -> callback -> exporter cycle would leave the librdkafka client to the
            # cyclic GC, which may then run in a forked child and destroy it there (hang or crash).
            "error_cb": functools.partial(_on_error, weakref.ref(self), log, label),
        }
        config.update(producer_config or {})
        try:
            self._producer: Any = Producer(config)
        except (KafkaException, TypeError, ValueError) as exc:
            raise UsageError(f"invalid Kafka producer configuration: {exc}") from exc
        self._log = log
        self._label = label
        self._max_message_bytes = max_message_bytes
        self._shutdown_timeout_s = shutdown_timeout_s
        self._lock = threading.Lock()
        self._is_shutdown = False
        self.dropped_spans = 0
        self.failed_spans = 0
        self.delivered_spans = 0
        self.broker_errors = 0

    @property
    def is_shutdown(self) -> bool:
        """Whether `shutdown` was called."""
        return self._is_shutdown

    def _on_delivery(self, count: int, error: Any, message: Any) -> None:
        if error is None:
            self.delivered_spans += count
        else:
            self.failed_spans += count
            self._log.warning("kafka-delivery", "%s: %d spans not delivered: %s", self._label, count, error)

    def publish(
        self, topic: str, groups: Mapping[str, list[T]], encode: Callable[[list[T]], bytes | None]
    ) -> bool:
        """Queue each trace's spans (`groups`: trace id -> spans) as messages of at most the size limit.

        `encode` turns a list of spans into one OTLP request, or None when they cannot be encoded (it
        accounts for such a span itself). False when any span could not be queued in this call.
        """
        dropped_before = self.dropped_spans
        ok = True
        produce = self._producer.produce
        for trace_id, group in groups.items():
            key = trace_key(trace_id)
            for payload, count in halving_chunks(group, encode, self._max_message_bytes):
                if payload is None:
                    continue
                if len(payload) > self._max_message_bytes:
                    self.dropped_spans += count
                    self._log.warning(
                        "kafka-oversize", "dropped a span of %d bytes (max_message_bytes)", len(payload)
                    )
                    continue
                try:
                    produce(
                        topic,
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
                    self._log.warning("kafka-produce", "%s: produce failed", self._label, exc_info=True)
        self.poll()
        return ok and self.dropped_spans == dropped_before

    def poll(self) -> None:
        """Serve delivery callbacks without waiting; a failing callback is logged, never raised."""
        try:
            self._producer.poll(0)
        except Exception:
            self._log.warning("kafka-poll", "%s: poll failed", self._label, exc_info=True)

    def flush(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for queued messages; False if some are still undelivered."""
        try:
            remaining: int = self._producer.flush(max(timeout_s, 0.0))
        except Exception:
            self._log.warning("kafka-flush", "%s: flush failed", self._label, exc_info=True)
            return False
        return remaining == 0

    def shutdown(self) -> None:
        """Flush (up to `shutdown_timeout_s`), then drop what is still queued, counted as failed."""
        with self._lock:
            if self._is_shutdown:
                return
            self._is_shutdown = True
        if not self.flush(self._shutdown_timeout_s):
            try:
                self._producer.purge()
                self._producer.poll(0)  # delivers the purge errors to the counters
            except Exception:
                self._log.warning("kafka-purge", "%s: purge failed", self._label, exc_info=True)


class PublisherCounters:
    """The counters of an exporter's `KafkaTracePublisher` (its `_publisher`), read through."""

    _publisher: KafkaTracePublisher

    @property
    def dropped_spans(self) -> int:
        """Spans never queued: librdkafka's queue was full, or a span alone exceeded the size limit."""
        return self._publisher.dropped_spans

    @property
    def failed_spans(self) -> int:
        """Spans queued but not delivered (delivery error, timeout, purge at shutdown)."""
        return self._publisher.failed_spans

    @property
    def delivered_spans(self) -> int:
        """Spans the broker acknowledged."""
        return self._publisher.delivered_spans

    @property
    def broker_errors(self) -> int:
        """Client-level errors librdkafka reported (broker down, authentication, ...)."""
        return self._publisher.broker_errors
