"""A traced Kafka pipeline: an order API produces, an enricher re-produces, a loader consumes in batches.

Three services in one process, each with its own tracer provider (so the trace shows three services):

    order-api  POST /orders ─▶ send example.orders
    enricher   process example.orders ─▶ price order ─▶ send example.orders.enriched
    loader     process example.orders.enriched (one batch span, linked to every order's trace)

Each order is its own trace, from the API call to the enrichment; the loader's batch span links to all
of them. Run against the embedded stack:

    datatracing up
    python examples/kafka_pipeline.py --orders 20
    datatracing trace <one of the printed trace ids>
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from datatracing.model import SpanKind
from datatracing.sdk import BatchSpanProcessor, KafkaSpanExporter, TracerProvider
from datatracing.sdk.instrumentation import TracedConsumer, TracedProducer
from datatracing.sdk.semconv import pipeline_attributes

PARTITIONS = 3


def tracing(service: str, bootstrap: str, spans_topic: str) -> TracerProvider:
    """A provider for one service, exporting to the DataTracing spans topic."""
    provider = TracerProvider(service_name=service, shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(KafkaSpanExporter(bootstrap, spans_topic)))
    return provider


def create_topics(bootstrap: str, names: Sequence[str]) -> None:
    """Create the pipeline's topics explicitly (auto-created topics get the broker's defaults)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, PARTITIONS, 1) for name in names])
    for name, future in futures.items():
        try:
            future.result(30)
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise RuntimeError(f"could not create topic {name}: {exc}") from exc


def producer(bootstrap: str) -> Any:
    return Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 5})


def consumer_since(bootstrap: str, topic: str, since_ms: int, group: str) -> Any:
    """A consumer on every partition of `topic`, from the first record produced at `since_ms` or later.

    Partitions are assigned, not subscribed: a one-shot script should not wait for a group rebalance,
    and starting at a time skips earlier runs' records. A long-running service would `subscribe`.
    """
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    wanted = [TopicPartition(topic, partition, since_ms) for partition in range(PARTITIONS)]
    consumer.assign(consumer.offsets_for_times(wanted, 30))
    return consumer


def poll_exactly(consumer: TracedConsumer, count: int, timeout_s: float = 30) -> list[Any]:
    """Poll until `count` records arrived (error events skipped), or fail after `timeout_s`."""
    messages: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(messages) < count and time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is not None and message.error() is None:
            messages.append(message)
    if len(messages) < count:
        raise RuntimeError(f"received {len(messages)} of {count} records in {timeout_s} s")
    return messages


def run_order_api(provider: TracerProvider, bootstrap: str, topic: str, orders: int) -> list[str]:
    """Accept `orders` orders; each request is a trace that sends one record. Returns the trace ids."""
    tracer = provider.get_tracer("examples.order_api")
    traced = TracedProducer(producer(bootstrap), provider)
    trace_ids = []
    for number in range(orders):
        order = {
            "order_id": f"o-{number}",
            "amount_cents": 1_000 + 37 * number,
            "created_ms": time.time_ns() // 10**6,
        }
        with tracer.start_as_current_span("POST /orders", kind=SpanKind.SERVER) as span:
            span.set_attribute("order.id", order["order_id"])
            traced.produce(topic, value=json.dumps(order).encode(), key=str(order["order_id"]))
            trace_ids.append(span.span_context.trace_id)
    if traced.flush(30) != 0:
        raise RuntimeError("order records were not delivered")
    return trace_ids


def run_enricher(
    provider: TracerProvider, bootstrap: str, source: str, sink: str, since_ms: int, count: int
) -> None:
    """Read each order inside a span continuing its trace, price it, and send it on."""
    tracer = provider.get_tracer("examples.enricher")
    consumer = TracedConsumer(
        consumer_since(bootstrap, source, since_ms, "enricher"), provider, group_id="enricher"
    )
    traced = TracedProducer(producer(bootstrap), provider)
    try:
        for message in poll_exactly(consumer, count):
            with consumer.process_span(message):
                order = json.loads(message.value())
                with tracer.start_as_current_span(
                    "price order", attributes=pipeline_attributes(stage="enrich")
                ):
                    order["amount_with_tax_cents"] = round(order["amount_cents"] * 1.2)
                traced.produce(sink, value=json.dumps(order).encode(), key=message.key())
    finally:
        consumer.close()
    if traced.flush(30) != 0:
        raise RuntimeError("enriched records were not delivered")


def run_loader(provider: TracerProvider, bootstrap: str, source: str, since_ms: int, count: int) -> int:
    """Load enriched orders in batches: one CONSUMER span per batch, linked to each order's trace."""
    tracer = provider.get_tracer("examples.loader")
    consumer = TracedConsumer(
        consumer_since(bootstrap, source, since_ms, "loader"), provider, group_id="loader"
    )
    loaded = 0
    deadline = time.monotonic() + 30
    try:
        while loaded < count and time.monotonic() < deadline:
            batch = [m for m in consumer.consume(50, 0.5) if m.error() is None]
            if not batch:
                continue
            with consumer.process_batch_span(batch) as span:
                rows = [json.loads(m.value()) for m in batch]
                attributes = pipeline_attributes(job="orders-loader", stage="load", dataset="orders_enriched")
                with tracer.start_as_current_span("insert rows", attributes=attributes) as insert:
                    insert.set_attribute("pipeline.records.out", len(rows))  # a real loader writes here
                span.set_attributes(pipeline_attributes(records_in=len(rows)))
                loaded += len(rows)
    finally:
        consumer.close()
    if loaded < count:
        raise RuntimeError(f"loaded {loaded} of {count} orders")
    return loaded


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:19092", help="Kafka bootstrap servers")
    parser.add_argument("--topic", default="otlp_spans", help="DataTracing spans topic")
    parser.add_argument("--prefix", default="example.", help="prefix of the pipeline's own topics")
    parser.add_argument("--orders", type=int, default=10, help="orders to push through")
    args = parser.parse_args(argv)
    orders_topic, enriched_topic = f"{args.prefix}orders", f"{args.prefix}orders.enriched"
    create_topics(args.bootstrap, [orders_topic, enriched_topic])
    providers = [tracing(name, args.bootstrap, args.topic) for name in ("order-api", "enricher", "loader")]
    api, enricher, loader = providers
    since_ms = time.time_ns() // 10**6
    try:
        trace_ids = run_order_api(api, args.bootstrap, orders_topic, args.orders)
        run_enricher(enricher, args.bootstrap, orders_topic, enriched_topic, since_ms, args.orders)
        loaded = run_loader(loader, args.bootstrap, enriched_topic, since_ms, args.orders)
    finally:
        for provider in providers:
            provider.shutdown()  # flushes the spans to the topic
    print(f"{loaded} orders loaded; {len(trace_ids)} traces, for example:")
    for trace_id in trace_ids[:3]:
        print(f"  datatracing trace {trace_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
