"""Dead-letter records: the rejected bytes, with headers saying why and which source message they are.

Every dead letter names the original message on the spans topic (`dt-source-topic`, `-partition`,
`-offset`), whichever stage found it: the sink reads the source from the headers the sampler puts
on every forwarded record (`source_headers`), not from its own input.

Idempotence: a dead letter's key is `dead_letter_key(stage, topic, partition, offset, part)`, the
same on every retry and every replay. The dead-letter topic is compacted, so a record written twice
keeps one copy on the broker, and readers deduplicate by key (`dead_letter_source`) until compaction
runs. The sampler also reads the keys already on the topic when it takes a partition over
(`read_dead_letter_keys`) and does not write them again: a replay after kill -9 adds no record.

By reference: a payload over the size contract is cut to its first `DEAD_LETTER_PREFIX_BYTES`
bytes (`dt-payload-bytes` says how large it was, `dt-payload-truncated` that it was cut), so a
dead letter can always be written whatever was received.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from datatracing.pipeline.broker._headers import KafkaHeaders

HEADER_ERROR = "dt-error"
HEADER_ERROR_CLASS = "dt-error-class"
HEADER_SOURCE_TOPIC = "dt-source-topic"
HEADER_SOURCE_PARTITION = "dt-source-partition"
HEADER_SOURCE_OFFSET = "dt-source-offset"
HEADER_STAGE = "dt-stage"
HEADER_PAYLOAD_BYTES = "dt-payload-bytes"
HEADER_PAYLOAD_TRUNCATED = "dt-payload-truncated"

#: What a dead letter keeps of a payload larger than the size contract.
DEAD_LETTER_PREFIX_BYTES = 64 * 1024

_MAX_REASON = 1024


def dead_letter_headers(
    reason: str, topic: str, partition: int, offset: int, *, error_class: str | None = None
) -> KafkaHeaders:
    """Headers of a dead-letter record (the reason is cut to 1 KiB)."""
    headers: KafkaHeaders = [
        (HEADER_ERROR, reason[:_MAX_REASON].encode("utf-8", errors="replace")),
        (HEADER_SOURCE_TOPIC, topic.encode()),
        (HEADER_SOURCE_PARTITION, str(partition).encode()),
        (HEADER_SOURCE_OFFSET, str(offset).encode()),
    ]
    if error_class is not None:
        headers.append((HEADER_ERROR_CLASS, error_class.encode()))
    return headers


def source_headers(topic: str, partition: int, offset: int) -> KafkaHeaders:
    """The source headers the sampler stamps on a forwarded record (the message it came from)."""
    return [
        (HEADER_SOURCE_TOPIC, topic.encode()),
        (HEADER_SOURCE_PARTITION, str(partition).encode()),
        (HEADER_SOURCE_OFFSET, str(offset).encode()),
    ]


def dead_letter_key(stage: str, topic: str, partition: int, offset: int, part: str = "0") -> bytes:
    """The key of a dead letter: which stage wrote it for which source message (and which part of
    it, when one message gives several dead letters)."""
    return f"{stage}:{topic}/{partition}/{offset}/{part}".encode()


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a dead letter's message came from, read back from a dead-letter record."""

    stage: str
    topic: str
    partition: int
    offset: int
    part: str


def parse_dead_letter_key(key: bytes | None) -> SourceRef | None:
    """The `SourceRef` of a key written by `dead_letter_key`; None for any other key."""
    if not key:
        return None
    try:
        stage, rest = key.decode().split(":", 1)
        topic, partition, offset, part = rest.rsplit("/", 3)
        return SourceRef(stage, topic, int(partition), int(offset), part)
    except ValueError:
        return None


def read_source(headers: Sequence[tuple[str, bytes | None]] | None) -> tuple[str, int, int] | None:
    """(topic, partition, offset) from source headers, or None when they are absent or unreadable."""
    values = {k: v for k, v in headers or () if v is not None}
    try:
        return (
            values[HEADER_SOURCE_TOPIC].decode(),
            int(values[HEADER_SOURCE_PARTITION]),
            int(values[HEADER_SOURCE_OFFSET]),
        )
    except (KeyError, ValueError, UnicodeDecodeError):
        return None


def bounded_payload(payload: bytes, max_message_bytes: int) -> tuple[bytes, KafkaHeaders]:
    """`payload` itself when it fits the size contract; else its prefix, with headers saying so."""
    if len(payload) <= max_message_bytes:
        return payload, []
    return payload[:DEAD_LETTER_PREFIX_BYTES], [
        (HEADER_PAYLOAD_BYTES, str(len(payload)).encode()),
        (HEADER_PAYLOAD_TRUNCATED, b"1"),
    ]
