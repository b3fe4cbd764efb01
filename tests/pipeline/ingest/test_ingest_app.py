"""The gateway against the real broker, in process through httpx's ASGI transport."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import AsyncIterator

import pytest
from fastapi import Request
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from datatracing.pipeline.broker import free_port
from datatracing.pipeline.ingest import IngestSettings, UnauthorizedError, rpc_status_class
from datatracing.wire import (
    MAX_START_TIME_NS,
    RejectReason,
    partition_for,
    request_to_otlp_json,
    request_to_spans,
    spans_to_request,
    trace_key,
)
from tests.pipeline.ingest.ingest_support import (
    PARTITIONS,
    GatewayFactory,
    asgi_client,
    consume,
    decoded,
    make_spans,
    proto_body,
    stats_of,
    trace_id,
)

pytestmark = pytest.mark.anyio

PROTO = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}


def _status(body: bytes) -> tuple[int, str]:
    status = rpc_status_class.FromString(body)
    return status.code, status.message


async def test_ingest_proto_three_traces_three_messages_keyed_and_partitioned(
    gateway: GatewayFactory, kafka_bootstrap: str, spans_topic: str
) -> None:
    spans = make_spans([11, 22, 33], per_trace=3)
    async with asgi_client(gateway()) as client:
        response = await client.post("/v1/traces", content=proto_body(spans), headers=PROTO)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert ExportTraceServiceResponse.FromString(response.content) == ExportTraceServiceResponse()
    received = consume(kafka_bootstrap, spans_topic, PARTITIONS, 3)
    assert len(received) == 3
    for message in received:
        assert message.partition == partition_for(message.key, PARTITIONS)
        assert message.headers == {"content-type": b"application/x-protobuf"}
        got = request_to_spans(decoded(message))
        assert {trace_key(s.trace_id) for s in got} == {message.key}
        assert got == [s for s in spans if trace_key(s.trace_id) == message.key]
    assert {m.key for m in received} == {trace_key(trace_id(t)) for t in (11, 22, 33)}


async def test_ingest_json_request_published_as_protobuf(
    gateway: GatewayFactory, kafka_bootstrap: str, spans_topic: str
) -> None:
    spans = make_spans([5, 6], per_trace=2)
    body = json.dumps(request_to_otlp_json(spans_to_request(spans))).encode()
    async with asgi_client(gateway()) as client:
        response = await client.post(
            "/v1/traces", content=body, headers={"content-type": "application/json; charset=utf-8"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    received = consume(kafka_bootstrap, spans_topic, PARTITIONS, 2)
    got = [s for m in received for s in request_to_spans(decoded(m))]
    assert sorted(got, key=lambda s: s.span_id) == sorted(spans, key=lambda s: s.span_id)
    assert all(m.partition == partition_for(m.key, PARTITIONS) for m in received)


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_ingest_compressed_body_accepted(
    gateway: GatewayFactory, kafka_bootstrap: str, spans_topic: str, coding: str
) -> None:
    spans = make_spans([7], per_trace=4)
    raw = proto_body(spans)
    body = gzip.compress(raw) if coding == "gzip" else zlib.compress(raw)
    async with asgi_client(gateway()) as client:
        response = await client.post(
            "/v1/traces", content=body, headers={**PROTO, "content-encoding": coding}
        )
    assert response.status_code == 200
    (message,) = consume(kafka_bootstrap, spans_topic, PARTITIONS, 1)
    assert message.value == raw  # one valid trace: the request's bytes pass through untouched


async def test_ingest_invalid_spans_partial_success_valid_published(
    gateway: GatewayFactory, kafka_bootstrap: str, spans_topic: str
) -> None:
    request = spans_to_request(make_spans([9], per_trace=2))
    spans = request.resource_spans[0].scope_spans[0].spans
    bad = spans.add()
    bad.CopyFrom(spans[0])
    bad.trace_id = b"\x01\x02\x03"
    zero = spans.add()
    zero.CopyFrom(spans[0])
    zero.span_id = bytes(8)
    async with asgi_client(gateway()) as client:
        response = await client.post("/v1/traces", content=request.SerializeToString(), headers=PROTO)
        json_doc = request_to_otlp_json(request)
        json_doc["resourceSpans"][0]["scopeSpans"][0]["spans"][2]["traceId"] = "not-hex"
        json_response = await client.post("/v1/traces", content=json.dumps(json_doc), headers=JSON)
    assert response.status_code == 200
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 2
    assert "trace_id must be 16 bytes" in answer.partial_success.error_message
    assert json_response.status_code == 200
    partial = json_response.json()["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 2
    assert "not hex" in partial["errorMessage"]
    received = consume(kafka_bootstrap, spans_topic, PARTITIONS, 2)
    assert [len(decoded(m).resource_spans[0].scope_spans[0].spans) for m in received] == [2, 2]


async def test_ingest_span_past_2262_refused_with_the_stores_reason(
    gateway: GatewayFactory, kafka_bootstrap: str, spans_topic: str
) -> None:
    request = spans_to_request(make_spans([11], per_trace=2))
    far = request.resource_spans[0].scope_spans[0].spans[1]
    far.start_time_unix_nano = far.end_time_unix_nano = MAX_START_TIME_NS + 1
    async with asgi_client(gateway()) as client:
        response = await client.post("/v1/traces", content=request.SerializeToString(), headers=PROTO)
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    assert answer.partial_success.error_message == (
        "1 span(s) rejected: " + RejectReason.START_PAST_2262.text()
    )
    (received,) = consume(kafka_bootstrap, spans_topic, PARTITIONS, 1)
    assert len(decoded(received).resource_spans[0].scope_spans[0].spans) == 1


async def test_ingest_body_over_limit_413(gateway: GatewayFactory) -> None:
    settings = IngestSettings(max_body_bytes=2048, flush_timeout_s=0)
    body = proto_body(make_spans(range(1, 30), per_trace=2))
    assert len(body) > 2048

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    async with asgi_client(gateway(settings)) as client:
        declared = await client.post("/v1/traces", content=body, headers=PROTO)
        streamed = await client.post("/v1/traces", content=chunks(), headers=JSON)
        bomb = await client.post(
            "/v1/traces",
            content=gzip.compress(bytes(1_000_000)),
            headers={**PROTO, "content-encoding": "gzip"},
        )
    assert declared.status_code == 413
    assert _status(declared.content)[0] == 8  # RESOURCE_EXHAUSTED
    assert streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "payload_too_large"
    assert bomb.status_code == 413
    assert "decompressed" in _status(bomb.content)[1]


async def test_ingest_malformed_body_400_in_client_encoding(gateway: GatewayFactory) -> None:
    async with asgi_client(gateway()) as client:
        proto = await client.post("/v1/traces", content=b"\xff\xff\xff", headers=PROTO)
        not_json = await client.post("/v1/traces", content=b"{nope", headers=JSON)
        wrong_shape = await client.post("/v1/traces", content=b'{"resourceSpans": 3}', headers=JSON)
        bad_gzip = await client.post(
            "/v1/traces", content=b"not gzip", headers={**PROTO, "content-encoding": "gzip"}
        )
    assert proto.status_code == 400
    assert proto.headers["content-type"] == "application/x-protobuf"
    code, message = _status(proto.content)
    assert code == 3  # INVALID_ARGUMENT
    assert "ExportTraceServiceRequest" in message
    assert not_json.status_code == 400
    assert not_json.json()["error"]["code"] == "bad_request"
    assert "not JSON" in not_json.json()["error"]["message"]
    assert wrong_shape.status_code == 400
    assert "resourceSpans" in wrong_shape.json()["error"]["message"]
    assert bad_gzip.status_code == 400


async def test_ingest_rpc_status_matches_googleapis_class(gateway: GatewayFactory) -> None:
    status_pb2 = pytest.importorskip("google.rpc.status_pb2", reason="googleapis-common-protos not installed")
    async with asgi_client(gateway()) as client:
        response = await client.post("/v1/traces", content=b"\xff", headers=PROTO)
    status = status_pb2.Status.FromString(response.content)
    assert (status.code, status.message) == _status(response.content)


async def test_ingest_unsupported_types_415(gateway: GatewayFactory) -> None:
    async with asgi_client(gateway()) as client:
        text = await client.post("/v1/traces", content=b"x", headers={"content-type": "text/plain"})
        brotli = await client.post("/v1/traces", content=b"x", headers={**PROTO, "content-encoding": "br"})
    assert text.status_code == 415
    assert text.json()["error"]["code"] == "unsupported_media_type"
    assert brotli.status_code == 415


async def test_ingest_api_key_hook_rejects_401_accepts_good_key(
    gateway: GatewayFactory, kafka_bootstrap: str, spans_topic: str
) -> None:
    async def check(request: Request) -> None:
        if request.headers.get("x-api-key") != "s3cret":
            raise UnauthorizedError("missing or wrong x-api-key")

    body = proto_body(make_spans([4]))
    async with asgi_client(gateway(api_key_check=check)) as client:
        refused_json = await client.post("/v1/traces", content=b"{}", headers=JSON)
        refused_proto = await client.post("/v1/traces", content=body, headers=PROTO)
        accepted = await client.post("/v1/traces", content=body, headers={**PROTO, "x-api-key": "s3cret"})
    assert refused_json.status_code == 401
    assert refused_json.json()["error"] == {
        "code": "unauthorized",
        "message": "missing or wrong x-api-key",
        "details": [],
    }
    assert refused_proto.status_code == 401
    assert _status(refused_proto.content) == (16, "missing or wrong x-api-key")
    assert accepted.status_code == 200
    assert len(consume(kafka_bootstrap, spans_topic, PARTITIONS, 1)) == 1


async def test_ingest_sync_api_key_hook_rejects_401(gateway: GatewayFactory) -> None:
    def check(_: Request) -> None:
        raise UnauthorizedError("no key")

    async with asgi_client(gateway(api_key_check=check)) as client:
        response = await client.post("/v1/traces", content=b"{}", headers=JSON)
    assert response.status_code == 401


async def test_ingest_producer_queue_full_503_retry_after(gateway: GatewayFactory) -> None:
    settings = IngestSettings(queue_max_messages=4, flush_timeout_s=0, retry_after_s=7)
    closed = f"127.0.0.1:{free_port()}"
    app = gateway(settings, bootstrap=closed)
    async with asgi_client(app) as client:
        first = await client.post("/v1/traces", content=proto_body(make_spans([1, 2])), headers=PROTO)
        too_many = await client.post("/v1/traces", content=proto_body(make_spans([3, 4, 5])), headers=PROTO)
        json_too_many = await client.post(
            "/v1/traces",
            content=json.dumps(request_to_otlp_json(spans_to_request(make_spans([6, 7, 8])))),
            headers=JSON,
        )
    assert first.status_code == 200
    assert too_many.status_code == 503
    assert too_many.headers["retry-after"] == "7"
    assert _status(too_many.content)[0] == 14  # UNAVAILABLE
    assert json_too_many.status_code == 503
    assert json_too_many.headers["retry-after"] == "7"
    assert json_too_many.json()["error"]["code"] == "unavailable"
    assert stats_of(app).requests == {"ok": 1, "saturated": 2}


async def test_ingest_librdkafka_buffer_error_503(gateway: GatewayFactory) -> None:
    # Our own count check passes (default limit); librdkafka's queue, one message, refuses the second.
    closed = f"127.0.0.1:{free_port()}"
    app = gateway(
        IngestSettings(flush_timeout_s=0), bootstrap=closed, extra={"queue.buffering.max.messages": 1}
    )
    async with asgi_client(app) as client:
        response = await client.post("/v1/traces", content=proto_body(make_spans([1, 2])), headers=PROTO)
    assert response.status_code == 503
    assert "queue is full" in _status(response.content)[1]


async def test_ingest_delivery_failures_503_until_window_passes(gateway: GatewayFactory) -> None:
    import anyio

    settings = IngestSettings(
        delivery_failure_threshold=1, failure_window_s=60, flush_timeout_s=0, poll_interval_s=0.01
    )
    closed = f"127.0.0.1:{free_port()}"
    app = gateway(settings, bootstrap=closed, extra={"message.timeout.ms": 100})
    body = proto_body(make_spans([1]))
    async with asgi_client(app) as client:
        first = await client.post("/v1/traces", content=body, headers=PROTO)
        for _ in range(500):  # up to 10 s
            if stats_of(app).deliveries_failed:
                break
            await anyio.sleep(0.02)
        refused = await client.post("/v1/traces", content=body, headers=PROTO)
        health = await client.get("/healthz")
    assert first.status_code == 200
    assert refused.status_code == 503
    assert "failing" in _status(refused.content)[1]
    assert health.json()["broker"] == "failing"


async def test_ingest_healthz_and_metrics_report_counts(gateway: GatewayFactory) -> None:
    app = gateway()
    async with asgi_client(app) as client:
        await client.post("/v1/traces", content=proto_body(make_spans([1, 2], per_trace=3)), headers=PROTO)
        health = await client.get("/healthz")
        metrics = await client.get("/metrics")
        missing = await client.get("/nope")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert 'datatracing_ingest_requests_total{outcome="ok"} 1.0' in metrics.text
    assert 'datatracing_ingest_spans_total{result="accepted"} 6.0' in metrics.text
    assert "datatracing_ingest_messages_produced_total 2.0" in metrics.text
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_ingest_empty_requests_200_nothing_published_counted(gateway: GatewayFactory) -> None:
    no_spans = ExportTraceServiceRequest()
    no_spans.resource_spans.add().scope_spans.add()
    only_bad = spans_to_request(make_spans([1], per_trace=1))
    only_bad.resource_spans[0].scope_spans[0].spans[0].trace_id = b"\x01"
    app = gateway()
    async with asgi_client(app) as client:
        answers = [
            await client.post("/v1/traces", content=b"", headers=PROTO),
            await client.post("/v1/traces", content=no_spans.SerializeToString(), headers=PROTO),
            await client.post("/v1/traces", content=b"{}", headers=JSON),
            await client.post("/v1/traces", content=b'{"resourceSpans": []}', headers=JSON),
            await client.post("/v1/traces", content=only_bad.SerializeToString(), headers=PROTO),
        ]
        metrics = await client.get("/metrics")
    assert [a.status_code for a in answers] == [200] * 5
    assert [ExportTraceServiceResponse.FromString(a.content) for a in answers[:2]] == [
        ExportTraceServiceResponse()
    ] * 2
    assert [a.json() for a in answers[2:4]] == [{}, {}]
    assert ExportTraceServiceResponse.FromString(answers[4].content).partial_success.rejected_spans == 1
    assert stats_of(app).messages_produced == 0
    assert app.state.client_stats.empty_requests == 4  # a request whose spans were all refused is not empty
    assert "datatracing_ingest_empty_requests_total 4.0" in metrics.text
    assert stats_of(app).requests == {"ok": 4, "partial": 1}


async def test_ingest_large_trace_cut_into_several_messages(
    gateway: GatewayFactory, kafka_bootstrap: str, spans_topic: str
) -> None:
    request = ExportTraceServiceRequest()
    request.CopyFrom(spans_to_request(make_spans([8], per_trace=200)))
    settings = IngestSettings(max_message_bytes=8192, flush_timeout_s=5, offload_bytes=0)
    async with asgi_client(gateway(settings)) as client:
        response = await client.post("/v1/traces", content=request.SerializeToString(), headers=PROTO)
    assert response.status_code == 200
    received = consume(kafka_bootstrap, spans_topic, PARTITIONS, 3, settle_s=0.5)
    assert len(received) > 2
    assert all(len(m.value) <= 8192 for m in received)
    assert {m.key for m in received} == {trace_key(trace_id(8))}
    assert sum(len(request_to_spans(decoded(m))) for m in received) == 200
