"""W3C trace-context propagation, composite propagators and the global propagator.

`extract` never raises: a missing or malformed `traceparent` gives back the incoming context unchanged.
The extracted parent is a `NonRecordingSpan` with `is_remote=True`, so spans started under it join the
caller's trace.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any, Protocol

from datatracing.sdk._api import NonRecordingSpan, SpanContext, get_current_span
from datatracing.sdk._baggage import BaggagePropagator
from datatracing.sdk._carriers import Getter, Setter, dict_setter, headers_getter
from datatracing.sdk._context import SPAN_KEY, Context, current_context_var

__all__ = [
    "CompositePropagator",
    "TextMapPropagator",
    "TraceContextPropagator",
    "extract",
    "get_global_propagator",
    "inject",
    "parse_tracestate",
    "set_global_propagator",
]

_log = logging.getLogger("datatracing.sdk")
_TRACEPARENT = "traceparent"
_TRACESTATE = "tracestate"
_MAX_TRACEPARENT_LENGTH = 512
_MAX_TRACESTATE_LENGTH = 8192
_MAX_TRACESTATE_MEMBERS = 32
_TRACEPARENT_RE = re.compile(r"[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?[ \t]*")
_TRACESTATE_MEMBER_RE = re.compile(
    r"([a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})"
    r"=([\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e])"
)


class TextMapPropagator(Protocol):
    """Writes a context into a carrier and reads it back, through a getter/setter for the carrier."""

    @property
    def fields(self) -> set[str]:
        """The carrier fields `inject` writes."""
        ...

    def inject(self, carrier: Any, context: Context | None = None, setter: Setter = dict_setter) -> None:
        """Write `context` (default: the current one) into `carrier`."""
        ...

    def extract(
        self, carrier: Any, context: Context | None = None, getter: Getter = headers_getter
    ) -> Context:
        """`context` (default: the current one) plus what `carrier` holds; never raises."""
        ...


def parse_tracestate(values: Iterable[str]) -> str:
    """The normalized W3C `tracestate` of header values, or "" when any member is invalid."""
    members: list[str] = []
    keys: set[str] = set()
    for value in values:
        for raw in value.split(","):
            member = raw.strip(" \t")
            if not member:
                continue
            match = _TRACESTATE_MEMBER_RE.fullmatch(member)
            if match is None or match.group(1) in keys:
                return ""
            keys.add(match.group(1))
            members.append(member)
    if len(members) > _MAX_TRACESTATE_MEMBERS:
        return ""
    return ",".join(members)


class TraceContextPropagator:
    """The W3C `traceparent` and `tracestate` headers."""

    @property
    def fields(self) -> set[str]:
        return {_TRACEPARENT, _TRACESTATE}

    def inject(self, carrier: Any, context: Context | None = None, setter: Setter = dict_setter) -> None:
        ctx = get_current_span(context).span_context
        if not ctx.is_valid:
            return
        try:
            setter.set(carrier, _TRACEPARENT, f"00-{ctx.trace_id}-{ctx.span_id}-{ctx.trace_flags & 0xFF:02x}")
            if ctx.trace_state:
                setter.set(carrier, _TRACESTATE, ctx.trace_state)
        except Exception:
            _log.debug("failed to inject trace context", exc_info=True)

    def extract(
        self, carrier: Any, context: Context | None = None, getter: Getter = headers_getter
    ) -> Context:
        ctx = context if context is not None else current_context_var.get()
        try:
            span_context = self._span_context(carrier, getter)
        except Exception:
            _log.debug("ignored a malformed trace context", exc_info=True)
            return ctx
        if span_context is None:
            return ctx
        return ctx.with_value(SPAN_KEY, NonRecordingSpan(span_context))

    @staticmethod
    def _span_context(carrier: Any, getter: Getter) -> SpanContext | None:
        headers = getter.get(carrier, _TRACEPARENT)
        if not headers or len(headers[0]) > _MAX_TRACEPARENT_LENGTH:
            return None
        match = _TRACEPARENT_RE.fullmatch(headers[0])
        if match is None:
            return None
        version, trace_id, span_id, flags, rest = match.groups()
        # Version 00 has exactly four fields; ff is forbidden; later versions may append fields.
        if version == "ff" or (version == "00" and rest is not None):
            return None
        if trace_id == "0" * 32 or span_id == "0" * 16:
            return None
        trace_state = ""
        states = getter.get(carrier, _TRACESTATE)
        if states and sum(len(s) + 1 for s in states) - 1 <= _MAX_TRACESTATE_LENGTH:
            trace_state = parse_tracestate(states)
        return SpanContext(trace_id, span_id, int(flags, 16), trace_state, is_remote=True)


class CompositePropagator:
    """Runs several propagators in order (the default: trace context, then baggage)."""

    def __init__(self, propagators: Iterable[TextMapPropagator]) -> None:
        self.propagators = tuple(propagators)

    @property
    def fields(self) -> set[str]:
        return set().union(*(p.fields for p in self.propagators))

    def inject(self, carrier: Any, context: Context | None = None, setter: Setter = dict_setter) -> None:
        for propagator in self.propagators:
            try:
                propagator.inject(carrier, context, setter)
            except Exception:
                _log.debug("propagator %r failed to inject", propagator, exc_info=True)

    def extract(
        self, carrier: Any, context: Context | None = None, getter: Getter = headers_getter
    ) -> Context:
        ctx = context if context is not None else current_context_var.get()
        for propagator in self.propagators:
            try:
                ctx = propagator.extract(carrier, ctx, getter)
            except Exception:
                _log.debug("propagator %r failed to extract", propagator, exc_info=True)
        return ctx


_global_propagator: TextMapPropagator = CompositePropagator([TraceContextPropagator(), BaggagePropagator()])


def get_global_propagator() -> TextMapPropagator:
    """The process-wide propagator (default: W3C trace context + W3C baggage)."""
    return _global_propagator


def set_global_propagator(propagator: TextMapPropagator) -> None:
    """Replace the process-wide propagator used by `inject` and `extract`."""
    global _global_propagator
    _global_propagator = propagator


def inject(carrier: Any, context: Context | None = None, setter: Setter = dict_setter) -> None:
    """Write `context` (default: current) into `carrier` with the global propagator.

    Example:
        >>> headers: dict[str, str] = {}
        >>> inject(headers)  # adds traceparent (and baggage) when a span is current
    """
    _global_propagator.inject(carrier, context, setter)


def extract(carrier: Any, context: Context | None = None, getter: Getter = headers_getter) -> Context:
    """`context` (default: current) plus the trace context and baggage found in `carrier`."""
    return _global_propagator.extract(carrier, context, getter)
