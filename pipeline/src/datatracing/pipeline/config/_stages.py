"""Settings of each stage: ingest gateway, sampler, sink, store, query service, worker processes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator

from datatracing.pipeline.config._base import _MIB, DEFAULT_TENANT, _ns, _Section
from datatracing.pipeline.errors import redact_url


class SinkSettings(_Section):
    #: The sink's consumer group on `sampled-spans` (two pipelines sharing a Kafka cluster need two).
    group_id: str = Field(default="datatracing-sink", min_length=1)
    #: A batch (one insert) ends at this many messages, this many bytes of message values (checked
    #: after each fetch of at most 200 messages), or this long after it began, whichever comes first.
    batch_max_messages: int = Field(default=2_000, ge=1)
    batch_max_bytes: int = Field(default=32 * _MIB, ge=1)
    batch_max_wait_s: float = Field(default=1.0, gt=0)
    retry_initial_s: float = Field(default=0.2, gt=0)
    retry_max_s: float = Field(default=10.0, gt=0)


class StoreSettings(_Section):
    """Where spans are stored and for how long.

    The password may sit in the URL or, better, in `password` (`DATATRACING_STORE__PASSWORD`, for
    example from a Kubernetes Secret), which overrides the URL's. `repr` shows the URL with its
    password replaced by `***`.
    """

    #: `chdb:///path` (embedded) or `clickhouse[s]://user:pass@host:port/db?ca_cert=...&verify=...`
    #: (server; see `open_store`); when unset, an embedded store under `data_dir/clickhouse`.
    url: str | None = Field(default=None, min_length=1, repr=False)
    #: The server password; overrides the URL's.
    password: SecretStr | None = None
    #: Days of spans kept. Changing it on a migrated store applies at the next `migrate`.
    retention_days: int = Field(default=30, ge=1, le=3650)

    def secret_password(self) -> str | None:
        """The password to hand to `open_store(password=...)`; None to use the URL's."""
        return None if self.password is None else self.password.get_secret_value()

    def __repr_args__(self) -> Any:
        yield "url", None if self.url is None else redact_url(self.url)
        yield from super().__repr_args__()


class QuerySettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=16686, ge=0, le=65535)
    max_limit: int = Field(default=1000, ge=1)
    #: `POST /v1/sql` (and `datatracing sql`): rows returned when the request names no `max_rows`,
    #: the most a request may ask for, and the engine's time limit per statement.
    sql_default_rows: int = Field(default=10_000, ge=1)
    sql_max_rows: int = Field(default=100_000, ge=1)
    sql_timeout_s: float = Field(default=30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _sql_rows_ordered(self) -> QuerySettings:
        if self.sql_default_rows > self.sql_max_rows:
            raise ValueError("sql_default_rows must not exceed sql_max_rows")
        return self


class WorkerSettings(_Section):
    #: HTTP port of the sampler worker (`/metrics`, `/healthz`, `/readyz`); the sink worker uses
    #: `web_port + 1`.
    web_port: int = Field(default=6066, ge=1, le=65535)
    #: Address the sampler's and sink's HTTP servers bind (`0.0.0.0` to let a remote Prometheus scrape).
    host: str = Field(default="127.0.0.1", min_length=1)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    #: Every this many seconds the sampler and store workers return the free memory glibc's heap keeps
    #: to the OS (`malloc_trim`, see `runtime._heap`); 0 turns it off.
    heap_trim_interval_s: float = Field(default=10.0, ge=0)


class IngestSettings(_Section):
    """OTLP/HTTP ingest gateway: where it listens, what it accepts, when it pushes back.

    Set from the environment as `DATATRACING_INGEST__<FIELD>` once the section is part of `Settings`.

    Example:
        >>> IngestSettings(port=14318).max_body_bytes
        4194304
    """

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


class SamplerSettings(_Section):
    """How one partition engine of the tail sampler decides completion and bounds its memory.

    Defaults follow the OpenTelemetry Collector's `tail_sampling` processor and Honeycomb Refinery:
    decide 30 s after the last span (OTel `decision_wait`), 2 s after the root span arrived (Refinery's
    send delay), at the latest 60 s after the first span (Refinery's trace timeout), and at once past
    32,000 spans (Refinery's span limit).

    Durations accept seconds (`30`, `0.5`) or ISO 8601 (`PT30S`).

    Example:
        >>> SamplerSettings(decision_wait=10).decision_wait_ns
        10000000000
    """

    #: The sampler's consumer group on the spans topic (two pipelines sharing a Kafka cluster need two).
    group_id: str = Field(default="datatracing-sampler", min_length=1)
    #: Decide a trace when no new span has arrived for this long (idle).
    decision_wait: timedelta = Field(default=timedelta(seconds=30), gt=timedelta(0))
    #: Decide a trace this long after its root span (no parent) arrived.
    wait_after_root: timedelta = Field(default=timedelta(seconds=2), ge=timedelta(0))
    #: Decide a trace at the latest this long after its first span arrived.
    max_trace_age: timedelta = Field(default=timedelta(seconds=60), gt=timedelta(0))
    #: Decide a trace at once when it holds this many spans.
    max_spans_per_trace: int = Field(default=32_000, ge=1)
    #: Bounds on what one partition engine buffers (spans, payload bytes).
    max_buffered_spans: int = Field(default=500_000, ge=1)
    max_buffered_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    #: At a bound: `decide_oldest` decides the oldest traces early (normal policies);
    #: `pause` raises `should_pause` so the agent pauses the partition until traces complete.
    #: In `pause` mode the engine still decides oldest traces at twice the bounds, so memory stays
    #: bounded even when the agent cannot pause in time.
    backpressure: Literal["pause", "decide_oldest"] = "decide_oldest"
    #: `should_pause` clears once the buffer is below this fraction of both bounds.
    resume_ratio: float = Field(default=0.8, gt=0, lt=1)
    #: Messages larger than this are dead-lettered by reference (OTLP/gRPC's default receive limit).
    #: In a worker it is `kafka.max_message_bytes`, the pipeline's one size contract (see `Settings`).
    max_message_bytes: int = Field(default=4 * 1024 * 1024, ge=1)
    #: Decided trace ids remembered so late spans follow the decision (LRU size, time to live).
    decision_cache_size: int = Field(default=200_000, ge=1)
    decision_cache_ttl: timedelta = Field(default=timedelta(minutes=5), gt=timedelta(0))
    #: Tenant recorded on decisions when a message carries no `dt-tenant` header.
    tenant: str = Field(default=DEFAULT_TENANT, min_length=1)

    @property
    def decision_wait_ns(self) -> int:
        return _ns(self.decision_wait)

    @property
    def wait_after_root_ns(self) -> int:
        return _ns(self.wait_after_root)

    @property
    def max_trace_age_ns(self) -> int:
        return _ns(self.max_trace_age)

    @property
    def decision_cache_ttl_ns(self) -> int:
        return _ns(self.decision_cache_ttl)
