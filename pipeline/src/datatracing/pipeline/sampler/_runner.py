"""Drives one `PartitionEngine` per assigned partition from batches of spans-topic messages.

Why offsets, not tables: span payloads never enter a changelog. A partition's offset becomes
committable only once every trace that references an earlier offset is decided and the decision's
output is acknowledged by the broker (`DeliveryTracker`), so the committed offset never passes an
undecided trace. After a crash or a rebalance the next owner replays from the committed offset and,
decisions being deterministic, decides every trace exactly as a crash-free run would.

No single message stops the runner: an exception while handling one message, deciding one trace
or forwarding one record is caught there, the message (or trace) is dead-lettered by reference
with the exception's class and message, counted, and the partition goes on. Dead letters are keyed
by their source message (`dead_letter_key`) and the keys already on the topic are read when a
partition is taken over, so a replay never writes one twice. A dead letter that cannot be produced
is retried with backoff, which pauses consumption instead of crashing.

The runner is synchronous and owned by one thread (`SpanConsumerLoop`); other threads only read
its counters (metrics).
"""

from __future__ import annotations

import logging
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import cast

from confluent_kafka import KafkaException, Message, Producer

from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.broker import (
    HEADER_STAGE,
    KafkaHeaders,
    bounded_payload,
    dead_letter_headers,
    dead_letter_key,
    source_headers,
)
from datatracing.pipeline.config import SamplerSettings, Settings
from datatracing.pipeline.errors import BrokerUnavailableError
from datatracing.pipeline.sampler._decisions import DecisionCache, encode_decision
from datatracing.pipeline.sampler._delivery import DeliveryTracker
from datatracing.pipeline.sampler._engine import PartitionEngine
from datatracing.pipeline.sampler._forward import fit_payload
from datatracing.pipeline.sampler._quarantine import (
    QUARANTINE_AFTER_CRASHES,
    crash_key,
    read_crash_counts,
    read_dead_letter_keys,
    record_crash,
)
from datatracing.pipeline.sampler._restore import restore_decisions
from datatracing.pipeline.sampler._results import AddResult, Decided, Quarantined
from datatracing.pipeline.sampler.policies import CompiledPolicy
from datatracing.wire import CONTENT_TYPE_HEADER, CONTENT_TYPE_OTLP_PROTO, trace_key

log = logging.getLogger(__name__)

_Headers = Sequence[tuple[str, bytes | None]]
#: Called with (partition, offset, value) before each message is handled; raising there is handled
#: like any failure of that message (a test hook for the quarantine).
FaultHook = Callable[[int, int, bytes], None]

STAGE = "sampler"
#: Backoff while a dead letter cannot be produced (consumption waits meanwhile).
_DEAD_LETTER_RETRY_S = (0.1, 30.0)


def _part(kind: str, payload: bytes) -> str:
    # A part name stable across replays: same message, same bytes, same key.
    return f"{kind}{zlib.crc32(payload):08x}"


def _kept_headers(audit: SamplingAudit) -> KafkaHeaders:
    headers: KafkaHeaders = [(CONTENT_TYPE_HEADER, CONTENT_TYPE_OTLP_PROTO.encode())]
    headers += audit.to_headers()
    return headers


