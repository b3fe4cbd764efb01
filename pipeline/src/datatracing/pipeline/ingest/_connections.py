"""The gateway's connections: deadlines for slow clients, a bound on open connections, disconnects counted.

uvicorn serves the gateway with httptools' HTTP/1.1 parser (`HttpToolsProtocol`). Out of the box it
closes a kept-alive connection idle between requests (`timeout_keep_alive`), but nothing bounds how
long a request's headers or body may take, nor a new connection that never sends a byte: a client
holding half-sent requests holds as many sockets and tasks for ever. Its `limit_concurrency` answers
503 only once a request's headers are complete, so slow connections count against it and are never
closed.

The deadlines are kept by the connection (`gateway_protocol`, a subclass of `HttpToolsProtocol` driven
by the parser's callbacks) rather than by the application, because only the connection sees every
byte of every request:

- headers: from the connection opening (or, on a kept-alive connection, from the next request's first
  byte) to the end of the headers, `IngestSettings.header_timeout_s`;
- body: from the end of the headers to the end of the body, `IngestSettings.body_timeout_s`, on every
  route, also after an early answer (401, 413, 503 sent before the body was read). uvicorn then drops
  the rest of the body and every byte received cancels its keep-alive timer, so a stalled body would
  otherwise keep the connection open for ever. An `asyncio.timeout` around the route's body read would
  miss exactly that case, and every route that does not read its body. The deadline includes the
  time the route spends before reading the body (an API-key check), since uvicorn stops reading a
  body the application does not take.

When a deadline passes, the connection answers 408 (in the request's encoding, see `_http`) if no
answer was started, and closes. The request's task, if any, sees a disconnect: the route returns
quietly and its late answer goes nowhere.

Past `IngestSettings.max_connections` open connections, a new one is answered 503 + `Retry-After` and
closed as soon as it is accepted, before it holds a parser, a task or a body (a client that is still
writing may see a reset instead; OTLP exporters retry both).

A connection lost while a request is in flight (headers begun, body partly received, or the answer
pending) is counted as a client disconnect, by phase, and logged at debug level only: any client can
disconnect, so a log line per disconnect would let any client flood the log. A connection that ends
with no request in flight is the normal end of a keep-alive connection and is not counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from datatracing.pipeline.config import IngestSettings
from datatracing.pipeline.ingest._http import RequestRejected, encoding_of, raw_error_response

__all__ = ["ClientStats", "gateway_protocol"]

log = logging.getLogger(__name__)

Phase = Literal["headers", "body", "response"]

#: At most one warning about refused connections per this many seconds.
_REFUSAL_WARNING_INTERVAL_S = 60.0


def _phases(*names: Phase) -> dict[str, int]:
    return dict.fromkeys(names, 0)


@dataclass
class ClientStats:
    """What clients did besides sending valid exports (read by `/metrics` and the tests).

    `timeouts` and `disconnects` are counted by phase: `headers` (request line and headers), `body`,
    and for disconnects also `response` (the client left before its answer was sent).
    """

    open_connections: int = 0
    #: Connections answered 503 and closed because `max_connections` were open.
    refused_connections: int = 0
    #: Connections closed because a request's headers or body did not arrive in time.
    timeouts: dict[str, int] = field(default_factory=lambda: _phases("headers", "body"))
    #: Connections the client closed with a request in flight.
    disconnects: dict[str, int] = field(default_factory=lambda: _phases("headers", "body", "response"))
    #: Export requests holding no span at all (answered 200, nothing published).
    empty_requests: int = 0
    #: When refused connections were last logged (`time.monotonic()`): one warning a minute at most.
    last_refusal_warning: float = field(default=float("-inf"), repr=False)


class _GatewayProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` with the deadlines, the connection bound and the disconnect counts."""

    settings: ClassVar[IngestSettings]
    stats: ClassVar[ClientStats]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        #: The part of a request being received (and timed), None between requests.
        self._receiving: Literal["headers", "body"] | None = None
        #: The current request's first byte arrived.
        self._begun = False
        #: The server closed the connection: its end is not a client disconnect.
        self._closed_here = False

    # --- deadlines -----------------------------------------------------------------------------

    def _start(self, phase: Literal["headers", "body"], seconds: float) -> None:
        self._stop()
        self._receiving = phase
        self._deadline = self.loop.call_later(seconds, self._expired, phase)

    def _stop(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, phase: Literal["headers", "body"]) -> None:
        self._deadline = None
        self.stats.timeouts[phase] += 1
        limit = self.settings.header_timeout_s if phase == "headers" else self.settings.body_timeout_s
        log.debug("%s: request %s not received within %g s; closing", self._peer(), phase, limit)
        self._close_with(408, f"request {phase} not received within {limit:g} s", phase)

    def _close_with(self, status: int, message: str, phase: Literal["headers", "body"] | None) -> None:
        """Answer `status` unless an answer is already under way, release the request's task, close."""
        self._stop()
        self._closed_here = True
        cycle = self.cycle
        if phase == "body":
            answer = cycle is not None and not cycle.response_started
        else:  # a new connection, or the next request on a kept-alive one
            answer = cycle is None or cycle.response_complete
        if cycle is not None and not cycle.response_complete:
            # What uvicorn does when a connection is lost: the task's next receive() is a disconnect
            # and its send() writes nothing.
            cycle.disconnected = True
            cycle.message_event.set()
        if answer and not self.transport.is_closing():
            content_type = dict(self.headers or []).get(b"content-type") if phase == "body" else None
            encoding = encoding_of(content_type.decode("latin-1")) if content_type else None
            error = RequestRejected(status, message)
            self.transport.write(raw_error_response(encoding, error, self.settings.retry_after_s))
        self.transport.close()

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "client"

    # --- connection events -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        stats = self.stats
        stats.open_connections += 1
        limit = self.settings.max_connections
        if len(self.connections) > limit:
            stats.refused_connections += 1
            now = time.monotonic()
            if now - stats.last_refusal_warning >= _REFUSAL_WARNING_INTERVAL_S:
                stats.last_refusal_warning = now
                log.warning(
                    "%d connections open: refusing new ones with 503 (%d refused so far)",
                    limit,
                    stats.refused_connections,
                )
            self._close_with(503, f"more than {limit} open connections; retry later", None)
            return
        self._start("headers", self.settings.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self.stats.open_connections -= 1
        self._stop()
        if not self._closed_here:
            phase = self._in_flight()
            if phase is not None:
                self.stats.disconnects[phase] += 1
                log.debug("%s: client disconnected during the request's %s", self._peer(), phase)
        super().connection_lost(exc)

    def _in_flight(self) -> Phase | None:
        if self._receiving == "body":
            return "body"
        if self._receiving == "headers" and self._begun:
            return "headers"
        if self.cycle is not None and not self.cycle.response_complete:
            return "response"
        return None

    def send_400_response(self, msg: str) -> None:
        self._stop()
        self._closed_here = True
        super().send_400_response(msg)

    def timeout_keep_alive_handler(self) -> None:
        self._closed_here = True
        super().timeout_keep_alive_handler()

    def shutdown(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self._closed_here = True
        super().shutdown()

    # --- parser callbacks --------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        if self._receiving is None:
            self._start("headers", self.settings.header_timeout_s)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._start("body", self.settings.body_timeout_s)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._stop()
        self._receiving = None
        self._begun = False


def gateway_protocol(settings: IngestSettings, stats: ClientStats) -> type[asyncio.Protocol]:
    """The connection class to give uvicorn (`Config(http=...)`): httptools with the gateway's
    deadlines and connection bound from `settings`, counting into `stats`."""
    namespace = {"settings": settings, "stats": stats, "__module__": __name__}
    return type("GatewayProtocol", (_GatewayProtocol,), namespace)
