"""Immutable execution context carried in a `contextvars.ContextVar`.

A `Context` maps keys to values (current span, baggage, the suppress-instrumentation flag). It is never
changed in place: `with_value` returns a new one, and `attach` makes a context current until the
matching `detach`. Because it lives in a `ContextVar`, the current context follows threads and asyncio
tasks the same way `contextvars` does, so `with tracer.start_as_current_span(...)` works in async code.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar, Token
from typing import Any

__all__ = [
    "Context",
    "attach",
    "detach",
    "get_current_context",
    "get_value",
    "is_instrumentation_suppressed",
    "set_value",
    "suppress_instrumentation",
]

_log = logging.getLogger("datatracing.sdk")

SPAN_KEY = "datatracing.current_span"
BAGGAGE_KEY = "datatracing.baggage"
SUPPRESS_KEY = "datatracing.suppress_instrumentation"


class Context(Mapping[str, object]):
    """An immutable mapping of context values; build new ones with `with_value`.

    Example:
        >>> ctx = Context().with_value("tenant", "acme")
        >>> ctx.get("tenant")
        'acme'
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, object] | None = None) -> None:
        self._values: dict[str, object] = dict(values) if values else {}

    def with_value(self, key: str, value: object) -> Context:
        """A copy of this context with `key` set to `value`."""
        new = Context.__new__(Context)
        values = self._values.copy()
        values[key] = value
        new._values = values
        return new

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def __getitem__(self, key: str) -> object:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Context({self._values!r})"


EMPTY_CONTEXT = Context()
_CURRENT: ContextVar[Context] = ContextVar("datatracing_context", default=EMPTY_CONTEXT)
current_context_var = _CURRENT  # read directly on the span hot path


def get_current_context() -> Context:
    """The context of the running thread or asyncio task."""
    return _CURRENT.get()


def attach(context: Context) -> Token[Context]:
    """Make `context` current; pass the returned token to `detach` to restore the previous one."""
    return _CURRENT.set(context)


def detach(token: Token[Context]) -> None:
    """Restore the context that was current before `attach`; a mismatched token is logged, not raised."""
    try:
        _CURRENT.reset(token)
    except (ValueError, RuntimeError):
        # A token used in another context (generator or task boundary): the host must not fail for it.
        _log.debug("failed to detach a datatracing context", exc_info=True)


def get_value(key: str, context: Context | None = None) -> object:
    """The value of `key` in `context` (default: the current context), or None."""
    return (context if context is not None else _CURRENT.get()).get(key)


def set_value(key: str, value: object, context: Context | None = None) -> Context:
    """A new context: `context` (default: the current one) with `key` set to `value`."""
    return (context if context is not None else _CURRENT.get()).with_value(key, value)


def is_instrumentation_suppressed(context: Context | None = None) -> bool:
    """True inside `suppress_instrumentation()`: tracers then start non-recording spans."""
    return bool((context if context is not None else _CURRENT.get()).get(SUPPRESS_KEY))


@contextlib.contextmanager
def suppress_instrumentation() -> Iterator[None]:
    """Stop tracing for the block; exporters run inside it so their own clients do not trace themselves.

    When OpenTelemetry's API is already loaded, its suppress flag is set too, so OpenTelemetry
    instrumentations (an instrumented HTTP client used by an exporter) stay quiet as well.
    """
    token = _CURRENT.set(_CURRENT.get().with_value(SUPPRESS_KEY, True))
    otel_token = _suppress_otel()
    try:
        yield
    finally:
        if otel_token is not None:
            _restore_otel(otel_token)
        detach(token)


def _suppress_otel() -> object | None:
    # Only when the host already imported OpenTelemetry: the SDK never imports it itself.
    otel_context = sys.modules.get("opentelemetry.context")
    if otel_context is None:
        return None
    try:
        key = otel_context._SUPPRESS_INSTRUMENTATION_KEY
        token: object = otel_context.attach(otel_context.set_value(key, True))
    except Exception:  # the host's OpenTelemetry version is not ours to depend on
        return None
    return token


def _restore_otel(token: object) -> None:
    otel_context = sys.modules.get("opentelemetry.context")
    if otel_context is not None:
        with contextlib.suppress(Exception):
            otel_context.detach(token)
