"""confluent-kafka wrappers following OpenTelemetry's messaging conventions.

- `TracedProducer.produce` starts a PRODUCER span "send {topic}" and writes its W3C context into the
  record's headers, so whoever processes the record can join the trace.
- `TracedConsumer.process_span(message)` is a CONSUMER span "process {topic}" whose parent is the
  context carried by the message: put the work done for one record inside it.
- `TracedConsumer.process_batch_span(messages)` is one CONSUMER span for a batch, LINKING to each
  message's context (a batch has many parents, so it picks none of them).

Polling itself makes no span: most polls return nothing, and the work worth tracing is the processing.
The wrapped client is used unchanged otherwise (`flush`, `assign`, `commit`... are passed through).
Tracing never raises into the caller; the client's own exceptions pass through untouched.

Example:
    >>> producer = TracedProducer(Producer({"bootstrap.servers": servers}))  # doctest: +SKIP
    >>> producer.produce("orders", value=b"{...}", key=b"order-1")  # doctest: +SKIP
    >>> consumer = TracedConsumer(Consumer(config), group_id="billing")  # doctest: +SKIP
    >>> message = consumer.poll(1.0)  # doctest: +SKIP
    >>> with consumer.process_span(message):  # doctest: +SKIP
    ...     bill(message.value())
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from datatracing.model import SpanKind
from datatracing.sdk._api import INVALID_SPAN, Link, Span, get_current_span, set_span_in_context
from datatracing.sdk._carriers import kafka_getter, kafka_setter
from datatracing.sdk._context import Context
from datatracing.sdk._propagation import TextMapPropagator, get_global_propagator
from datatracing.sdk._provider import TracerProvider
from datatracing.sdk.instrumentation._common import activate, log, mark_error, tracer_for
from datatracing.sdk.semconv import (
    MESSAGING_BATCH_MESSAGE_COUNT,
    MESSAGING_CONSUMER_GROUP_NAME,
    MESSAGING_DESTINATION_NAME,
    MESSAGING_DESTINATION_PARTITION_ID,
    MESSAGING_KAFKA_MESSAGE_KEY,
    MESSAGING_KAFKA_OFFSET,
    MESSAGING_MESSAGE_BODY_SIZE,
    MESSAGING_OPERATION_NAME,
    MESSAGING_OPERATION_TYPE,
    MESSAGING_SYSTEM,
    PIPELINE_LAG_MS,
    lag_ms,
)

__all__ = ["KafkaMessage", "TracedConsumer", "TracedProducer"]

SCOPE_NAME = "datatracing.instrumentation.kafka"
_TIMESTAMP_NOT_AVAILABLE = 0

Headers = Mapping[str, bytes | str | None] | Sequence[tuple[str, bytes | str | None]]


class KafkaMessage(Protocol):
    """What the wrappers read from a consumed record (`confluent_kafka.Message` has all of it)."""

    def topic(self) -> str | None: ...

    def partition(self) -> int | None: ...

    def offset(self) -> int | None: ...

    def key(self) -> bytes | str | None: ...

    def value(self) -> bytes | str | None: ...

    def headers(self) -> list[tuple[str, bytes]] | None: ...

    def error(self) -> object | None: ...


def _key_text(key: object) -> str | None:
    if isinstance(key, str):
        return key
    if isinstance(key, bytes):
        try:
            return key.decode("utf-8")
        except UnicodeDecodeError:
            return None  # binary keys are not attributes
    return None


def _base_attributes(operation: str, operation_type: str) -> dict[str, object]:
    return {
        MESSAGING_SYSTEM: "kafka",
        MESSAGING_OPERATION_TYPE: operation_type,
        MESSAGING_OPERATION_NAME: operation,
    }


def _message_attributes(attributes: dict[str, object], key: object, value: object) -> None:
    text = _key_text(key)
    if text is not None:
        attributes[MESSAGING_KAFKA_MESSAGE_KEY] = text
    if isinstance(value, bytes | str):
        attributes[MESSAGING_MESSAGE_BODY_SIZE] = len(value)


class TracedProducer:
    """Wraps a `confluent_kafka.Producer`: each `produce` is a PRODUCER span with its context injected.

    The span covers handing the record to librdkafka's queue (delivery is asynchronous and reported
    to your `on_delivery` callback as usual). Headers you pass are copied, never modified.
    """

    def __init__(
        self,
        producer: Any,
        tracer_provider: TracerProvider | None = None,
        *,
        propagator: TextMapPropagator | None = None,
    ) -> None:
        self.producer = producer
        self._tracer = tracer_for(tracer_provider, SCOPE_NAME)
        self._propagator = propagator

    def _start(
        self, topic: str, key: object, value: object, headers: Headers | None, kwargs: dict[str, Any]
    ) -> tuple[Span, Headers | None]:
        try:
            attributes = _base_attributes("send", "send")
            attributes[MESSAGING_DESTINATION_NAME] = topic
            partition = kwargs.get("partition")
            if isinstance(partition, int) and partition >= 0:
                attributes[MESSAGING_DESTINATION_PARTITION_ID] = str(partition)
            _message_attributes(attributes, key, value)
            span = self._tracer.start_span(f"send {topic}", kind=SpanKind.PRODUCER, attributes=attributes)
        except Exception:
            log.error("kafka-produce-start", "Kafka tracing failed to start a send span", exc_info=True)
            return INVALID_SPAN, headers
        try:
            carrier: Any = dict(headers) if isinstance(headers, Mapping) else list(headers or ())
            propagator = self._propagator or get_global_propagator()
            propagator.inject(carrier, set_span_in_context(span), kafka_setter)
        except Exception:
            # The record still goes out with the caller's headers, its span still ends.
            log.error("kafka-produce-inject", "Kafka tracing failed to inject trace context", exc_info=True)
            return span, headers
        return span, carrier

    def produce(
        self,
        topic: str,
        value: bytes | str | None = None,
        key: bytes | str | None = None,
        headers: Headers | None = None,
        **kwargs: Any,
    ) -> None:
        """`Producer.produce` inside a "send {topic}" span; `kwargs` go to it unchanged."""
        span, traced_headers = self._start(topic, key, value, headers, kwargs)
        if traced_headers is not None:
            kwargs["headers"] = traced_headers
        try:
            self.producer.produce(topic, value=value, key=key, **kwargs)
        except Exception as exc:
            mark_error(span, exc)
            raise
        finally:
            span.end()

    def poll(self, timeout: float = 0) -> int:
        """`Producer.poll`: serves delivery callbacks."""
        served: int = self.producer.poll(timeout)
        return served

    def flush(self, timeout: float = -1) -> int:
        """`Producer.flush`: waits for queued records; returns how many are still queued."""
        remaining: int = self.producer.flush(timeout)
        return remaining

    def __len__(self) -> int:
        return len(self.producer)

    def __getattr__(self, name: str) -> Any:
        if name == "producer":  # not set yet: __init__ failed; avoid endless recursion
            raise AttributeError(name)
        return getattr(self.producer, name)


class TracedConsumer:
    """Wraps a `confluent_kafka.Consumer`: process spans for records, joined to their producers' traces.

    `group_id` is recorded as `messaging.consumer.group.name` (the client does not expose its config).
    """

    def __init__(
        self,
        consumer: Any,
        tracer_provider: TracerProvider | None = None,
        *,
        group_id: str | None = None,
        propagator: TextMapPropagator | None = None,
    ) -> None:
        self.consumer = consumer
        self.group_id = group_id
        self._tracer = tracer_for(tracer_provider, SCOPE_NAME)
        self._propagator = propagator

    def poll(self, timeout: float = -1) -> Any:
        """`Consumer.poll`: the next message (or error event), or None."""
        return self.consumer.poll(timeout)

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Any]:
        """`Consumer.consume`: up to `num_messages` messages; trace them with `process_batch_span`."""
        messages: list[Any] = self.consumer.consume(num_messages, timeout)
        return messages

    def extract(self, message: KafkaMessage) -> Context:
        """The current context with the trace context carried in `message`'s headers (if any)."""
        propagator = self._propagator or get_global_propagator()
        return propagator.extract(message.headers() or [], getter=kafka_getter)

    def _attributes(self, operation: str, topic: str | None, partition: int | None) -> dict[str, object]:
        attributes = _base_attributes(operation, "process")
        if topic:
            attributes[MESSAGING_DESTINATION_NAME] = topic
        if partition is not None and partition >= 0:
            attributes[MESSAGING_DESTINATION_PARTITION_ID] = str(partition)
        if self.group_id:
            attributes[MESSAGING_CONSUMER_GROUP_NAME] = self.group_id
        return attributes

    def _start_process(self, message: KafkaMessage) -> tuple[Span, Context | None]:
        try:
            parent = self.extract(message)
            topic = message.topic()
            attributes = self._attributes("process", topic, message.partition())
            offset = message.offset()
            if offset is not None and offset >= 0:
                attributes[MESSAGING_KAFKA_OFFSET] = offset
            _message_attributes(attributes, message.key(), message.value())
            timestamp = getattr(message, "timestamp", None)
            if callable(timestamp):
                kind, millis = timestamp()
                if kind != _TIMESTAMP_NOT_AVAILABLE and millis > 0:
                    attributes[PIPELINE_LAG_MS] = lag_ms(millis * 1_000_000)
            name = f"process {topic}" if topic else "process"
            span = self._tracer.start_span(
                name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes
            )
            return span, set_span_in_context(span, parent)
        except Exception:
            log.error("kafka-process-start", "Kafka tracing failed to start a process span", exc_info=True)
            return INVALID_SPAN, None

    def _start_batch(self, messages: Iterable[KafkaMessage]) -> tuple[Span, Context | None]:
        try:
            records = [m for m in messages if m is not None and m.error() is None]
            topics = {m.topic() for m in records}
            partitions = {m.partition() for m in records}
            topic = next(iter(topics)) if len(topics) == 1 else None
            partition = next(iter(partitions)) if topic and len(partitions) == 1 else None
            attributes = self._attributes("process", topic, partition)
            attributes[MESSAGING_BATCH_MESSAGE_COUNT] = len(records)
            links: list[Link] = []
            for message in records:
                context = get_current_span(self.extract(message)).span_context
                if context.is_valid and context.is_remote:
                    links.append(Link(context))
            name = f"process {topic}" if topic else "process"
            span = self._tracer.start_span(name, kind=SpanKind.CONSUMER, attributes=attributes, links=links)
            return span, set_span_in_context(span)
        except Exception:
            log.error("kafka-batch-start", "Kafka tracing failed to start a batch span", exc_info=True)
            return INVALID_SPAN, None

    @contextlib.contextmanager
    def process_span(self, message: KafkaMessage) -> Iterator[Span]:
        """A current CONSUMER span "process {topic}" for `message`, child of the producer's context.

        An exception escaping the block marks the span ERROR and propagates unchanged.
        """
        span, context = self._start_process(message)
        with activate(span, context):
            yield span

    @contextlib.contextmanager
    def process_batch_span(self, messages: Iterable[KafkaMessage]) -> Iterator[Span]:
        """A current CONSUMER span for a batch, linking to every message's context.

        Named "process {topic}" when the batch has one topic; error events in the batch are skipped.
        """
        span, context = self._start_batch(messages)
        with activate(span, context):
            yield span

    def __getattr__(self, name: str) -> Any:
        if name == "consumer":
            raise AttributeError(name)
        return getattr(self.consumer, name)
