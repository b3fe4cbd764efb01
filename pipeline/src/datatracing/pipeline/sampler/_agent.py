"""Drives one `PartitionEngine` per assigned partition from a Faust stream.

Why offsets, not tables: span payloads never enter a Faust changelog. Each event is acked only once
every trace that references its offset is decided and the decision's output is acknowledged by the
broker (`DeliveryTracker`),
so Faust (which commits the highest contiguous acked offset) never commits past an undecided trace.
After a crash or a rebalance the next owner replays from the committed offset and, decisions being
deterministic, decides every trace exactly as a crash-free run would.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from confluent_kafka import Producer

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


def _kept_headers(audit: SamplingAudit) -> KafkaHeaders:
    headers: KafkaHeaders = [(CONTENT_TYPE_HEADER, CONTENT_TYPE_OTLP_PROTO.encode())]
    headers += audit.to_headers()
    return headers


class SamplerRunner:
    """The glue between Faust events, the engines and the output topics."""

    def __init__(
        self, settings: Settings, policy: CompiledPolicy, sampler: SamplerSettings, producer: Producer
    ) -> None:
        self.topics = settings.topics
        self.bootstrap_servers = settings.kafka.bootstrap_servers
        self.policy = policy
        self.sampler = sampler
        self.producer = producer
        self.engines: dict[int, PartitionEngine] = {}
        self.held: dict[int, deque[Any]] = {}
        self.stream: Any = None
        #: Faust's consumer, for pausing partitions whose engine asks for it (backpressure "pause").
        self.consumer: Any = None
        self.paused: set[int] = set()
        self._lock = asyncio.Lock()
        self.deliveries = DeliveryTracker(producer)
        self.decision_latency_ns: deque[int] = deque(maxlen=10_000)
        self.dead_lettered = 0

    # --- partitions ------------------------------------------------------------------------------

    def engine(self, partition: int, decisions: DecisionCache | None = None) -> PartitionEngine:
        engine = self.engines.get(partition)
        if engine is None:
            engine = PartitionEngine(partition, self.policy, self.sampler, decisions)
            self.engines[partition] = engine
            self.held[partition] = deque()
        return engine

    def _restored_cache(self, partition: int) -> DecisionCache:
        cache = DecisionCache(self.sampler.decision_cache_size, self.sampler.decision_cache_ttl_ns)
        count = restore_decisions(
            self.bootstrap_servers, self.topics.decisions, partition, cache, time.time_ns()
        )
        log.info("partition %d: restored %d decisions", partition, count)
        return cache

    async def assign(self, partitions: Iterable[int]) -> None:
        """New partitions: rebuild their decision caches so late spans follow earlier decisions."""
        for p in partitions:
            if p not in self.engines:
                cache = await asyncio.to_thread(self._restored_cache, p)
                async with self._lock:
                    self.engine(p, cache)

    def revoke(self, partitions: Iterable[int]) -> None:
        """Forget revoked partitions: their undecided traces are rebuilt by the next owner."""
        revoked = list(partitions)
        self.paused -= set(revoked)
        for p in revoked:
            self.engines.pop(p, None)
            self.held.pop(p, None)
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

    def _apply_backpressure(self) -> None:
        want = {p for p, e in self.engines.items() if e.should_pause}
        if want == self.paused or self.consumer is None:
            return
        from faust.types import TP

        if want - self.paused:
            self.consumer.pause_partitions({TP(self.topics.spans, p) for p in want - self.paused})
            log.warning("paused partitions %s: sampler buffer bounds reached", sorted(want - self.paused))
        if self.paused - want:
            self.consumer.resume_partitions({TP(self.topics.spans, p) for p in self.paused - want})
            log.info("resumed partitions %s", sorted(self.paused - want))
        self.paused = want

    async def _ack_delivered(self) -> None:
        """Checkpoint this round, then ack the events behind every checkpoint fully delivered."""
        self.deliveries.checkpoint({p: e.committable_offset() for p, e in self.engines.items()})
        if self.stream is None:
            return
        for partition, committable in self.deliveries.released().items():
            queue = self.held.get(partition)
            while queue and queue[0].message.offset < committable:
                await self.stream.ack(queue.popleft())

    # --- entry points ----------------------------------------------------------------------------

    async def handle(self, events: Sequence[Any]) -> None:
        """Buffer a batch of events, decide what is due, emit, then ack what is safe."""
        async with self._lock:
            now = time.time_ns()
            for event in events:
                message = event.message
                headers = list(message.headers or ())
                result = self.engine(message.partition).add(message.offset, message.value, headers, now)
                self._handle_result(result, message.partition, message.offset, now)
                self.held[message.partition].append(event)
            self._emit([d for e in self.engines.values() for d in e.poll(now)], now)
            self._apply_backpressure()
            await self._ack_delivered()

    async def tick(self) -> None:
        """Timer: decide traces whose wait is over even when no new event arrives."""
        async with self._lock:
            now = time.time_ns()
            decided = [d for e in self.engines.values() for d in e.poll(now)]
            if decided:
                self._emit(decided, now)
            self._apply_backpressure()
            await self._ack_delivered()

    def should_pause(self) -> bool:
        return any(e.should_pause for e in self.engines.values())

    def paused_partitions(self) -> list[int]:
        return [p for p, e in self.engines.items() if e.should_pause]
