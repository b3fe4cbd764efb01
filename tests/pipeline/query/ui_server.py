"""The query service with the graph API and the web UI, served by uvicorn on
127.0.0.1 over a chdb store filled with the traces of `ui_data`."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI
from ui_data import batch_trace, checkout_trace, failed_trace, wide_trace

from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.broker import free_port
from datatracing.pipeline.query import create_app
from datatracing.pipeline.store import ClickHouseTraceStore, SpanBatch, open_store

AUDIT = SamplingAudit(policy="errors-and-slow", policy_version="3f2a9c", sample_rate=10.0)


def fill(store: ClickHouseTraceStore, *, wide: bool = True) -> None:
    for spans in (checkout_trace(), batch_trace(), failed_trace()):
        store.insert(SpanBatch.from_spans(spans, AUDIT))
    if wide:
        store.insert(SpanBatch.from_spans(wide_trace(), AUDIT))


def build_app(store: ClickHouseTraceStore) -> FastAPI:
    app = create_app(store)
    return app


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start within 30 s"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def ui_service(chdb_url: str) -> Iterator[str]:
    """The service URL over a fresh database on `chdb_url`, filled with the UI traces."""
    store = open_store(chdb_url, database="ui_" + uuid.uuid4().hex[:10])
    store.migrate()
    try:
        fill(store)
        with serve(build_app(store)) as url:
            yield url
    finally:
        store.close()
