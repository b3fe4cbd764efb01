"""`Tracer`: starts spans, makes them current (`start_as_current_span`, `@traced`)."""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from datatracing.model import Attributes, InstrumentationScope, SpanKind
from datatracing.sdk._api import (
    INVALID_SPAN,
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    on_exception,
)
from datatracing.sdk._attributes import (
    INT64_MAX,
    INT64_MIN,
    INVALID,
    SpanLimits,
    clean_attributes,
    clean_value,
)
from datatracing.sdk._context import SPAN_KEY, SUPPRESS_KEY, Context, current_context_var, detach
from datatracing.sdk._ids import INVALID_TRACE_ID, new_span_id, new_trace_id
from datatracing.sdk._log import RateLimitedLog
from datatracing.sdk._processor import SpanProcessor
from datatracing.sdk._readable import LinkData
from datatracing.sdk._sampling import DEFAULT_SAMPLER
from datatracing.sdk._span import RecordingSpan

if TYPE_CHECKING:
    from datatracing.sdk._provider import TracerProvider

__all__ = ["CurrentSpan", "Tracer"]

P = ParamSpec("P")
R = TypeVar("R")
_log = RateLimitedLog(logging.getLogger("datatracing.sdk"))
_time_ns = time.time_ns


def _initial_attributes(attributes: Mapping[str, object], limits: SpanLimits) -> tuple[Attributes, int]:
    out: Attributes = {}
    dropped = 0
    max_count = limits.max_attributes
    max_length = limits.max_attribute_length
    for key, raw in attributes.items():
        if type(key) is not str or not key or raw is None:
            continue
        value = raw
        kind = type(value)
        if kind is str:
            if max_length is not None:
                value = value[:max_length]  # type: ignore[index]
        elif kind is int:
            if not INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
                continue
        elif kind is not bool and kind is not float:
            value = clean_value(value, max_length)
            if value is INVALID:
                continue
        if len(out) >= max_count and key not in out:
            dropped += 1
        else:
            out[key] = value  # type: ignore[assignment]
    return out, dropped


