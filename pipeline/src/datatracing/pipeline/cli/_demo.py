"""`datatracing demo`: realistic data-pipeline traffic through the SDK, then proof it is queryable.

Three services, each with its own tracer provider and Kafka exporter, as in production:

- `ingest-api` handles `POST /v1/orders`, validates and produces the order to Kafka (trace context in
  the record headers);
- `enricher` consumes it (context extracted from the headers), looks the customer up in a database
  (sometimes failing) and produces an enriched record;
- `warehouse-loader` consumes that and inserts it into the warehouse (sometimes slowly).

Timestamps are explicit, so the demo shows slow traces without sleeping.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass

import httpx
from rich.console import Console
from rich.table import Table

from datatracing.model import SpanKind, StatusCode
from datatracing.pipeline.cli._base import api_key_headers
from datatracing.sdk import (
    BatchSpanProcessor,
    KafkaSpanExporter,
    Tracer,
    TracerProvider,
    extract,
    inject,
    kafka_getter,
    kafka_setter,
    set_span_in_context,
)

MS = 1_000_000


@dataclass
class DemoTrace:
    trace_id: str
    kind: str  # ok | error | slow
    spans: int


class _Services:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.providers: dict[str, TracerProvider] = {}
        self.tracers: dict[str, Tracer] = {}
        for name in ("ingest-api", "enricher", "warehouse-loader"):
            provider = TracerProvider(service_name=name, shutdown_on_exit=False)
            provider.add_span_processor(
                BatchSpanProcessor(KafkaSpanExporter(bootstrap, topic), schedule_delay_s=0.2)
            )
            self.providers[name] = provider
            self.tracers[name] = provider.get_tracer(f"datatracing.demo.{name}", "0.1.0")

    def flush(self) -> bool:
        return all(p.force_flush(30) for p in self.providers.values())

    def shutdown(self) -> None:
        for provider in self.providers.values():
            provider.shutdown()


def _emit_one(services: _Services, rng: random.Random, now_ns: int) -> DemoTrace:
    kind = "error" if rng.random() < 0.15 else "slow" if rng.random() < 0.15 else "ok"
    ingest, enricher, loader = (services.tracers[n] for n in ("ingest-api", "enricher", "warehouse-loader"))
    t = now_ns
    order_id = rng.randint(10_000, 99_999)
    request = ingest.start_span(
        "POST /v1/orders",
        kind=SpanKind.SERVER,
        start_time_unix_nano=t,
        attributes={
            "http.request.method": "POST",
            "url.path": "/v1/orders",
            "http.route": "/v1/orders",
            "order.id": order_id,
        },
    )
    ctx = set_span_in_context(request)
    validate = ingest.start_span("validate order", context=ctx, start_time_unix_nano=t + 1 * MS)
    validate.end(t + 3 * MS)
    send = ingest.start_span(
        "send orders",
        context=ctx,
        kind=SpanKind.PRODUCER,
        start_time_unix_nano=t + 3 * MS,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.destination.name": "orders",
            "messaging.kafka.message.key": str(order_id),
        },
    )
    headers: list[tuple[str, bytes]] = []
    inject(headers, set_span_in_context(send), kafka_setter)
    send.end(t + 5 * MS)
    request.set_attribute("http.response.status_code", 202)
    request.end(t + 6 * MS)

    # The enricher picks the record up a little later, in "another process".
    t += rng.randint(5, 40) * MS
    parent = extract(headers, getter=kafka_getter)
    process = enricher.start_span(
        "process orders",
        context=parent,
        kind=SpanKind.CONSUMER,
        start_time_unix_nano=t,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": "orders",
            "messaging.consumer.group.name": "enricher",
            "pipeline.stage": "enrich",
            "pipeline.records.in": 1,
        },
    )
    pctx = set_span_in_context(process)
    lookup = enricher.start_span(
        "SELECT customers",
        context=pctx,
        kind=SpanKind.CLIENT,
        start_time_unix_nano=t + 1 * MS,
        attributes={
            "db.system": "postgresql",
            "db.operation.name": "SELECT",
            "db.collection.name": "customers",
        },
    )
    if kind == "error":
        lookup.record_exception(TimeoutError("customers lookup timed out after 2000 ms"))
        lookup.set_status(StatusCode.ERROR, "customers lookup timed out")
        lookup.end(t + 2001 * MS)
        process.set_status(StatusCode.ERROR, "enrichment failed")
        process.end(t + 2003 * MS)
        return DemoTrace(request.span_context.trace_id, kind, 5)
    lookup.end(t + 4 * MS)
    forward = enricher.start_span(
        "send enriched-orders",
        context=pctx,
        kind=SpanKind.PRODUCER,
        start_time_unix_nano=t + 5 * MS,
        attributes={"messaging.system": "kafka", "messaging.destination.name": "enriched-orders"},
    )
    headers = []
    inject(headers, set_span_in_context(forward), kafka_setter)
    forward.end(t + 6 * MS)
    process.set_attribute("pipeline.records.out", 1)
    process.end(t + 7 * MS)

    # The warehouse loader; slow traces wait on the warehouse for seconds.
    t += rng.randint(10, 60) * MS
    load_ms = rng.randint(2000, 5000) if kind == "slow" else rng.randint(5, 30)
    consume = loader.start_span(
        "process enriched-orders",
        context=extract(headers, getter=kafka_getter),
        kind=SpanKind.CONSUMER,
        start_time_unix_nano=t,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": "enriched-orders",
            "pipeline.job": "orders-to-warehouse",
            "pipeline.stage": "load",
            "pipeline.records.in": 1,
        },
    )
    insert = loader.start_span(
        "INSERT warehouse.orders",
        context=set_span_in_context(consume),
        kind=SpanKind.CLIENT,
        start_time_unix_nano=t + 1 * MS,
        attributes={
            "db.system": "clickhouse",
            "db.operation.name": "INSERT",
            "db.collection.name": "orders",
            "pipeline.records.out": 1,
        },
    )
    insert.end(t + (1 + load_ms) * MS)
    consume.end(t + (2 + load_ms) * MS)
    return DemoTrace(request.span_context.trace_id, kind, 8)


def _stored(client: httpx.Client, trace: DemoTrace) -> bool:
    response = client.get(f"/v1/traces/{trace.trace_id}")
    return response.status_code == 200 and len(response.json()["data"]["spans"]) == trace.spans


def run_demo(bootstrap: str, topic: str, query_url: str, count: int, timeout_s: float) -> int:
    """Emit `count` traces, wait until each is queryable with all its spans; 0 on success."""
    console = Console()
    rng = random.Random()
    services = _Services(bootstrap, topic)
    now = time.time_ns() - 60 * 1_000 * MS
    traces = [_emit_one(services, rng, now + i * 500 * MS) for i in range(count)]
    flushed = services.flush()
    services.shutdown()
    if not flushed:
        console.print(
            f"[red]error:[/] could not deliver spans to the broker at {bootstrap}; is the stack up?"
        )
        return 1
    console.print(
        f"emitted {count} traces ({sum(t.spans for t in traces)} spans); waiting until queryable..."
    )
    deadline = time.monotonic() + timeout_s
    pending = list(traces)
    with httpx.Client(base_url=query_url, timeout=10, headers=api_key_headers()) as client:
        while pending and time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):  # the query service may be restarting
                pending = [t for t in pending if not _stored(client, t)]
            if pending:
                time.sleep(0.5)
    table = Table(title="demo traces")
    for column in ("trace id", "kind", "spans", "stored"):
        table.add_column(column)
    for t in traces:
        table.add_row(t.trace_id, t.kind, str(t.spans), "no" if t in pending else "yes")
    console.print(table)
    if pending:
        console.print(f"[red]error:[/] {len(pending)} traces not queryable after {timeout_s:.0f}s")
        return 1
    example = next((t for t in traces if t.kind == "error"), traces[0])
    console.print(
        f"all {count} traces queryable. Try:\n  datatracing trace {example.trace_id}\n"
        f"  curl {query_url}/v1/traces/{example.trace_id}"
    )
    # Addresses on lines of their own, never wrapped, so a terminal can open them with a click.
    console.print(f"Web UI: {query_url}/", soft_wrap=True)
    console.print(f"  this trace: {query_url}/trace/{example.trace_id}", soft_wrap=True)
    return 0
