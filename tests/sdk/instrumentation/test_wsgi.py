"""WSGI middleware with a plain WSGI app: through httpx's WSGI transport and a real wsgiref server."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server
from wsgiref.types import StartResponse, WSGIEnvironment

import httpx
import pytest

from datatracing.model import SpanKind, StatusCode
from datatracing.sdk import Context, InMemorySpanExporter, TracerProvider, get_current_span
from datatracing.sdk.instrumentation.wsgi import TracingMiddleware

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


class BoomError(RuntimeError):
    pass


def _app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/fail":
        raise BoomError("kaput")
    if path == "/unavailable":
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"down"]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _stream()
    if path == "/broken-stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _broken_stream()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [get_current_span().span_context.span_id.encode()]


def _stream() -> Iterator[bytes]:
    # Produced lazily, after the app returned: the server span must still be current.
    for _ in range(3):
        yield get_current_span().span_context.span_id.encode() + b"\n"


def _broken_stream() -> Iterator[bytes]:
    yield b"first\n"
    raise BoomError("mid-stream")


def _client(app: Any) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://testserver")


def test_wsgi_request_with_traceparent_server_span_joins_trace(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    with _client(TracingMiddleware(_app, provider)) as client:
        response = client.get(
            "/orders/42?x=1", headers={"traceparent": TRACEPARENT, "user-agent": "probe/1.0"}
        )
    (span,) = exporter.get_finished_spans()
    assert response.text == span.span_id
    assert span.name == "GET /orders/42"
    assert span.kind is SpanKind.SERVER
    assert (span.trace_id, span.parent_span_id) == (TRACE_ID, PARENT_ID)
    assert span.attributes == {
        "http.request.method": "GET",
        "url.path": "/orders/42",
        "url.query": "x=1",
        "url.scheme": "http",
        "server.address": "testserver",
        "server.port": 80,
        "client.address": "127.0.0.1",
        "user_agent.original": "probe/1.0",
        "network.protocol.version": "1.1",
        "http.response.status_code": 200,
    }
    assert span.status.code is StatusCode.UNSET


def test_wsgi_streamed_body_inside_span_span_ends_on_close(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    with _client(TracingMiddleware(_app, provider)) as client:
        response = client.get("/stream")
    (span,) = exporter.get_finished_spans()
    assert response.text.splitlines() == [span.span_id] * 3


def test_wsgi_app_exception_reraised_unchanged_span_error(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    with _client(TracingMiddleware(_app, provider)) as client, pytest.raises(BoomError, match="kaput"):
        client.get("/fail")
    (span,) = exporter.get_finished_spans()
    assert span.status.code is StatusCode.ERROR
    assert span.attributes["error.type"] == f"{__name__}.BoomError"
    assert [event.name for event in span.events] == ["exception"]


def test_wsgi_exception_while_streaming_span_error(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    with _client(TracingMiddleware(_app, provider)) as client, pytest.raises(BoomError, match="mid-stream"):
        client.get("/broken-stream")
    (span,) = exporter.get_finished_spans()
    assert span.status.code is StatusCode.ERROR
    assert span.attributes["http.response.status_code"] == 200


def test_wsgi_5xx_response_span_error(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    with _client(TracingMiddleware(_app, provider)) as client:
        assert client.get("/unavailable").status_code == 503
    (span,) = exporter.get_finished_spans()
    assert span.status.code is StatusCode.ERROR
    assert span.attributes["error.type"] == "503"


class _BrokenPropagator:
    fields: set[str] = set()

    def inject(self, carrier: Any, context: Context | None = None, setter: Any = None) -> None:
        raise RuntimeError("broken inject")

    def extract(self, carrier: Any, context: Context | None = None, getter: Any = None) -> Context:
        raise RuntimeError("broken extract")


def test_wsgi_tracing_failure_app_still_served(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = TracingMiddleware(_app, provider, propagator=_BrokenPropagator())
    with _client(app) as client:
        assert client.get("/orders/1").status_code == 200
    assert exporter.get_finished_spans() == []


def test_wsgi_excluded_path_served_without_span(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    with _client(TracingMiddleware(_app, provider, excluded_paths=["/healthz"])) as client:
        assert client.get("/healthz").status_code == 200
    assert exporter.get_finished_spans() == []


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_wsgi_real_wsgiref_server_span_per_request(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    with make_server(
        "127.0.0.1", 0, TracingMiddleware(_app, provider), handler_class=_QuietHandler
    ) as server:
        port = server.server_port
        thread = threading.Thread(target=server.handle_request, daemon=True)
        thread.start()
        response = httpx.get(f"http://127.0.0.1:{port}/stream", headers={"traceparent": TRACEPARENT})
        thread.join(10)
    (span,) = exporter.get_finished_spans()
    assert response.text.splitlines() == [span.span_id] * 3
    assert span.parent_span_id == PARENT_ID
    assert span.attributes["server.port"] == port
    assert span.attributes["client.address"] == "127.0.0.1"
