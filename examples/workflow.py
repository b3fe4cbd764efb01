"""Cadence/Temporal-style workflow tracing: the trace rides in the workflow header.

A tiny in-process stand-in for the workflow service carries each task with its header (a str→bytes
map, as Cadence's `Header.fields`), the way a real service persists it with the workflow's history.
Two services, so the trace shows the hop:

    order-client  StartWorkflow:OrderWorkflow ─header─▶
    order-worker    RunWorkflow:OrderWorkflow
                      ├ StartActivity:ReserveStock ─header─▶ RunActivity:ReserveStock
                      └ StartActivity:ChargeCard   ─header─▶ RunActivity:ChargeCard (fails for one order)

With a real client, call `tracing.start_workflow(...)` where you start the workflow and pass the header
to it, and `workflow.with_header(received_header)` where your worker's interceptor runs it.

    datatracing up
    python examples/workflow.py
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from datatracing.sdk import BatchSpanProcessor, KafkaSpanExporter, TracerProvider
from datatracing.sdk.instrumentation import TracedFunction, WorkflowTracer


class CardDeclinedError(Exception):
    """A business failure: the workflow records it and fails."""


@dataclass
class Task:
    name: str
    args: tuple[Any, ...]
    header: dict[str, bytes] = field(default_factory=dict)


class InMemoryWorkflowService:
    """Stands in for the Cadence frontend and matching service: tasks keep their headers."""

    def __init__(self) -> None:
        self.workflow_tasks: asyncio.Queue[Task] = asyncio.Queue()
        self.activities: dict[str, TracedFunction[..., Coroutine[Any, Any, Any]]] = {}

    async def start_workflow(self, task: Task) -> None:
        await self.workflow_tasks.put(task)

    async def execute_activity(self, task: Task) -> Any:
        # A real service dispatches to an activity worker; the header travels with the task.
        return await self.activities[task.name].with_header(task.header)(*task.args)


def tracing(service: str, bootstrap: str, spans_topic: str) -> TracerProvider:
    provider = TracerProvider(service_name=service, shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(KafkaSpanExporter(bootstrap, spans_topic)))
    return provider


def build_worker(
    service: InMemoryWorkflowService, tracing: WorkflowTracer
) -> TracedFunction[[str, int], Coroutine[Any, Any, str]]:
    """Register the activities and return the workflow, as a worker would at start-up."""

    @tracing.activity("ReserveStock")
    async def reserve_stock(order_id: str) -> str:
        await asyncio.sleep(0.01)
        return f"reservation-{order_id}"

    @tracing.activity("ChargeCard")
    async def charge_card(order_id: str, amount_cents: int) -> str:
        await asyncio.sleep(0.02)
        if amount_cents > 10_000:
            raise CardDeclinedError(f"card declined for {order_id}")
        return f"payment-{order_id}"

    service.activities = {"ReserveStock": reserve_stock, "ChargeCard": charge_card}

    async def call(name: str, *args: Any) -> Any:
        task = Task(name, args)
        with tracing.start_activity(name, task.header, activity_id=uuid.uuid4().hex[:8]):
            return await service.execute_activity(task)

    @tracing.workflow("OrderWorkflow")
    async def order_workflow(order_id: str, amount_cents: int) -> str:
        reservation = await call("ReserveStock", order_id)
        payment = await call("ChargeCard", order_id, amount_cents)
        return f"{order_id}: {reservation}, {payment}"

    return order_workflow


async def run(client: WorkflowTracer, worker: WorkflowTracer, orders: list[tuple[str, int]]) -> list[str]:
    """Start one workflow per order from the client, run them on the worker; returns the trace ids."""
    service = InMemoryWorkflowService()
    workflow = build_worker(service, worker)
    trace_ids = []
    for order_id, amount in orders:
        task = Task("OrderWorkflow", (order_id, amount))
        with client.start_workflow("OrderWorkflow", task.header, workflow_id=order_id) as span:
            await service.start_workflow(task)
            trace_ids.append(span.span_context.trace_id)
    while not service.workflow_tasks.empty():
        task = await service.workflow_tasks.get()
        try:
            print(await workflow.with_header(task.header)(*task.args))
        except CardDeclinedError as exc:
            print(f"workflow failed: {exc}")
    return trace_ids


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:19092", help="Kafka bootstrap servers")
    parser.add_argument("--topic", default="otlp_spans", help="DataTracing spans topic")
    args = parser.parse_args(argv)
    client_provider = tracing("order-client", args.bootstrap, args.topic)
    worker_provider = tracing("order-worker", args.bootstrap, args.topic)
    client = WorkflowTracer(client_provider, domain="shop")
    worker = WorkflowTracer(worker_provider, domain="shop")
    orders = [("o-1", 2_500), ("o-2", 12_000), ("o-3", 900)]
    try:
        trace_ids = asyncio.run(run(client, worker, orders))
    finally:
        for provider in (client_provider, worker_provider):
            provider.shutdown()  # flushes the spans to the topic
    for trace_id in trace_ids:
        print(f"  datatracing trace {trace_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
