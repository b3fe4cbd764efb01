"""Prometheus metrics of the sink, read from its `SinkStats` (and its consumer) at scrape time.

The store worker serves them at `/metrics` of the query service it hosts (the embedded stack); the sink
worker alone serves them on its own HTTP port (`worker.web_port + 1`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest, make_asgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from datatracing.pipeline.sink._agent import SinkStats

__all__ = ["SinkCollector", "sink_metrics_app", "sink_metrics_text"]

#: Messages behind, by partition: the consumer's high watermark minus its committed offset.
LagReader = Callable[[], Mapping[int, int]]


class SinkCollector(Collector):
    """The sink's counters: batches and spans written, dead letters, store retries, insert durations;
    with `lag`, the consumer's lag by partition; with `paused`, whether the consumer paused fetching.

    `datatracing_sink_paused` is 1 while the sink does not take new records: a batch waits for the
    store (retrying), or `paused()` says the consumer paused its partitions."""

    def __init__(
        self, stats: SinkStats, *, lag: LagReader | None = None, paused: Callable[[], bool] | None = None
    ) -> None:
        self.stats = stats
        self.lag = lag
        self.paused = paused

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
        buckets, total = stats.insert_duration.snapshot()
        yield HistogramMetricFamily(
            "datatracing_sink_insert_duration_seconds",
            "Time one batch's store insert took (failed attempts included)",
            buckets=buckets,
            sum_value=total,
        )
        paused = GaugeMetricFamily(
            "datatracing_sink_paused", "1 while the sink takes no new records (store retry, paused fetch)"
        )
        paused.add_metric([], 1 if stats.store_failing or (self.paused is not None and self.paused()) else 0)
        yield paused
        if self.lag is not None:
            lag = GaugeMetricFamily(
                "datatracing_sink_consumer_lag",
                "Records between the committed offset and the high watermark, by partition",
                labels=["partition"],
            )
            for partition, behind in sorted(self.lag().items()):
                lag.add_metric([str(partition)], behind)
            yield lag


class _MetricsApp:
    # An object, not a function: Faust's ASGI service stores the app as a class attribute, where a
    # plain function would become a bound method.
    def __init__(self, registry: CollectorRegistry) -> None:
        self._app = make_asgi_app(registry)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._app(scope, receive, send)


def sink_metrics_text(collector: SinkCollector, *more: Collector) -> Callable[[], bytes]:
    """A function rendering the metrics of `collector` (and of `more`) in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    for one in (collector, *more):
        registry.register(one)

    def render() -> bytes:
        return generate_latest(registry)

    return render


def sink_metrics_app(stats: SinkStats) -> Any:
    """An ASGI app answering with the sink's metrics in Prometheus text (mount it at `/metrics`)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SinkCollector(stats))
    return _MetricsApp(registry)
