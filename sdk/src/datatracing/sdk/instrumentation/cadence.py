"""Cadence/Temporal-style workflow tracing: a header propagator and workflow/activity wrappers.

Modelled on temporalio's OpenTelemetry interceptor. The trace crosses the workflow service inside the
workflow's *header*, a str→bytes map (Cadence's `Header.fields`; the official clients' context
propagators write it on start), carrying W3C `traceparent`/`tracestate`/`baggage`:

    client                     worker (workflow)                 worker (activity)
    StartWorkflow:Order ─hdr─▶ RunWorkflow:Order
                                 └ StartActivity:Charge ─hdr─▶ RunActivity:Charge

`StartWorkflow`/`StartActivity` are CLIENT spans that inject their context into the header being
sent; `RunWorkflow`/`RunActivity` are SERVER spans whose parent is extracted from the header received.
Workflow code is replayed by the worker after restarts: pass `is_replaying` and the workflow-side
spans are not recorded again during replay (the context still flows, so new work joins the trace).

Nothing here imports a workflow client: the PyPI `cadence-client` (2021) has no header or interceptor
hook, so a worker integration calls `start_workflow(...)` / `workflow.with_header(...)` where its
client sends or receives the header.

Example:
    >>> tracing = WorkflowTracer(provider)  # doctest: +SKIP
    >>> @tracing.activity("Charge")  # doctest: +SKIP
    ... def charge(order_id: str) -> None: ...
    >>> header: dict[str, bytes] = {}  # doctest: +SKIP
    >>> with tracing.start_workflow("Order", header, workflow_id="order-1"):  # doctest: +SKIP
    ...     client.start("Order", header=header)
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, cast

from datatracing.model import SpanKind
from datatracing.sdk._api import NonRecordingSpan, Span, get_current_span, set_span_in_context
from datatracing.sdk._carriers import kafka_getter, kafka_setter
from datatracing.sdk._context import Context, get_current_context
from datatracing.sdk._propagation import TextMapPropagator, get_global_propagator
from datatracing.sdk._provider import TracerProvider
from datatracing.sdk.instrumentation._common import activate, log, tracer_for
from datatracing.sdk.semconv import (
    WORKFLOW_ACTIVITY_ID,
    WORKFLOW_ACTIVITY_NAME,
    WORKFLOW_DOMAIN,
    WORKFLOW_ID,
    WORKFLOW_NAME,
    WORKFLOW_RUN_ID,
    WORKFLOW_SYSTEM,
)

__all__ = [
    "ContextPropagator",
    "Header",
    "HeaderCarrier",
    "TraceContextHeaderPropagator",
    "TracedFunction",
    "WorkflowTracer",
]

SCOPE_NAME = "datatracing.instrumentation.cadence"
P = ParamSpec("P")
R = TypeVar("R")


class HeaderCarrier(Protocol):
    """An object holding the header map in `fields`, like Cadence's `Header`."""

    @property
    def fields(self) -> MutableMapping[str, bytes]: ...


#: A workflow header: the str→bytes map itself, or an object carrying it in `fields`.
Header = MutableMapping[str, bytes] | HeaderCarrier


class ContextPropagator(Protocol):
    """Writes the current trace context into a workflow header and reads it back (Cadence's shape)."""

    def inject(self, header: Header, context: Context | None = None) -> None:
        """Write `context` (default: current) into `header`."""
        ...

    def extract(self, header: Header | None, context: Context | None = None) -> Context:
        """`context` (default: current) plus what `header` carries; never raises."""
        ...


def _fields(header: Header) -> MutableMapping[str, bytes]:
    if isinstance(header, MutableMapping):
        return header
    return header.fields


class TraceContextHeaderPropagator:
    """W3C trace context and baggage in a workflow header, values as UTF-8 bytes.

    Example:
        >>> header: dict[str, bytes] = {}
        >>> TraceContextHeaderPropagator().inject(header)  # fills traceparent when a span is current
    """

    def __init__(self, propagator: TextMapPropagator | None = None) -> None:
        self._propagator = propagator

    def inject(self, header: Header, context: Context | None = None) -> None:
        propagator = self._propagator or get_global_propagator()
        try:
            propagator.inject(_fields(header), context, kafka_setter)  # str→bytes, like Kafka headers
        except Exception:
            log.error(
                "workflow-inject", "failed to write trace context into a workflow header", exc_info=True
            )

    def extract(self, header: Header | None, context: Context | None = None) -> Context:
        base = context if context is not None else get_current_context()
        if header is None:
            return base
        propagator = self._propagator or get_global_propagator()
        try:
            return propagator.extract(dict(_fields(header)), base, kafka_getter)
        except Exception:
            log.error(
                "workflow-extract", "failed to read trace context from a workflow header", exc_info=True
            )
            return base


class TracedFunction(Generic[P, R]):
    """A workflow or activity function that runs inside its "Run…" span.

    Calling it directly runs it under the current context (in-process tests, local activities);
    `with_header(header)` gives the callable a worker invokes, whose span continues the trace carried
    by the header it received. `async def` functions are supported: the span covers the await.
    """

    __name__: str
    __qualname__: str

    def __init__(
        self,
        fn: Callable[P, R],
        name: str,
        open_span: Callable[[Header | None], contextlib.AbstractContextManager[Span]],
    ) -> None:
        self.__wrapped__ = fn
        self.name = name
        self._open_span = open_span
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.with_header(None)(*args, **kwargs)

    def with_header(self, header: Header | None) -> Callable[P, R]:
        """The function, to run in a span whose parent is the context carried by `header`."""
        fn = self.__wrapped__
        open_span = self._open_span
        if inspect.iscoroutinefunction(fn):

            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                with open_span(header):
                    return await fn(*args, **kwargs)

            return cast(Callable[P, R], run_async)

        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with open_span(header):
                return fn(*args, **kwargs)

        return run


