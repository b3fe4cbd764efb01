"""Ready-made instrumentation for the places a data pipeline's trace crosses a process boundary.

- HTTP servers: `asgi.TracingMiddleware` (FastAPI, Starlette...) and `wsgi.TracingMiddleware` (Flask,
  Django...): a SERVER span "{method} {route or path}" per request.
- Kafka (confluent-kafka): `TracedProducer` (PRODUCER "send {topic}", context into the record's
  headers) and `TracedConsumer` (CONSUMER "process {topic}", per message or per batch with links).
- Workflows (Cadence/Temporal style): `WorkflowTracer` (StartWorkflow, RunWorkflow, StartActivity,
  RunActivity), with `TraceContextHeaderPropagator` for the workflow header.

Each takes an optional `tracer_provider` (default: the global one), joins the caller's trace through
W3C trace context, writes the attributes of `datatracing.sdk.semconv`, and never raises into the host
because of tracing. None of them imports the framework it instruments.
"""

from __future__ import annotations

from datatracing.sdk.instrumentation import asgi, cadence, kafka, wsgi
from datatracing.sdk.instrumentation.cadence import (
    TraceContextHeaderPropagator,
    TracedFunction,
    WorkflowTracer,
)
from datatracing.sdk.instrumentation.kafka import TracedConsumer, TracedProducer

__all__ = [
    "TraceContextHeaderPropagator",
    "TracedConsumer",
    "TracedFunction",
    "TracedProducer",
    "WorkflowTracer",
    "asgi",
    "cadence",
    "kafka",
    "wsgi",
]
