"""A store that is down answers 503 in each API's own error shape, never a 500."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from datatracing.pipeline.errors import StoreUnavailableError
from datatracing.pipeline.query import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


class _DownStore:
    """Every read raises what the ClickHouse store raises when the server cannot be reached."""

    def __getattr__(self, name: str) -> Any:
        def down(*_: object, **__: object) -> None:
            raise StoreUnavailableError("connection refused")

        return down


@pytest.fixture(scope="module")
def down_client() -> TestClient:
    store: Any = _DownStore()
    app = create_app(store)
    return TestClient(app)


@pytest.mark.parametrize(
    "url", ["/api/services", "/api/traces/" + "a" * 32, "/api/traces?service=x", "/api/dependencies"]
)
def test_jaeger_store_down_503_jaeger_envelope(down_client: TestClient, url: str) -> None:
    response = down_client.get(url)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["errors"][0]["code"] == 503


@pytest.mark.parametrize("url", ["/api/v3/services", "/api/v3/traces/" + "a" * 32])
def test_jaeger_v3_store_down_503_gateway_error(down_client: TestClient, url: str) -> None:
    response = down_client.get(url)
    assert response.status_code == 503
    assert response.json()["error"]["httpCode"] == 503


def test_tempo_store_down_503(down_client: TestClient) -> None:
    assert down_client.get("/api/v2/traces/" + "a" * 32).status_code == 503
