"""A traced batch job: extract a CSV export, transform it, load it into a SQL table.

One trace per run: a root span for the run and one span per stage, all carrying the data-pipeline
conventions (`pipeline.job`, `pipeline.run.id`, `pipeline.stage`, datasets, record and byte counts,
lag), so runs can be searched by job and compared by stage:

    run nightly-orders
     ├ extract   dataset raw_orders      records.out, bytes.in
     ├ transform                         records.in/out, one event per rejected row
     └ load      dataset orders_daily    records.in/out, bytes.out, lag.ms

Run against the embedded stack:

    datatracing up
    python examples/batch_etl.py --rows 1000
    datatracing trace <the printed trace id>
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from datatracing.sdk import BatchSpanProcessor, KafkaSpanExporter, StatusCode, Tracer, TracerProvider
from datatracing.sdk.semconv import lag_ms, pipeline_attributes

JOB = "nightly-orders"


@dataclass(frozen=True)
class Order:
    order_id: str
    customer: str
    amount_cents: int
    event_time_ns: int


def tracing(service: str, bootstrap: str, spans_topic: str) -> TracerProvider:
    """A provider for the job, exporting to the DataTracing spans topic."""
    provider = TracerProvider(service_name=service, shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(KafkaSpanExporter(bootstrap, spans_topic)))
    return provider


def make_export(rows: int, seed: int = 7) -> str:
    """A CSV export as an upstream system would drop it; about 2% of rows are malformed."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["order_id", "customer", "amount_cents", "event_time_ns"])
    now = time.time_ns()
    for number in range(rows):
        amount = "n/a" if rng.random() < 0.02 else str(rng.randint(100, 50_000))
        event_time = now - rng.randint(60, 3_600) * 10**9  # orders of the last hour
        writer.writerow([f"o-{number}", f"c-{rng.randint(1, 50)}", amount, event_time])
    return out.getvalue()


def extract(tracer: Tracer, run_id: str, export: str) -> list[dict[str, str]]:
    attributes = pipeline_attributes(
        job=JOB, run_id=run_id, stage="extract", dataset="raw_orders", dataset_namespace="file://exports"
    )
    with tracer.start_as_current_span("extract", attributes=attributes) as span:
        rows = list(csv.DictReader(io.StringIO(export)))
        span.set_attributes(pipeline_attributes(records_out=len(rows), bytes_in=len(export.encode())))
        return rows


def transform(tracer: Tracer, run_id: str, rows: list[dict[str, str]]) -> list[Order]:
    attributes = pipeline_attributes(job=JOB, run_id=run_id, stage="transform", records_in=len(rows))
    with tracer.start_as_current_span("transform", attributes=attributes) as span:
        orders = []
        for row in rows:
            try:
                orders.append(
                    Order(
                        row["order_id"], row["customer"], int(row["amount_cents"]), int(row["event_time_ns"])
                    )
                )
            except (KeyError, ValueError) as exc:
                # A rejected row is an event, not an error: the run goes on without it.
                span.add_event("row rejected", {"order.id": row.get("order_id", ""), "reason": str(exc)})
        span.set_attributes(pipeline_attributes(records_out=len(orders)))
        span.set_attribute("pipeline.records.rejected", len(rows) - len(orders))
        return orders


def load(tracer: Tracer, run_id: str, orders: list[Order], db: sqlite3.Connection) -> int:
    attributes = pipeline_attributes(
        job=JOB,
        run_id=run_id,
        stage="load",
        dataset="orders_daily",
        dataset_namespace="sqlite://memory",
        records_in=len(orders),
    )
    with tracer.start_as_current_span("load", attributes=attributes) as span:
        db.execute(
            "CREATE TABLE IF NOT EXISTS orders_daily (order_id TEXT PRIMARY KEY, customer TEXT, cents INT)"
        )
        with db:
            cursor = db.executemany(
                "INSERT OR REPLACE INTO orders_daily VALUES (?, ?, ?)",
                [(o.order_id, o.customer, o.amount_cents) for o in orders],
            )
        written = cursor.rowcount
        oldest = min((o.event_time_ns for o in orders), default=time.time_ns())
        span.set_attributes(
            pipeline_attributes(
                records_out=written,
                bytes_out=sum(len(o.order_id) + 16 for o in orders),
                lag_ms=lag_ms(oldest),
            )
        )
        return written


def run(tracer: Tracer, run_id: str, rows: int) -> tuple[str, int]:
    """One run of the job; returns its trace id and the rows loaded."""
    with tracer.start_as_current_span(
        f"run {JOB}", attributes=pipeline_attributes(job=JOB, run_id=run_id)
    ) as root:
        db = sqlite3.connect(":memory:")
        try:
            loaded = load(
                tracer, run_id, transform(tracer, run_id, extract(tracer, run_id, make_export(rows))), db
            )
        finally:
            db.close()
        if loaded == 0:
            root.set_status(StatusCode.ERROR, "nothing loaded")
        return root.span_context.trace_id, loaded


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:19092", help="Kafka bootstrap servers")
    parser.add_argument("--topic", default="otlp_spans", help="DataTracing spans topic")
    parser.add_argument("--rows", type=int, default=500, help="rows in the generated export")
    parser.add_argument("--run-id", default=None, help="run id (default: a new one)")
    args = parser.parse_args(argv)
    run_id = args.run_id or f"{time.strftime('%Y-%m-%d')}-{uuid.uuid4().hex[:8]}"
    provider = tracing("orders-etl", args.bootstrap, args.topic)
    try:
        trace_id, loaded = run(provider.get_tracer("examples.batch_etl"), run_id, args.rows)
    finally:
        provider.shutdown()  # flushes the spans to the topic
    print(f"run {run_id}: {loaded} rows loaded")
    print(f"  datatracing trace {trace_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
