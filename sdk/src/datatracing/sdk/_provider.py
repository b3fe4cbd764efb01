"""`TracerProvider`: the resource, sampler, limits and span processors behind every tracer."""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref

from datatracing.model import InstrumentationScope, Resource
from datatracing.sdk._attributes import SpanLimits
from datatracing.sdk._log import RateLimitedLog
from datatracing.sdk._processor import SpanProcessor
from datatracing.sdk._resource import build_resource
from datatracing.sdk._sampling import DEFAULT_SAMPLER, Sampler
from datatracing.sdk._tracer import Tracer

__all__ = ["TracerProvider"]

_log = RateLimitedLog(logging.getLogger("datatracing.sdk"))


def _shutdown_at_exit(ref: weakref.ref[TracerProvider]) -> None:
    provider = ref()
    if provider is not None:
        provider.shutdown()


class TracerProvider:
    """Holds the resource, sampler, limits and span processors; hands out tracers.

    Without `resource`, the resource is built by `build_resource` from `service_name` and the
    OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES variables.

    Example:
        >>> provider = TracerProvider(service_name="checkout", shutdown_on_exit=False)
        >>> provider.get_tracer("checkout.orders").start_span("load").is_recording()
        True
    """

    def __init__(
        self,
        resource: Resource | None = None,
        *,
        service_name: str | None = None,
        sampler: Sampler | None = None,
        span_limits: SpanLimits | None = None,
        shutdown_on_exit: bool = True,
    ) -> None:
        if resource is None:
            resource = build_resource(service_name)
        elif service_name:
            resource = resource.model_copy(
                update={"attributes": {**resource.attributes, "service.name": service_name}}
            )
        self.resource = resource
        self.sampler: Sampler = sampler if sampler is not None else DEFAULT_SAMPLER
        self.span_limits = span_limits if span_limits is not None else SpanLimits()
        self._processors: tuple[SpanProcessor, ...] = ()
        self._tracers: dict[tuple[str, str], Tracer] = {}
        self._lock = threading.Lock()
        self._is_shutdown = False
        if shutdown_on_exit:
            atexit.register(_shutdown_at_exit, weakref.ref(self))

    @property
    def processors(self) -> tuple[SpanProcessor, ...]:
        return self._processors

    def get_tracer(self, name: str, version: str = "") -> Tracer:
        """The tracer for instrumentation scope `name` (one per name and version, cached)."""
        key = (name, version)
        tracer = self._tracers.get(key)
        if tracer is None:
            with self._lock:
                tracer = self._tracers.get(key)
                if tracer is None:
                    tracer = Tracer(self, InstrumentationScope(name=name, version=version))
                    tracer.processors = self._processors
                    tracer._active = not self._is_shutdown
                    self._tracers[key] = tracer
        return tracer

    def add_span_processor(self, processor: SpanProcessor) -> None:
        """Add a processor; spans started from now on go to it too."""
        with self._lock:
            self._processors = (*self._processors, processor)
            for tracer in self._tracers.values():
                tracer.processors = self._processors

    def force_flush(self, timeout_s: float = 30) -> bool:
        """Flush every processor within `timeout_s`; False if any did not finish."""
        deadline = time.monotonic() + timeout_s
        ok = True
        for processor in self._processors:
            try:
                ok = processor.force_flush(max(deadline - time.monotonic(), 0.0)) and ok
            except Exception:
                _log.error("provider-flush", "span processor %r failed to flush", processor, exc_info=True)
                ok = False
        return ok

    def shutdown(self) -> None:
        """Flush and shut down every processor; later spans do not record. A second call does nothing."""
        with self._lock:
            if self._is_shutdown:
                return
            self._is_shutdown = True
            for tracer in self._tracers.values():
                tracer._active = False
        for processor in self._processors:
            try:
                processor.shutdown()
            except Exception:
                _log.error(
                    "provider-shutdown", "span processor %r failed to shut down", processor, exc_info=True
                )
