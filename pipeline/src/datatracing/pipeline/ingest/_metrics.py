"""Prometheus metrics of the ingest gateway, read from its counters at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from datatracing.pipeline.ingest._connections import ClientStats
from datatracing.pipeline.ingest._publish import IngestStats

__all__ = ["metrics_text"]


class _IngestCollector(Collector):
    def __init__(self, stats: IngestStats, clients: ClientStats, queued: Callable[[], int]) -> None:
        self.stats = stats
        self.clients = clients
        self.queued = queued

    def collect(self) -> Iterator[Any]:
        stats = self.stats
        requests = CounterMetricFamily(
            "datatracing_ingest_requests", "OTLP export requests answered", labels=["outcome"]
        )
        for outcome, count in sorted(stats.requests.items()):
            requests.add_metric([outcome], count)
        yield requests
        spans = CounterMetricFamily("datatracing_ingest_spans", "Spans received", labels=["result"])
        spans.add_metric(["accepted"], stats.spans_accepted)
        spans.add_metric(["rejected"], stats.spans_rejected)
        yield spans
        yield CounterMetricFamily(
            "datatracing_ingest_messages_produced",
            "Messages enqueued for the spans topic",
            value=stats.messages_produced,
        )
        yield CounterMetricFamily(
            "datatracing_ingest_received_bytes", "Request body bytes received", value=stats.bytes_received
        )
        deliveries = CounterMetricFamily(
            "datatracing_ingest_deliveries", "Delivery reports from the broker", labels=["result"]
        )
        deliveries.add_metric(["ok"], stats.deliveries_ok)
        deliveries.add_metric(["failed"], stats.deliveries_failed)
        yield deliveries
        yield GaugeMetricFamily(
            "datatracing_ingest_producer_queue", "Messages waiting in the producer", value=self.queued()
        )
        yield from self._clients()

    def _clients(self) -> Iterator[Any]:
        clients = self.clients
        yield CounterMetricFamily(
            "datatracing_ingest_empty_requests",
            "Export requests holding no span (answered 200)",
            value=clients.empty_requests,
        )
        disconnects = CounterMetricFamily(
            "datatracing_ingest_client_disconnects",
            "Connections closed by the client with a request in flight",
            labels=["phase"],
        )
        for phase, count in clients.disconnects.items():
            disconnects.add_metric([phase], count)
        yield disconnects
        timeouts = CounterMetricFamily(
            "datatracing_ingest_timeouts",
            "Connections closed because a request's headers or body did not arrive in time",
            labels=["phase"],
        )
        for phase, count in clients.timeouts.items():
            timeouts.add_metric([phase], count)
        yield timeouts
        yield CounterMetricFamily(
            "datatracing_ingest_refused_connections",
            "Connections answered 503 and closed because max_connections were open",
            value=clients.refused_connections,
        )
        yield GaugeMetricFamily(
            "datatracing_ingest_open_connections", "Open client connections", value=clients.open_connections
        )


def metrics_text(stats: IngestStats, clients: ClientStats, queued: Callable[[], int]) -> Callable[[], bytes]:
    """A function rendering the gateway's metrics in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_IngestCollector(stats, clients, queued))

    def render() -> bytes:
        return generate_latest(registry)

    return render
