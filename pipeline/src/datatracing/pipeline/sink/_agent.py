"""The sink agent: `sampled-spans` → batches → ClickHouse, at least once, never doubled.

Order inside one batch (the checkpoint order of quix-streams): insert the rows, dead-letter what the
store rejected, and only then return to Faust, which acks the batch's events so their offsets can be
committed. While the store is down the agent retries with backoff and does not return: the `take`
buffer fills, Faust stops fetching, memory stays bounded, and consumption resumes on its own.
A replayed batch carries the same deduplication token, and the store keys rows by
(trace_id, span_id), so replays never double rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Producer

from datatracing.errors import InvalidDataError
from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.broker import dead_letter_headers
from datatracing.pipeline.config import SinkSettings
from datatracing.pipeline.errors import StoreRejectedError, StoreUnavailableError
from datatracing.pipeline.store import SpanBatch, TraceStore

log = logging.getLogger(__name__)


@dataclass
class SinkStats:
    """Counters exposed as metrics."""

    batches: int = 0
    spans_written: int = 0
    messages_dead_lettered: int = 0
    store_retries: int = 0
    last_error: str = ""
    extra: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SinkMessage:
    """One `sampled-spans` record as the sink needs it."""

    topic: str
    partition: int
    offset: int
    value: bytes
    headers: Sequence[tuple[str, bytes | None]]


def batch_token(messages: Sequence[SinkMessage]) -> str:
    """Deduplication token: the same source records give the same token, whatever the order."""
    digest = hashlib.sha256()
    for m in sorted(messages, key=lambda m: (m.topic, m.partition, m.offset)):
        digest.update(f"{m.topic}/{m.partition}/{m.offset};".encode())
    return digest.hexdigest()[:32]


def _split_valid(messages: Sequence[SinkMessage]) -> tuple[list[SinkMessage], list[tuple[SinkMessage, str]]]:
    valid: list[SinkMessage] = []
    rejected: list[tuple[SinkMessage, str]] = []
    for m in messages:
        try:
            SpanBatch.from_otlp([(m.value, SamplingAudit.from_headers(m.headers))])
        except InvalidDataError as exc:
            rejected.append((m, str(exc)))
        else:
            valid.append(m)
    return valid, rejected


class SinkWriter:
    """Writes message batches to the store with retries; dead-letters what can never be written."""

    def __init__(
        self,
        store: TraceStore,
        producer: Producer,
        dead_letter_topic: str,
        settings: SinkSettings,
        *,
        run_blocking: Callable[..., Any] | None = None,
    ) -> None:
        self.store = store
        self.producer = producer
        self.dead_letter_topic = dead_letter_topic
        self.settings = settings
        self.stats = SinkStats()
        self._run_blocking = run_blocking or asyncio.to_thread

    def _dead_letter(self, rejected: Sequence[tuple[SinkMessage, str]]) -> None:
        for m, reason in rejected:
            self.producer.produce(
                self.dead_letter_topic,
                value=m.value,
                headers=dead_letter_headers(reason, m.topic, m.partition, m.offset),
            )
        self.stats.messages_dead_lettered += len(rejected)
        if rejected:
            remaining = self.producer.flush(30)
            if remaining:
                raise StoreUnavailableError(f"{remaining} dead-letter records not delivered")

    def _write_blocking(self, messages: Sequence[SinkMessage]) -> int:
        try:
            batch = SpanBatch.from_otlp([(m.value, SamplingAudit.from_headers(m.headers)) for m in messages])
        except InvalidDataError:
            valid, rejected = _split_valid(messages)
            log.warning("dead-lettering %d undecodable messages", len(rejected))
            self._dead_letter(rejected)
            return self._write_blocking(valid) if valid else 0
        try:
            return self.store.insert(batch, dedup_token=batch_token(messages))
        except StoreRejectedError as exc:
            if len(messages) == 1:
                self._dead_letter([(messages[0], f"store rejected rows: {exc}")])
                return 0
            # Find the bad messages by halving: the rest of the batch is still written.
            mid = len(messages) // 2
            return self._write_blocking(messages[:mid]) + self._write_blocking(messages[mid:])

    async def write(self, messages: Sequence[SinkMessage]) -> int:
        """Write until it succeeds; transient store errors are retried with capped backoff."""
        delay = self.settings.retry_initial_s
        while True:
            try:
                written = int(await self._run_blocking(self._write_blocking, messages))
            except StoreUnavailableError as exc:
                self.stats.store_retries += 1
                self.stats.last_error = str(exc)
                log.warning("store unavailable, retrying in %.1fs: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_s)
                continue
            self.stats.batches += 1
            self.stats.spans_written += written
            return written


def install_sink_agent(app: Any, topic: Any, writer: SinkWriter, settings: SinkSettings) -> Any:
    """Register the sink agent on a Faust app: `take_events` acks a batch only after `write` returned."""

    async def sink(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_max_messages, within=settings.batch_max_wait_s):
            messages = [
                SinkMessage(
                    topic=e.message.topic,
                    partition=e.message.partition,
                    offset=e.message.offset,
                    value=e.message.value,
                    headers=list(e.message.headers or ()),
                )
                for e in events
            ]
            await writer.write(messages)

    return app.agent(topic, name="datatracing.sink")(sink)
