"""Which outputs the broker has acknowledged, so input offsets are acked only behind them.

Every produced record gets a sequence number. After each round of work the runner records a
checkpoint: the sequence number reached and, per partition, the offset that becomes committable once
everything produced so far is delivered. A checkpoint is released when no record produced before it
is still pending. The agent never waits on a flush: delivery reports arrive through `poll(0)`.
A record whose delivery failed (after librdkafka's own retries) is produced again, so a checkpoint
is never released over a lost output; when producing it again raises, it waits in a retry list that
every `released()` tries again (it stays pending meanwhile, so nothing is committed past it).
`produce` itself raises `KafkaException` when librdkafka refuses a new record outright: the caller
decides (the runner dead-letters it).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaException, Producer

from datatracing.pipeline.broker import KafkaHeaders

log = logging.getLogger(__name__)


class DeliveryTracker:
    """Sequence-numbered produce with delivery tracking and offset checkpoints."""

    def __init__(self, producer: Producer) -> None:
        self.producer = producer
        self.failures = 0
        self._next = 0
        self._pending: set[int] = set()
        self._checkpoints: deque[tuple[int, dict[int, int]]] = deque()
        self._retry: list[tuple[int, str, bytes | None, bytes, KafkaHeaders]] = []

    @property
    def pending(self) -> int:
        return len(self._pending)

    def produce(self, topic: str, key: bytes | None, value: bytes, headers: KafkaHeaders) -> None:
        seq = self._next
        self._next += 1
        self._pending.add(seq)
        self._send(seq, topic, key, value, headers)

    def _send(self, seq: int, topic: str, key: bytes | None, value: bytes, headers: KafkaHeaders) -> None:
        def on_delivery(error: Any, message: Any) -> None:
            if error is None:
                self._pending.discard(seq)
                return
            self.failures += 1
            log.warning("delivery to %s failed (%s); producing it again", topic, error)
            try:
                self._send(seq, topic, key, value, headers)
            except KafkaException as exc:
                log.warning("producing to %s again failed (%s); retrying later", topic, exc)
                self._retry.append((seq, topic, key, value, headers))

        while True:
            try:
                self.producer.produce(topic, key=key, value=value, headers=headers, on_delivery=on_delivery)
                return
            except BufferError:
                # librdkafka's queue is full: serve delivery reports until there is room.
                self.producer.poll(0.05)

    def checkpoint(self, offsets: dict[int, int]) -> None:
        """Offsets (partition → next offset to commit) that are safe once all produced so far is in."""
        if offsets:
            self._checkpoints.append((self._next, offsets))

    def released(self) -> dict[int, int]:
        """Serve delivery reports; the latest committable offset per partition now fully behind us."""
        self.producer.poll(0)
        if self._retry:
            retry, self._retry = self._retry, []
            for seq, topic, key, value, headers in retry:
                try:
                    self._send(seq, topic, key, value, headers)
                except KafkaException as exc:
                    log.warning("producing to %s again failed (%s); retrying later", topic, exc)
                    self._retry.append((seq, topic, key, value, headers))
        low = min(self._pending) if self._pending else self._next
        out: dict[int, int] = {}
        while self._checkpoints and self._checkpoints[0][0] <= low:
            out.update(self._checkpoints.popleft()[1])
        return out

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop revoked partitions from the checkpoints not yet released."""
        gone = set(partitions)
        for _, offsets in self._checkpoints:
            for p in gone & offsets.keys():
                del offsets[p]

    def flush(self, timeout_s: float) -> bool:
        """Block until everything produced is delivered (shutdown only); True when nothing is left."""
        self.producer.flush(timeout_s)
        self.producer.poll(0)
        return not self._pending