class SamplerRunner:
    """The glue between consumed messages, the engines and the output topics."""

    def __init__(
        self,
        settings: Settings,
        policy: CompiledPolicy,
        sampler: SamplerSettings,
        producer: Producer,
        *,
        fault_hook: FaultHook | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.topics = settings.topics
        self.max_message_bytes = settings.kafka.max_message_bytes
        self.kafka = settings.kafka
        self.policy = policy
        if sampler.max_message_bytes > self.max_message_bytes:
            # Accept nothing this worker could not forward: the size contract bounds the engines.
            sampler = sampler.model_copy(update={"max_message_bytes": self.max_message_bytes})
        self.sampler = sampler
        self.producer = producer
        self.engines: dict[int, PartitionEngine] = {}
        #: Partitions the consumer has paused because their engine asked (backpressure "pause").
        self.paused: set[int] = set()
        self.deliveries = DeliveryTracker(producer)
        self.decision_latency_ns: deque[int] = deque(maxlen=10_000)
        self.dead_lettered = 0
        #: Messages whose handling raised (quarantined to the dead-letter topic).
        self.quarantined_messages = 0
        #: Dead letters not written again because they already are on the topic (replays).
        self.dead_letters_skipped = 0
        #: Failed attempts to produce a dead letter (each followed by a backoff pause).
        self.dead_letter_failures = 0
        #: Payloads forwarded as several messages to fit the size contract.
        self.split_payloads = 0
        #: Partition → messages behind the high watermark, refreshed by the consumer loop.
        self.consumer_lag: dict[int, int] = {}
        self.fault_hook = fault_hook
        self._sleep = sleep
        #: Messages passed over because they crashed the worker `QUARANTINE_AFTER_CRASHES` times.
        self.crash_quarantined = 0
        #: Partition → (offset, part) of dead letters already written (read at assignment).
        self._dead_letter_keys: dict[int, set[tuple[int, str]]] = {}
        #: Partition → offset → crashes recorded against that message (read at assignment).
        self._crashes: dict[int, dict[int, int]] = {}
        #: The message being handled (partition, offset, crashes already recorded on it), kept for
        #: `record_crash` (which runs after the consumer's close has revoked every partition).
        self.current: tuple[int, int, int] | None = None

    # --- partitions ------------------------------------------------------------------------------

    def engine(self, partition: int, decisions: DecisionCache | None = None) -> PartitionEngine:
        engine = self.engines.get(partition)
        if engine is None:
            engine = PartitionEngine(partition, self.policy, self.sampler, decisions)
            self.engines[partition] = engine
        return engine

    def _restored_cache(self, partition: int) -> DecisionCache:
        cache = DecisionCache(self.sampler.decision_cache_size, self.sampler.decision_cache_ttl_ns)
        count = restore_decisions(self.kafka, self.topics.decisions, partition, cache, time.time_ns())
        log.info("partition %d: restored %d decisions", partition, count)
        return cache

    def assign(self, partitions: Iterable[int]) -> None:
        """New partitions: rebuild their decision caches so late spans follow earlier decisions,
        and learn which of their dead letters are already written."""
        new = [p for p in partitions if p not in self.engines]
        if not new:
            return
        topics, kafka = self.topics, self.kafka
        keys: dict[int, set[tuple[int, str]]] = {}
        crashes: dict[int, dict[int, int]] = {}
        # Neither read may stop sampling: without them a replay may write a dead letter twice
        # (readers deduplicate by key) or meet a crashing message once more.
        try:
            keys = read_dead_letter_keys(kafka, topics.dead_letter, STAGE, topics.spans, new)
        except BrokerUnavailableError as exc:
            log.warning("cannot read the dead letters already written: %s", exc)
        try:
            crashes = read_crash_counts(kafka, topics.quarantine, topics.spans, new)
        except BrokerUnavailableError as exc:
            log.warning("cannot read the quarantine topic: %s", exc)
        for p in new:
            self._dead_letter_keys[p] = keys.get(p, set())
            self._crashes[p] = crashes.get(p, {})
            self.engine(p, self._restored_cache(p))

    def revoke(self, partitions: Iterable[int]) -> None:
        """Forget revoked partitions: their undecided traces are rebuilt by the next owner."""
        revoked = list(partitions)
        self.paused -= set(revoked)
        for p in revoked:
            self.engines.pop(p, None)
            self._dead_letter_keys.pop(p, None)
            self._crashes.pop(p, None)
        self.deliveries.forget(revoked)

    # --- output ----------------------------------------------------------------------------------

    def _produce(self, topic: str, key: bytes | None, value: bytes, headers: KafkaHeaders) -> None:
        self.deliveries.produce(topic, key, value, headers)

    def dead_letter(
        self,
        partition: int,
        offset: int,
        part: str,
        payload: bytes,
        reason: str,
        *,
        content_type: str | None = None,
        error_class: str | None = None,
    ) -> None:
        """Write one dead letter for the spans-topic message at `partition`/`offset`, once.

        `part` tells apart several dead letters of one message; a payload over the size contract
        is cut to a prefix. A produce that raises is retried with backoff (never a crash).
        """
        seen = self._dead_letter_keys.setdefault(partition, set())
        if (offset, part) in seen:
            self.dead_letters_skipped += 1
            return
        seen.add((offset, part))
        value, extra = bounded_payload(payload, self.max_message_bytes)
        headers = dead_letter_headers(reason, self.topics.spans, partition, offset, error_class=error_class)
        headers.append((HEADER_STAGE, STAGE.encode()))
        if content_type is not None:
            headers.append((CONTENT_TYPE_HEADER, content_type.encode()))
        headers += extra
        key = dead_letter_key(STAGE, self.topics.spans, partition, offset, part)
        delay, max_delay = _DEAD_LETTER_RETRY_S
        while True:
            try:
                self._produce(self.topics.dead_letter, key, value, headers)
                break
            except KafkaException as exc:
                self.dead_letter_failures += 1
                log.error("cannot write a dead letter (retrying in %.1fs): %s", delay, exc)
                self._sleep(delay)
                delay = min(delay * 2, max_delay)
        self.dead_lettered += 1

    def _forward(
        self, partition: int, trace_id: str, audit: SamplingAudit, payloads: list[bytes], offsets: list[int]
    ) -> None:
        """Produce a kept trace's payloads, each with its source message in the headers, cut to the
        size contract when needed; a record that cannot be produced is dead-lettered instead."""
        key = trace_key(trace_id)
        kept = _kept_headers(audit)
        for payload, offset in zip(payloads, offsets, strict=True):
            headers = kept + source_headers(self.topics.spans, partition, offset)
            fitted, oversized = fit_payload(payload, self.max_message_bytes)
            if len(fitted) > 1:
                self.split_payloads += 1
            for big in oversized:
                reason = f"oversized span: {len(big)} bytes > max_message_bytes {self.max_message_bytes}"
                self.dead_letter(partition, offset, _part("o", big), big, reason)
            for part in fitted:
                try:
                    self._produce(self.topics.sampled, key, part, headers)
                except KafkaException as exc:
                    reason = f"cannot forward kept spans: {exc}"
                    self.dead_letter(
                        partition, offset, _part("f", part), part, reason, error_class=type(exc).__name__
                    )

    def _emit(self, decided: Sequence[Decided], now_ns: int, partition: int) -> None:
        for d in decided:
            try:
                if d.keep:
                    self._forward(partition, d.trace_id, d.audit, d.payloads, d.offsets)
                self._produce(self.topics.decisions, trace_key(d.trace_id), encode_decision(d), [])
            except Exception as exc:
                self._quarantine_trace(
                    partition,
                    Quarantined(d.trace_id, d.payloads, d.offsets, type(exc).__name__, str(exc)),
                )
                continue
            self.decision_latency_ns.append(max(0, now_ns - d.last_span_at_ns))

    def _quarantine_trace(self, partition: int, q: Quarantined) -> None:
        log.error(
            "quarantining trace %s of partition %d: %s: %s", q.trace_id, partition, q.error_class, q.error
        )
        reason = f"quarantined trace {q.trace_id}: {q.error_class}: {q.error}"
        for payload, offset in zip(q.payloads, q.offsets, strict=True):
            self.dead_letter(
                partition, offset, _part("t", payload), payload, reason, error_class=q.error_class
            )

    def _quarantine_message(self, partition: int, offset: int, value: bytes, exc: Exception) -> None:
        log.error("quarantining message %s[%d]@%d", self.topics.spans, partition, offset, exc_info=exc)
        self.quarantined_messages += 1
        reason = f"handling the message raised {type(exc).__name__}: {exc}"
        self.dead_letter(partition, offset, "q", value, reason, error_class=type(exc).__name__)

    def _drain_quarantined(self, partition: int, engine: PartitionEngine) -> None:
        for q in engine.take_quarantined():
            self._quarantine_trace(partition, q)

    def _handle_result(self, result: AddResult, partition: int, offset: int, now_ns: int) -> None:
        for index, dl in enumerate(result.dead_letters):
            self.dead_letter(
                partition, offset, str(index), dl.payload, dl.reason, content_type=dl.content_type
            )
        if result.decided:
            self._emit(result.decided, now_ns, partition)
        for late in result.late:
            if late.keep:
                self._forward(
                    partition, late.trace_id, late.audit, late.payloads, [offset] * len(late.payloads)
                )

    def pause_changes(self) -> tuple[set[int], set[int]]:
        """(partitions to pause, partitions to resume) so consumption follows the engines' wishes;
        the caller applies them to its consumer."""
        want = {p for p, e in self.engines.items() if e.should_pause}
        pause, resume = want - self.paused, self.paused - want
        if pause:
            log.warning("pausing partitions %s: sampler buffer bounds reached", sorted(pause))
        if resume:
            log.info("resuming partitions %s", sorted(resume))
        self.paused = want
        return pause, resume

    def committable(self) -> dict[int, int]:
        """Checkpoint this round; the offsets (partition → next offset) now safe to commit."""
        self.deliveries.checkpoint({p: e.committable_offset() for p, e in self.engines.items()})
        out = {p: off for p, off in self.deliveries.released().items() if off >= 0 and p in self.engines}
        for p, off in out.items():
            # Dead letters behind the committed offset are never replayed: forget their keys.
            keys = self._dead_letter_keys.get(p)
            if keys and min(keys)[0] < off:
                self._dead_letter_keys[p] = {k for k in keys if k[0] >= off}
        return out

    # --- entry points ----------------------------------------------------------------------------

    def handle(self, messages: Sequence[Message], now_ns: int | None = None) -> None:
        """Buffer a batch of messages, decide what is due and emit it."""
        now = time.time_ns() if now_ns is None else now_ns
        hook = self.fault_hook
        for message in messages:
            partition, offset = message.partition() or 0, message.offset() or 0
            value = message.value() or b""
            # Consumed headers are always a list of (str, bytes | None); the stub's type is wider.
            headers = cast("_Headers", message.headers() or ())
            engine = self.engine(partition)
            crashes = self._crashes.get(partition)
            crashed = crashes.get(offset, 0) if crashes else 0
            self.current = (partition, offset, crashed)
            if crashed >= QUARANTINE_AFTER_CRASHES:
                self._skip_crasher(engine, partition, offset, value, crashed, now)
                continue
            try:
                if hook is not None:
                    hook(partition, offset, value)
                result = engine.add(offset, value, headers, now)
                self._handle_result(result, partition, offset, now)
            except Exception as exc:  # one message never stops the partition
                self._quarantine_message(partition, offset, value, exc)
            self._drain_quarantined(partition, engine)
        self.current = None
        self.tick(now)

    def _skip_crasher(
        self, engine: PartitionEngine, partition: int, offset: int, value: bytes, crashes: int, now: int
    ) -> None:
        log.error(
            "skipping %s[%d]@%d: it crashed the worker %d times",
            self.topics.spans,
            partition,
            offset,
            crashes,
        )
        self.crash_quarantined += 1
        engine.skip(offset, now)
        reason = f"quarantined: the worker crashed {crashes} times while handling this message"
        self.dead_letter(partition, offset, "c", value, reason, error_class="WorkerCrash")

    def record_crash(self) -> bool:
        """The loop is dying: count a crash against the message being handled, on the broker.

        Returns True when a crash was recorded (False when no message was being handled).
        """
        if self.current is None:
            return False
        partition, offset, crashed = self.current
        count = crashed + 1
        key = crash_key(self.topics.spans, partition, offset)
        log.error("recording crash %d on %s[%d]@%d", count, self.topics.spans, partition, offset)
        return record_crash(self.producer, self.topics.quarantine, key, count)

    def tick(self, now_ns: int | None = None) -> None:
        """Decide traces whose wait is over (also when no new message arrives)."""
        now = time.time_ns() if now_ns is None else now_ns
        for partition, engine in list(self.engines.items()):
            decided = engine.poll(now)
            self._drain_quarantined(partition, engine)
            if decided:
                self._emit(decided, now, partition)
