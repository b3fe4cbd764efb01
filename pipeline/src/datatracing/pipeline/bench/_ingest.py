"""Throughput of the ingest gateway on loopback: uvicorn + the gateway here, the client in a second process.

`run_ingest_bench(quick, bootstrap_servers)` publishes to a fresh 4-partition topic. The client is
a minimal HTTP/1.1 writer over a few keep-alive connections (so the client costs little next to the
server) sending 20-span OTLP protobuf requests (4 traces of 5 spans, like a batch exporter's).
Every request must answer 200 and every message must reach the broker, or the bench fails.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
import uuid
from typing import Any

from datatracing.errors import TransientError
from datatracing.pipeline.bench._serve import serve_config_in_thread
from datatracing.pipeline.bench._traffic import TrafficShape, otlp_payloads
from datatracing.pipeline.config import IngestSettings

__all__ = ["INGEST_SHAPE", "bench_payloads", "run_ingest_bench"]

_TRACES_PER_REQUEST = 4
_SPANS_PER_TRACE = 5


#: One service ("checkout"), 4 traces x 5 spans per request with four HTTP attributes, like a batch
#: exporter's request; a fixed time base, so the payloads are the same on every run.
INGEST_SHAPE = TrafficShape(
    min_spans=_SPANS_PER_TRACE,
    max_spans=_SPANS_PER_TRACE,
    error_rate=0.03,
    base_time_ns=1_700_000_000_000_000_000,
    services=(("checkout", ("GET /orders/{id}", "SELECT orders", "UPDATE orders", "cache.get")),),
    attributes="compact",
    traces_per_request=_TRACES_PER_REQUEST,
)


def bench_payloads(count: int, seed: int = 7) -> list[bytes]:
    """`count` distinct OTLP protobuf requests of `INGEST_SHAPE` (4 traces x 5 spans)."""
    return otlp_payloads(count, seed=seed, shape=INGEST_SHAPE)


async def _connection(
    port: int, requests: list[bytes], count: int, offset: int, latencies: list[float]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    failures = 0
    try:
        for index in range(count):
            started = time.perf_counter()
            writer.write(requests[(offset + index) % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            failures += head[9:12] != b"200"
    finally:
        writer.close()
    return failures


def _client_main(port: int, payloads: list[bytes], total: int, connections: int, out: Any) -> None:
    """The client process: `total` requests over `connections` keep-alive connections."""
    requests = [
        b"POST /v1/traces HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/x-protobuf\r\n"
        b"Content-Length: " + str(len(p)).encode() + b"\r\n\r\n" + p
        for p in payloads
    ]

    async def main() -> tuple[float, int, list[float]]:
        latencies: list[float] = []
        per = total // connections
        started = time.perf_counter()
        failures = await asyncio.gather(
            *(_connection(port, requests, per, i * per, latencies) for i in range(connections))
        )
        return time.perf_counter() - started, sum(failures), latencies

    elapsed, failures, latencies = asyncio.run(main())
    latencies.sort()
    out.put(
        (elapsed, failures, len(latencies), latencies[len(latencies) // 2], latencies[-len(latencies) // 100])
    )


def run_ingest_bench(quick: bool, bootstrap_servers: str) -> dict[str, float]:
    """Measure requests/s and spans/s through the gateway to a real broker (loopback only)."""
    from confluent_kafka.cimpl import NewTopic

    from datatracing.pipeline.broker import ensure_topics, free_port
    from datatracing.pipeline.ingest import create_ingest_app, ingest_server_config, make_ingest_producer

    total, connections = (2_000, 4) if quick else (20_000, 8)
    topic = f"ingest-bench-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap_servers, [NewTopic(topic, 4, 1)])
    settings = IngestSettings(flush_timeout_s=30)
    producer = make_ingest_producer(settings, bootstrap_servers)
    app = create_ingest_app(producer, topic, settings)
    port = free_port()
    context = multiprocessing.get_context("spawn")
    results: Any = context.Queue()
    client = context.Process(
        target=_client_main, args=(port, bench_payloads(64), total, connections, results), daemon=True
    )
    config = ingest_server_config(app, settings, port=port, log_level="warning")
    with serve_config_in_thread(config, timeout_s=60):  # the shutdown flushes the producer
        client.start()
        elapsed, failures, answered, p50, p99 = results.get(timeout=300)
        client.join(30)
    stats = app.state.ingest_stats
    spans = answered * _TRACES_PER_REQUEST * _SPANS_PER_TRACE
    if failures or stats.deliveries_failed or stats.deliveries_ok != stats.messages_produced:
        raise TransientError(
            f"ingest bench: {failures} failed requests, {stats.deliveries_failed} failed deliveries, "
            f"{stats.deliveries_ok}/{stats.messages_produced} delivered"
        )
    return {
        "ingest_requests_per_s": answered / elapsed,
        "ingest_spans_per_s": spans / elapsed,
        "ingest_latency_p50_ms": p50 * 1000,
        "ingest_latency_p99_ms": p99 * 1000,
        "ingest_client_connections": float(connections),
        "ingest_cpu_count": float(os.cpu_count() or 1),
    }
