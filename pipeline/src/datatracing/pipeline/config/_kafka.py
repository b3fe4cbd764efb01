"""Kafka settings: topics, the one message-size contract, the client security block."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from datatracing.pipeline.config._base import _Section


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
