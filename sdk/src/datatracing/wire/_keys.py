"""Message keys and partitioning on the spans topics.

Every producer of ours keys a message by its trace id as 32 lowercase hex characters and uses
librdkafka's `murmur2_random` partitioner, which is Java Kafka's (and aiokafka's) murmur2: so all
producers, ours, Faust's and a Collector set to `hasher: murmur2`, put one trace on one partition.
"""

from __future__ import annotations

#: librdkafka `partitioner` setting that matches Java Kafka's default murmur2 partitioner.
PARTITIONER = "murmur2_random"

#: Header naming the payload encoding of a spans-topic message. Absent means OTLP protobuf.
CONTENT_TYPE_HEADER = "content-type"
CONTENT_TYPE_OTLP_PROTO = "application/x-protobuf"
CONTENT_TYPE_OTLP_JSON = "application/json"
CONTENT_TYPE_MODEL_JSON = "application/vnd.datatracing.spans+json"


def trace_key(trace_id: str) -> bytes:
    """The Kafka message key for a trace: its id as 32 lowercase hex ASCII characters."""
    return trace_id.encode("ascii")


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (seed 0x9747B28C), as a signed 32-bit integer like Java's."""
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & 0xFFFFFFFF
    length4 = length // 4
    for i in range(length4):
        i4 = i * 4
        k = int.from_bytes(data[i4 : i4 + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    extra = length % 4
    tail = length4 * 4
    if extra == 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's murmur2 partitioner picks for `key` among `partitions`."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
