"""The examples run against a real broker, so they cannot rot: main() end to end, spans checked."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from datatracing.model import Span, SpanKind, StatusCode
from datatracing.sdk import InMemorySpanExporter, TracerProvider
from datatracing.wire import decode_spans

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SPAN_PARTITIONS = 2


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _spans(bootstrap: str, topic: str, at_least: int, timeout_s: float = 30) -> list[Span]:
    """Every span on `topic`: at least `at_least`, then whatever follows until the topic is quiet."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(SPAN_PARTITIONS)])
    spans: list[Span] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None and len(spans) >= at_least:
                break  # the examples flushed before returning: a quiet topic holds everything
            if message is not None and message.error() is None:
                spans.extend(decode_spans(message.value() or b""))
    finally:
        consumer.close()
    assert len(spans) >= at_least
    return spans


def test_example_batch_etl_one_trace_with_stage_spans(
    kafka_bootstrap: str, topic_factory: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    topic = topic_factory("example-spans", partitions=SPAN_PARTITIONS)
    module = _load("batch_etl")
    assert (
        module.main(["--bootstrap", kafka_bootstrap, "--topic", topic, "--rows", "200", "--run-id", "r1"])
        == 0
    )
    assert "rows loaded" in capsys.readouterr().out
    spans = {span.name: span for span in _spans(kafka_bootstrap, topic, at_least=4)}
    assert set(spans) == {"run nightly-orders", "extract", "transform", "load"}
    root = spans["run nightly-orders"]
    for stage in ("extract", "transform", "load"):
        assert spans[stage].parent_span_id == root.span_id
        assert spans[stage].attributes["pipeline.stage"] == stage
        assert spans[stage].attributes["pipeline.run.id"] == "r1"
    transform = spans["transform"]
    rejected = transform.attributes["pipeline.records.rejected"]
    assert transform.attributes["pipeline.records.in"] == 200
    assert transform.attributes["pipeline.records.out"] == 200 - rejected  # type: ignore[operator]
    assert len(transform.events) == rejected
    assert spans["load"].attributes["pipeline.lag.ms"] > 0  # type: ignore[operator]
    assert root.service_name == "orders-etl"


def test_example_kafka_pipeline_orders_traced_through_enricher_and_loader(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("example-spans", partitions=SPAN_PARTITIONS)
    module = _load("kafka_pipeline")
    prefix = f"ex-{uuid.uuid4().hex[:8]}."
    argv = ["--bootstrap", kafka_bootstrap, "--topic", topic, "--prefix", prefix, "--orders", "5"]
    assert module.main(argv) == 0
    # Per order: POST, send, process, price, send enriched = 5 spans; plus batch and insert spans.
    spans = _spans(kafka_bootstrap, topic, at_least=27)
    by_id = {span.span_id: span for span in spans}
    processes = [s for s in spans if s.name == f"process {prefix}orders"]
    assert len(processes) == 5
    for process in processes:
        send = by_id[process.parent_span_id or ""]
        assert send.name == f"send {prefix}orders"
        assert send.kind is SpanKind.PRODUCER
        assert by_id[send.parent_span_id or ""].name == "POST /orders"
        assert process.service_name == "enricher"
    enriched_sends = [s for s in spans if s.name == f"send {prefix}orders.enriched"]
    batches = [s for s in spans if s.name == f"process {prefix}orders.enriched"]
    assert batches
    linked = {(link.trace_id, link.span_id) for batch in batches for link in batch.links}
    assert linked == {(s.trace_id, s.span_id) for s in enriched_sends}
    assert sum(b.attributes["messaging.batch.message_count"] for b in batches) == 5  # type: ignore[misc]


def test_example_workflow_header_carries_trace_to_worker(
    kafka_bootstrap: str, topic_factory: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    topic = topic_factory("example-spans", partitions=SPAN_PARTITIONS)
    assert _load("workflow").main(["--bootstrap", kafka_bootstrap, "--topic", topic]) == 0
    assert "workflow failed: card declined for o-2" in capsys.readouterr().out
    # Three orders: StartWorkflow, RunWorkflow and two activities (start + run) each = 6 spans.
    spans = _spans(kafka_bootstrap, topic, at_least=18)
    by_id = {span.span_id: span for span in spans}
    runs = [s for s in spans if s.name == "RunActivity:ChargeCard"]
    assert len(runs) == 3
    for run in runs:
        start = by_id[run.parent_span_id or ""]
        workflow = by_id[start.parent_span_id or ""]
        assert (start.name, workflow.name) == ("StartActivity:ChargeCard", "RunWorkflow:OrderWorkflow")
        assert by_id[workflow.parent_span_id or ""].service_name == "order-client"
    failed = [s for s in runs if s.status.code is StatusCode.ERROR]
    assert len(failed) == 1


def test_example_http_service_routes_traced(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    app = _load("http_service").create_app(provider)

    async def calls() -> list[int]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
            return [
                (await client.get("/orders/42")).status_code,
                (await client.get("/orders/7")).status_code,
                (await client.post("/orders/42/refund")).status_code,
                (await client.get("/healthz")).status_code,
            ]

    assert asyncio.run(calls()) == [200, 404, 500, 200]
    servers = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert [(s.name, s.status.code) for s in servers] == [
        ("GET /orders/{order_id}", StatusCode.UNSET),
        ("GET /orders/{order_id}", StatusCode.UNSET),
        ("POST /orders/{order_id}/refund", StatusCode.ERROR),
    ]
