"""Prometheus metrics of the sink, read from its `SinkStats` at scrape time.

The store worker serves them at `/metrics` of the query service it hosts (the embedded stack).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, make_asgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from datatracing.pipeline.sink._agent import SinkStats

__all__ = ["SinkCollector", "sink_metrics_app"]


class SinkCollector(Collector):
    """The sink's counters: batches and spans written, dead letters, store retries."""

    def __init__(self, stats: SinkStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Any]:
        stats = self.stats
        batches = CounterMetricFamily("datatracing_sink_batches", "Batches inserted into the store")
        batches.add_metric([], stats.batches)
        spans = CounterMetricFamily("datatracing_sink_spans_written", "Spans inserted into the store")
        spans.add_metric([], stats.spans_written)
        dead = CounterMetricFamily(
            "datatracing_sink_dead_lettered",
            "Records the sink dead-lettered (undecodable, or rows the store refused)",
        )
        dead.add_metric([], stats.messages_dead_lettered)
        retries = CounterMetricFamily(
            "datatracing_sink_store_retries", "Inserts retried after the store was unavailable"
        )
        retries.add_metric([], stats.store_retries)
        failing = GaugeMetricFamily(
            "datatracing_sink_store_failing", "1 while the last insert attempt failed, else 0"
        )
        failing.add_metric([], 1 if stats.store_failing else 0)
        yield from (batches, spans, dead, retries, failing)


class _MetricsApp:
    # An object, not a function: Faust's ASGI service stores the app as a class attribute, where a
    # plain function would become a bound method.
    def __init__(self, registry: CollectorRegistry) -> None:
        self._app = make_asgi_app(registry)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._app(scope, receive, send)


def sink_metrics_app(stats: SinkStats) -> Any:
    """An ASGI app answering with the sink's metrics in Prometheus text (mount it at `/metrics`)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SinkCollector(stats))
    return _MetricsApp(registry)
