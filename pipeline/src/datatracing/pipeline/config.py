"""Runtime settings: frozen pydantic-settings models, read from the environment only at entry points.

Every field can be set as `DATATRACING_<SECTION>__<FIELD>` (for example
`DATATRACING_KAFKA__BOOTSTRAP_SERVERS=broker:9092`) or from a YAML file named by `--config` /
`DATATRACING_CONFIG`. CLI options override both. Invalid values stop start-up with a one-line message
naming the field (see `load_settings`).

Every section lives here, the ingest gateway's and the sampler's included, so that this module
imports nothing of the packages it configures.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from datatracing.pipeline.errors import ConfigError, redact_url


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_MIB = 1024 * 1024
_NS_PER_S = 1_000_000_000

#: Tenant recorded on a sampling decision when a message carries no `dt-tenant` header (see `audit`).
DEFAULT_TENANT = "default"


def _ns(value: timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * _NS_PER_S + value.microseconds * 1_000


class TopicSettings(_Section):
    """Topic names. `spans` defaults to the OpenTelemetry Collector kafkaexporter's default topic."""

    spans: str = Field(default="otlp_spans", min_length=1)
    sampled: str = Field(default="sampled-spans", min_length=1)
    decisions: str = Field(default="decisions", min_length=1)
    dead_letter: str = Field(default="dead-letter", min_length=1)
    #: Messages that crashed a sampler worker, with how many times (compacted, one partition).
    quarantine: str = Field(default="quarantine", min_length=1)
    partitions: int = Field(default=4, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1, le=16)


#: Room a record needs beyond its value on the wire: key, headers, record and batch framing.
RECORD_OVERHEAD_BYTES = 64 * 1024
#: The default size contract: OTLP/gRPC's default receive limit.
DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def wire_max_bytes(max_message_bytes: int) -> int:
    """The record size every producer, topic and fetch must allow for values of `max_message_bytes`."""
    return max_message_bytes + RECORD_OVERHEAD_BYTES


class KafkaSecuritySettings(_Section):
    """How every Kafka client of the pipeline authenticates and encrypts: producers, consumers, the
    topic admin, the sampler's restore and replay readers and the Faust apps all get this one block.

    Set from the environment as `DATATRACING_KAFKA__SECURITY__<FIELD>`, for example
    `DATATRACING_KAFKA__SECURITY__PROTOCOL=SASL_SSL`. Passwords are `SecretStr`: they never appear in
    `repr`, logs or error messages.

    Example:
        >>> KafkaSecuritySettings(protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password="p")
        KafkaSecuritySettings(protocol='SASL_PLAINTEXT', sasl_mechanism='PLAIN', sasl_username='u', \
sasl_password=SecretStr('**********'), ssl_ca_location=None, ssl_certificate_location=None, \
ssl_key_location=None, ssl_key_password=None)
    """

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str | None = Field(default=None, min_length=1)
    sasl_password: SecretStr | None = None
    #: PEM files: the CA that signed the brokers' certificates (system CAs when unset), and the
    #: client's own certificate and key for mutual TLS.
    ssl_ca_location: str | None = Field(default=None, min_length=1)
    ssl_certificate_location: str | None = Field(default=None, min_length=1)
    ssl_key_location: str | None = Field(default=None, min_length=1)
    ssl_key_password: SecretStr | None = None

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_ssl(self) -> bool:
        return self.protocol.endswith("SSL")

    @model_validator(mode="after")
    def _complete(self) -> KafkaSecuritySettings:
        if self.uses_sasl and (self.sasl_username is None or self.sasl_password is None):
            raise ValueError(f"protocol {self.protocol} needs sasl_username and sasl_password")
        if (self.ssl_certificate_location is None) != (self.ssl_key_location is None):
            raise ValueError("ssl_certificate_location and ssl_key_location go together (mutual TLS)")
        return self


