"""Running the gateway: its producer's settings, its uvicorn configuration and `run_ingest`, what
`datatracing ingest` calls.

The broker and settings modules are imported inside the functions: the settings module imports
`IngestSettings` from this package, and must be able to do so before it is itself complete.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from datatracing.pipeline.config import IngestSettings
from datatracing.pipeline.ingest._app import ApiKeyCheck, create_ingest_app
from datatracing.pipeline.ingest._connections import gateway_protocol

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

    from datatracing.pipeline.config import AuthSettings, KafkaSecuritySettings, KafkaSettings, TopicSettings

__all__ = [
    "gateway_producer_config",
    "ingest_producer_config",
    "ingest_server_config",
    "make_ingest_producer",
    "run_ingest",
]

log = logging.getLogger(__name__)

#: Files the process needs besides its client connections (broker sockets, logs, the listener...).
_SPARE_FILES = 128


def ingest_producer_config(
    settings: IngestSettings,
    bootstrap_servers: str,
    extra: Mapping[str, object] | None = None,
    *,
    max_message_bytes: int | None = None,
    security: KafkaSecuritySettings | None = None,
) -> dict[str, object]:
    """librdkafka settings of the gateway's producer: the project's (the `security` block, murmur2
    partitioner, a `message.max.bytes` carrying any message of the size contract `max_message_bytes`,
    by default the project's), the bounded queue from `settings`, then `extra` (compression...) on top."""
    from datatracing.pipeline.broker import producer_config
    from datatracing.pipeline.config import DEFAULT_MAX_MESSAGE_BYTES

    queue: dict[str, object] = {
        "queue.buffering.max.messages": settings.queue_max_messages,
        "queue.buffering.max.kbytes": settings.queue_max_kbytes,
    }
    return producer_config(
        bootstrap_servers,
        {**queue, **(extra or {})},
        max_message_bytes=max_message_bytes or DEFAULT_MAX_MESSAGE_BYTES,
        security=security,
    )


def gateway_producer_config(settings: IngestSettings, kafka: KafkaSettings) -> dict[str, object]:
    """The settings `run_ingest` gives its producer: `ingest_producer_config` with `kafka`'s servers,
    extra producer settings, size contract and security block."""
    return ingest_producer_config(
        settings,
        kafka.bootstrap_servers,
        kafka.producer,
        max_message_bytes=kafka.max_message_bytes,
        security=kafka.security,
    )


def make_ingest_producer(
    settings: IngestSettings,
    bootstrap_servers: str,
    extra: Mapping[str, object] | None = None,
    *,
    max_message_bytes: int | None = None,
    security: KafkaSecuritySettings | None = None,
) -> Any:
    """A `confluent_kafka.Producer` configured by `ingest_producer_config`."""
    from confluent_kafka import Producer

    config = ingest_producer_config(
        settings, bootstrap_servers, extra, max_message_bytes=max_message_bytes, security=security
    )
    return Producer(config)


def ingest_server_config(
    app: FastAPI, settings: IngestSettings, *, port: int | None = None, log_level: str = "info"
) -> uvicorn.Config:
    """uvicorn's configuration for `app` (from `create_ingest_app`): `settings.host`, `port` or
    `settings.port`, and connections keeping the gateway's deadlines and connection bound (see
    `_connections`), counting into `app.state.client_stats`.

    Example:
        >>> config = ingest_server_config(app, settings)  # doctest: +SKIP
        >>> uvicorn.Server(config).run()  # doctest: +SKIP
    """
    import uvicorn

    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port if port is None else port,
        http=gateway_protocol(settings, app.state.client_stats),
        ws="none",  # no WebSocket route; an upgrade would hand the connection to another protocol
        log_level=log_level,
        access_log=False,  # one log line per export request costs more than the request itself
    )


def ensure_open_files(max_connections: int) -> None:
    """Let the process hold `max_connections` client sockets: raise the soft limit of open files
    (up to the hard limit) when it is lower, and warn when even the hard limit is lower, since
    accepting then fails before the gateway's own bound can answer 503."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not a Unix system
        return
    needed = max_connections + _SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        log.warning(
            "open files limited to %d: fewer than max_connections (%d) + %d; lower "
            "DATATRACING_INGEST__MAX_CONNECTIONS or raise the limit (ulimit -n)",
            target,
            max_connections,
            _SPARE_FILES,
        )


def run_ingest(
    settings: IngestSettings,
    kafka: KafkaSettings,
    topics: TopicSettings,
    *,
    log_level: str = "info",
    api_key_check: ApiKeyCheck | None = None,
    auth: AuthSettings | None = None,
) -> None:
    """Serve the gateway until SIGINT/SIGTERM, then flush the producer.

    With `auth` enabled, export requests need a known API key (a bad keys file raises `ConfigError`
    before anything starts).

    Creates the spans topic when missing (with `topics.partitions`), publishes to `topics.spans`.

    Example:
        >>> settings = load_settings()  # doctest: +SKIP
        >>> run_ingest(settings.ingest, settings.kafka, settings.topics)  # doctest: +SKIP
    """
    import uvicorn

    from datatracing.pipeline.broker import ensure_topics, topic_specs
    from datatracing.pipeline.http_auth import Authenticator

    authenticator = Authenticator.from_settings(auth) if auth is not None else None
    ensure_open_files(settings.max_connections)
    ensure_topics(
        kafka.bootstrap_servers,
        [s for s in topic_specs(topics) if s.topic == topics.spans],
        security=kafka.security,
    )
    from confluent_kafka import Producer

    producer: Any = Producer(gateway_producer_config(settings, kafka))  # the port is structural
    app = create_ingest_app(producer, topics.spans, settings, api_key_check, auth=authenticator)
    log.info("ingest gateway on %s:%d publishing to %s", settings.host, settings.port, topics.spans)
    uvicorn.Server(ingest_server_config(app, settings, log_level=log_level)).run()
