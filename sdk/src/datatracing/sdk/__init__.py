"""The DataTracing SDK: what a service installs to record spans and ship them to the pipeline.

Shaped like OpenTelemetry's API/SDK, and interoperable with it on the wire (W3C trace context and
baggage, OTLP protobuf). It never raises into, or blocks, the host: failures are counted and logged.

Example:
    >>> from datatracing.sdk import BatchSpanProcessor, InMemorySpanExporter, TracerProvider
    >>> provider = TracerProvider(service_name="checkout", shutdown_on_exit=False)
    >>> exporter = InMemorySpanExporter()
    >>> provider.add_span_processor(BatchSpanProcessor(exporter))
    >>> tracer = provider.get_tracer("checkout.orders")
    >>> with tracer.start_as_current_span("load order") as span:
    ...     span.set_attribute("order.id", 42)
    >>> provider.force_flush()
    True
    >>> [s.name for s in exporter.get_finished_spans()]
    ['load order']
"""

from __future__ import annotations

from datatracing.model import SpanKind, StatusCode
from datatracing.sdk._api import (
    INVALID_SPAN,
    INVALID_SPAN_CONTEXT,
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    get_current_span,
    set_span_in_context,
    use_span,
)
from datatracing.sdk._attributes import SpanLimits
from datatracing.sdk._baggage import (
    BaggagePropagator,
    clear_baggage,
    get_all_baggage,
    get_baggage,
    remove_baggage,
    set_baggage,
)
from datatracing.sdk._carriers import (
    Getter,
    Setter,
    asgi_getter,
    asgi_setter,
    dict_getter,
    dict_setter,
    headers_getter,
    headers_setter,
    kafka_getter,
    kafka_setter,
    wsgi_getter,
)
from datatracing.sdk._context import (
    Context,
    attach,
    detach,
    get_current_context,
    get_value,
    is_instrumentation_suppressed,
    set_value,
    suppress_instrumentation,
)
from datatracing.sdk._global import get_tracer, get_tracer_provider, set_tracer_provider
from datatracing.sdk._otlp import encode_otlp_spans
from datatracing.sdk._processor import (
    BatchSpanProcessor,
    ExportResult,
    SimpleSpanProcessor,
    SpanExporter,
    SpanProcessor,
)
from datatracing.sdk._propagation import (
    CompositePropagator,
    TextMapPropagator,
    TraceContextPropagator,
    extract,
    get_global_propagator,
    inject,
    set_global_propagator,
)
from datatracing.sdk._provider import TracerProvider
from datatracing.sdk._readable import ReadableSpan
from datatracing.sdk._resource import build_resource
from datatracing.sdk._sampling import ALWAYS_OFF, ALWAYS_ON, ParentBasedSampler, Sampler, TraceIdRatioSampler
from datatracing.sdk._tracer import CurrentSpan, Tracer
from datatracing.sdk.exporters import (
    ConsoleSpanExporter,
    InMemorySpanExporter,
    JsonlFileSpanExporter,
    KafkaSpanExporter,
    OtlpHttpSpanExporter,
)

__all__ = [
    "ALWAYS_OFF",
    "ALWAYS_ON",
    "INVALID_SPAN",
    "INVALID_SPAN_CONTEXT",
    "BaggagePropagator",
    "BatchSpanProcessor",
    "CompositePropagator",
    "ConsoleSpanExporter",
    "Context",
    "CurrentSpan",
    "ExportResult",
    "Getter",
    "InMemorySpanExporter",
    "JsonlFileSpanExporter",
    "KafkaSpanExporter",
    "Link",
    "NonRecordingSpan",
    "OtlpHttpSpanExporter",
    "ParentBasedSampler",
    "ReadableSpan",
    "Sampler",
    "Setter",
    "SimpleSpanProcessor",
    "Span",
    "SpanContext",
    "SpanExporter",
    "SpanKind",
    "SpanLimits",
    "SpanProcessor",
    "StatusCode",
    "TextMapPropagator",
    "TraceContextPropagator",
    "TraceIdRatioSampler",
    "Tracer",
    "TracerProvider",
    "asgi_getter",
    "asgi_setter",
    "attach",
    "build_resource",
    "clear_baggage",
    "detach",
    "dict_getter",
    "dict_setter",
    "encode_otlp_spans",
    "extract",
    "get_all_baggage",
    "get_baggage",
    "get_current_context",
    "get_current_span",
    "get_global_propagator",
    "get_tracer",
    "get_tracer_provider",
    "get_value",
    "headers_getter",
    "headers_setter",
    "inject",
    "is_instrumentation_suppressed",
    "kafka_getter",
    "kafka_setter",
    "remove_baggage",
    "set_baggage",
    "set_global_propagator",
    "set_span_in_context",
    "set_tracer_provider",
    "set_value",
    "suppress_instrumentation",
    "use_span",
    "wsgi_getter",
]
