"""The sink agent: `sampled-spans` → batches → ClickHouse, at least once, never doubled.

Order inside one batch (the checkpoint order of quix-streams): decode (the store's engine does it,
`TraceStore.batch_from_otlp`), insert the rows, dead-letter what could not be stored, and only then
return to Faust, which acks the batch's events so their offsets can be committed. While the store
is down the agent retries with backoff and does not return: the `take` buffer fills, Faust's stream
buffer (`stream_buffer_maxsize`) fills, fetching pauses, memory stays bounded, and consumption
resumes on its own. A replayed batch carries the same deduplication token, and the store keys rows
by (trace_id, span_id), so replays never double rows.

A dead letter of the sink names the original spans-topic message (the source headers the sampler
puts on every forwarded record; the `sampled-spans` record itself when they are missing), is keyed
by that source and a checksum of the bytes (`dead_letter_key`, stage `sink`), so a replayed batch
rewrites the same key on the compacted dead-letter topic, and carries at most the size contract
(a longer payload is cut to a prefix, by reference).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Producer

from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.broker import (
    HEADER_STAGE,
    bounded_payload,
    dead_letter_headers,
    dead_letter_key,
    read_source,
)
from datatracing.pipeline.config import DEFAULT_MAX_MESSAGE_BYTES, SinkSettings
from datatracing.pipeline.errors import StoreRejectedError, StoreUnavailableError
from datatracing.pipeline.sink._timing import DurationHistogram
from datatracing.pipeline.store import SpanBatch, TraceStore

log = logging.getLogger(__name__)

STAGE = "sink"


@dataclass
class SinkStats:
    """Counters exposed as metrics."""

    batches: int = 0
    spans_written: int = 0
    messages_dead_lettered: int = 0
    store_retries: int = 0
    #: True from a failed insert attempt until an insert succeeds.
    store_failing: bool = False
    last_error: str = ""
    extra: dict[str, int] = field(default_factory=dict)
    #: Time each batch's store insert took (failed attempts too).
    insert_duration: DurationHistogram = field(default_factory=DurationHistogram)


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


@dataclass
class _Decoded:
    """A batch decoded once (retries reuse it) and the messages it could not take."""

    messages: list[SinkMessage]
    batch: SpanBatch
    rejected: list[tuple[SinkMessage, str]]


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
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self.store = store
        self.max_message_bytes = max_message_bytes
        self.producer = producer
        self.dead_letter_topic = dead_letter_topic
        self.settings = settings
        self.stats = SinkStats()
        self._run_blocking = run_blocking or asyncio.to_thread

    def _decode(self, messages: Sequence[SinkMessage]) -> _Decoded:
        batch, rejects = self.store.batch_from_otlp(
            (m.value, SamplingAudit.from_headers(m.headers)) for m in messages
        )
        bad = {index for index, _ in rejects}
        rejected = [(messages[index], f"undecodable message: {reason}") for index, reason in rejects]
        if rejected:
            log.warning("dead-lettering %d undecodable messages", len(rejected))
        return _Decoded([m for i, m in enumerate(messages) if i not in bad], batch, rejected)

    def _dead_letter(self, rejected: Sequence[tuple[SinkMessage, str]]) -> None:
        for m, reason in rejected:
            topic, partition, offset = read_source(m.headers) or (m.topic, m.partition, m.offset)
            value, extra = bounded_payload(m.value, self.max_message_bytes)
            headers = dead_letter_headers(reason, topic, partition, offset)
            headers.append((HEADER_STAGE, STAGE.encode()))
            headers += extra
            part = f"{zlib.crc32(m.value):08x}"
            self.producer.produce(
                self.dead_letter_topic,
                key=dead_letter_key(STAGE, topic, partition, offset, part),
                value=value,
                headers=headers,
            )
        if rejected:
            remaining = self.producer.flush(30)
            if remaining:
                raise StoreUnavailableError(f"{remaining} dead-letter records not delivered")
            self.stats.messages_dead_lettered += len(rejected)
            log.warning(
                "dead-lettered %d messages (%d in total); first: %s",
                len(rejected),
                self.stats.messages_dead_lettered,
                rejected[0][1],
            )

    def _insert(self, decoded: _Decoded) -> tuple[int, list[tuple[SinkMessage, str]]]:
        """Rows written and the messages the store refused (found by halving the batch)."""
        if len(decoded.batch) == 0:
            return 0, []
        try:
            return self.store.insert(decoded.batch, dedup_token=batch_token(decoded.messages)), []
        except StoreRejectedError as exc:
            if len(decoded.messages) == 1:
                return 0, [(decoded.messages[0], f"store rejected rows: {exc}")]
        # Find the bad messages by halving: the rest of the batch is still written.
        mid = len(decoded.messages) // 2
        written, refused = 0, list[tuple[SinkMessage, str]]()
        for half in (decoded.messages[:mid], decoded.messages[mid:]):
            part = self._decode(half)
            n, bad = self._insert(part)
            written, refused = written + n, refused + bad
        return written, refused

    def _write_blocking(self, decoded: _Decoded) -> int:
        with self.stats.insert_duration.time():
            written, refused = self._insert(decoded)
        self._dead_letter(decoded.rejected + refused)
        return written

    async def write(self, messages: Sequence[SinkMessage]) -> int:
        """Write until it succeeds; transient store errors are retried with capped backoff."""
        decoded = await self._run_blocking(self._decode, messages)
        delay = self.settings.retry_initial_s
        while True:
            try:
                written = int(await self._run_blocking(self._write_blocking, decoded))
            except StoreUnavailableError as exc:
                self.stats.store_retries += 1
                self.stats.store_failing = True
                self.stats.last_error = str(exc)
                log.warning("store unavailable, retrying in %.1fs: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_s)
                continue
            self.stats.batches += 1
            self.stats.spans_written += written
            self.stats.store_failing = False
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
