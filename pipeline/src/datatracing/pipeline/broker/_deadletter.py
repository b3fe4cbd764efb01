"""Dead-letter records: the rejected bytes, with headers saying why and where they came from."""

from __future__ import annotations

from datatracing.pipeline.audit import KafkaHeaders

HEADER_ERROR = "dt-error"
HEADER_SOURCE_TOPIC = "dt-source-topic"
HEADER_SOURCE_PARTITION = "dt-source-partition"
HEADER_SOURCE_OFFSET = "dt-source-offset"

_MAX_REASON = 1024


def dead_letter_headers(reason: str, topic: str, partition: int, offset: int) -> KafkaHeaders:
    """Headers of a dead-letter record (the reason is cut to 1 KiB)."""
    return [
        (HEADER_ERROR, reason[:_MAX_REASON].encode("utf-8", errors="replace")),
        (HEADER_SOURCE_TOPIC, topic.encode()),
        (HEADER_SOURCE_PARTITION, str(partition).encode()),
        (HEADER_SOURCE_OFFSET, str(offset).encode()),
    ]
