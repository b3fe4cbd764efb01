"""Suite `sdk`: span cost against the OpenTelemetry SDK, exporter and ingest throughput, broker down.

The broker-down figures show what a host service feels when Kafka is unreachable: the caller's
per-span p99 (start, two attributes, end, through `BatchSpanProcessor` + `KafkaSpanExporter`) with the
broker up and with it down, the spans dropped and counted (every span, when the broker is down), and
the process memory growth, which the queue bounds keep flat. The loop creates spans far faster than
any exporter ships them, so the processor's queue is full the whole time: the worst case for callers.
"""

from __future__ import annotations

import resource
import time

from datatracing.pipeline.bench._ingest import run_ingest_bench
from datatracing.pipeline.broker import EmbeddedBroker, free_port
from datatracing.sdk import BatchSpanProcessor, KafkaSpanExporter, TracerProvider
from datatracing.sdk._bench import run_sdk_bench


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
