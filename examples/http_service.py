"""A traced HTTP service: FastAPI with DataTracing's ASGI middleware.

Every request is a SERVER span named by its route ("GET /orders/{order_id}"), continuing the caller's
trace when it sends a W3C `traceparent` header. Run against the embedded stack:

    datatracing up
    python examples/http_service.py --port 8000      # serves with uvicorn; prints curl commands
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from fastapi import FastAPI, HTTPException

from datatracing.sdk import BatchSpanProcessor, KafkaSpanExporter, TracerProvider, get_tracer
from datatracing.sdk.instrumentation.asgi import TracingMiddleware
from datatracing.sdk.semconv import pipeline_attributes

ORDERS = {"42": {"order_id": "42", "customer": "c-7", "amount_cents": 12_500}}


def tracing(service: str, bootstrap: str, spans_topic: str) -> TracerProvider:
    provider = TracerProvider(service_name=service, shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(KafkaSpanExporter(bootstrap, spans_topic)))
    return provider


def create_app(provider: TracerProvider | None = None) -> FastAPI:
    """The app; without `provider` it records through the global provider (`set_tracer_provider`)."""
    app = FastAPI(title="orders")
    app.add_middleware(TracingMiddleware, tracer_provider=provider, excluded_paths=["/healthz"])
    tracer = provider.get_tracer("examples.http_service") if provider else get_tracer("examples.http_service")

    @app.get("/orders/{order_id}")
    async def get_order(order_id: str) -> dict[str, object]:
        attributes = pipeline_attributes(dataset="orders", dataset_namespace="postgres://shop")
        with tracer.start_as_current_span("load order", attributes=attributes) as span:
            order = ORDERS.get(order_id)
            span.set_attributes(pipeline_attributes(records_out=int(order is not None)))
        if order is None:
            raise HTTPException(status_code=404, detail=f"no order {order_id}")
        return order

    @app.post("/orders/{order_id}/refund")
    async def refund(order_id: str) -> dict[str, object]:
        # Fails on purpose: the span gets ERROR status and an exception event, the client a 500.
        raise RuntimeError(f"refund service unavailable for order {order_id}")

    @app.get("/healthz")
    async def health() -> dict[str, object]:
        return {"status": "ok", "time": time.time()}

    return app


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:19092", help="Kafka bootstrap servers")
    parser.add_argument("--topic", default="otlp_spans", help="DataTracing spans topic")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    provider = tracing("orders-http", args.bootstrap, args.topic)
    base = f"http://{args.host}:{args.port}"
    print("try:")
    print(f"  curl {base}/orders/42")
    print(
        f"  curl -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' {base}/orders/42"
    )
    print(f"  curl {base}/orders/7            # 404: span status stays UNSET")
    print(f"  curl -X POST {base}/orders/42/refund   # 500: span status ERROR")
    print("  datatracing trace 4bf92f3577b34da6a3ce929d0e0e4736")
    try:
        uvicorn.run(create_app(provider), host=args.host, port=args.port, log_level="warning")
    finally:
        provider.shutdown()  # flushes the spans to the topic
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