class KafkaSettings(_Section):
    bootstrap_servers: str = Field(default="127.0.0.1:19092", min_length=1)
    #: Authentication and encryption of every client (see `KafkaSecuritySettings`).
    security: KafkaSecuritySettings = KafkaSecuritySettings()
    session_timeout_ms: int = Field(default=6000, ge=1000)
    #: The one size contract of the pipeline: the largest message value any stage accepts, and so
    #: the largest it must be able to forward. Our producers' `message.max.bytes`, our topics'
    #: `max.message.bytes` and the consumers' fetch sizes are set to `wire_max_bytes(this)`; the
    #: sampler dead-letters (by reference) anything larger; the ingest gateway splits below it.
    max_message_bytes: int = Field(default=DEFAULT_MAX_MESSAGE_BYTES, ge=64 * 1024, le=512 * 1024 * 1024)
    #: Extra librdkafka settings for our producers (compression...), applied over `security`.
    producer: dict[str, str | int | float | bool] = Field(default_factory=dict)
    #: Extra librdkafka settings for the sampler's consumer (fetch sizes...), applied over `security`.
    consumer: dict[str, str | int | float | bool] = Field(default_factory=dict)


class SinkSettings(_Section):
    batch_max_spans: int = Field(default=20_000, ge=1)
    batch_max_messages: int = Field(default=2_000, ge=1)
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


class WorkerSettings(_Section):
    #: HTTP port of the sampler worker (`/metrics`, `/healthz`, `/readyz`); the sink worker uses
    #: `web_port + 1`.
    web_port: int = Field(default=6066, ge=1, le=65535)
    #: Address the sampler's and sink's HTTP servers bind (`0.0.0.0` to let a remote Prometheus scrape).
    host: str = Field(default="127.0.0.1", min_length=1)
    log_level: Literal["debug", "info", "warning", "error"] = "info"


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


#: An entry of `AuthSettings.keys` starting with this is a key's sha256 digest, not the key.
KEY_DIGEST_PREFIX = "sha256:"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def key_digest_entry(key: str) -> str:
    """`key` as an `AuthSettings.keys` entry holding only its digest (`sha256:<hex>`)."""
    if key.startswith(KEY_DIGEST_PREFIX):
        return key
    return KEY_DIGEST_PREFIX + hashlib.sha256(key.encode()).hexdigest()


