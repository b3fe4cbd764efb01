"""OpenTelemetry bridge: services on the OpenTelemetry SDK export straight to DataTracing's topic.

Needs the `otel` extra (`pip install 'datatracing-sdk[otel]'`); this package is the only place the
DataTracing SDK imports OpenTelemetry's SDK. Trace context crosses between the two SDKs through the W3C
headers both speak, so one trace can run through services on either.

Example:
    >>> from opentelemetry.sdk.trace import TracerProvider  # doctest: +SKIP
    >>> from opentelemetry.sdk.trace.export import BatchSpanProcessor  # doctest: +SKIP
    >>> exporter = DataTracingKafkaSpanExporter("127.0.0.1:19092")  # doctest: +SKIP
    >>> TracerProvider().add_span_processor(BatchSpanProcessor(exporter))  # doctest: +SKIP
"""

from __future__ import annotations

try:
    import opentelemetry.sdk.trace  # noqa: F401  # probe for the optional extra
except ImportError as exc:  # pragma: no cover - the test environment has the extra
    raise ImportError(
        "datatracing.sdk.otel needs the OpenTelemetry SDK: pip install 'datatracing-sdk[otel]'"
    ) from exc

from datatracing.sdk.otel._convert import otel_span_to_model
from datatracing.sdk.otel._exporter import DataTracingKafkaSpanExporter

__all__ = ["DataTracingKafkaSpanExporter", "otel_span_to_model"]
