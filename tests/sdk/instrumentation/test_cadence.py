"""Workflow tracing without a server: headers round trip, spans of client, workflow and activity."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datatracing.model import Span, SpanKind, StatusCode
from datatracing.sdk import (
    Context,
    InMemorySpanExporter,
    NonRecordingSpan,
    SpanContext,
    Tracer,
    TracerProvider,
    get_current_span,
    set_span_in_context,
)
from datatracing.sdk.instrumentation import TraceContextHeaderPropagator, TracedFunction, WorkflowTracer
from datatracing.sdk.instrumentation.cadence import Header


@dataclasses.dataclass
class CadenceStyleHeader:
    """The shape of Cadence's thrift `Header`: the map lives in `fields`."""

    fields: dict[str, bytes] = dataclasses.field(default_factory=dict)


class PaymentDeclinedError(Exception):
    pass


def _spans(exporter: InMemorySpanExporter) -> dict[str, Span]:
    return {span.name: span for span in exporter.get_finished_spans()}


def _order_app(
    tracing: WorkflowTracer,
) -> tuple[TracedFunction[[str, int], str], TracedFunction[[str, int], str]]:
    """A workflow that schedules one activity, wired the way a worker would call them."""

    @tracing.activity("Charge")
    def charge(order_id: str, amount: int) -> str:
        if amount < 0:
            raise PaymentDeclinedError(order_id)
        return f"charged {order_id}"

    @tracing.workflow("Order")
    def order(order_id: str, amount: int) -> str:
        header: dict[str, bytes] = {}
        with tracing.start_activity("Charge", header, activity_id="1"):
            pass  # here a client schedules the activity, sending `header`
        return charge.with_header(header)(order_id, amount)  # the activity worker receives it

    return order, charge