class AuthSettings(_Section):
    """API keys for the HTTP services (query API and UI, ingest gateway); off by default.

    Clients send `Authorization: Bearer <key>` (or `X-API-Key: <key>`). Keys are kept as sha256
    digests only: `keys_file` lists `name:tenant:sha256hex` lines (`datatracing auth hash-key` prints
    one), `keys` takes plain keys (from the environment, for tests and simple setups) that are hashed
    when loaded, or digests written `sha256:<hex>`. Dumped as JSON (the settings file the embedded
    stack hands its workers), `keys` holds digests only. Health (`/healthz`, `/readyz`) and
    `/metrics` stay open.

    Example:
        >>> AuthSettings().enabled
        False
    """

    enabled: bool = False
    keys_file: Path | None = None
    keys: list[SecretStr] = Field(default_factory=list)

    @field_validator("keys")
    @classmethod
    def _digests_well_formed(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for index, key in enumerate(keys):
            value = key.get_secret_value()
            if value.startswith(KEY_DIGEST_PREFIX) and not _SHA256_HEX.fullmatch(
                value[len(KEY_DIGEST_PREFIX) :]
            ):
                raise ValueError(
                    f"keys[{index}]: a digest is {KEY_DIGEST_PREFIX} and 64 lowercase hex characters"
                )
            if not value.strip():
                raise ValueError(f"keys[{index}]: empty key")
        return keys

    @field_serializer("keys", when_used="json")
    def _keys_as_digests(self, keys: list[SecretStr]) -> list[str]:
        # Never the plain key, and never SecretStr's mask (which a reader would take for the key).
        return [key_digest_entry(k.get_secret_value()) for k in keys]

    @model_validator(mode="after")
    def _keys_when_enabled(self) -> AuthSettings:
        if self.enabled and self.keys_file is None and not self.keys:
            raise ValueError("auth is enabled but neither auth.keys_file nor auth.keys is set")
        return self


class Settings(BaseSettings):
    """All runtime settings of the pipeline processes."""

    model_config = SettingsConfigDict(
        env_prefix="DATATRACING_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    data_dir: Path = Path(".datatracing")
    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    store: StoreSettings = StoreSettings()
    sink: SinkSettings = SinkSettings()
    query: QuerySettings = QuerySettings()
    worker: WorkerSettings = WorkerSettings()
    sampler: SamplerSettings = SamplerSettings()
    ingest: IngestSettings = IngestSettings()
    auth: AuthSettings = AuthSettings()
    #: Sampling policy file (YAML or JSON); none means keep every trace.
    policy_file: Path | None = None

    @model_validator(mode="after")
    def _one_size_contract(self) -> Settings:
        """Check every size limit against `kafka.max_message_bytes`, and give the sampler its value."""
        check_size_contract(self)
        limit = self.kafka.max_message_bytes
        if "max_message_bytes" in self.sampler.model_fields_set and self.sampler.max_message_bytes != limit:
            raise ValueError(
                "sampler.max_message_bytes is set from kafka.max_message_bytes; set that one instead"
            )
        if self.sampler.max_message_bytes != limit:
            # Frozen model: the derived value is written once, here, during validation.
            object.__setattr__(self, "sampler", self.sampler.model_copy(update={"max_message_bytes": limit}))
        if self.ingest.max_message_bytes > limit:
            # The gateway's default cut is below the default contract; a smaller contract lowers it.
            object.__setattr__(self, "ingest", self.ingest.model_copy(update={"max_message_bytes": limit}))
        return self

    @property
    def store_url(self) -> str:
        """The store URL, defaulting to embedded chdb under the data directory."""
        return self.store.url or f"chdb://{(self.data_dir / 'clickhouse').resolve()}"


#: librdkafka settings that must allow a whole record of the contract size, by client.
_PRODUCER_SIZES = ("message.max.bytes",)
_CONSUMER_SIZES = ("fetch.max.bytes", "receive.message.max.bytes", "message.max.bytes")


def check_size_contract(settings: Settings) -> None:
    """Raise `ValueError` naming the setting that cannot carry a message of `kafka.max_message_bytes`.

    Every stage must be able to forward what it accepts: a producer limit or a fetch limit below
    the contract would let one accepted message stop the stage that cannot pass it on.
    """
    kafka = settings.kafka
    wire = wire_max_bytes(kafka.max_message_bytes)
    for section, names in (("producer", _PRODUCER_SIZES), ("consumer", _CONSUMER_SIZES)):
        extra = getattr(kafka, section)
        for name in names:
            value = extra.get(name)
            if value is not None and int(value) < wire:
                raise ValueError(
                    f"kafka.{section}[{name!r}] = {value} is below kafka.max_message_bytes + record "
                    f"overhead ({wire}); raise it or lower kafka.max_message_bytes"
                )
    ingest = settings.ingest
    if "max_message_bytes" in ingest.model_fields_set and ingest.max_message_bytes > kafka.max_message_bytes:
        raise ValueError(
            f"ingest.max_message_bytes ({settings.ingest.max_message_bytes}) is above "
            f"kafka.max_message_bytes ({kafka.max_message_bytes})"
        )


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "settings"
    return f"{where}: {first['msg']}"


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from (lowest first) defaults, the YAML file, the environment, `overrides`.

    Raises `ConfigError` with a one-line message naming the bad field.
    """
    file_values: dict[str, Any] = {}
    if config_file is not None:
        try:
            loaded = yaml.safe_load(config_file.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{config_file}: cannot read settings: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{config_file}: settings must be a mapping")
        file_values = loaded or {}
    try:
        from_env = Settings()
    except ValidationError as exc:
        raise ConfigError(f"environment: {_describe(exc)}") from exc
    # Environment beats the file: start from the file, then apply what the environment set.
    env_set = from_env.model_dump(exclude_unset=True)
    merged = _merge(_merge(file_values, env_set), {k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        source = f"{config_file}: " if config_file is not None else ""
        raise ConfigError(f"{source}{_describe(exc)}") from exc
