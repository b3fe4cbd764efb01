"""The sink's consumption loop: one thread, one confluent-kafka consumer, batches bounded by count,
bytes and time.

Why not a Faust agent's stream: Faust turns every Kafka message into an event that travels through
its conductor, stream and ack machinery, and that per-message path, not the store, capped the sink
(`datatracing bench sink` compares the agent with a no-op writer against the raw copy rate; the
figures are in docs/performance.md). The Faust app still hosts the store worker (lifecycle, signals,
the query API), as it hosts the sampler's loop.

One round fills a batch with `consume()` calls of at most `_CHUNK` messages (fewer when the bytes
left hold fewer at the batch's mean message size) until it holds `batch_max_messages` messages or
`batch_max_bytes` bytes of values, or `batch_max_wait_s` has passed since the round began. Then
`SinkWriter.write` (decode, insert, dead letters; it retries while the store is unavailable and does
not return) and a synchronous commit of the batch's offsets. Offsets are committed only after the
write returned: at least once, and a replayed batch carries the same deduplication token. A
rebalance runs its callbacks inside `consume()`: when partitions are revoked the batch being filled
is written and committed first, so the next owner starts after it; when they are lost (the group
moved on without us), their messages are dropped from the batch unwritten, for the new owner replays
them. While a write retries, the loop does not consume: librdkafka's prefetch
(`queued.max.messages.kbytes`) bounds memory.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from datatracing.pipeline.config import SinkSettings
from datatracing.pipeline.sink._agent import SinkMessage, SinkWriter

log = logging.getLogger(__name__)

__all__ = ["SinkConsumerLoop"]

_Headers = Sequence[tuple[str, bytes | None]]

#: Messages asked of librdkafka per `consume()` while a batch fills: few enough that the bytes bound
#: is checked often, enough that the calls cost nothing next to the write.
_CHUNK = 200
#: The longest one `consume()` call waits, so `stop()` is noticed while a long batch wait runs.
_STOP_CHECK_S = 0.5


def _sink_message(message: Message) -> SinkMessage:
    return SinkMessage(
        topic=message.topic() or "",
        partition=message.partition() or 0,
        offset=message.offset() or 0,
        value=message.value() or b"",
        # Consumed headers are always a list of (str, bytes | None); the stub's type is wider.
        headers=list(cast("_Headers", message.headers() or ())),
    )


class SinkConsumerLoop:
    """Consume `topic` in batches into a `SinkWriter` until `stop()`.

    `run()` blocks (call it on a thread of its own, `start()` does); `on_crash` is called with the
    exception if the loop dies, so the host can stop the worker instead of idling with no consumer.
    """

    def __init__(
        self,
        writer: SinkWriter,
        topic: str,
        config: dict[str, Any],
        settings: SinkSettings,
        *,
        on_crash: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.writer = writer
        self.topic = topic
        self.config = config
        self.settings = settings
        self.on_crash = on_crash
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None
        # Written by the loop's thread only, read by metrics scrapes (a dict swap is atomic).
        self._lag: dict[int, int] = {}
        self._committed: dict[int, int] = {}
        # The batch being filled, and the event loop its write runs on (a rebalance callback writes
        # it too).
        self._pending: list[SinkMessage] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Run the loop on a daemon thread."""
        self.thread = threading.Thread(target=self._run_guarded, name="datatracing-sink", daemon=True)
        self.thread.start()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Ask the loop to finish its batch, commit and leave the group; wait for it."""
        self._stop.set()
        if self.thread is not None:
            self.thread.join(timeout_s)

    def lag(self) -> dict[int, int]:
        """Records behind by assigned partition: the high watermark of the last fetch minus the
        committed offset (on the embedded tansu broker, which reports the high watermark of a
        multi-record batch too low, the figure can read lower than the truth)."""
        return self._lag

    def _run_guarded(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # the host decides what a dead loop means
            log.exception("sink loop crashed")
            if self.on_crash is not None:
                self.on_crash(exc)

    def run(self) -> None:
        consumer = Consumer(self.config)
        # The writer is async (it runs blocking work on threads and sleeps between retries): it gets
        # an event loop of this thread's own, apart from the Faust app's.
        loop = asyncio.new_event_loop()
        self._loop = loop
        consumer.subscribe([self.topic], on_revoke=self._on_revoke, on_lost=self._on_lost)
        try:
            while not self._stop.is_set():
                self._round(consumer)
        finally:
            # close() leaves the group: the next owner starts from the last commit.
            consumer.close()
            loop.close()

    def _round(self, consumer: Consumer) -> None:
        self._fill(consumer)
        if self._pending:
            self._flush(consumer)
        self._refresh_lag(consumer)

    def _fill(self, consumer: Consumer) -> None:
        """Consume into `_pending` until a bound of the batch is reached (see the module docstring)."""
        settings = self.settings
        deadline = time.monotonic() + settings.batch_max_wait_s
        size = sum(len(m.value) for m in self._pending)
        while len(self._pending) < settings.batch_max_messages and size < settings.batch_max_bytes:
            left = deadline - time.monotonic()
            if left <= 0 or self._stop.is_set():
                return
            # Ask for about as many messages as the bytes left hold at the mean size so far.
            mean = size / len(self._pending) if self._pending else settings.batch_max_bytes
            fits = max(1, int((settings.batch_max_bytes - size) / max(mean, 1.0)))
            wanted = min(_CHUNK, settings.batch_max_messages - len(self._pending), fits)
            for message in consumer.consume(wanted, timeout=min(left, _STOP_CHECK_S)):
                error = message.error()
                if error is None:
                    item = _sink_message(message)
                    self._pending.append(item)
                    size += len(item.value)
                elif error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", error)

    def _flush(self, consumer: Consumer) -> None:
        """Write the pending batch, then commit its offsets."""
        batch, self._pending = self._pending, []
        assert self._loop is not None
        self._loop.run_until_complete(self.writer.write(batch))
        ends: dict[int, int] = {}
        for m in batch:
            ends[m.partition] = max(ends.get(m.partition, -1), m.offset + 1)
        try:
            consumer.commit(
                offsets=[TopicPartition(self.topic, p, end) for p, end in ends.items()], asynchronous=False
            )
        except KafkaException as exc:
            # Not fatal: after a rebalance the next owner replays the batch, which deduplicates.
            log.warning("commit failed: %s", exc)
        else:
            self._committed.update(ends)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Runs inside consume(), on this thread: the batch is written and committed before the
        # partitions go.
        if self._pending:
            self._flush(consumer)
        self._forget(partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        gone = self._forget(partitions)
        self._pending = [m for m in self._pending if m.partition not in gone]

    def _forget(self, partitions: list[TopicPartition]) -> set[int]:
        """Drop the committed offsets of `partitions` (no longer ours); their numbers."""
        gone = {tp.partition for tp in partitions if tp.topic == self.topic}
        self._committed = {p: o for p, o in self._committed.items() if p not in gone}
        return gone

    def _refresh_lag(self, consumer: Consumer) -> None:
        # Cached watermarks come with every fetch response: no broker round trip.
        lag: dict[int, int] = {}
        try:
            assigned = [tp.partition for tp in consumer.assignment() if tp.topic == self.topic]
        except KafkaException:
            return
        for partition in assigned:
            try:
                _, high = consumer.get_watermark_offsets(TopicPartition(self.topic, partition), cached=True)
            except KafkaException:
                continue
            done = self._committed.get(partition)
            if high >= 0 and done is not None:
                lag[partition] = max(0, high - done)
        self._lag = lag
