"""Settings of the ingest gateway (`datatracing ingest`), a section of the pipeline's settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["IngestSettings"]

_MIB = 1024 * 1024


class IngestSettings(BaseModel):
    """OTLP/HTTP ingest gateway: where it listens, what it accepts, when it pushes back.

    Set from the environment as `DATATRACING_INGEST__<FIELD>` once the section is part of `Settings`.

    Example:
        >>> IngestSettings(port=14318).max_body_bytes
        4194304
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    #: OTLP/HTTP's default port.
    port: int = Field(default=4318, ge=0, le=65535)
    #: Largest request body, both as received and once decompressed (a gzip bomb stops here too).
    max_body_bytes: int = Field(default=4 * _MIB, ge=1024)
    #: A trace's spans are cut into several messages past this size (keep it under the producer's
    #: `message.max.bytes` and the topic's `max.message.bytes`, both 1 MB by default).
    max_message_bytes: int = Field(default=900_000, ge=4096)
    #: librdkafka's `queue.buffering.max.messages`; a request that would not fit gets a 503.
    queue_max_messages: int = Field(default=100_000, ge=1)
    #: librdkafka's `queue.buffering.max.kbytes`; past it `produce` raises and the request gets a 503.
    queue_max_kbytes: int = Field(default=131_072, ge=1)
    #: Answer 503 while at least this many deliveries failed in a row, the last one within
    #: `failure_window_s` (after the window, requests are tried again).
    delivery_failure_threshold: int = Field(default=10, ge=1)
    failure_window_s: float = Field(default=10.0, gt=0)
    #: The `Retry-After` header of 503 answers, in seconds.
    retry_after_s: int = Field(default=5, ge=1, le=3600)
    #: How often delivery reports are served while no request arrives.
    poll_interval_s: float = Field(default=0.05, gt=0, le=5)
    #: How long shutdown waits for queued messages to reach the broker.
    flush_timeout_s: float = Field(default=10.0, ge=0)
    #: Bodies larger than this are decoded in a worker thread, so the event loop keeps answering.
    offload_bytes: int = Field(default=256 * 1024, ge=0)
    #: A request's line and headers must arrive within this many seconds of the connection opening
    #: (or of the request's first byte on a kept-alive connection); else 408 and the connection closes.
    header_timeout_s: float = Field(default=10.0, gt=0)
    #: A request's whole body must arrive within this many seconds of its headers; else 408 (when no
    #: answer was sent yet) and the connection closes.
    body_timeout_s: float = Field(default=30.0, gt=0)
    #: Open connections per process; one more is answered 503 + `Retry-After` and closed at once.
    max_connections: int = Field(default=1000, ge=1)
