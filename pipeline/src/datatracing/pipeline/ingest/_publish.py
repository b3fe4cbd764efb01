"""Publishing per-trace messages to the spans topic without blocking the event loop.

`produce` only enqueues into librdkafka (it raises `BufferError` instead of waiting when the queue is
full); delivery reports are served by `poll(0)` after each request and by a background task, all on
the event loop's thread, so the counters below need no lock. `flush` happens only at shutdown.

Back-pressure: a request is refused (`BrokerSaturatedError`, answered 503 + Retry-After) before
anything is enqueued when its messages would not fit in the queue, or while deliveries keep failing
(`delivery_failure_threshold` failures in a row, the last within `failure_window_s`). A `BufferError`
midway (the byte limit) refuses the request after some of its traces were enqueued: the client's
retry duplicates those spans, which the pipeline tolerates (at-least-once, spans keyed by id).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import KafkaException

from datatracing.pipeline.config import IngestSettings
from datatracing.pipeline.ingest._errors import BrokerSaturatedError
from datatracing.wire import CONTENT_TYPE_HEADER, CONTENT_TYPE_OTLP_PROTO, TracePart

__all__ = ["IngestStats", "KafkaPublisher", "ProducerPort"]

log = logging.getLogger(__name__)

_HEADERS = [(CONTENT_TYPE_HEADER, CONTENT_TYPE_OTLP_PROTO.encode())]


class ProducerPort(Protocol):
    """The part of `confluent_kafka.Producer` the gateway uses."""

    def produce(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        *,
        headers: list[tuple[str, bytes]] | None = None,
        on_delivery: Callable[[Any, Any], None] | None = None,
    ) -> None: ...

    def poll(self, timeout: float = ...) -> int: ...

    def flush(self, timeout: float = ...) -> int: ...

    def __len__(self) -> int: ...


@dataclass
class IngestStats:
    """Counters of one gateway (read by `/metrics` and the tests)."""

    #: Requests answered, by outcome: ok, partial, bad_request, too_large, unsupported,
    #: unauthorized, saturated.
    requests: dict[str, int] = field(default_factory=dict)
    spans_accepted: int = 0
    spans_rejected: int = 0
    messages_produced: int = 0
    bytes_received: int = 0
    deliveries_ok: int = 0
    deliveries_failed: int = 0

    def count(self, outcome: str) -> None:
        self.requests[outcome] = self.requests.get(outcome, 0) + 1


class KafkaPublisher:
    """Enqueues `TracePart`s on `topic` and tracks delivery reports."""

    def __init__(
        self, producer: ProducerPort, topic: str, settings: IngestSettings, stats: IngestStats
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.stats = stats
        self._settings = settings
        self._failures_in_row = 0
        self._last_failure = float("-inf")
        self._last_error = ""

    def _on_delivery(self, err: Any, _msg: Any) -> None:
        if err is None:
            self.stats.deliveries_ok += 1
            self._failures_in_row = 0
            return
        self.stats.deliveries_failed += 1
        self._failures_in_row += 1
        self._last_failure = time.monotonic()
        self._last_error = str(err)
        if self._failures_in_row in (1, self._settings.delivery_failure_threshold):
            log.warning("delivery to %s failed (%d in a row): %s", self.topic, self._failures_in_row, err)

    def failing(self) -> bool:
        """True while recent deliveries keep failing (see `IngestSettings.delivery_failure_threshold`)."""
        return (
            self._failures_in_row >= self._settings.delivery_failure_threshold
            and time.monotonic() - self._last_failure < self._settings.failure_window_s
        )

    def check_capacity(self, messages: int) -> None:
        """Raise `BrokerSaturatedError` if `messages` more would not fit or the broker is failing."""
        if self.failing():
            raise BrokerSaturatedError(
                f"deliveries to the broker are failing ({self._failures_in_row} in a row, last: "
                f"{self._last_error}); retry later"
            )
        # len() counts pending events too (connection errors...): serve them first.
        self.producer.poll(0)
        queued = len(self.producer)
        if queued + messages > self._settings.queue_max_messages:
            raise BrokerSaturatedError(
                f"producer queue is full ({queued} messages waiting for the broker); retry later"
            )

    def publish(self, messages: Sequence[TracePart]) -> None:
        """Enqueue every message (never blocks); `BrokerSaturatedError` when the queue refuses one."""
        self.check_capacity(len(messages))
        produced = 0
        try:
            for message in messages:
                self.producer.produce(
                    self.topic,
                    message.payload,
                    message.key,
                    headers=_HEADERS,
                    on_delivery=self._on_delivery,
                )
                produced += 1
        except BufferError as exc:
            raise BrokerSaturatedError(f"producer queue is full: {exc}; retry later") from exc
        except KafkaException as exc:  # refused outright (a broken configuration, a closed producer)
            log.error("produce to %s failed: %s", self.topic, exc)
            raise BrokerSaturatedError(f"cannot enqueue for the broker: {exc}") from exc
        finally:
            self.stats.messages_produced += produced
            self.producer.poll(0)

    async def poll_forever(self) -> None:
        """Serve delivery reports while no request arrives (a background task of the app)."""
        interval = self._settings.poll_interval_s
        while True:
            self.producer.poll(0)
            await asyncio.sleep(interval)

    def flush(self) -> int:
        """Wait up to `flush_timeout_s` for queued messages; returns how many are still undelivered."""
        remaining = self.producer.flush(self._settings.flush_timeout_s)
        if remaining:
            log.warning("%d messages to %s not delivered at shutdown", remaining, self.topic)
        return remaining
