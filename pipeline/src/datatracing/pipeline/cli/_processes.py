"""`datatracing worker ROLE`, `query` and `ingest`: the long-running processes of a deployment.

Each checks what it needs before it starts (the store, the broker; see `_startup`), retrying for
`--startup-wait` seconds, so an unreachable dependency is one line naming it rather than a
traceback or a librdkafka log flood.
"""

from __future__ import annotations

from typing import Annotated

import typer

from datatracing.pipeline.cli._base import ConfigOpt, fail, settings_from, setup_logging
from datatracing.pipeline.cli._startup import StartupWaitOpt, open_settings_store, wait_for_kafka

__all__ = ["ingest", "query", "worker"]

_DEFAULT_WAIT_S = 30.0


def worker(
    role: Annotated[str, typer.Argument(help="sampler | store | sink")],
    config: ConfigOpt = None,
    startup_wait: StartupWaitOpt = _DEFAULT_WAIT_S,
) -> None:
    """Run one worker process (settings from the environment and --config)."""
    settings = settings_from(config)
    if role not in ("sampler", "store", "sink"):
        fail(f"role: expected sampler, store or sink, got {role!r}")
    from datatracing.pipeline.runtime.workers import run_sampler_worker, run_store_worker

    setup_logging(settings.worker.log_level)
    if role == "sampler":
        wait_for_kafka(settings.kafka.bootstrap_servers, startup_wait)
        run_sampler_worker(settings)
        return
    # Opened here and held while the worker runs: the worker's own `open_store` shares this
    # connection (one per chdb path and process), so the check and the worker see the same store.
    store = open_settings_store(settings, startup_wait)
    try:
        wait_for_kafka(settings.kafka.bootstrap_servers, startup_wait)
        run_store_worker(settings, with_query=role == "store")
    finally:
        store.close()


def query(config: ConfigOpt = None, startup_wait: StartupWaitOpt = _DEFAULT_WAIT_S) -> None:
    """Run the query service alone (for a ClickHouse server; with chdb the store worker hosts it)."""
    import uvicorn

    from datatracing.pipeline.runtime.workers import build_query_app

    settings = settings_from(config)
    setup_logging(settings.worker.log_level)
    if settings.store_url.startswith("chdb:"):
        fail("store.url: the query service alone needs a ClickHouse server; chdb is served by `worker store`")
    store = open_settings_store(settings, startup_wait)
    try:
        uvicorn.run(
            build_query_app(settings, store),
            host=settings.query.host,
            port=settings.query.port,
            log_level=settings.worker.log_level,
        )
    finally:
        store.close()


def ingest(config: ConfigOpt = None, startup_wait: StartupWaitOpt = _DEFAULT_WAIT_S) -> None:
    """Run the OTLP/HTTP ingest gateway (`POST /v1/traces`, protobuf or JSON) into the spans topic."""
    from datatracing.pipeline.ingest import run_ingest

    settings = settings_from(config)
    setup_logging(settings.worker.log_level)
    wait_for_kafka(settings.kafka.bootstrap_servers, startup_wait)
    run_ingest(
        settings.ingest,
        settings.kafka,
        settings.topics,
        log_level=settings.worker.log_level,
        auth=settings.auth,
    )
