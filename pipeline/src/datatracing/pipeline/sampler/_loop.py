"""The sampler's consumption loop: one thread, one confluent-kafka consumer, batches in, commits out.

Why not a Faust agent: Faust turns every Kafka message into an event that travels through its
conductor, stream and ack machinery, and that per-message path alone, with no sampling work, is
slower than the sampler must be (docs/performance.md has the measurement). The loop takes up to
`batch_max` messages per `consume()` call and runs the engines synchronously, so the per-message cost
is librdkafka's plus the engine's. The Faust app still hosts the worker (lifecycle, signals, the
metrics web server); see `worker`.

Offsets are committed by hand, only up to what `SamplerRunner.committable` releases (every trace
before it decided, its output acknowledged). On a revoke the loop delivers what is in flight and
commits before letting go; on a lost assignment it commits nothing. Either way the next owner
rebuilds the undecided traces from the committed offsets.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from datatracing.pipeline.sampler._runner import SamplerRunner

log = logging.getLogger(__name__)

__all__ = ["SpanConsumerLoop"]

#: Messages per `consume()` call, and how long it may wait for the first one (also the timer tick).
BATCH_MAX = 2_000
POLL_S = 0.1
#: On a revoke or a stop: how long to wait for outputs in flight before committing.
DRAIN_S = 10.0
#: How often the consumer lag (high watermark - next offset, per partition) is refreshed.
LAG_EVERY_S = 1.0


class SpanConsumerLoop:
    """Consume the spans topic in batches into a `SamplerRunner` until `stop()`.

    `run()` blocks (call it on a thread of its own); `on_crash` is called with the exception if the
    loop dies, so the host can stop the worker instead of idling with no consumer.
    """

    def __init__(
        self,
        runner: SamplerRunner,
        config: dict[str, Any],
        *,
        on_crash: Callable[[BaseException], None] | None = None,
        batch_max: int = BATCH_MAX,
        poll_s: float = POLL_S,
    ) -> None:
        self.runner = runner
        self.topic = runner.topics.spans
        self.config = config
        self.on_crash = on_crash
        self.batch_max = batch_max
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._committed: dict[int, int] = {}
        self._lag_at = 0.0
        self.thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Run the loop on a daemon thread."""
        self.thread = threading.Thread(target=self._run_guarded, name="datatracing-sampler", daemon=True)
        self.thread.start()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Ask the loop to finish its batch, deliver, commit and leave the group; wait for it."""
        self._stop.set()
        if self.thread is not None:
            self.thread.join(timeout_s)

    def _run_guarded(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # the host decides what a dead loop means
            log.exception("sampler loop crashed")
            # Count the crash against the message in hand, so a restart can pass over a message
            # that keeps crashing the worker (see `_quarantine`).
            try:
                self.runner.record_crash()
            except Exception:
                log.exception("cannot record the crash")
            if self.on_crash is not None:
                self.on_crash(exc)

    def run(self) -> None:
        consumer = Consumer(self.config)
        consumer.subscribe(
            [self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        try:
            while not self._stop.is_set():
                self._round(consumer)
            self.runner.deliveries.flush(DRAIN_S)
            self._commit(consumer, asynchronous=False)
        finally:
            # close() leaves the group; the revoke callback it triggers commits what is released.
            consumer.close()

    def _round(self, consumer: Consumer) -> None:
        messages = consumer.consume(self.batch_max, timeout=self.poll_s)
        good = []
        for message in messages:
            error = message.error()
            if error is None:
                good.append(message)
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error: %s", error)
        if good:
            self.runner.handle(good)
        else:
            self.runner.tick()
        self._commit(consumer, asynchronous=True)
        pause, resume = self.runner.pause_changes()
        if pause:
            consumer.pause([TopicPartition(self.topic, p) for p in pause])
        if resume:
            consumer.resume([TopicPartition(self.topic, p) for p in resume])
        if time.monotonic() - self._lag_at >= LAG_EVERY_S:
            self._refresh_lag(consumer)

    def _refresh_lag(self, consumer: Consumer) -> None:
        """Consumer lag from the watermarks of the last fetch responses (no broker round trip).

        The embedded broker reports the high watermark of a multi-record batch too low (see
        `_restore`), so there the figure can read lower than the truth; real Kafka is exact.
        """
        self._lag_at = time.monotonic()
        lag: dict[int, int] = {}
        for partition, engine in list(self.runner.engines.items()):
            try:
                _, high = consumer.get_watermark_offsets(TopicPartition(self.topic, partition), cached=True)
            except KafkaException:
                continue
            next_offset = engine.stats.next_offset
            if high >= 0 and next_offset >= 0:
                lag[partition] = max(0, high - next_offset)
        self.runner.consumer_lag = lag

    # --- offsets ---------------------------------------------------------------------------------

    def _commit(self, consumer: Consumer, *, asynchronous: bool) -> None:
        offsets = [
            TopicPartition(self.topic, p, offset)
            for p, offset in self.runner.committable().items()
            if offset > self._committed.get(p, -1)
        ]
        if not offsets:
            return
        try:
            if asynchronous:
                consumer.commit(offsets=offsets, asynchronous=True)
            else:
                consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Not fatal: the offsets stay committable and the next round commits them again.
            log.warning("commit failed: %s", exc)
            return
        for tp in offsets:
            self._committed[tp.partition] = tp.offset

    # --- rebalance callbacks (run inside consume(), on the loop's thread) ------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        started = time.monotonic()
        ours = [tp.partition for tp in partitions if tp.topic == self.topic]
        self.runner.assign(ours)
        log.info("assigned partitions %s (decisions restored in %.1fs)", ours, time.monotonic() - started)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        ours = [tp.partition for tp in partitions if tp.topic == self.topic]
        # Deliver what is in flight, so the commit covers every trace already decided.
        self.runner.deliveries.flush(DRAIN_S)
        self._commit(consumer, asynchronous=False)
        self._forget(ours)
        log.info("revoked partitions %s", ours)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        ours = [tp.partition for tp in partitions if tp.topic == self.topic]
        self._forget(ours)
        log.warning("lost partitions %s: their undecided traces go to the next owner", ours)

    def _forget(self, partitions: list[int]) -> None:
        self.runner.revoke(partitions)
        for p in partitions:
            self._committed.pop(p, None)
