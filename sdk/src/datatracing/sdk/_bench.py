"""The SDK benchmark behind `datatracing bench sdk`: span cost against OpenTelemetry, export throughput.

OpenTelemetry's SDK is imported here only, lazily: it is a development dependency, never one of the
SDK's. Both tracers are measured in the same process, same loop, same no-op processor, best of several
repeats, so the ratio holds on any machine even where absolute figures do not.
"""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Callable
from typing import Any

from datatracing.sdk._context import Context
from datatracing.sdk._otlp import encode_otlp_spans
from datatracing.sdk._processor import BatchSpanProcessor
from datatracing.sdk._provider import TracerProvider
from datatracing.sdk._readable import ReadableSpan

__all__ = ["run_sdk_bench"]


class _NoopProcessor:
    def on_start(self, span: ReadableSpan, parent_context: Context) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_s: float = 30) -> bool:
        return True


class _Collect(_NoopProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def _span_loop(tracer: Any, count: int) -> float:
    """Seconds for `count` spans, each started, given two attributes, and ended."""
    gc.collect()
    start = time.perf_counter()
    for _ in range(count):
        span = tracer.start_span("bench.op")
        span.set_attribute("bench.index", 1)
        span.set_attribute("bench.name", "value")
        span.end()
    return time.perf_counter() - start


def _best(run: Callable[[], float], repeats: int) -> float:
    return min(run() for _ in range(repeats))


def _otel_tracer() -> Any:
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace import TracerProvider as OtelTracerProvider

    provider = OtelTracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SpanProcessor())  # the base class is a no-op processor
    return provider.get_tracer("bench")


def _exporter_throughput(bootstrap_servers: str, count: int) -> dict[str, float]:
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import NewTopic

    from datatracing.sdk.exporters import KafkaSpanExporter

    topic = f"bench-sdk-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    admin.create_topics([NewTopic(topic, 4, 1)])[topic].result(timeout=30)
    exporter = KafkaSpanExporter(bootstrap_servers, topic)
    # A queue as large as the run: the figure is export throughput, not how many spans a full queue drops.
    processor = BatchSpanProcessor(exporter, max_queue_size=count, schedule_delay_s=0.2)
    provider = TracerProvider(service_name="bench", shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")
    try:
        start = time.perf_counter()
        for _ in range(count // 5):  # traces of a root and four children
            with tracer.start_as_current_span("bench.root", attributes={"bench.kind": "root"}):
                for index in range(4):
                    child = tracer.start_span("bench.child", attributes={"bench.index": index})
                    child.end()
        flushed = provider.force_flush(60)
        elapsed = time.perf_counter() - start
    finally:
        provider.shutdown()
        admin.delete_topics([topic])
    return {
        "exporter_spans_per_s": exporter.delivered_spans / elapsed,
        "exporter_delivered_spans": float(exporter.delivered_spans),
        "exporter_dropped_spans": float(exporter.dropped_spans + processor.dropped_spans),
        "exporter_flushed": float(flushed),
    }


def run_sdk_bench(quick: bool = False, bootstrap_servers: str | None = None) -> dict[str, float]:
    """Measure the SDK; keys: `ours_us_per_span`, `otel_us_per_span`, `ratio` (ours / OpenTelemetry),
    `otlp_encode_us_per_span`, and with a broker `exporter_spans_per_s` (plus delivered/dropped counts).
    """
    count = 5_000 if quick else 20_000
    repeats = 3 if quick else 7
    provider = TracerProvider(service_name="bench", shutdown_on_exit=False)
    provider.add_span_processor(_NoopProcessor())
    ours_tracer = provider.get_tracer("bench")
    otel_tracer = _otel_tracer()
    ours: list[float] = []
    otel: list[float] = []
    _span_loop(ours_tracer, 1000)  # warm both up before timing
    _span_loop(otel_tracer, 1000)
    for _ in range(repeats):  # interleaved, so a noisy moment hurts both alike
        ours.append(_span_loop(ours_tracer, count))
        otel.append(_span_loop(otel_tracer, count))
    ours_us = min(ours) / count * 1e6
    otel_us = min(otel) / count * 1e6

    collect = _Collect()
    encode_provider = TracerProvider(service_name="bench", shutdown_on_exit=False)
    encode_provider.add_span_processor(collect)
    _span_loop(encode_provider.get_tracer("bench"), 2_000)
    encode_us = _best(lambda: _timed(lambda: encode_otlp_spans(collect.spans)), repeats) / 2_000 * 1e6

    results = {
        "ours_us_per_span": ours_us,
        "otel_us_per_span": otel_us,
        "ratio": ours_us / otel_us,
        "otlp_encode_us_per_span": encode_us,
    }
    if bootstrap_servers:
        results.update(_exporter_throughput(bootstrap_servers, 20_000 if quick else 100_000))
    return results


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start
