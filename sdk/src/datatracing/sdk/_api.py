"""The tracing API surface: `SpanContext`, the `Span` protocol, `NonRecordingSpan`, the current span.

A `Span` is what a tracer hands out. A recording span (see `_span.py`) collects data and goes to the
processors when it ends; a `NonRecordingSpan` only carries a `SpanContext`, for spans that were sampled
out, extracted from a remote caller, or started while instrumentation is suppressed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Protocol

from datatracing.model import StatusCode
from datatracing.sdk._context import SPAN_KEY, Context, current_context_var, detach
from datatracing.sdk._ids import INVALID_SPAN_ID, INVALID_TRACE_ID

__all__ = [
    "INVALID_SPAN",
    "INVALID_SPAN_CONTEXT",
    "Link",
    "NonRecordingSpan",
    "Span",
    "SpanContext",
    "get_current_span",
    "set_span_in_context",
    "use_span",
]

SAMPLED = 0x01


class SpanContext:
    """The identity of a span as propagated between processes (W3C trace context).

    `trace_id` and `span_id` are lowercase hex; `trace_state` is the W3C `tracestate` header value.
    """

    __slots__ = ("is_remote", "span_id", "trace_flags", "trace_id", "trace_state")

    def __init__(
        self,
        trace_id: str,
        span_id: str,
        trace_flags: int = SAMPLED,
        trace_state: str = "",
        is_remote: bool = False,
    ) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.trace_flags = trace_flags
        self.trace_state = trace_state
        self.is_remote = is_remote

    @property
    def is_valid(self) -> bool:
        return self.trace_id != INVALID_TRACE_ID and self.span_id != INVALID_SPAN_ID

    @property
    def sampled(self) -> bool:
        return bool(self.trace_flags & SAMPLED)

    def _key(self) -> tuple[str, str, int, str, bool]:
        return (self.trace_id, self.span_id, self.trace_flags, self.trace_state, self.is_remote)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpanContext) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"SpanContext(trace_id={self.trace_id!r}, span_id={self.span_id!r}, "
            f"trace_flags={self.trace_flags:#04x}, trace_state={self.trace_state!r}, "
            f"is_remote={self.is_remote})"
        )


INVALID_SPAN_CONTEXT = SpanContext(INVALID_TRACE_ID, INVALID_SPAN_ID, 0)


class Link:
    """A reference from a span to another span's context (a batch consumer links to each message)."""

    __slots__ = ("attributes", "context")

    def __init__(self, context: SpanContext, attributes: Mapping[str, object] | None = None) -> None:
        self.context = context
        self.attributes = attributes

    def __repr__(self) -> str:
        return f"Link({self.context!r}, {self.attributes!r})"


class Span(Protocol):
    """What a tracer returns. Every method is safe to call in any state and never raises."""

    @property
    def span_context(self) -> SpanContext: ...

    def is_recording(self) -> bool: ...

    def set_attribute(self, key: str, value: object) -> None: ...

    def set_attributes(self, attributes: Mapping[str, object]) -> None: ...

    def add_event(
        self, name: str, attributes: Mapping[str, object] | None = None, timestamp: int | None = None
    ) -> None: ...

    def add_link(self, context: SpanContext, attributes: Mapping[str, object] | None = None) -> None: ...

    def set_status(self, status: StatusCode, description: str | None = None) -> None: ...

    def record_exception(
        self,
        exception: BaseException,
        attributes: Mapping[str, object] | None = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None: ...

    def update_name(self, name: str) -> None: ...

    def end(self, end_time_unix_nano: int | None = None) -> None: ...

    def __enter__(self) -> Span: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class NonRecordingSpan:
    """A span that carries a context and records nothing (sampled out, remote, or suppressed)."""

    __slots__ = ("span_context",)

    def __init__(self, span_context: SpanContext) -> None:
        self.span_context = span_context

    def is_recording(self) -> bool:
        return False

    def set_attribute(self, key: str, value: object) -> None:
        pass

    def set_attributes(self, attributes: Mapping[str, object]) -> None:
        pass

    def add_event(
        self, name: str, attributes: Mapping[str, object] | None = None, timestamp: int | None = None
    ) -> None:
        pass

    def add_link(self, context: SpanContext, attributes: Mapping[str, object] | None = None) -> None:
        pass

    def set_status(self, status: StatusCode, description: str | None = None) -> None:
        pass

    def record_exception(
        self,
        exception: BaseException,
        attributes: Mapping[str, object] | None = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        pass

    def update_name(self, name: str) -> None:
        pass

    def end(self, end_time_unix_nano: int | None = None) -> None:
        pass

    def __enter__(self) -> NonRecordingSpan:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        pass

    def __repr__(self) -> str:
        return f"NonRecordingSpan({self.span_context!r})"


INVALID_SPAN = NonRecordingSpan(INVALID_SPAN_CONTEXT)


def get_current_span(context: Context | None = None) -> Span:
    """The span in `context` (default: the current context), or `INVALID_SPAN` when there is none."""
    span: Span | None = (context if context is not None else current_context_var.get()).get(SPAN_KEY)
    return span if span is not None else INVALID_SPAN


def set_span_in_context(span: Span, context: Context | None = None) -> Context:
    """A new context: `context` (default: the current one) with `span` as its current span."""
    return (context if context is not None else current_context_var.get()).with_value(SPAN_KEY, span)


@contextlib.contextmanager
def use_span(
    span: Span,
    end_on_exit: bool = False,
    record_exception: bool = True,
    set_status_on_exception: bool = True,
) -> Iterator[Span]:
    """Make `span` current for the block; an exception escaping it is recorded on the span."""
    token = current_context_var.set(current_context_var.get().with_value(SPAN_KEY, span))
    try:
        yield span
    except Exception as exc:
        on_exception(span, exc, record_exception, set_status_on_exception)
        raise
    finally:
        detach(token)
        if end_on_exit:
            span.end()


def on_exception(span: Span, exc: Exception, record: bool, set_status: bool) -> None:
    """What a span does with an exception escaping its block: an event and an ERROR status."""
    if record:
        span.record_exception(exc, escaped=True)
    if set_status:
        span.set_status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}")
