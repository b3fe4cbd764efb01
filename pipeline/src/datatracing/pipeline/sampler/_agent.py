"""Drives one `PartitionEngine` per assigned partition from batches of spans-topic messages.

Why offsets, not tables: span payloads never enter a changelog. A partition's offset becomes
committable only once every trace that references an earlier offset is decided and the decision's
output is acknowledged by the broker (`DeliveryTracker`), so the committed offset never passes an
undecided trace. After a crash or a rebalance the next owner replays from the committed offset and,
decisions being deterministic, decides every trace exactly as a crash-free run would.

The runner is synchronous and owned by one thread (`SpanConsumerLoop`); other threads only read
its counters (metrics).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import cast

from confluent_kafka import Message, Producer

from datatracing.pipeline.audit import KafkaHeaders, SamplingAudit
from datatracing.pipeline.broker import dead_letter_headers
from datatracing.pipeline.config import Settings
from datatracing.pipeline.sampler._decisions import DecisionCache, encode_decision
from datatracing.pipeline.sampler._delivery import DeliveryTracker
from datatracing.pipeline.sampler._engine import PartitionEngine
from datatracing.pipeline.sampler._restore import restore_decisions
from datatracing.pipeline.sampler._results import AddResult, Decided
from datatracing.pipeline.sampler._settings import SamplerSettings
from datatracing.pipeline.sampler.policies import CompiledPolicy
from datatracing.wire import CONTENT_TYPE_HEADER, CONTENT_TYPE_OTLP_PROTO, trace_key

log = logging.getLogger(__name__)

_Headers = Sequence[tuple[str, bytes | None]]


def _kept_headers(audit: SamplingAudit) -> KafkaHeaders:
    headers: KafkaHeaders = [(CONTENT_TYPE_HEADER, CONTENT_TYPE_OTLP_PROTO.encode())]
    headers += audit.to_headers()
    return headers


class SamplerRunner:
    """The glue between consumed messages, the engines and the output topics."""

    def __init__(
        self, settings: Settings, policy: CompiledPolicy, sampler: SamplerSettings, producer: Producer
    ) -> None:
        self.topics = settings.topics
        self.bootstrap_servers = settings.kafka.bootstrap_servers
        self.policy = policy
        self.sampler = sampler
        self.producer = producer
        self.engines: dict[int, PartitionEngine] = {}
        #: Partitions the consumer has paused because their engine asked (backpressure "pause").
        self.paused: set[int] = set()
        self.deliveries = DeliveryTracker(producer)
        self.decision_latency_ns: deque[int] = deque(maxlen=10_000)
        self.dead_lettered = 0
        #: Partition → messages behind the high watermark, refreshed by the consumer loop.
        self.consumer_lag: dict[int, int] = {}

    # --- partitions ------------------------------------------------------------------------------

    def engine(self, partition: int, decisions: DecisionCache | None = None) -> PartitionEngine:
        engine = self.engines.get(partition)
        if engine is None:
            engine = PartitionEngine(partition, self.policy, self.sampler, decisions)
            self.engines[partition] = engine
        return engine

    def _restored_cache(self, partition: int) -> DecisionCache:
        cache = DecisionCache(self.sampler.decision_cache_size, self.sampler.decision_cache_ttl_ns)
        count = restore_decisions(
            self.bootstrap_servers, self.topics.decisions, partition, cache, time.time_ns()
        )
        log.info("partition %d: restored %d decisions", partition, count)
        return cache

    def assign(self, partitions: Iterable[int]) -> None:
        """New partitions: rebuild their decision caches so late spans follow earlier decisions."""
        for p in partitions:
            if p not in self.engines:
                self.engine(p, self._restored_cache(p))

    def revoke(self, partitions: Iterable[int]) -> None:
        """Forget revoked partitions: their undecided traces are rebuilt by the next owner."""
        revoked = list(partitions)
        self.paused -= set(revoked)
        for p in revoked:
            self.engines.pop(p, None)
        self.deliveries.forget(revoked)

    # --- output ----------------------------------------------------------------------------------

    def _produce(self, topic: str, key: bytes | None, value: bytes, headers: KafkaHeaders) -> None:
        self.deliveries.produce(topic, key, value, headers)

    def _emit(self, decided: Sequence[Decided], now_ns: int) -> None:
        for d in decided:
            key = trace_key(d.trace_id)
            if d.keep:
                headers = _kept_headers(d.audit)
                for payload in d.payloads:
                    self._produce(self.topics.sampled, key, payload, headers)
            self._produce(self.topics.decisions, key, encode_decision(d), [])
            self.decision_latency_ns.append(max(0, now_ns - d.last_span_at_ns))

    def _handle_result(self, result: AddResult, partition: int, offset: int, now_ns: int) -> None:
        for dl in result.dead_letters:
            headers = dead_letter_headers(dl.reason, self.topics.spans, partition, offset)
            headers.append((CONTENT_TYPE_HEADER, dl.content_type.encode()))
            self._produce(self.topics.dead_letter, None, dl.payload, headers)
            self.dead_lettered += 1
        if result.decided:
            self._emit(result.decided, now_ns)
        for late in result.late:
            if late.keep:
                headers = _kept_headers(late.audit)
                for payload in late.payloads:
                    self._produce(self.topics.sampled, trace_key(late.trace_id), payload, headers)

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
        return {p: off for p, off in self.deliveries.released().items() if off >= 0 and p in self.engines}

    # --- entry points ----------------------------------------------------------------------------

    def handle(self, messages: Sequence[Message], now_ns: int | None = None) -> None:
        """Buffer a batch of messages, decide what is due and emit it."""
        now = time.time_ns() if now_ns is None else now_ns
        for message in messages:
            partition, offset = message.partition() or 0, message.offset() or 0
            value = message.value() or b""
            # Consumed headers are always a list of (str, bytes | None); the stub's type is wider.
            headers = cast("_Headers", message.headers() or ())
            result = self.engine(partition).add(offset, value, headers, now)
            self._handle_result(result, partition, offset, now)
        self.tick(now)

    def tick(self, now_ns: int | None = None) -> None:
        """Decide traces whose wait is over (also when no new message arrives)."""
        now = time.time_ns() if now_ns is None else now_ns
        decided = [d for e in list(self.engines.values()) for d in e.poll(now)]
        if decided:
            self._emit(decided, now)
