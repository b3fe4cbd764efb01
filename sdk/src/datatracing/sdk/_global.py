"""The process-wide tracer provider, for instrumentation libraries that cannot be handed one.

`get_tracer` works before `set_tracer_provider` is called (for module-level tracers in libraries): it
returns a tracer that resolves the global provider on each span, recording nothing until one is set.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from datatracing.model import InstrumentationScope, SpanKind
from datatracing.sdk._api import INVALID_SPAN, Link, NonRecordingSpan, Span, SpanContext, get_current_span
from datatracing.sdk._context import Context
from datatracing.sdk._provider import TracerProvider
from datatracing.sdk._tracer import Tracer

__all__ = ["get_tracer", "get_tracer_provider", "set_tracer_provider"]

_provider: TracerProvider | None = None
_lock = threading.Lock()


def set_tracer_provider(provider: TracerProvider) -> None:
    """Make `provider` the process-wide provider (tracers from `get_tracer` start using it)."""
    global _provider
    with _lock:
        _provider = provider


def get_tracer_provider() -> TracerProvider | None:
    """The process-wide provider, or None when none was set."""
    return _provider


class _ProxyTracer(Tracer):
    __slots__ = ("_name", "_version")

    def __init__(self, name: str, version: str) -> None:  # no provider yet: resolved per span
        self._name = name
        self._version = version
        self.scope = InstrumentationScope(name=name, version=version)

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
        provider = _provider
        if provider is None:
            parent = get_current_span(context).span_context
            return NonRecordingSpan(parent) if parent.is_valid else INVALID_SPAN
        return provider.get_tracer(self._name, self._version).start_span(
            name,
            context=context,
            kind=kind,
            attributes=attributes,
            links=links,
            start_time_unix_nano=start_time_unix_nano,
        )


def get_tracer(name: str, version: str = "") -> Tracer:
    """A tracer for scope `name` from the process-wide provider, following later `set_tracer_provider`.

    Example:
        >>> tracer = get_tracer("my_library")  # safe at import time
    """
    return _ProxyTracer(name, version)
