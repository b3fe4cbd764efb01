"""The query service with the graph API and the web UI, served by uvicorn on
127.0.0.1 over a chdb store filled with the traces of `ui_data`."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi import FastAPI

from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.bench._browser import chromium_path
from datatracing.pipeline.bench._serve import serve_in_thread
from datatracing.pipeline.http_auth import Authenticator
from datatracing.pipeline.query import create_app
from datatracing.pipeline.store import ClickHouseTraceStore, SpanBatch, open_store
from tests.pipeline.query.ui_data import batch_trace, checkout_trace, failed_trace, wide_trace

AUDIT = SamplingAudit(policy="errors-and-slow", policy_version="3f2a9c", sample_rate=10.0)


def fill(store: ClickHouseTraceStore, *, wide: bool = True) -> None:
    for spans in (checkout_trace(), batch_trace(), failed_trace()):
        store.insert(SpanBatch.from_spans(spans, AUDIT))
    if wide:
        store.insert(SpanBatch.from_spans(wide_trace(), AUDIT))


def build_app(store: ClickHouseTraceStore, auth: Authenticator | None = None) -> FastAPI:
    app = create_app(store, auth=auth)
    return app


@contextmanager
def ui_service(chdb_url: str, auth: Authenticator | None = None) -> Iterator[str]:
    """The service URL over a fresh database on `chdb_url`, filled with the UI traces (API keys on
    with `auth`)."""
    store = open_store(chdb_url, database="ui_" + uuid.uuid4().hex[:10])
    store.migrate()
    try:
        fill(store)
        with serve_in_thread(build_app(store, auth)) as url:
            yield url
    finally:
        store.close()


def require_chromium() -> None:
    """Skip the calling test module when no Chromium is installed; on CI, where `scripts/bootstrap`
    installs it, a missing browser is an error instead."""
    try:
        chromium_path()
    except Exception:
        if os.environ.get("CI"):
            raise RuntimeError("chromium is missing: scripts/bootstrap installs it (as root)") from None
        pytest.skip(
            "no chromium: run scripts/bootstrap as root, or set DATATRACING_CHROMIUM", allow_module_level=True
        )
