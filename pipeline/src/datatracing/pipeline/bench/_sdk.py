"""Suite `sdk`: span cost against the OpenTelemetry SDK, OTLP encoding, exporter and ingest throughput,
and what a host service feels when the broker is down.

Span cost: both tracers are measured in the same process, same loop, same no-op processor, best of
several interleaved repeats, so the ratio holds on any machine even where absolute figures do not.
OpenTelemetry's SDK is a development dependency, imported here only.

Broker down: the caller's per-span p99 (start, two attributes, end, through `BatchSpanProcessor` +
`KafkaSpanExporter`) with the broker up and with it down, the spans dropped and counted (every span,
when the broker is down), and the process memory growth, which the queue bounds keep flat. The loop
creates spans far faster than any exporter ships them, so the processor's queue is full the whole
time: the worst case for callers.

Only public names of `datatracing.sdk` are used: the benchmark measures what a service gets.
"""

from __future__ import annotations

import gc
import resource
import time
import uuid
from collections.abc import Callable
from typing import Any

from datatracing.pipeline.bench._ingest import run_ingest_bench
from datatracing.pipeline.broker import EmbeddedBroker, free_port
from datatracing.sdk import (
    BatchSpanProcessor,
    Context,
    KafkaSpanExporter,
    ReadableSpan,
    TracerProvider,
    encode_otlp_spans,
)
from datatracing.wire import encode_spans

__all__ = ["run_sdk_bench", "run_sdk_suite"]


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


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _otel_tracer() -> Any:
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace import TracerProvider as OtelTracerProvider

    provider = OtelTracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SpanProcessor())  # the base class is a no-op processor
    return provider.get_tracer("bench")


def _exporter_throughput(bootstrap_servers: str, count: int) -> dict[str, float]:
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import NewTopic

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
    `otlp_encode_us_per_span` (the SDK's exporters' encoding), `wire_encode_us_per_span` (the same
    spans as model spans through `datatracing.wire.encode_spans`), and with a broker
    `exporter_spans_per_s` (plus delivered/dropped counts).
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
    models = [span.to_model() for span in collect.spans]
    encode_s = min(_timed(lambda: encode_otlp_spans(collect.spans)) for _ in range(repeats))
    wire_encode_s = min(_timed(lambda: encode_spans(models)) for _ in range(repeats))

    results = {
        "ours_us_per_span": ours_us,
        "otel_us_per_span": otel_us,
        "ratio": ours_us / otel_us,
        "otlp_encode_us_per_span": encode_s / 2_000 * 1e6,
        "wire_encode_us_per_span": wire_encode_s / 2_000 * 1e6,
    }
    if bootstrap_servers:
        results.update(_exporter_throughput(bootstrap_servers, 20_000 if quick else 100_000))
    return results


def _caller_p99_us(bootstrap: str, spans: int) -> tuple[float, int, float]:
    """(p99 µs per span for the caller, spans dropped, max RSS growth MB) through a Kafka exporter."""
    exporter = KafkaSpanExporter(
        bootstrap, "bench-sdk", max_queue_messages=2_000, max_queue_kbytes=4_096, delivery_timeout_s=2.0
    )
    processor = BatchSpanProcessor(exporter, max_queue_size=2048, schedule_delay_s=0.05)
    provider = TracerProvider(service_name="bench", shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    samples: list[int] = []
    for i in range(spans):
        t0 = time.perf_counter_ns()
        span = tracer.start_span("op")
        span.set_attribute("i", i)
        span.set_attribute("k", "v")
        span.end()
        samples.append(time.perf_counter_ns() - t0)
    provider.force_flush(3)
    provider.shutdown()
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    samples.sort()
    dropped = processor.dropped_spans + exporter.dropped_spans + exporter.failed_spans
    return samples[int(len(samples) * 0.99)] / 1000, dropped, rss_growth


def run_sdk_suite(quick: bool) -> dict[str, float]:
    """All the `sdk` suite's figures, on an embedded broker that the broker-down run then does without."""
    spans = 20_000 if quick else 200_000
    with EmbeddedBroker() as broker:
        figures = run_sdk_bench(quick, broker.bootstrap_servers)
        figures.update(run_ingest_bench(quick, broker.bootstrap_servers))
        up_p99, _, _ = _caller_p99_us(broker.bootstrap_servers, spans)
    down_p99, down_dropped, down_rss = _caller_p99_us(f"127.0.0.1:{free_port()}", spans)
    figures.update(
        {
            "broker_up_caller_p99_us": round(up_p99, 2),
            "broker_down_caller_p99_us": round(down_p99, 2),
            "broker_down_spans": float(spans),
            "broker_down_dropped_spans": float(down_dropped),
            "broker_down_rss_growth_mb": round(down_rss, 1),
        }
    )
    return figures
