"""The sink's consumption loop: one thread, one confluent-kafka consumer, one batch per `consume()`.

Why not a Faust agent's stream: Faust turns every Kafka message into an event that travels through
its conductor, stream and ack machinery, and that per-message path, not the store, capped the sink
(`datatracing bench sink` compares the agent with a no-op writer against the raw copy rate; the
figures are in docs/performance.md). The Faust app still hosts the store worker (lifecycle, signals,
the query API), as it hosts the sampler's loop.

One round: `consume(batch_max_messages, timeout=batch_max_wait_s)` (librdkafka returns when the batch
is full or the wait is over), `SinkWriter.write` (decode, insert, dead letters; it retries while the
store is unavailable and does not return), then a synchronous commit of the batch's offsets. Offsets
are committed only after the write returned: at least once, and a replayed batch carries the same
deduplication token. No message is held across rounds, so a rebalance (whose callbacks run inside
`consume()`) never finds a batch in flight. While a write retries, the loop does not consume:
librdkafka's prefetch (`queued.max.messages.kbytes`) bounds memory.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from datatracing.pipeline.config import SinkSettings
from datatracing.pipeline.sink._agent import SinkMessage, SinkWriter

log = logging.getLogger(__name__)

__all__ = ["SinkConsumerLoop"]

_Headers = Sequence[tuple[str, bytes | None]]


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
        consumer.subscribe([self.topic])
        # The writer is async (it runs blocking work on threads and sleeps between retries): it gets
        # an event loop of this thread's own, apart from the Faust app's.
        loop = asyncio.new_event_loop()
        try:
            while not self._stop.is_set():
                self._round(consumer, loop)
        finally:
            # close() leaves the group: the next owner starts from the last commit.
            consumer.close()
            loop.close()

    def _round(self, consumer: Consumer, loop: asyncio.AbstractEventLoop) -> None:
        consumed = consumer.consume(self.settings.batch_max_messages, timeout=self.settings.batch_max_wait_s)
        batch: list[SinkMessage] = []
        for message in consumed:
            error = message.error()
            if error is None:
                batch.append(_sink_message(message))
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error: %s", error)
        if not batch:
            self._refresh_lag(consumer)
            return
        loop.run_until_complete(self.writer.write(batch))
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
        self._refresh_lag(consumer)

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
