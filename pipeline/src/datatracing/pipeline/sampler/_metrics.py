"""Prometheus metrics of the sampler worker, served as text on the worker's HTTP port with its
`/healthz` and `/readyz` (ready: the broker answers a metadata request)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from datatracing.pipeline.http_health import ReadinessProbe, metadata_check, worker_http_app

if TYPE_CHECKING:
    from datatracing.pipeline.sampler._runner import SamplerRunner

_LATENCY_BUCKETS_S = (0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120)


class SamplerCollector(Collector):
    """Reads the runner's engines at scrape time: nothing is counted twice on the hot path."""

    def __init__(self, runner: SamplerRunner) -> None:
        self.runner = runner

    def collect(self) -> Iterator[Any]:
        engines = list(self.runner.engines.values())
        spans_in = CounterMetricFamily("datatracing_sampler_spans", "Spans received", labels=["partition"])
        late = CounterMetricFamily(
            "datatracing_sampler_late_spans", "Spans after their trace's decision", labels=["decision"]
        )
        decided = CounterMetricFamily(
            "datatracing_sampler_traces_decided", "Traces decided", labels=["decision", "policy"]
        )
        buffered = GaugeMetricFamily("datatracing_sampler_buffered", "Buffered state", labels=["unit"])
        lag = GaugeMetricFamily(
            "datatracing_sampler_uncommitted_offsets",
            "Offsets received but not yet committable, by partition",
            labels=["partition"],
        )
        empty = CounterMetricFamily(
            "datatracing_sampler_empty_messages",
            "Messages that decoded to no span (empty requests): dropped, nothing to keep or reject",
        )
        quarantined = CounterMetricFamily(
            "datatracing_sampler_quarantined",
            "Messages whose handling raised, traces whose decision raised, messages skipped after "
            "crashing the worker: dead-lettered",
            labels=["unit"],
        )
        empty_count = quarantined_traces = 0
        late_kept = late_dropped = 0
        by_policy: dict[tuple[str, str], int] = {}
        traces = spans = size = 0
        for engine in engines:
            stats = engine.stats
            spans_in.add_metric([str(engine.partition)], stats.spans_in)
            empty_count += stats.empty_messages
            quarantined_traces += stats.quarantined_traces
            late_kept += stats.late_kept
            late_dropped += stats.late_dropped
            for (keep, policy), count in stats.decisions.items():
                key = ("keep" if keep else "drop", policy)
                by_policy[key] = by_policy.get(key, 0) + count
            traces += stats.buffered_traces
            spans += stats.buffered_spans
            size += stats.buffered_bytes
            lag.add_metric([str(engine.partition)], max(0, stats.next_offset - engine.committable_offset()))
        consumer_lag = GaugeMetricFamily(
            "datatracing_sampler_consumer_lag",
            "Messages between the next offset to read and the high watermark, by partition",
            labels=["partition"],
        )
        for partition, behind in sorted(self.runner.consumer_lag.items()):
            consumer_lag.add_metric([str(partition)], behind)
        late.add_metric(["keep"], late_kept)
        late.add_metric(["drop"], late_dropped)
        for (decision, policy), count in sorted(by_policy.items()):
            decided.add_metric([decision, policy], count)
        buffered.add_metric(["traces"], traces)
        buffered.add_metric(["spans"], spans)
        buffered.add_metric(["bytes"], size)
        paused = GaugeMetricFamily(
            "datatracing_sampler_paused_partitions", "Partitions paused by backpressure"
        )
        paused.add_metric([], len(self.runner.paused))
        dead = CounterMetricFamily("datatracing_sampler_dead_lettered", "Messages or parts dead-lettered")
        dead.add_metric([], self.runner.dead_lettered)
        empty.add_metric([], empty_count)
        quarantined.add_metric(["messages"], self.runner.quarantined_messages)
        quarantined.add_metric(["traces"], quarantined_traces)
        quarantined.add_metric(["crashed_worker"], self.runner.crash_quarantined)
        dead_failures = CounterMetricFamily(
            "datatracing_sampler_dead_letter_failures",
            "Attempts to write a dead letter that raised (each followed by a backoff pause)",
        )
        dead_failures.add_metric([], self.runner.dead_letter_failures)
        dead_skipped = CounterMetricFamily(
            "datatracing_sampler_dead_letters_skipped",
            "Dead letters not written again on a replay because they already are on the topic",
        )
        dead_skipped.add_metric([], self.runner.dead_letters_skipped)
        split = CounterMetricFamily(
            "datatracing_sampler_split_payloads",
            "Kept payloads forwarded as several messages to fit kafka.max_message_bytes",
        )
        split.add_metric([], self.runner.split_payloads)
        # One sorted copy serves the histogram (by bisection) and the quantiles: scrapes stay cheap
        # beside the sampling thread.
        samples = sorted(self.runner.decision_latency_ns)
        yield from (spans_in, late, decided, buffered, lag, consumer_lag, dead, paused)
        yield from (empty, quarantined, dead_failures, dead_skipped, split)
        yield from (self._latency(samples), self._quantiles(samples))

    def _quantiles(self, samples: list[int]) -> GaugeMetricFamily:
        gauge = GaugeMetricFamily(
            "datatracing_sampler_decision_latency_quantile_seconds",
            "Last span received to decision, quantiles of recent decisions",
            labels=["quantile"],
        )
        for q in (0.5, 0.95, 0.99):
            value = samples[min(len(samples) - 1, int(q * len(samples)))] / 1e9 if samples else 0.0
            gauge.add_metric([str(q)], value)
        return gauge

    def _latency(self, samples: list[int]) -> HistogramMetricFamily:
        buckets = [(str(b), float(bisect_right(samples, b * 1e9))) for b in _LATENCY_BUCKETS_S]
        buckets.append(("+Inf", float(len(samples))))
        return HistogramMetricFamily(
            "datatracing_sampler_decision_latency_seconds",
            "Last span received to decision (recent decisions)",
            buckets=buckets,
            sum_value=sum(samples) / 1e9,
        )


def metrics_app(runner: SamplerRunner, *more: Collector) -> Any:
    """The worker's HTTP app: `/metrics` with the runner's metrics (and those of `more`), `/healthz`,
    `/readyz`."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in (SamplerCollector(runner), *more):
        registry.register(collector)
    probe = ReadinessProbe({"broker": metadata_check(runner.producer)})
    return worker_http_app(probe, lambda: generate_latest(registry))
