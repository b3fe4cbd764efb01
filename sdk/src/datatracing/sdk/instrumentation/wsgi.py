"""WSGI middleware: one SERVER span per HTTP request, joined to the caller's trace.

Works with any WSGI framework (Flask, Django, Falcon, Bottle...) and imports none of them. The span
ends when the server closes the response body, so streamed bodies are inside it.

Example:
    >>> app.wsgi_app = TracingMiddleware(app.wsgi_app, tracer_provider=provider)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from datatracing.model import SpanKind, StatusCode
from datatracing.sdk._api import Span, set_span_in_context
from datatracing.sdk._carriers import wsgi_getter
from datatracing.sdk._context import Context, attach, detach
from datatracing.sdk._propagation import TextMapPropagator, get_global_propagator
from datatracing.sdk._provider import TracerProvider
from datatracing.sdk.instrumentation._common import log, mark_error, split_host, tracer_for
from datatracing.sdk.semconv import (
    CLIENT_ADDRESS,
    CLIENT_PORT,
    ERROR_TYPE,
    HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
    NETWORK_PROTOCOL_VERSION,
    SERVER_ADDRESS,
    SERVER_PORT,
    URL_PATH,
    URL_QUERY,
    URL_SCHEME,
    USER_AGENT_ORIGINAL,
)

__all__ = ["TracingMiddleware"]

SCOPE_NAME = "datatracing.instrumentation.wsgi"
_ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]


def _port(value: object) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _request_attributes(environ: WSGIEnvironment) -> dict[str, object]:
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    attributes: dict[str, object] = {
        HTTP_REQUEST_METHOD: str(environ.get("REQUEST_METHOD") or "_OTHER"),
        URL_PATH: path or "/",
        URL_SCHEME: str(environ.get("wsgi.url_scheme") or "http"),
    }
    if environ.get("QUERY_STRING"):
        attributes[URL_QUERY] = str(environ["QUERY_STRING"])
    server_port = _port(environ.get("SERVER_PORT"))
    host = environ.get("HTTP_HOST")
    address, port = split_host(host, server_port) if host else (environ.get("SERVER_NAME"), server_port)
    if address:
        attributes[SERVER_ADDRESS] = str(address)
    if port is not None:
        attributes[SERVER_PORT] = port
    if environ.get("REMOTE_ADDR"):
        attributes[CLIENT_ADDRESS] = str(environ["REMOTE_ADDR"])
    client_port = _port(environ.get("REMOTE_PORT"))
    if client_port is not None:
        attributes[CLIENT_PORT] = client_port
    if environ.get("HTTP_USER_AGENT"):
        attributes[USER_AGENT_ORIGINAL] = str(environ["HTTP_USER_AGENT"])
    protocol = str(environ.get("SERVER_PROTOCOL") or "")
    if protocol.startswith("HTTP/"):
        attributes[NETWORK_PROTOCOL_VERSION] = protocol[5:]
    return attributes


class _Request:
    """One traced request: its span, its context, and the status passed to `start_response`."""

    __slots__ = ("context", "ended", "span", "status")

    def __init__(self, span: Span, context: Context) -> None:
        self.span = span
        self.context = context
        self.status: int | None = None
        self.ended = False

    def observe(self, status: str) -> None:
        code = status.split(" ", 1)[0]
        if code.isdigit():
            self.status = int(code)

    def end(self, exc: BaseException | None) -> None:
        if self.ended:
            return
        self.ended = True
        try:
            span = self.span
            if self.status is not None:
                span.set_attribute(HTTP_RESPONSE_STATUS_CODE, self.status)
            if isinstance(exc, Exception):
                mark_error(span, exc)
            elif self.status is not None and self.status >= 500:
                span.set_attribute(ERROR_TYPE, str(self.status))
                span.set_status(StatusCode.ERROR, f"HTTP {self.status}")
            span.end()
        except Exception:
            log.error("wsgi-end", "WSGI tracing failed to end a span", exc_info=True)


class _TracedBody:
    """The response body: iterated with the request's context current; ends the span on `close()`."""

    def __init__(self, body: Iterable[bytes], request: _Request) -> None:
        self._body = body
        self._iterator: Iterator[bytes] | None = None
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._iterator is None:
            self._iterator = iter(self._body)
        token = attach(self._request.context)
        try:
            return next(self._iterator)
        except StopIteration:
            raise
        except BaseException as exc:
            self._request.end(exc)
            raise
        finally:
            detach(token)

    def close(self) -> None:
        try:
            close: Callable[[], object] | None = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._request.end(None)


class TracingMiddleware:
    """Wraps a WSGI app: a SERVER span "{method} {path}" per request (WSGI has no route template).

    The caller's W3C headers become the span's parent and the current context while the app runs and
    while the body is produced. HTTP attributes follow OpenTelemetry; ERROR status on a 5xx response
    or an exception (re-raised unchanged). Tracing failures are logged, never raised: the request is
    then served untraced. `excluded_paths` are served without a span.
    """

    def __init__(
        self,
        app: WSGIApplication,
        tracer_provider: TracerProvider | None = None,
        *,
        excluded_paths: Iterable[str] = (),
        propagator: TextMapPropagator | None = None,
    ) -> None:
        self.app = app
        self._tracer = tracer_for(tracer_provider, SCOPE_NAME)
        self._excluded = frozenset(excluded_paths)
        self._propagator = propagator

    def _start(self, environ: WSGIEnvironment) -> _Request | None:
        try:
            propagator = self._propagator or get_global_propagator()
            parent = propagator.extract(environ, getter=wsgi_getter)
            attributes = _request_attributes(environ)
            name = f"{attributes[HTTP_REQUEST_METHOD]} {attributes[URL_PATH]}"
            span = self._tracer.start_span(name, context=parent, kind=SpanKind.SERVER, attributes=attributes)
            return _Request(span, set_span_in_context(span, parent))
        except Exception:
            log.error("wsgi-start", "WSGI tracing failed to start a span", exc_info=True)
            return None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
        request = None if path in self._excluded else self._start(environ)
        if request is None:
            return self.app(environ, start_response)

        def traced_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: _ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            try:
                request.observe(status)
            except Exception:
                log.error("wsgi-status", "WSGI tracing failed to read a status", exc_info=True)
            return start_response(status, headers, exc_info)

        token = attach(request.context)
        try:
            body = self.app(environ, traced_start_response)
        except BaseException as exc:
            request.end(exc)
            raise
        finally:
            detach(token)
        return _TracedBody(body, request)
