"""The two worker processes of the pipeline.

A public module that `datatracing.pipeline.runtime` does not re-export: importing it loads Faust, the
query service and the store, which only a worker process needs.

- The sampler worker (`run_sampler_worker`): spans topic → tail sampler → `sampled-spans`. Scale it
  out by running more of them: Kafka partitions by trace id give each one whole traces. It serves
  `/metrics`, `/healthz` and `/readyz` on `worker.web_port`.
- The store worker (`run_store_worker`): `sampled-spans` → sink → ClickHouse, and optionally the query
  service on the same event loop. With embedded chdb it must host both, because a chdb data path can
  be opened by one process only: the store worker is that process. With the query service, the
  sink's metrics join the service's `/metrics` and its `/readyz` checks the broker and the store;
  without it (`worker sink`), the sink serves `/metrics`, `/healthz` and `/readyz` on
  `worker.web_port + 1`, bound to `worker.host`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import faust
from faust.contrib.asgi import serve_asgi
from prometheus_client import CollectorRegistry

from datatracing.pipeline.broker import ensure_pipeline_topics, kafka_producer, make_faust_app, raw_topic
from datatracing.pipeline.config import Settings
from datatracing.pipeline.http_auth import Authenticator
from datatracing.pipeline.http_health import ReadinessProbe, metadata_check, worker_http_app
from datatracing.pipeline.query import create_app
from datatracing.pipeline.sink import SinkCollector, SinkWriter, install_sink_agent, sink_metrics_text
from datatracing.pipeline.store import TraceStore, open_store

log = logging.getLogger(__name__)

SINK_APP_ID = "datatracing-sink"


def _run(app: faust.App, settings: Settings) -> None:
    worker = faust.Worker(app, loglevel=settings.worker.log_level.upper(), quiet=True)
    worker.execute_from_commandline()


def consumer_lag(app: faust.App, topic: str) -> Callable[[], dict[int, int]]:
    """Records behind by partition of `topic`: the consumer's high watermark minus its committed
    offset, for the partitions assigned to this worker.

    The high watermark is the broker's: on the embedded tansu broker, which reports the base offset of
    the last record batch + 1, the lag reads low after multi-record batches (real Kafka is exact)."""

    def read() -> dict[int, int]:
        consumer = app.consumer
        try:
            assigned = [tp for tp in consumer.assignment() if tp.topic == topic]
        except Exception:  # not started or rebalancing: nothing assigned to report yet
            return {}
        # Faust keeps the offset it last committed (the next one to read) per partition.
        committed = getattr(consumer, "_committed_offset", {})
        out: dict[int, int] = {}
        for tp in assigned:
            high = consumer.highwater(tp)
            if high is None:
                continue
            done = committed.get(tp) or 0
            out[tp.partition] = max(0, int(high) - int(done))
        return out

    return read


def consumer_paused(app: faust.App, topic: str) -> Callable[[], bool]:
    """Whether the consumer has paused fetching a partition of `topic` (flow control, rebalance)."""

    def read() -> bool:
        paused = getattr(app.consumer, "_paused_partitions", ())
        return any(tp.topic == topic for tp in paused)

    return read


def build_store_app(settings: Settings, store: TraceStore, *, with_query: bool) -> tuple[faust.App, Any]:
    """The store worker's Faust app: the sink agent, and an HTTP server. With `with_query`, the
    query API (API keys per `settings.auth`) with the sink's metrics joining its `/metrics`; without,
    the sink's own `/metrics`, `/healthz`, `/readyz` on `worker.host`:`worker.web_port + 1`.
    `/readyz` checks the broker and the store either way."""
    web_port = settings.query.port if with_query else settings.worker.web_port + 1
    app = make_faust_app(settings, SINK_APP_ID, web_port=web_port)
    producer = kafka_producer(settings.kafka)
    writer = SinkWriter(
        store,
        producer,
        settings.topics.dead_letter,
        settings.sink,
        max_message_bytes=settings.kafka.max_message_bytes,
    )
    topic = settings.topics.sampled
    install_sink_agent(app, raw_topic(app, topic), writer, settings.sink)
    collector = SinkCollector(writer.stats, lag=consumer_lag(app, topic), paused=consumer_paused(app, topic))
    checks = {"broker": metadata_check(producer), "store": store.count_spans}
    if with_query:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)
        query_app = create_app(
            store,
            max_limit=settings.query.max_limit,
            auth=Authenticator.from_settings(settings.auth),
            readiness=checks,
            registry=registry,
        )
        serve_asgi(app, query_app, host=settings.query.host, port=settings.query.port, log_level="warning")
    else:
        serve_asgi(
            app,
            worker_http_app(ReadinessProbe(checks), sink_metrics_text(collector)),
            host=settings.worker.host,
            port=web_port,
            log_level="warning",
            interface="asgi3",
            lifespan="off",
        )
    return app, writer


def run_store_worker(settings: Settings, *, with_query: bool = True) -> None:
    """Open the store (applying migrations), then run the sink (and query API) until stopped."""
    ensure_pipeline_topics(settings.kafka, settings.topics)
    store = open_store(
        settings.store_url,
        retention_days=settings.store.retention_days,
        password=settings.store.secret_password(),
    )
    applied = store.migrate()
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    app, _ = build_store_app(settings, store, with_query=with_query)
    try:
        _run(app, settings)
    finally:
        store.close()


def run_sampler_worker(settings: Settings) -> None:
    """Run the tail sampler until stopped."""
    from datatracing.pipeline.sampler.worker import build_sampler_app

    ensure_pipeline_topics(settings.kafka, settings.topics)
    app = build_sampler_app(settings)
    _run(app, settings)
