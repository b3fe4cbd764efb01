"""Every Jaeger `/api/*` answer has the shape Jaeger's handler and UI model give it (golden key sets)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from datatracing.pipeline.store import ClickHouseTraceStore
from tests.pipeline.query.jaeger.jaeger_data import insert, new_trace_id, rich_trace

GOLDEN = json.loads((Path(__file__).parents[3] / "fixtures" / "jaeger" / "api_v1_shapes.json").read_text())


def _shape(doc: Any) -> Any:
    """Key sets and value types, recursively; a list is the shape of its first item."""
    if isinstance(doc, dict):
        return {k: _shape(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_shape(doc[0])] if doc else []
    return type(doc).__name__


@pytest.fixture(scope="module")
def rich(store: ClickHouseTraceStore) -> str:
    tid = new_trace_id()
    insert(store, rich_trace(tid, "sh"))
    return tid


@pytest.mark.parametrize(
    ("name", "url", "status"),
    [
        ("services", "/api/services", 200),
        ("service_operations", "/api/services/sh-web/operations", 200),
        ("operations", "/api/operations?service=sh-web", 200),
        ("dependencies", "/api/dependencies?endTs={end_ms}&lookback=7200000", 200),
        ("error", "/api/traces/" + "9" * 32, 404),
        ("missing_ids", "/api/traces?traceID=" + "7" * 16, 200),
    ],
)
def test_jaeger_answer_shape_matches_jaeger_handler(
    client: TestClient, rich: str, name: str, url: str, status: int
) -> None:
    response = client.get(url.format(end_ms=time.time_ns() // 10**6))
    assert response.status_code == status
    assert _shape(response.json()) == _shape(GOLDEN[name])
