"""End to end: spans emitted through the SDK come back from the query API exactly."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from confluent_kafka import Consumer, TopicPartition

from datatracing.model import SpanKind, StatusCode, Trace
from datatracing.pipeline.broker import HEADER_ERROR, HEADER_SOURCE_TOPIC, make_producer
from datatracing.pipeline.runtime._stack import Stack
from datatracing.sdk import (
    BatchSpanProcessor,
    InMemorySpanExporter,
    KafkaSpanExporter,
    SimpleSpanProcessor,
    TracerProvider,
    set_span_in_context,
)


def _wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.2)


def _emit(stack: Stack, traces: int) -> InMemorySpanExporter:
    memory = InMemorySpanExporter()
    provider = TracerProvider(service_name="e2e-service", shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    kafka = KafkaSpanExporter(stack.settings.kafka.bootstrap_servers, stack.settings.topics.spans)
    provider.add_span_processor(BatchSpanProcessor(kafka, schedule_delay_s=0.1))
    tracer = provider.get_tracer("tests.e2e")
    for i in range(traces):
        with tracer.start_as_current_span("ingest", kind=SpanKind.SERVER, attributes={"i": i}) as root:
            for j in range(3):
                child = tracer.start_span(f"step {j}", context=set_span_in_context(root), attributes={"j": j})
                child.add_event("checkpoint", {"records": j * 10})
                if i % 5 == 0 and j == 2:
                    child.set_status(StatusCode.ERROR, "bad record")
                child.end()
    assert provider.force_flush(30)
    provider.shutdown()
    return memory


def test_pipeline_sdk_spans_come_back_exactly_sorted(stack: Stack) -> None:
    memory = _emit(stack, traces=12)
    sent = memory.get_finished_spans()
    by_trace: dict[str, list[object]] = {}
    for span in sent:
        by_trace.setdefault(span.trace_id, []).append(span)
    assert len(by_trace) == 12

    with httpx.Client(base_url=stack.query_url, timeout=10) as client:

        def all_stored() -> bool:
            return all(
                (r := client.get(f"/v1/traces/{tid}")).status_code == 200
                and len(r.json()["data"]["spans"]) == len(spans)
                for tid, spans in by_trace.items()
            )

        _wait_for(all_stored, 90, "every trace to be queryable")
        for trace_id, spans in by_trace.items():
            got = Trace.model_validate(client.get(f"/v1/traces/{trace_id}").json()["data"])
            assert list(got.spans) == sorted(spans, key=lambda s: (s.start_time_unix_nano, s.span_id))  # type: ignore[attr-defined]
            starts = [s.start_time_unix_nano for s in got.spans]
            assert starts == sorted(starts)

        found = client.get("/v1/traces", params={"service": "e2e-service", "limit": 50}).json()["data"]
        assert by_trace.keys() <= {t["trace_id"] for t in found}
        assert "e2e-service" in client.get("/v1/services").json()["data"]


def test_pipeline_undecodable_message_dead_lettered_with_reason(stack: Stack) -> None:
    topics = stack.settings.topics
    producer = make_producer(stack.settings.kafka.bootstrap_servers)
    producer.produce(topics.spans, key=b"f" * 32, value=b"\xff\x00 definitely not protobuf")
    assert producer.flush(10) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": stack.settings.kafka.bootstrap_servers,
            "group.id": "dlq-check",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topics.dead_letter, 0, 0)])
    found: list[dict[str, bytes]] = []

    def dead_lettered() -> bool:
        for message in consumer.consume(10, timeout=0.5):
            if not message.error():
                found.append(dict(message.headers() or []))
        return bool(found)

    _wait_for(dead_lettered, 60, "a dead-letter record")
    consumer.close()
    assert found[0][HEADER_SOURCE_TOPIC] == topics.spans.encode()
    assert found[0][HEADER_ERROR]


def test_query_unknown_trace_404_envelope(stack: Stack) -> None:
    response = httpx.get(f"{stack.query_url}/v1/traces/{'a' * 32}", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_query_bad_trace_id_400_envelope(stack: Stack) -> None:
    response = httpx.get(f"{stack.query_url}/v1/traces/not-hex", timeout=10)
    assert response.status_code == 400
    assert "trace_id" in response.json()["error"]["message"]


def test_query_bad_limit_400_names_field(stack: Stack) -> None:
    response = httpx.get(f"{stack.query_url}/v1/traces", params={"limit": "many"}, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("limit")
