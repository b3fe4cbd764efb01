"""Exceptions of the pipeline distribution, rooted in `datatracing.errors`.

Foreign errors (confluent-kafka, clickhouse-connect, chdb, HTTP) are translated where they enter,
with `raise ... from exc`, into one of these.
"""

from __future__ import annotations

from datatracing.errors import DataTracingError, InvalidDataError, TransientError, UsageError

__all__ = [
    "BrokerUnavailableError",
    "ConfigError",
    "PipelineError",
    "PolicyConfigError",
    "StoreError",
    "StoreRejectedError",
    "StoreUnavailableError",
]


class PipelineError(DataTracingError):
    """Root of the pipeline distribution's exceptions."""


class ConfigError(PipelineError, UsageError):
    """Settings or a config file are invalid; the message names the bad field."""


class PolicyConfigError(ConfigError):
    """A sampling policy file is invalid; the message names the file and the bad field."""


class BrokerUnavailableError(PipelineError, TransientError):
    """The Kafka-API broker cannot be reached or timed out."""


class StoreError(PipelineError):
    """Root of trace-store failures."""


class StoreUnavailableError(StoreError, TransientError):
    """ClickHouse (server or chdb) is unreachable or overloaded: retry with backoff."""


class StoreRejectedError(StoreError, InvalidDataError):
    """ClickHouse rejected the rows themselves: dead-letter them, never retry."""