def test_workflow_sync_chain_parents_follow_headers(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = WorkflowTracer(provider, domain="shop")
    order, _ = _order_app(tracing)
    header = CadenceStyleHeader()
    with tracing.start_workflow("Order", header, workflow_id="order-1"):
        pass
    assert set(header.fields) >= {"traceparent"}
    assert order.with_header(header)("order-1", 10) == "charged order-1"

    spans = _spans(exporter)
    start = spans["StartWorkflow:Order"]
    run = spans["RunWorkflow:Order"]
    start_activity = spans["StartActivity:Charge"]
    run_activity = spans["RunActivity:Charge"]
    assert [start.kind, run.kind, start_activity.kind, run_activity.kind] == [
        SpanKind.CLIENT,
        SpanKind.SERVER,
        SpanKind.CLIENT,
        SpanKind.SERVER,
    ]
    assert start.parent_span_id is None
    assert run.parent_span_id == start.span_id
    assert start_activity.parent_span_id == run.span_id
    assert run_activity.parent_span_id == start_activity.span_id
    assert len({s.trace_id for s in spans.values()}) == 1
    assert start.attributes == {
        "workflow.system": "cadence",
        "workflow.domain": "shop",
        "workflow.name": "Order",
        "workflow.id": "order-1",
    }
    assert run_activity.attributes["workflow.activity.name"] == "Charge"
    assert start_activity.attributes["workflow.activity.id"] == "1"


def test_workflow_activity_exception_reraised_spans_error(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = WorkflowTracer(provider)
    order, _ = _order_app(tracing)
    with pytest.raises(PaymentDeclinedError, match="order-2"):
        order.with_header({})("order-2", -1)
    spans = _spans(exporter)
    for name in ("RunActivity:Charge", "RunWorkflow:Order"):
        assert spans[name].status.code is StatusCode.ERROR
        assert spans[name].attributes["error.type"] == f"{__name__}.PaymentDeclinedError"
    assert spans["StartActivity:Charge"].status.code is StatusCode.UNSET


def test_workflow_async_functions_span_covers_await(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = WorkflowTracer(provider, system="temporal")

    @tracing.activity()
    async def fetch(url: str) -> str:
        await asyncio.sleep(0)
        return get_current_span().span_context.span_id

    @tracing.workflow()
    async def crawl(url: str) -> str:
        header: dict[str, bytes] = {}
        with tracing.start_activity("fetch", header):
            pass
        return await fetch.with_header(header)(url)

    header: dict[str, bytes] = {}
    with tracing.start_workflow("crawl", header):
        pass
    seen_span_id = asyncio.run(crawl.with_header(header)("https://example.invalid"))
    spans = _spans(exporter)
    assert spans["RunActivity:fetch"].span_id == seen_span_id
    assert spans["RunWorkflow:crawl"].parent_span_id == spans["StartWorkflow:crawl"].span_id
    assert spans["RunWorkflow:crawl"].attributes["workflow.system"] == "temporal"
    assert crawl.__name__ == "crawl"


def test_workflow_async_exception_reraised_span_error(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = WorkflowTracer(provider)

    @tracing.activity("Ship")
    async def ship() -> None:
        raise PaymentDeclinedError("no stock")

    with pytest.raises(PaymentDeclinedError):
        asyncio.run(ship())
    (span,) = exporter.get_finished_spans()
    assert span.status.code is StatusCode.ERROR


def test_workflow_direct_call_child_of_current_span(
    tracer: Tracer, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = WorkflowTracer(provider)

    @tracing.activity()
    def resize(width: int) -> int:
        """Resize an image."""
        return width // 2

    with tracer.start_as_current_span("test") as outer:
        assert resize(640) == 320
    spans = _spans(exporter)
    assert spans["RunActivity:resize"].parent_span_id == outer.span_context.span_id
    assert resize.__doc__ == "Resize an image."


def test_workflow_replaying_workflow_spans_skipped_trace_continues(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = WorkflowTracer(provider, is_replaying=lambda: True)
    order, _ = _order_app(tracing)
    header: dict[str, bytes] = {}
    with tracing.start_workflow("Order", header):
        pass
    order.with_header(header)("order-3", 5)
    spans = _spans(exporter)
    assert set(spans) == {"StartWorkflow:Order", "RunActivity:Charge"}
    assert spans["RunActivity:Charge"].parent_span_id == spans["StartWorkflow:Order"].span_id


class _BrokenPropagator:
    def inject(self, header: Header, context: Context | None = None) -> None:
        raise RuntimeError("broken inject")

    def extract(self, header: Header | None, context: Context | None = None) -> Context:
        raise RuntimeError("broken extract")


def test_workflow_broken_propagator_function_still_runs(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = WorkflowTracer(provider, propagator=_BrokenPropagator())
    order, _ = _order_app(tracing)
    assert order.with_header({"traceparent": b"garbage"})("order-4", 1) == "charged order-4"


def test_header_propagator_malformed_header_context_unchanged() -> None:
    base = Context().with_value("tenant", "acme")
    extracted = TraceContextHeaderPropagator().extract({"traceparent": b"\xff\xfe not a traceparent"}, base)
    assert not get_current_span(extracted).span_context.is_valid
    assert extracted.get("tenant") == "acme"


@given(
    trace_id=st.integers(min_value=1, max_value=2**128 - 1),
    span_id=st.integers(min_value=1, max_value=2**64 - 1),
    sampled=st.booleans(),
    carrier_object=st.booleans(),
)
def test_header_propagator_round_trip_any_context_identical(
    trace_id: int, span_id: int, sampled: bool, carrier_object: bool
) -> None:
    sent = SpanContext(f"{trace_id:032x}", f"{span_id:016x}", int(sampled), "vendor=a1")
    propagator = TraceContextHeaderPropagator()
    fields: dict[str, bytes] = {}
    header: Header = CadenceStyleHeader(fields) if carrier_object else fields
    propagator.inject(header, set_span_in_context(NonRecordingSpan(sent), Context()))
    assert all(isinstance(value, bytes) for value in fields.values())
    received = get_current_span(propagator.extract(header, Context())).span_context
    assert received == SpanContext(sent.trace_id, sent.span_id, int(sampled), "vendor=a1", is_remote=True)
