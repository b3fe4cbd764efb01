"""Exceptions of the pipeline distribution, rooted in `datatracing.errors`.

Foreign errors (confluent-kafka, clickhouse-connect, chdb, HTTP) are translated where they enter,
with `raise ... from exc`, into one of these.
"""

from __future__ import annotations

import re

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


_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<netloc>[^/?#'\" \t\r\n\x0b\x0c]*)")


def _redact_netloc(match: re.Match[str]) -> str:
    netloc = match["netloc"]
    userinfo, at, host = netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return match.group(0)
    user = userinfo.split(":", 1)[0]
    return f"{match['scheme']}{user}:***@{host}"


# Not in `__all__` (which lists the exception tree only): the helper that builds safe messages.
def redact_url(text: str) -> str:
    """`text` with the password of every URL in it replaced by `***` (`user:***@host`).

    Applied to every message that may quote a store URL, so that a password in a URL never reaches a
    log line, an exception or a `repr`.

    Example:
        >>> redact_url("cannot reach clickhouses://app:s3cret@db:8443/traces")
        'cannot reach clickhouses://app:***@db:8443/traces'
    """
    return _URL.sub(_redact_netloc, text)
