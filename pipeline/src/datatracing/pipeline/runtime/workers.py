"""The two worker processes of the pipeline.

A public module that `datatracing.pipeline.runtime` does not re-export: importing it loads Faust, the
query service and the store, which only a worker process needs.

- The sampler worker (`run_sampler_worker`): spans topic → tail sampler → `sampled-spans`. Scale it
  out by running more of them: Kafka partitions by trace id give each one whole traces.
- The store worker (`run_store_worker`): `sampled-spans` → sink → ClickHouse, and optionally the query
  service on the same event loop. With embedded chdb it must host both, because a chdb data path can
  be opened by one process only: the store worker is that process.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from faust.contrib.asgi import serve_asgi
from mode import Service

from datatracing.pipeline.broker import (
    consumer_config,
    ensure_pipeline_topics,
    kafka_producer,
    make_faust_app,
)
from datatracing.pipeline.config import Settings
from datatracing.pipeline.query import create_app
from datatracing.pipeline.sink import SinkConsumerLoop, SinkWriter, sink_metrics_app
from datatracing.pipeline.store import TraceStore, open_store

log = logging.getLogger(__name__)

SINK_APP_ID = "datatracing-sink"


def _run(app: faust.App, settings: Settings) -> None:
    worker = faust.Worker(app, loglevel=settings.worker.log_level.upper(), quiet=True)
    worker.execute_from_commandline()


def build_store_app(settings: Settings, store: TraceStore, *, with_query: bool) -> tuple[faust.App, Any]:
    """The store worker's Faust app: the sink, and when `with_query` the query API with the sink's
    metrics at `/metrics`. A sink without the query API serves no HTTP (its counters are in its log
    lines): the sampler's metrics port is taken on a machine running both.

    The app is producer-only: Faust hosts the worker (lifecycle, signals, the web server), while
    `SinkConsumerLoop` consumes `sampled-spans` in batches on a thread of its own (see `sink._loop`
    for why not an agent's stream), in the consumer group `SINK_APP_ID`.
    """
    app = make_faust_app(settings, SINK_APP_ID, web_port=settings.query.port, web_enabled=with_query)
    app.producer_only = True
    producer = kafka_producer(settings.kafka)
    writer = SinkWriter(
        store,
        producer,
        settings.topics.dead_letter,
        settings.sink,
        max_message_bytes=settings.kafka.max_message_bytes,
    )
    config = consumer_config(
        settings.kafka.bootstrap_servers,
        SINK_APP_ID,
        settings.kafka.session_timeout_ms,
        settings.kafka.consumer,
        max_message_bytes=settings.kafka.max_message_bytes,
    )

    def crashed(exc: BaseException) -> None:
        # Called on the loop's thread: stop the whole worker (non-zero exit) rather than idle.
        asyncio.run_coroutine_threadsafe(app.crash(exc), app.loop)

    loop = SinkConsumerLoop(writer, settings.topics.sampled, config, settings.sink, on_crash=crashed)

    class SinkLoopService(Service):
        async def on_start(self) -> None:
            loop.start()

        async def on_stop(self) -> None:
            # Finish the batch (written and committed) and leave the group.
            await asyncio.to_thread(loop.stop)

    app.service(SinkLoopService)
    if with_query:
        query_app = create_app(store, max_limit=settings.query.max_limit)
        query_app.add_route("/metrics", sink_metrics_app(writer.stats), include_in_schema=False)
        serve_asgi(app, query_app, host=settings.query.host, port=settings.query.port, log_level="warning")
    return app, writer


def run_store_worker(settings: Settings, *, with_query: bool = True) -> None:
    """Open the store (applying migrations), then run the sink (and query API) until stopped."""
    ensure_pipeline_topics(settings.kafka, settings.topics)
    store = open_store(settings.store_url, retention_days=settings.store.retention_days)
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
