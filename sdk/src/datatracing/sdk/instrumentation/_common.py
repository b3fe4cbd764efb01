"""What every instrumentation shares: finding its tracer, marking a span failed, a quiet log."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from importlib import metadata

from datatracing.model import StatusCode
from datatracing.sdk._api import Span
from datatracing.sdk._context import Context, attach, detach
from datatracing.sdk._global import get_tracer
from datatracing.sdk._log import RateLimitedLog
from datatracing.sdk._provider import TracerProvider
from datatracing.sdk._tracer import Tracer
from datatracing.sdk.semconv import ERROR_TYPE

__all__ = ["activate", "error_type", "log", "mark_error", "split_host", "tracer_for"]

#: Instrumentation must never flood the host's logs: one line per problem per minute.
log = RateLimitedLog(logging.getLogger("datatracing.sdk.instrumentation"))

try:
    _VERSION = metadata.version("datatracing-sdk")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    _VERSION = ""


def tracer_for(provider: TracerProvider | None, name: str) -> Tracer:
    """The tracer of instrumentation scope `name`: from `provider`, else from the global provider.

    The global tracer follows a later `set_tracer_provider`, so an instrumented app may be built before
    tracing is configured.
    """
    if provider is not None:
        return provider.get_tracer(name, _VERSION)
    return get_tracer(name, _VERSION)


def error_type(exc: BaseException) -> str:
    """`error.type` of an exception: its fully qualified class name (builtins unqualified)."""
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def mark_error(span: Span, exc: BaseException) -> None:
    """Record `exc` escaping the span's work: an exception event, `error.type` and an ERROR status."""
    span.record_exception(exc, escaped=True)
    span.set_attribute(ERROR_TYPE, error_type(exc))
    span.set_status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}")


def split_host(host: str, default_port: int | None) -> tuple[str, int | None]:
    """A `Host` header value as (address, port): `"api:8080"` → ("api", 8080), `"[::1]"` → ("::1", ...)."""
    if host.startswith("["):
        address, _, rest = host[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif host.count(":") == 1:
        address, _, port_text = host.partition(":")
    else:
        address, port_text = host, ""
    return address, int(port_text) if port_text.isdigit() else default_port


@contextlib.contextmanager
def activate(span: Span, context: Context | None) -> Iterator[None]:
    """Make `context` (which holds `span`) current for the block, then end `span`.

    An exception escaping the block marks the span failed and propagates unchanged. With `context`
    None (tracing failed to start) the block just runs.
    """
    token = attach(context) if context is not None else None
    try:
        yield
    except Exception as exc:
        mark_error(span, exc)
        raise
    finally:
        if token is not None:
            detach(token)
        span.end()
