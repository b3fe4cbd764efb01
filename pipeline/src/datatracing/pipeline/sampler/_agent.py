"""Drives one `PartitionEngine` per assigned partition from a Faust stream.

Why offsets, not tables: span payloads never enter a Faust changelog. Each event is acked only once
every trace that references its offset is decided and the decision's output is flushed to the broker,
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

from datatracing.pipeline.audit import KafkaHeaders
from datatracing.pipeline.broker import dead_letter_headers
from datatracing.pipeline.config import Settings
from datatracing.pipeline.sampler._decisions import encode_decision
from datatracing.pipeline.sampler._engine import AddResult, Decided, PartitionEngine, SamplerSettings
from datatracing.pipeline.sampler.policies import CompiledPolicy
from datatracing.wire import CONTENT_TYPE_HEADER, CONTENT_TYPE_OTLP_PROTO, trace_key

log = logging.getLogger(__name__)


class SamplerRunner:
    """The glue between Faust events, the engines and the output topics."""

    def __init__(
        self, settings: Settings, policy: CompiledPolicy, sampler: SamplerSettings, producer: Producer
    ) -> None:
        self.topics = settings.topics
        self.policy = policy
        self.sampler = sampler
        self.producer = producer
        self.engines: dict[int, PartitionEngine] = {}
        self.held: dict[int, deque[Any]] = {}
        self.stream: Any = None
        self._lock = asyncio.Lock()
        self._unflushed = 0
        self.decision_latency_ns: deque[int] = deque(maxlen=10_000)
        self.dead_lettered = 0

    # --- partitions ------------------------------------------------------------------------------

    def engine(self, partition: int) -> PartitionEngine:
        engine = self.engines.get(partition)
        if engine is None:
            engine = self.engines[partition] = PartitionEngine(partition, self.policy, self.sampler)
            self.held[partition] = deque()
        return engine

    def revoke(self, partitions: Iterable[int]) -> None:
        """Forget revoked partitions: their undecided traces are rebuilt by the next owner."""
        for p in partitions:
            self.engines.pop(p, None)
            self.held.pop(p, None)

    # --- output ----------------------------------------------------------------------------------

    def _produce(self, topic: str, key: bytes | None, value: bytes, headers: KafkaHeaders) -> None:
        while True:
            try:
                self.producer.produce(topic, key=key, value=value, headers=headers)
                break
            except BufferError:
                # librdkafka's queue is full: serve delivery callbacks until there is room.
                self.producer.poll(0.05)
        self._unflushed += 1

    def _emit(self, decided: Sequence[Decided], now_ns: int) -> None:
        for d in decided:
            key = trace_key(d.trace_id)
            if d.keep:
                headers: KafkaHeaders = [(CONTENT_TYPE_HEADER, CONTENT_TYPE_OTLP_PROTO.encode())]
                headers += d.audit.to_headers()
                for payload in d.payloads:
                    self._produce(self.topics.sampled, key, payload, headers)
            self._produce(self.topics.decisions, key, encode_decision(d), [])
            self.decision_latency_ns.append(max(0, now_ns - d.last_span_at_ns))
        self.producer.poll(0)

    def _handle_result(self, result: AddResult, partition: int, offset: int) -> None:
        for dl in result.dead_letters:
            headers = dead_letter_headers(dl.reason, self.topics.spans, partition, offset)
            self._produce(self.topics.dead_letter, None, dl.payload, headers)
            self.dead_lettered += 1
        for late in result.late:
            if late.keep:
                headers: KafkaHeaders = [(CONTENT_TYPE_HEADER, CONTENT_TYPE_OTLP_PROTO.encode())]
                headers += late.audit.to_headers()
                for payload in late.payloads:
                    self._produce(self.topics.sampled, trace_key(late.trace_id), payload, headers)

    async def _flush_and_ack(self) -> None:
        if self._unflushed:
            remaining = await asyncio.to_thread(self.producer.flush, 30)
            if remaining:
                log.warning("%d records not yet delivered; holding acks", remaining)
                return
            self._unflushed = 0
        if self.stream is None:
            return
        for partition, queue in self.held.items():
            committable = self.engines[partition].committable_offset()
            while queue and queue[0].message.offset < committable:
                await self.stream.ack(queue.popleft())

    # --- entry points ----------------------------------------------------------------------------

    async def handle(self, events: Sequence[Any]) -> None:
        """Buffer a batch of events, decide what is due, emit, then ack what is safe."""
        async with self._lock:
            now = time.time_ns()
            for event in events:
                message = event.message
                if message.partition not in self.engines:
                    self.engine(message.partition)
                headers = list(message.headers or ())
                result = self.engines[message.partition].add(message.offset, message.value, headers, now)
                self._handle_result(result, message.partition, message.offset)
                self.held[message.partition].append(event)
            self._emit([d for e in self.engines.values() for d in e.poll(now)], now)
            await self._flush_and_ack()

    async def tick(self) -> None:
        """Timer: decide traces whose wait is over even when no new event arrives."""
        async with self._lock:
            now = time.time_ns()
            decided = [d for e in self.engines.values() for d in e.poll(now)]
            if decided:
                self._emit(decided, now)
            await self._flush_and_ack()

    def should_pause(self) -> bool:
        return any(e.should_pause for e in self.engines.values())
