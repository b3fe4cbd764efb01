"""API keys and readiness of the gateway, against the real broker, in process through httpx."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from fastapi import FastAPI

from datatracing.pipeline.broker import free_port
from datatracing.pipeline.http_auth import ApiKey, Authenticator
from datatracing.pipeline.ingest import (
    IngestSettings,
    create_ingest_app,
    make_ingest_producer,
    rpc_status_class,
)
from tests.pipeline.ingest.ingest_support import (
    PARTITIONS,
    asgi_client,
    consume,
    make_spans,
    proto_body,
    stats_of,
)

pytestmark = pytest.mark.anyio

PROTO = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}
KEY = "ingest-key-7f3a"
AUTH = Authenticator([ApiKey.from_plain("collector", "team-a", KEY)])

AppFactory = Callable[..., FastAPI]


@pytest.fixture
def authed(kafka_bootstrap: str, spans_topic: str) -> AppFactory:
    def make(bootstrap: str | None = None, auth: Authenticator | None = AUTH) -> FastAPI:
        settings = IngestSettings(flush_timeout_s=0)
        producer = make_ingest_producer(settings, bootstrap or kafka_bootstrap)
        return create_ingest_app(producer, spans_topic, settings, auth=auth)

    return make


async def test_ingest_auth_no_key_401_envelope_and_www_authenticate(authed: AppFactory) -> None:
    async with asgi_client(authed()) as client:
        response = await client.post("/v1/traces", content=b"{}", headers=JSON)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"
    assert "Authorization: Bearer" in response.json()["error"]["message"]


async def test_ingest_auth_wrong_key_401_for_json_and_protobuf(authed: AppFactory) -> None:
    body = proto_body(make_spans([1]))
    async with asgi_client(app := authed()) as client:
        as_json = await client.post("/v1/traces", content=b"{}", headers={**JSON, "x-api-key": "guess"})
        as_proto = await client.post(
            "/v1/traces", content=body, headers={**PROTO, "authorization": "Bearer guess"}
        )
    assert as_json.status_code == 401
    assert as_json.json()["error"]["message"] == "the API key is not valid"
    assert as_proto.status_code == 401
    assert as_proto.headers["www-authenticate"] == "Bearer"
    assert rpc_status_class.FromString(as_proto.content).code == 16  # UNAUTHENTICATED
    assert stats_of(app).requests == {"unauthorized": 2}


async def test_ingest_auth_right_key_200_published(
    authed: AppFactory, kafka_bootstrap: str, spans_topic: str
) -> None:
    body = proto_body(make_spans([2]))
    async with asgi_client(authed()) as client:
        response = await client.post(
            "/v1/traces", content=body, headers={**PROTO, "authorization": f"Bearer {KEY}"}
        )
    assert response.status_code == 200
    assert len(consume(kafka_bootstrap, spans_topic, PARTITIONS, 1)) == 1


async def test_ingest_auth_health_ready_metrics_open_without_key(authed: AppFactory) -> None:
    async with asgi_client(authed()) as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        metrics = await client.get("/metrics")
    assert (health.status_code, ready.status_code, metrics.status_code) == (200, 200, 200)
    assert ready.json() == {"status": "ready", "checks": {"broker": "ok"}}
    assert "datatracing_ingest_requests" in metrics.text


async def test_ingest_readyz_broker_unreachable_503_envelope(authed: AppFactory) -> None:
    async with asgi_client(authed(bootstrap=f"127.0.0.1:{free_port()}", auth=None)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    error = response.json()["error"]
    assert error["code"] == "not_ready"
    assert error["message"].startswith("not ready: broker failing")
    assert error["details"] == [{"check": "broker", "status": error["details"][0]["status"]}]


async def test_ingest_auth_keys_never_logged_at_debug(
    authed: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "ingest-wrong-key-55aa"
    body = proto_body(make_spans([3]))
    async with asgi_client(authed()) as client:
        for key in (KEY, wrong):
            await client.post("/v1/traces", content=body, headers={**PROTO, "authorization": f"Bearer {key}"})
            await client.post("/v1/traces", content=b"{}", headers={**JSON, "x-api-key": key})
    assert caplog.records  # debug logging did run
    assert KEY not in caplog.text
    assert wrong not in caplog.text
