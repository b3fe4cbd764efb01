"""ASGI middleware with real apps (FastAPI, Starlette) through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

import datatracing.sdk._global
from datatracing.model import Span, SpanKind, StatusCode
from datatracing.sdk import (
    Context,
    InMemorySpanExporter,
    SimpleSpanProcessor,
    TracerProvider,
    get_current_span,
    set_tracer_provider,
)
from datatracing.sdk.instrumentation.asgi import Receive, Scope, Send, TracingMiddleware

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


class BoomError(RuntimeError):
    pass


def _fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/orders/{order_id}")
    async def order(order_id: int) -> dict[str, Any]:
        context = get_current_span().span_context
        return {"order_id": order_id, "trace_id": context.trace_id, "span_id": context.span_id}

    @app.get("/fail")
    async def fail() -> None:
        raise BoomError("kaput")

    @app.get("/unavailable", status_code=503)
    async def unavailable() -> dict[str, str]:
        return {"status": "down"}

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _get(app: Any, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get(path, headers=headers)

    return asyncio.run(run())


def _only_span(exporter: InMemorySpanExporter) -> Span:
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, spans
    return spans[0]


def test_asgi_fastapi_request_with_traceparent_server_span_joins_trace(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = _fastapi_app()
    app.add_middleware(TracingMiddleware, tracer_provider=provider)
    response = _get(app, "/orders/42?verbose=1", {"traceparent": TRACEPARENT, "user-agent": "probe/1.0"})
    assert response.status_code == 200
    span = _only_span(exporter)
    assert span.name == "GET /orders/{order_id}"
    assert span.kind is SpanKind.SERVER
    assert (span.trace_id, span.parent_span_id) == (TRACE_ID, PARENT_ID)
    assert span.status.code is StatusCode.UNSET
    assert span.attributes == {
        "http.request.method": "GET",
        "url.path": "/orders/42",
        "url.query": "verbose=1",
        "url.scheme": "http",
        "server.address": "testserver",
        "client.address": "127.0.0.1",
        "client.port": 123,
        "user_agent.original": "probe/1.0",
        "network.protocol.version": "1.1",
        "http.route": "/orders/{order_id}",
        "http.response.status_code": 200,
    }
    # The handler ran with the server span current.
    assert response.json()["span_id"] == span.span_id
    assert span.scope.name == "datatracing.instrumentation.asgi"


def test_asgi_request_without_traceparent_root_span(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    response = _get(TracingMiddleware(_fastapi_app(), provider), "/orders/7")
    span = _only_span(exporter)
    assert span.parent_span_id is None
    assert response.json()["trace_id"] == span.trace_id


def test_asgi_handler_exception_reraised_unchanged_span_error(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    with pytest.raises(BoomError, match="kaput"):
        _get(TracingMiddleware(_fastapi_app(), provider), "/fail")
    span = _only_span(exporter)
    assert span.name == "GET /fail"
    assert span.status.code is StatusCode.ERROR
    assert span.attributes["error.type"] == f"{__name__}.BoomError"
    assert [event.name for event in span.events] == ["exception"]
    assert span.events[0].attributes["exception.message"] == "kaput"


def test_asgi_5xx_response_error_4xx_unset(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    app = TracingMiddleware(_fastapi_app(), provider)
    assert _get(app, "/unavailable").status_code == 503
    assert _get(app, "/no/such/route").status_code == 404
    unavailable, missing = exporter.get_finished_spans()
    assert unavailable.status.code is StatusCode.ERROR
    assert unavailable.attributes["error.type"] == "503"
    assert unavailable.attributes["http.response.status_code"] == 503
    assert missing.status.code is StatusCode.UNSET
    assert missing.name == "GET /no/such/route"
    assert "http.route" not in missing.attributes


def test_asgi_excluded_path_served_without_span(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = TracingMiddleware(_fastapi_app(), provider, excluded_paths=["/healthz"])
    assert _get(app, "/healthz").json() == {"status": "ok"}
    assert exporter.get_finished_spans() == []


def test_asgi_starlette_mounted_route_name_includes_mount_prefix(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.path_params["name"])

    inner = Starlette(routes=[Route("/items/{name}", item)])
    app = Starlette(routes=[Mount("/api", app=inner)])
    assert _get(TracingMiddleware(app, provider), "/api/items/pen").text == "pen"
    span = _only_span(exporter)
    assert span.name == "GET /api/items/{name}"
    assert span.attributes["url.path"] == "/api/items/pen"


class _BrokenPropagator:
    fields: set[str] = set()

    def inject(self, carrier: Any, context: Context | None = None, setter: Any = None) -> None:
        raise RuntimeError("broken inject")

    def extract(self, carrier: Any, context: Context | None = None, getter: Any = None) -> Context:
        raise RuntimeError("broken extract")


def test_asgi_tracing_failure_app_still_served(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = TracingMiddleware(_fastapi_app(), provider, propagator=_BrokenPropagator())
    response = _get(app, "/orders/1", {"traceparent": TRACEPARENT})
    assert response.status_code == 200
    assert exporter.get_finished_spans() == []


def test_asgi_lifespan_scope_passed_through_without_span(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    seen: list[str] = []

    async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: Any) -> None:
        pass

    asyncio.run(TracingMiddleware(raw_app, provider)({"type": "lifespan"}, receive, send))
    assert seen == ["lifespan"]
    assert exporter.get_finished_spans() == []


def test_asgi_global_provider_used_when_none_given(
    exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = TracerProvider(service_name="global", shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(datatracing.sdk._global, "_provider", None)  # restored after the test
    set_tracer_provider(provider)
    _get(TracingMiddleware(_fastapi_app()), "/orders/3")
    assert _only_span(exporter).resource.service_name == "global"
