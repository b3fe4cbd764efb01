"""Slow and vanishing clients against a real uvicorn gateway publishing to the real broker."""

from __future__ import annotations

import asyncio
import resource
import threading

import httpx
import pytest
from fastapi import Request

from datatracing.pipeline.ingest import ClientStats, IngestSettings, rpc_status_class
from datatracing.pipeline.ingest._server import ensure_open_files
from tests.pipeline.ingest.ingest_support import (
    PARTITIONS,
    GatewayFactory,
    consume,
    make_spans,
    proto_body,
    uvicorn_server,
)
from tests.pipeline.ingest.slow_clients import (
    captured_logs,
    close_all,
    enough_open_files,
    open_sockets,
    port_of,
    read_until_closed,
    request_head,
    wait_until,
)

PROTO = {"content-type": "application/x-protobuf"}


def _clients(app: object) -> ClientStats:
    stats: ClientStats = app.state.client_stats  # type: ignore[attr-defined]
    return stats


def _split_answer(data: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def test_ingest_thousand_half_sent_bodies_closed_408_while_valid_exports_succeed(
    gateway: GatewayFactory, kafka_bootstrap: str, spans_topic: str, capfd: pytest.CaptureFixture[str]
) -> None:
    slow = 1000
    enough_open_files(2 * slow + 256)  # both ends of every connection live in this process
    settings = IngestSettings(
        header_timeout_s=1, body_timeout_s=1, max_connections=slow + 50, flush_timeout_s=5
    )
    app = gateway(settings)
    with uvicorn_server(app, settings) as url, captured_logs() as logs:
        sockets = open_sockets(port_of(url), slow, request_head(1000) + b"\x0a" * 500)
        try:
            with httpx.Client(base_url=url, timeout=10) as client:
                answers = [
                    client.post("/v1/traces", content=proto_body(make_spans([t], per_trace=2)), headers=PROTO)
                    for t in range(1, 11)
                ]
            assert [a.status_code for a in answers] == [200] * 10
            closed = read_until_closed(sockets, timeout_s=30)
        finally:
            close_all(sockets)
        assert closed.count(None) == 0
        for data in closed:
            assert data is not None
            status, headers, body = _split_answer(data)
            assert status == b"HTTP/1.1 408 Request Timeout"
            assert headers[b"connection"] == b"close"
            assert rpc_status_class.FromString(body).message == "request body not received within 1 s"
        clients = _clients(app)
        assert clients.timeouts == {"headers": 0, "body": slow}
        wait_until(lambda: clients.open_connections == 0, what="every connection closed")
        metrics = httpx.get(f"{url}/metrics").text
    assert sum(clients.disconnects.values()) == 0
    assert f'datatracing_ingest_timeouts_total{{phase="body"}} {slow}.0' in metrics
    assert len(consume(kafka_bootstrap, spans_topic, PARTITIONS, 10)) == 10
    assert "Traceback" not in logs.text()
    assert "Traceback" not in capfd.readouterr().err


def test_ingest_clients_gone_mid_body_counted_without_traceback(
    gateway: GatewayFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    gone = 50
    app = gateway()
    with uvicorn_server(app) as url, captured_logs() as logs:
        clients = _clients(app)
        sockets = open_sockets(port_of(url), gone, request_head(1000) + b"\x0a" * 500)
        wait_until(lambda: clients.open_connections == gone, what="connections accepted")
        close_all(sockets)
        wait_until(lambda: clients.disconnects["body"] == gone, what="disconnects counted")
        wait_until(lambda: clients.open_connections == 0, what="connections released")
        with httpx.Client(base_url=url, timeout=10) as client:
            answer = client.post("/v1/traces", content=proto_body(make_spans([1])), headers=PROTO)
            metrics = client.get("/metrics").text
    assert answer.status_code == 200
    assert clients.disconnects == {"headers": 0, "body": gone, "response": 0}
    assert f'datatracing_ingest_client_disconnects_total{{phase="body"}} {gone}.0' in metrics
    assert app.state.ingest_stats.requests == {"ok": 1}
    assert [r for r in logs.records if r.levelno >= 30] == []
    assert "Traceback" not in logs.text()
    assert "Traceback" not in capfd.readouterr().err


def test_ingest_client_gone_while_waiting_for_answer_counted_quietly(gateway: GatewayFactory) -> None:
    released = threading.Event()
    checked = threading.Event()

    async def slow_check(_: Request) -> None:
        checked.set()
        await asyncio.to_thread(released.wait, 10)

    app = gateway(api_key_check=slow_check)
    body = proto_body(make_spans([3]))
    with uvicorn_server(app) as url, captured_logs() as logs:
        clients = _clients(app)
        (sock,) = open_sockets(port_of(url), 1, request_head(len(body)) + body)
        wait_until(checked.is_set, what="the request reaching the app")
        sock.close()
        wait_until(lambda: clients.disconnects["response"] == 1, what="the disconnect counted")
        released.set()
        wait_until(lambda: clients.open_connections == 0, what="the connection released")
    assert clients.disconnects == {"headers": 0, "body": 0, "response": 1}
    assert "Traceback" not in logs.text()


def test_ingest_slow_or_silent_headers_answered_408_and_closed(gateway: GatewayFactory) -> None:
    settings = IngestSettings(header_timeout_s=0.5, body_timeout_s=30, flush_timeout_s=5)
    app = gateway(settings)
    with uvicorn_server(app, settings) as url:
        port = port_of(url)
        sockets = open_sockets(port, 1, b"") + open_sockets(port, 1, b"POST /v1/traces HTTP/1.1\r\nHo")
        closed = read_until_closed(sockets, timeout_s=15)
        close_all(sockets)
        clients = _clients(app)
    for data in closed:
        assert data is not None
        status, headers, body = _split_answer(data)
        assert status == b"HTTP/1.1 408 Request Timeout"
        assert headers[b"content-type"] == b"application/json"
        assert b'"code":"request_timeout"' in body
    assert clients.timeouts == {"headers": 2, "body": 0}


def test_ingest_kept_alive_connection_next_request_headers_stall_408(gateway: GatewayFactory) -> None:
    settings = IngestSettings(header_timeout_s=0.5, flush_timeout_s=5)
    app = gateway(settings)
    body = proto_body(make_spans([4]))
    with uvicorn_server(app, settings) as url:
        (sock,) = open_sockets(port_of(url), 1, request_head(len(body)) + body + b"POST /v1/tra")
        (data,) = read_until_closed([sock], timeout_s=15)
        sock.close()
        clients = _clients(app)
    assert data is not None
    first, _, second = data.partition(b"HTTP/1.1 408")
    assert first.startswith(b"HTTP/1.1 200 OK")
    assert b"request headers not received within 0.5 s" in second
    assert clients.timeouts == {"headers": 1, "body": 0}


def test_ingest_early_answer_then_stalled_body_closed_after_body_timeout(gateway: GatewayFactory) -> None:
    settings = IngestSettings(body_timeout_s=0.5, flush_timeout_s=5)
    app = gateway(settings)
    with uvicorn_server(app, settings) as url:
        head = request_head(1000, content_type="text/plain")
        (sock,) = open_sockets(port_of(url), 1, head + b"x" * 10)
        (data,) = read_until_closed([sock], timeout_s=15)
        sock.close()
        clients = _clients(app)
    assert data is not None
    status, _, body = _split_answer(data)
    assert status == b"HTTP/1.1 415 Unsupported Media Type"  # the only answer: no 408 after it
    assert b"HTTP/1.1 408" not in body
    assert clients.timeouts == {"headers": 0, "body": 1}


def test_ingest_connections_over_limit_refused_503_then_admitted_again(gateway: GatewayFactory) -> None:
    limit = 5
    settings = IngestSettings(max_connections=limit, retry_after_s=7, flush_timeout_s=5)
    app = gateway(settings)
    with uvicorn_server(app, settings) as url:
        port = port_of(url)
        clients = _clients(app)
        held = open_sockets(port, limit, b"")
        wait_until(lambda: clients.open_connections == limit, what="connections accepted")
        extra = open_sockets(port, 1, b"")
        (data,) = read_until_closed(extra, timeout_s=15)
        close_all(extra)
        assert data is not None
        status, headers, body = _split_answer(data)
        assert status == b"HTTP/1.1 503 Service Unavailable"
        assert headers[b"retry-after"] == b"7"
        assert b"more than 5 open connections" in body
        assert clients.refused_connections == 1
        held.pop().close()
        wait_until(lambda: clients.open_connections == limit - 1, what="a connection released")
        with httpx.Client(base_url=url, timeout=10) as client:
            answer = client.post("/v1/traces", content=proto_body(make_spans([5])), headers=PROTO)
        close_all(held)
    assert answer.status_code == 200
    assert clients.refused_connections == 1


def test_ingest_open_files_soft_limit_below_max_connections_raised() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2000:
        pytest.skip(f"the hard limit of open files is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))
    try:
        ensure_open_files(1000)
        raised, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        ensure_open_files(10)
        kept, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert raised >= 1000
    assert kept == raised  # never lowered
