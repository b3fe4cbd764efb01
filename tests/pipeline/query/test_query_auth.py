"""API keys on the query service over a real chdb store, served by uvicorn on loopback: every API
surface (our `/v1`, Jaeger's, Tempo's) refuses a missing or wrong key, probes, metrics and the UI's
shell stay open, and no key reaches a log line even at debug level."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, Request

from datatracing.pipeline.bench._serve import serve_in_thread
from datatracing.pipeline.http_auth import ApiKey, Authenticator
from datatracing.pipeline.query import create_app
from tests.pipeline.query.query_data import DownableStore, Seeded

KEY = "query-key-9c1e5d"
WRONG = "query-key-wrong-42b7"
AUTH = Authenticator([ApiKey.from_plain("grafana", "team-b", KEY)])


@pytest.fixture
def authed_url(downable: DownableStore, seeded: Seeded) -> Iterator[str]:
    app: FastAPI = create_app(downable, auth=AUTH)

    @app.get("/test/whoami", include_in_schema=False)
    def whoami(request: Request) -> dict[str, str]:
        principal = request.state.principal
        return {"name": principal.name, "tenant": principal.tenant}

    with serve_in_thread(app) as url:
        yield url


def _routes(seeded: Seeded) -> list[str]:
    trace = seeded["wide"]
    return [
        f"/v1/traces/{trace}",
        "/v1/traces?limit=5",
        "/v1/services",
        f"/api/traces/{trace}",  # Jaeger
        "/api/services",
        f"/api/v2/traces/{trace}",  # Tempo
    ]


def test_query_auth_no_key_401_envelope_www_authenticate(authed_url: str, seeded: Seeded) -> None:
    for route in _routes(seeded):
        response = httpx.get(authed_url + route, timeout=30)
        assert response.status_code == 401, route
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"


def test_query_auth_wrong_key_401(authed_url: str, seeded: Seeded) -> None:
    for route in _routes(seeded):
        response = httpx.get(authed_url + route, headers={"Authorization": f"Bearer {WRONG}"}, timeout=30)
        assert response.status_code == 401, route
        assert response.json()["error"]["message"] == "the API key is not valid"


def test_query_auth_right_key_200_on_every_surface(authed_url: str, seeded: Seeded) -> None:
    for route in _routes(seeded):
        response = httpx.get(authed_url + route, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
        assert response.status_code == 200, route
    by_header = httpx.get(authed_url + "/v1/services", headers={"X-API-Key": KEY}, timeout=30)
    assert by_header.status_code == 200


def test_query_auth_principal_on_request_state(authed_url: str) -> None:
    response = httpx.get(authed_url + "/test/whoami", headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    assert response.json() == {"name": "grafana", "tenant": "team-b"}


def test_query_auth_probes_metrics_and_ui_shell_open(authed_url: str, seeded: Seeded) -> None:
    for route in ("/healthz", "/readyz", "/metrics", "/", "/search", f"/trace/{seeded['wide']}"):
        assert httpx.get(authed_url + route, timeout=30).status_code == 200, route
    assert httpx.get(authed_url + "/static/api.js", timeout=30).status_code == 200


def test_query_auth_keys_never_logged_at_debug(
    downable: DownableStore, seeded: Seeded, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with serve_in_thread(create_app(downable, auth=AUTH)) as url:
        for key in (KEY, WRONG):
            for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
                httpx.get(url + "/v1/services", headers=headers, timeout=30)
        httpx.get(url + "/v1/services", timeout=30)
    assert any("refused" in r.getMessage() for r in caplog.records)  # debug logging did run
    assert KEY not in caplog.text
    assert WRONG not in caplog.text
