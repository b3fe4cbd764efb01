"""ASGI middleware: one SERVER span per HTTP request, joined to the caller's trace.

Works with any ASGI 3 framework (FastAPI, Starlette, Litestar, Quart...) and imports none of them.

Example:
    >>> from fastapi import FastAPI  # doctest: +SKIP
    >>> app = FastAPI()  # doctest: +SKIP
    >>> app.add_middleware(TracingMiddleware, tracer_provider=provider)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from datatracing.model import SpanKind, StatusCode
from datatracing.sdk._api import Span, set_span_in_context
from datatracing.sdk._carriers import asgi_getter
from datatracing.sdk._context import attach, detach
from datatracing.sdk._propagation import TextMapPropagator, get_global_propagator
from datatracing.sdk._provider import TracerProvider
from datatracing.sdk.instrumentation._common import log, mark_error, split_host, tracer_for
from datatracing.sdk.semconv import (
    CLIENT_ADDRESS,
    CLIENT_PORT,
    ERROR_TYPE,
    HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE,
    NETWORK_PROTOCOL_VERSION,
    SERVER_ADDRESS,
    SERVER_PORT,
    URL_PATH,
    URL_QUERY,
    URL_SCHEME,
    USER_AGENT_ORIGINAL,
)

__all__ = ["ASGIApp", "Receive", "Scope", "Send", "TracingMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SCOPE_NAME = "datatracing.instrumentation.asgi"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _request_attributes(scope: Scope) -> dict[str, object]:
    scheme = str(scope.get("scheme") or "http")
    attributes: dict[str, object] = {
        HTTP_REQUEST_METHOD: str(scope.get("method") or "_OTHER"),
        URL_PATH: str(scope.get("path") or "/"),
        URL_SCHEME: scheme,
    }
    query = scope.get("query_string")
    if query:
        attributes[URL_QUERY] = bytes(query).decode("latin-1")
    server = scope.get("server")
    default_port = server[1] if server and len(server) > 1 else None
    host = _header(scope, b"host")
    if host:
        address, port = split_host(host, default_port)
    elif server:
        address, port = str(server[0]), default_port
    else:
        address, port = "", None
    if address:
        attributes[SERVER_ADDRESS] = address
    if port is not None:
        attributes[SERVER_PORT] = port
    client = scope.get("client")
    if client:
        attributes[CLIENT_ADDRESS] = str(client[0])
        if len(client) > 1 and client[1] is not None:
            attributes[CLIENT_PORT] = client[1]
    agent = _header(scope, b"user-agent")
    if agent:
        attributes[USER_AGENT_ORIGINAL] = agent
    version = scope.get("http_version")
    if version:
        attributes[NETWORK_PROTOCOL_VERSION] = str(version)
    return attributes


def _route(scope: Scope, root_path: str) -> str | None:
    """The matched route template, which frameworks (Starlette, FastAPI) leave in `scope["route"]`."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str):
        return None
    # Inside a mounted sub-application the route is relative: the mount prefix went to root_path.
    mounted = str(scope.get("root_path") or "")
    prefix = mounted[len(root_path) :] if mounted.startswith(root_path) else ""
    return prefix + template


class _Request:
    """One traced request: its span and what the response said."""

    __slots__ = ("root_path", "span", "status")

    def __init__(self, span: Span, root_path: str) -> None:
        self.span = span
        self.root_path = root_path
        self.status: int | None = None

    def observe(self, message: Message) -> None:
        if message.get("type") == "http.response.start":
            status = message.get("status")
            if isinstance(status, int):
                self.status = status

    def finish(self, scope: Scope, exc: BaseException | None) -> None:
        span = self.span
        route = _route(scope, self.root_path)
        if route:
            span.set_attribute(HTTP_ROUTE, route)
            span.update_name(f"{scope.get('method') or 'HTTP'} {route}")
        if self.status is not None:
            span.set_attribute(HTTP_RESPONSE_STATUS_CODE, self.status)
        if isinstance(exc, Exception):
            mark_error(span, exc)
        elif self.status is not None and self.status >= 500:
            # 4xx is the client's fault: a server span is an error only for 5xx.
            span.set_attribute(ERROR_TYPE, str(self.status))
            span.set_status(StatusCode.ERROR, f"HTTP {self.status}")


class TracingMiddleware:
    """Wraps an ASGI app: a SERVER span "{method} {route or path}" per HTTP request.

    The caller's W3C `traceparent`/`tracestate`/`baggage` headers become the span's parent and the
    current context while the app runs. The span gets the OpenTelemetry HTTP attributes, ERROR status
    on a 5xx response or an exception (which is re-raised unchanged). Tracing failures are logged,
    never raised: the request is then served untraced. WebSocket and lifespan scopes pass through.

    `excluded_paths` are served without a span (health checks); without `tracer_provider` the global
    provider is used.
    """

    def __init__(
        self,
        app: ASGIApp,
        tracer_provider: TracerProvider | None = None,
        *,
        excluded_paths: Iterable[str] = (),
        propagator: TextMapPropagator | None = None,
    ) -> None:
        self.app = app
        self._tracer = tracer_for(tracer_provider, SCOPE_NAME)
        self._excluded = frozenset(excluded_paths)
        self._propagator = propagator

    def _start(self, scope: Scope) -> tuple[_Request, Any] | None:
        try:
            propagator = self._propagator or get_global_propagator()
            parent = propagator.extract(scope, getter=asgi_getter)
            attributes = _request_attributes(scope)
            name = f"{attributes[HTTP_REQUEST_METHOD]} {attributes[URL_PATH]}"
            span = self._tracer.start_span(name, context=parent, kind=SpanKind.SERVER, attributes=attributes)
            token = attach(set_span_in_context(span, parent))
            return _Request(span, str(scope.get("root_path") or "")), token
        except Exception:
            log.error("asgi-start", "ASGI tracing failed to start a span", exc_info=True)
            return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or scope.get("path") in self._excluded:
            await self.app(scope, receive, send)
            return
        started = self._start(scope)
        if started is None:
            await self.app(scope, receive, send)
            return
        request, token = started

        async def traced_send(message: Message) -> None:
            try:
                request.observe(message)
            except Exception:
                log.error("asgi-send", "ASGI tracing failed to read a response message", exc_info=True)
            await send(message)

        error: BaseException | None = None
        try:
            await self.app(scope, receive, traced_send)
        except BaseException as exc:
            error = exc
            raise
        finally:
            detach(token)
            try:
                request.finish(scope, error)
                request.span.end()
            except Exception:
                log.error("asgi-end", "ASGI tracing failed to end a span", exc_info=True)
