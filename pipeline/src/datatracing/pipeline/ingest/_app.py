"""The ingest gateway: OTLP/HTTP `POST /v1/traces` in, one Kafka message per trace out.

Routes:

- `POST /v1/traces`: `application/x-protobuf` or `application/json` (OTLP JSON), optionally
  `Content-Encoding: gzip` (or deflate). 200 with an `ExportTraceServiceResponse` in the request's
  encoding (`partial_success` counts spans refused for bad ids or times); 400 malformed body;
  401 (+ `WWW-Authenticate: Bearer`) without a known API key when `auth` is on, or when the
  API-key check refuses; 413 body (or decompressed body) over `max_body_bytes`;
  415 other content types or encodings; 503 + `Retry-After` when the producer is saturated or
  deliveries keep failing. Failure bodies: see `_http` (google.rpc.Status for protobuf clients,
  the JSON error envelope otherwise).
  An export request holding no span (an empty body, `{}`) is answered 200 like any other, publishes
  nothing, and is counted (`datatracing_ingest_empty_requests_total`). A client that goes away
  mid-request gets no answer and no log line: the connection counts it (see `_connections`).
- `GET /healthz`: `{"status": "ok", "broker": "ok" | "failing", "queued": n}` (alive).
- `GET /readyz`: 200 when the producer reaches the broker (a metadata request, reused for a couple of
  seconds) and deliveries are not failing; else 503 with the envelope.
- `GET /metrics`: Prometheus text.

Health and metrics need no API key (probes and Prometheus carry none).

Messages are keyed by `trace_key(trace id)` and carry the `content-type: application/x-protobuf`
header, exactly as the SDK's Kafka exporter writes them; the producer must use the
`murmur2_random` partitioner (`make_ingest_producer` does) so a trace lands on one partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import ClientDisconnect

from datatracing.errors import InvalidDataError
from datatracing.pipeline.config import IngestSettings
from datatracing.pipeline.http_auth import Authenticator, presented_key
from datatracing.pipeline.http_errors import ApiError, envelope, install_error_handlers
from datatracing.pipeline.http_health import ReadinessProbe, metadata_check
from datatracing.pipeline.ingest._connections import ClientStats
from datatracing.pipeline.ingest._errors import BrokerSaturatedError, UnauthorizedError
from datatracing.pipeline.ingest._http import (
    Encoding,
    RequestRejected,
    decompress,
    encoding_of,
    error_response,
    read_limited,
    success_response,
)
from datatracing.pipeline.ingest._metrics import metrics_text
from datatracing.pipeline.ingest._publish import IngestStats, KafkaPublisher, ProducerPort
from datatracing.wire import TracePart, parse_otlp_json, parse_request, split_request

__all__ = ["ApiKeyCheck", "create_ingest_app"]

log = logging.getLogger(__name__)

#: Called with each export request before its body is read; raises `UnauthorizedError` to refuse.
ApiKeyCheck = Callable[[Request], Awaitable[None] | None]

_OUTCOMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    413: "too_large",
    415: "unsupported",
    503: "saturated",
}


def _decode(
    body: bytes, encoding: Encoding, content_encoding: str | None, settings: IngestSettings
) -> tuple[list[TracePart], list[str]]:
    """Body bytes → per-trace messages and the reasons of the refused spans (CPU only: may run in a
    thread). A body that does not decode as a request is a 400; a refused span is not."""
    payload = decompress(body, content_encoding, settings.max_body_bytes)
    reasons: list[str] = []
    try:
        if encoding == "proto":
            request = parse_request(payload)
            original: bytes | None = payload
        else:
            request, rejected_json = parse_otlp_json(payload)
            reasons.extend(r.reason for r in rejected_json)
            original = None
    except InvalidDataError as exc:
        raise RequestRejected(400, str(exc)) from exc
    parts, rejected = split_request(
        request, original, max_message_bytes=settings.max_message_bytes, summaries=False
    )
    reasons.extend(r.reason for r in rejected)
    return parts, reasons


def _rejected_message(reasons: list[str]) -> str:
    """One line for `partial_success.error_message`: how many spans, the first reason."""
    more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
    return f"{len(reasons)} span(s) rejected: {reasons[0]}{more}"


def _authenticate(auth: Authenticator | None, request: Request) -> None:
    if auth is None:
        return
    principal = auth.authenticate(request.headers)
    if principal is None:
        if presented_key(request.headers) is None:
            raise RequestRejected(401, "an API key is required: Authorization: Bearer <key>", "unauthorized")
        raise RequestRejected(401, "the API key is not valid", "unauthorized")
    request.state.principal = principal


async def _check_api_key(check: ApiKeyCheck | None, request: Request) -> None:
    if check is None:
        return
    try:
        result = check(request)
        if inspect.isawaitable(result):
            await result
    except UnauthorizedError as exc:
        raise RequestRejected(401, str(exc) or "unauthorized") from exc
    except ApiError as exc:
        raise RequestRejected(exc.status, exc.message, exc.code) from exc


def _content_length(request: Request, limit: int) -> None:
    raw = request.headers.get("content-length")
    if raw is None:
        return
    try:
        length = int(raw)
    except ValueError as exc:
        raise RequestRejected(400, f"Content-Length is not a number: {raw[:40]!r}") from exc
    if length > limit:
        raise RequestRejected(413, f"request body of {length} bytes is larger than {limit} bytes")


def create_ingest_app(
    producer: ProducerPort,
    topic: str,
    settings: IngestSettings,
    api_key_check: ApiKeyCheck | None = None,
    *,
    auth: Authenticator | None = None,
    readiness: Mapping[str, Callable[[], object]] | None = None,
) -> FastAPI:
    """Build the gateway publishing to `topic` through `producer` (flushed when the app shuts down).

    `auth` turns API keys on for `POST /v1/traces` (the principal goes on `request.state.principal`);
    `readiness` names the checks of `/readyz` (by default a metadata request through `producer`).

    `app.state.ingest_stats` holds its `IngestStats`, `app.state.client_stats` its `ClientStats`
    (counted by the connections of `ingest_server_config`, and the empty requests).

    Example:
        >>> producer = make_ingest_producer(IngestSettings(), "127.0.0.1:9092")  # doctest: +SKIP
        >>> app = create_ingest_app(producer, "otlp_spans", IngestSettings())  # doctest: +SKIP
    """
    stats = IngestStats()
    clients = ClientStats()
    publisher = KafkaPublisher(producer, topic, settings, stats)
    render_metrics = metrics_text(stats, clients, lambda: len(producer))
    probe = ReadinessProbe(readiness if readiness is not None else {"broker": metadata_check(producer)})

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        poller = asyncio.create_task(publisher.poll_forever())
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            await asyncio.to_thread(publisher.flush)

    app = FastAPI(title="DataTracing ingest gateway", version="0.1.0", lifespan=lifespan)
    app.state.ingest_stats = stats
    app.state.client_stats = clients
    install_error_handlers(app)

    async def export(request: Request) -> tuple[str, Response]:
        _authenticate(auth, request)
        await _check_api_key(api_key_check, request)
        encoding = encoding_of(request.headers.get("content-type"))
        if encoding is None:
            raise RequestRejected(
                415,
                "Content-Type must be application/x-protobuf or application/json",
                "unsupported_media_type",
            )
        _content_length(request, settings.max_body_bytes)
        publisher.check_capacity(0)  # refuse early, before reading a body we could not publish
        body = await read_limited(request.stream(), settings.max_body_bytes)
        stats.bytes_received += len(body)
        content_encoding = request.headers.get("content-encoding")
        if len(body) > settings.offload_bytes:
            messages, rejected = await anyio.to_thread.run_sync(
                _decode, body, encoding, content_encoding, settings
            )
        else:
            messages, rejected = _decode(body, encoding, content_encoding, settings)
        if not messages and not rejected:
            clients.empty_requests += 1
            log.debug("export request with no span: answered 200, nothing published")
        publisher.publish(messages)
        stats.spans_accepted += sum(m.span_count for m in messages)
        stats.spans_rejected += len(rejected)
        if rejected:
            return "partial", success_response(encoding, len(rejected), _rejected_message(rejected))
        return "ok", success_response(encoding)

    async def traces(request: Request) -> Response:
        try:
            outcome, response = await export(request)
        except ClientDisconnect:
            # Gone mid-body, or closed by a deadline of the connection, which counts it: nobody is
            # left to answer, and nothing here is worth a log line (any client can disconnect).
            return Response()
        except BrokerSaturatedError as exc:
            outcome = "saturated"
            response = error_response(
                encoding_of(request.headers.get("content-type")),
                RequestRejected(503, str(exc)),
                settings.retry_after_s,
            )
        except RequestRejected as exc:
            outcome = _OUTCOMES.get(exc.status, "error")
            response = error_response(
                encoding_of(request.headers.get("content-type")), exc, settings.retry_after_s
            )
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
        stats.count(outcome)
        return response

    # A plain Starlette route: the body is read by hand, and FastAPI's parameter machinery cost
    # ~15% of the throughput here for nothing.
    app.add_route("/v1/traces", traces, methods=["POST"])

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        body: dict[str, Any] = {
            "status": "ok",
            "broker": "failing" if publisher.failing() else "ok",
            "queued": len(producer),
        }
        return JSONResponse(body)

    @app.get("/readyz")
    async def readyz() -> Response:
        if publisher.failing():
            return envelope(503, "not_ready", "not ready: deliveries to the broker keep failing")
        return await probe.response()

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(render_metrics(), media_type=CONTENT_TYPE_LATEST)

    return app