class Tracer:
    """Starts spans for one instrumentation scope. Get one from `TracerProvider.get_tracer`."""

    __slots__ = (
        "_active",
        "_provider",
        "limits",
        "otlp_header",
        "processors",
        "resource",
        "sampler",
        "scope",
    )

    def __init__(self, provider: TracerProvider, scope: InstrumentationScope) -> None:
        self._provider = provider
        self._active = True
        self.scope = scope
        self.resource = provider.resource
        self.sampler = provider.sampler
        self.limits = provider.span_limits
        self.processors: tuple[SpanProcessor, ...] = ()
        self.otlp_header: tuple[bytes, bytes] | None = None  # filled by the OTLP encoder

    def start_span(
        self,
        name: str,
        *,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, object] | None = None,
        links: Iterable[Link | SpanContext] = (),
        start_time_unix_nano: int | None = None,
    ) -> Span:
        """Start a span (not made current); its parent is the span in `context` (default: current)."""
        try:
            ctx = context if context is not None else current_context_var.get()
            parent_span: Span | None = ctx.get(SPAN_KEY)
            parent = parent_span.span_context if parent_span is not None else None
            if parent is not None and parent.trace_id == INVALID_TRACE_ID:
                parent = None
            if not self._active or ctx.get(SUPPRESS_KEY):
                return NonRecordingSpan(parent) if parent is not None else INVALID_SPAN
            if parent is None:
                trace_id = new_trace_id()
                trace_state = ""
            else:
                trace_id = parent.trace_id
                trace_state = parent.trace_state
            sampler = self.sampler
            if sampler is DEFAULT_SAMPLER:
                sampled = parent is None or bool(parent.trace_flags & 1)
            else:
                sampled = sampler.should_sample(parent, trace_id, name, kind, attributes)
            if not sampled:
                return NonRecordingSpan(SpanContext(trace_id, new_span_id(), 0, trace_state))
            limits = self.limits
            attrs, dropped = _initial_attributes(attributes, limits) if attributes else ({}, 0)
            link_data, dropped_links = self._links(links, limits) if links else (None, 0)
            if type(start_time_unix_nano) is not int or not 0 <= start_time_unix_nano < 2**64:
                start_time_unix_nano = _time_ns()
            span = RecordingSpan(
                name if type(name) is str else str(name),
                SpanContext(trace_id, new_span_id(), 1, trace_state),
                parent,
                kind,
                start_time_unix_nano,
                attrs,
                dropped,
                link_data,
                dropped_links,
                self,
            )
            for processor in self.processors:
                try:
                    processor.on_start(span, ctx)
                except Exception:
                    _log.error(
                        "processor-on-start", "span processor %r failed in on_start", processor, exc_info=True
                    )
            return span
        except Exception:
            _log.error("start-span", "failed to start span %r", name, exc_info=True)
            return INVALID_SPAN

    @staticmethod
    def _links(links: Iterable[Link | SpanContext], limits: SpanLimits) -> tuple[list[LinkData], int]:
        out: list[LinkData] = []
        dropped = 0
        for link in links:
            ctx, raw = (link.context, link.attributes) if isinstance(link, Link) else (link, None)
            if not isinstance(ctx, SpanContext) or not ctx.is_valid:
                continue
            if len(out) >= limits.max_links:
                dropped += 1
                continue
            attrs, dropped_attrs = clean_attributes(
                raw, limits.max_attributes_per_link, limits.max_attribute_length
            )
            out.append((ctx, attrs, dropped_attrs))
        return out, dropped

    def start_as_current_span(
        self,
        name: str,
        *,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, object] | None = None,
        links: Iterable[Link | SpanContext] = (),
        start_time_unix_nano: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> CurrentSpan:
        """Start a span and make it current for a `with` block (threads and asyncio tasks alike).

        Example:
            >>> with tracer.start_as_current_span("load orders") as span:  # doctest: +SKIP
            ...     span.set_attribute("orders.count", 3)
        """
        span = self.start_span(
            name,
            context=context,
            kind=kind,
            attributes=attributes,
            links=links,
            start_time_unix_nano=start_time_unix_nano,
        )
        return CurrentSpan(span, end_on_exit, record_exception, set_status_on_exception)

    @overload
    def traced(self, name: Callable[P, R], /) -> Callable[P, R]: ...

    @overload
    def traced(
        self,
        name: str | None = None,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, object] | None = None,
        record_exception: bool = True,
    ) -> Callable[[Callable[P, R]], Callable[P, R]]: ...

    def traced(
        self,
        name: str | Callable[P, R] | None = None,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, object] | None = None,
        record_exception: bool = True,
    ) -> Any:
        """Decorate a function or `async def` so each call runs in its own current span.

        Works bare (`@tracer.traced`) or called (`@tracer.traced("name", kind=SpanKind.SERVER)`); the
        span name defaults to the function's qualified name. Generator functions are not followed past
        the call that creates the generator.
        """
        if callable(name):
            return self.traced()(name)

        def decorate(fn: Callable[P, R]) -> Callable[P, R]:
            span_name = name or getattr(fn, "__qualname__", None) or repr(fn)

            def open_span() -> CurrentSpan:
                return self.start_as_current_span(
                    span_name, kind=kind, attributes=attributes, record_exception=record_exception
                )

            if inspect.iscoroutinefunction(fn):

                @functools.wraps(fn)
                async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                    with open_span():
                        return await fn(*args, **kwargs)

                return async_wrapper  # type: ignore[return-value]

            @functools.wraps(fn)
            def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                with open_span():
                    return fn(*args, **kwargs)

            return wrapper

        return decorate


class CurrentSpan:
    """The context manager returned by `start_as_current_span`: `with` makes the span current."""

    __slots__ = ("_end_on_exit", "_record", "_set_status", "_token", "span")

    def __init__(self, span: Span, end_on_exit: bool, record: bool, set_status: bool) -> None:
        self.span = span
        self._end_on_exit = end_on_exit
        self._record = record
        self._set_status = set_status
        self._token: Any = None

    def __enter__(self) -> Span:
        self._token = current_context_var.set(current_context_var.get().with_value(SPAN_KEY, self.span))
        return self.span

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, Exception):
            on_exception(self.span, exc, self._record, self._set_status)
        if self._token is not None:
            detach(self._token)
            self._token = None
        if self._end_on_exit:
            self.span.end()
