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

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

import faust
from faust.contrib.asgi import serve_asgi
from mode import Service
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from datatracing.pipeline.broker import (
    ensure_pipeline_topics,
    kafka_consumer_config,
    kafka_producer,
    make_faust_app,
)
from datatracing.pipeline.config import Settings
from datatracing.pipeline.http_auth import Authenticator
from datatracing.pipeline.http_health import ReadinessProbe, metadata_check, worker_http_app
from datatracing.pipeline.query import create_app
from datatracing.pipeline.runtime._heap import HEAP_TRIM, HeapCollector, trim_heap, use_malloc_for_arrow
from datatracing.pipeline.sink import SinkCollector, SinkConsumerLoop, SinkWriter, sink_metrics_text
from datatracing.pipeline.store import ClickHouseTraceStore, EngineMemoryCollector, TraceStore, open_store

log = logging.getLogger(__name__)

SINK_APP_ID = "datatracing-sink"


def _run(app: faust.App, settings: Settings) -> None:
    worker = faust.Worker(app, loglevel=settings.worker.log_level.upper(), quiet=True)
    worker.execute_from_commandline()


def build_query_app(
    settings: Settings,
    store: TraceStore,
    *,
    readiness: Mapping[str, Callable[[], object]] | None = None,
    registry: CollectorRegistry | None = None,
) -> Any:
    """The query service over `store` as `settings` configure it (page limit, API keys, SQL limits):
    what the store worker hosts and what `datatracing query` serves."""
    query = settings.query
    return create_app(
        store,
        max_limit=query.max_limit,
        auth=Authenticator.from_settings(settings.auth),
        readiness=readiness,
        registry=registry,
        sql_default_rows=query.sql_default_rows,
        sql_max_rows=query.sql_max_rows,
        sql_timeout_s=query.sql_timeout_s,
    )


def build_store_app(settings: Settings, store: TraceStore, *, with_query: bool) -> tuple[faust.App, Any]:
    """The store worker's Faust app: the sink, and an HTTP server. With `with_query`, the query API
    (API keys per `settings.auth`) with the sink's metrics joining its `/metrics`; without, the
    sink's own `/metrics`, `/healthz`, `/readyz` on `worker.host`:`worker.web_port + 1`. `/readyz`
    checks the broker and the store either way.

    The app is producer-only: Faust hosts the worker (lifecycle, signals, the web server), while
    `SinkConsumerLoop` consumes `sampled-spans` in batches on a thread of its own (see `sink._loop`
    for why not an agent's stream), in the consumer group `sink.group_id`.
    """
    web_port = settings.query.port if with_query else settings.worker.web_port + 1
    app = make_faust_app(settings, SINK_APP_ID, web_port=web_port)
    app.producer_only = True
    producer = kafka_producer(settings.kafka)
    writer = SinkWriter(
        store,
        producer,
        settings.topics.dead_letter,
        settings.sink,
        max_message_bytes=settings.kafka.max_message_bytes,
    )
    config = kafka_consumer_config(settings.kafka, settings.sink.group_id)

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
    collector = SinkCollector(writer.stats, lag=loop.lag)
    checks = {"broker": metadata_check(producer), "store": store.count_spans}
    # The process's memory by owner: its heap allocators, and the embedded engine's (chdb only).
    memory: list[Collector] = [HeapCollector()]
    if isinstance(store, ClickHouseTraceStore):
        memory.append(EngineMemoryCollector(store.backend))
    if with_query:
        registry = CollectorRegistry(auto_describe=False)
        for one in (collector, *memory):
            registry.register(one)
        query_app = build_query_app(settings, store, readiness=checks, registry=registry)
        serve_asgi(app, query_app, host=settings.query.host, port=settings.query.port, log_level="warning")
    else:
        serve_asgi(
            app,
            worker_http_app(ReadinessProbe(checks), sink_metrics_text(collector, *memory)),
            host=settings.worker.host,
            port=web_port,
            log_level="warning",
            interface="asgi3",
            lifespan="off",
        )
    return app, writer


def trim_heap_every(app: faust.App, interval_s: float) -> None:
    """Return the free memory of glibc's heap to the OS every `interval_s` seconds, on a Faust timer
    (`runtime._heap`: without it a worker's RSS creeps up under steady load); 0 or a libc without
    `malloc_trim` does nothing."""
    if interval_s <= 0 or not HEAP_TRIM:
        return

    async def trim() -> None:
        await asyncio.to_thread(trim_heap)

    app.timer(interval=interval_s, name="trim-heap")(trim)


def run_store_worker(settings: Settings, *, with_query: bool = True) -> None:
    """Open the store (applying migrations), then run the sink (and query API) until stopped."""
    use_malloc_for_arrow()
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
    trim_heap_every(app, settings.worker.heap_trim_interval_s)
    try:
        _run(app, settings)
    finally:
        store.close()


def run_sampler_worker(settings: Settings) -> None:
    """Run the tail sampler until stopped."""
    from datatracing.pipeline.sampler.worker import build_sampler_app

    ensure_pipeline_topics(settings.kafka, settings.topics)
    app = build_sampler_app(settings, collectors=[HeapCollector()])
    trim_heap_every(app, settings.worker.heap_trim_interval_s)
    _run(app, settings)