class WorkflowTracer:
    """Spans for starting and running workflows and activities, with context carried in headers.

    `system` ("cadence" or "temporal") and `domain` are recorded on every span. `is_replaying`, when
    given, is asked before each workflow-side span (`RunWorkflow`, `StartActivity`): during replay
    they are not recorded (Cadence: `Workflow.is_replaying`; Temporal: `workflow.unsafe.is_replaying`).
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        *,
        system: str = "cadence",
        domain: str | None = None,
        propagator: ContextPropagator | None = None,
        is_replaying: Callable[[], bool] | None = None,
    ) -> None:
        self._tracer = tracer_for(tracer_provider, SCOPE_NAME)
        self.propagator: ContextPropagator = propagator or TraceContextHeaderPropagator()
        self._base: dict[str, object] = {WORKFLOW_SYSTEM: system}
        if domain:
            self._base[WORKFLOW_DOMAIN] = domain
        self._is_replaying = is_replaying

    def _replaying(self) -> bool:
        if self._is_replaying is None:
            return False
        try:
            return bool(self._is_replaying())
        except Exception:
            log.error("workflow-replaying", "is_replaying() raised; tracing as not replaying", exc_info=True)
            return False

    @contextlib.contextmanager
    def _span(
        self,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, object | None],
        *,
        receive: Header | None = None,
        send: Header | None = None,
        workflow_side: bool = False,
    ) -> Iterator[Span]:
        span: Span
        context: Context | None
        try:
            parent = self.propagator.extract(receive) if receive is not None else get_current_context()
            attrs = {**self._base, **{k: v for k, v in attributes.items() if v is not None}}
            if workflow_side and self._replaying():
                # Keep the trace flowing through replayed code without recording it twice.
                span = NonRecordingSpan(get_current_span(parent).span_context)
            else:
                span = self._tracer.start_span(name, context=parent, kind=kind, attributes=attrs)
            context = set_span_in_context(span, parent)
            if send is not None:
                self.propagator.inject(send, context)
        except Exception:
            log.error("workflow-span", "workflow tracing failed to start %r", name, exc_info=True)
            span, context = NonRecordingSpan(get_current_span().span_context), None
        with activate(span, context):
            yield span

    def start_workflow(
        self, name: str, header: Header, *, workflow_id: str | None = None
    ) -> contextlib.AbstractContextManager[Span]:
        """Client side: a CLIENT span "StartWorkflow:{name}"; its context is written into `header`."""
        attributes = {WORKFLOW_NAME: name, WORKFLOW_ID: workflow_id}
        return self._span(f"StartWorkflow:{name}", SpanKind.CLIENT, attributes, send=header)

    def run_workflow(
        self,
        name: str,
        header: Header | None,
        *,
        workflow_id: str | None = None,
        run_id: str | None = None,
    ) -> contextlib.AbstractContextManager[Span]:
        """Worker side: a SERVER span "RunWorkflow:{name}", child of the context in `header`."""
        attributes = {WORKFLOW_NAME: name, WORKFLOW_ID: workflow_id, WORKFLOW_RUN_ID: run_id}
        return self._span(
            f"RunWorkflow:{name}", SpanKind.SERVER, attributes, receive=header, workflow_side=True
        )

    def start_activity(
        self, name: str, header: Header, *, activity_id: str | None = None
    ) -> contextlib.AbstractContextManager[Span]:
        """Workflow side: a CLIENT span "StartActivity:{name}"; its context is written into `header`."""
        attributes = {WORKFLOW_ACTIVITY_NAME: name, WORKFLOW_ACTIVITY_ID: activity_id}
        return self._span(
            f"StartActivity:{name}", SpanKind.CLIENT, attributes, send=header, workflow_side=True
        )

    def run_activity(
        self, name: str, header: Header | None, *, activity_id: str | None = None
    ) -> contextlib.AbstractContextManager[Span]:
        """Worker side: a SERVER span "RunActivity:{name}", child of the context in `header`."""
        attributes = {WORKFLOW_ACTIVITY_NAME: name, WORKFLOW_ACTIVITY_ID: activity_id}
        return self._span(f"RunActivity:{name}", SpanKind.SERVER, attributes, receive=header)

    def workflow(self, name: str | None = None) -> Callable[[Callable[P, R]], TracedFunction[P, R]]:
        """Decorate a workflow function: each run is a "RunWorkflow:{name}" span (default: its name)."""

        def decorate(fn: Callable[P, R]) -> TracedFunction[P, R]:
            workflow_name = name or fn.__name__
            return TracedFunction(fn, workflow_name, lambda header: self.run_workflow(workflow_name, header))

        return decorate

    def activity(self, name: str | None = None) -> Callable[[Callable[P, R]], TracedFunction[P, R]]:
        """Decorate an activity function: each run is a "RunActivity:{name}" span (default: its name)."""

        def decorate(fn: Callable[P, R]) -> TracedFunction[P, R]:
            activity_name = name or fn.__name__
            return TracedFunction(fn, activity_name, lambda header: self.run_activity(activity_name, header))

        return decorate
