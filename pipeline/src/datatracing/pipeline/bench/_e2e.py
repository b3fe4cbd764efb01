"""Suite `e2e`: what one machine sustains end to end, under offered load in steps.

The embedded stack (broker, sampler worker, store worker: the processes `datatracing up` runs,
keep-all policy) takes load from an independent producer process (`_load`) in steps of rising rate
(`RATES`: 5k, 7.5k, 10k, 12.5k, ... spans/s, each `duration / 6` long, 10 s by default). For each
step the suite reports the rate the producer sent, the rate the store received (the sink's committed
messages), the lag of each stage at the end and its low point late in the step (read every
`_load.SAMPLE_MARK_S`; `_observe`: counted from what was produced or forwarded, never from high
watermarks), the latency from a probe trace's produce to its
being queryable (all its spans counted by the store, one in ten also fetched through
`GET /v1/traces/{id}`; p50/p95/p99, about two probes a second, watched on a thread of its own; split
where the sampler decided the trace, see `_stages`), and CPU per span of each process (the store
worker's also split by thread: Python, the engine's merges, the rest of the engine).

A step is sustained (`_e2e_steps.Step.sustained`) when, for both stages, the lowest lag read in
the step's last quarter is at most `LAG_BOUND_S` seconds of the step's rate beyond what the stage
holds back by design (`STAGE_HOLD_S`: the sampler's wait after the root, the sink's batch wait and
commit interval) and at most `GROWTH_BOUND_S` seconds of it above the lowest in its second quarter,
and the producer kept up. Low points, because each stage's lag is a sawtooth by design (a stage
commits behind what it still holds): a single reading lands anywhere on a tooth. Stepping
stops at the first step that is not sustained; `max_sustained_spans_per_s` is the highest sustained
step, and `saturated_delivered_spans_per_s` what the store received during the next one.

A run of `SOAK_FROM_S` or more is a soak: the steps are `STEP_S` long, then it holds
`SOAK_FRACTION` of the highest sustained rate for the time left, reporting the highest lag of each
stage over the `_load.SAMPLE_MARK_S` samples and printing a progress line every
`_e2e_steps.PROGRESS_EVERY_S`. Every run samples the processes' RSS (and its anonymous part,
`RssAnon`) every `RSS_EVERY_S` and reports it at the start, at minute 5 (when reached), at the end
and at its peak, with the soak goal's `{process}_rss_growth` (`_memory.rss_figures`); so too the
store worker's embedded engine memory by kind (`store_engine_<kind>_memory_mb_*`, from its
`/metrics`: what the engine tracks, its caches, its allocator), which tells whose memory grew. Then
the suite waits until the store holds every sent span, and measures the raw copy rate (consume +
produce, no logic) on the same broker, over messages of the run.

With `rate`, the run is one step at that rate for the whole duration (no ladder, no soak, no raw
copy): a fixed load to compare two versions or settings by CPU per span of each process, latency,
lag and RSS, back to back on one machine.

With `kafka`, everything runs against that cluster instead of the embedded broker, whose memory
storage keeps every record and grows its CPU per fetch with them (README, "A caveat of the embedded
broker"): the way to a soak at the full half-max rate.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datatracing.pipeline.bench._e2e_steps import (
    PROGRESS_EVERY_S,
    WAIT_AFTER_ROOT_S,
    Step,
    e2e_figures,
    fixed_figures,
)
from datatracing.pipeline.bench._kafka import bench_topics, drop_topics, raw_copy_rate
from datatracing.pipeline.bench._load import LoadProcess
from datatracing.pipeline.bench._memory import MemorySamples
from datatracing.pipeline.bench._observe import (
    CommittedOffsets,
    ProbeTracker,
    mem_available_bytes,
    proc_cpu_s,
    proc_rss_bytes,
    proc_thread_cpu_s,
    sampler_kept,
    stored_spans,
)
from datatracing.pipeline.bench._stages import DecisionWatch, StoreWindow, split_line
from datatracing.pipeline.broker import EmbeddedBroker, free_port
from datatracing.pipeline.config import KafkaSettings, QuerySettings, Settings, SinkSettings, WorkerSettings
from datatracing.pipeline.runtime import Stack
from datatracing.pipeline.sampler import SamplerSettings

__all__ = ["E2EPlan", "run_e2e"]

#: Offered load per step, spans/s: a ladder fine enough (a quarter of 10k) to place the knee.
RATES = (
    5_000,
    7_500,
    10_000,
    12_500,
    15_000,
    17_500,
    20_000,
    25_000,
    30_000,
    35_000,
    40_000,
    50_000,
    60_000,
    80_000,
)
QUICK_RATES = (1_000, 2_000, 4_000)
SOAK_FROM_S = 600.0
#: A soak's steps last this long; a shorter run's last `duration / 6`.
STEP_S = 10.0
#: A soak holds this fraction of the highest sustained rate.
SOAK_FRACTION = 0.5
#: A soak's rate is also capped so that the embedded broker's growth stays within this share of the
#: memory available when the soak starts (see `_Run.broker_memory_rate`).
BROKER_MEMORY_SHARE = 0.6
RSS_EVERY_S = 10.0
#: The prefix of each run's own sampler and sink consumer groups (a cluster given with `kafka` may
#: run a pipeline of its own, whose groups the bench must not join).
GROUP_PREFIX = "datatracing-bench"
#: Messages of the run the raw copy moves (enough for a steady rate, few enough to stay short).
RAW_COPY_MESSAGES = 20_000


@dataclass(frozen=True)
class E2EPlan:
    rates: tuple[float, ...]
    step_s: float
    duration_s: float
    #: One step at a fixed rate (`rate` given), not a ladder.
    fixed: bool = False

    @staticmethod
    def make(quick: bool, duration_s: float | None, rate: float | None = None) -> E2EPlan:
        rates = QUICK_RATES if quick else RATES
        duration = duration_s if duration_s is not None else (9.0 if quick else 60.0)
        if rate is not None:
            return E2EPlan((rate,), duration, duration, fixed=True)
        if quick:
            return E2EPlan(rates, duration / len(rates), duration)
        return E2EPlan(rates, STEP_S if duration >= SOAK_FROM_S else duration / 6, duration)

    @property
    def soak(self) -> bool:
        return not self.fixed and self.duration_s >= SOAK_FROM_S


class _Run:
    """The measuring side of one run: drives the load process and samples the stack."""

    def __init__(self, stack: Stack, load: LoadProcess, topics: Any, spans_per_message: float) -> None:
        bootstrap = stack.settings.kafka.bootstrap_servers
        self.stack, self.load, self.spm = stack, load, spans_per_message
        self.pids = {name: proc.pid for name, proc in stack.workers.items()}
        settings = stack.settings
        self.sampler_offsets = CommittedOffsets(
            bootstrap, settings.sampler.group_id, topics.spans, topics.partitions
        )
        self.sink_offsets = CommittedOffsets(
            bootstrap, settings.sink.group_id, topics.sampled, topics.partitions
        )
        self.decisions = DecisionWatch(bootstrap, topics.decisions, topics.partitions)
        self.probes = ProbeTracker(stack.query_url, decided=self.decisions.decided_at)
        self.probes.start()
        self.store_window = StoreWindow(f"{stack.query_url}/metrics", stack.query_url)
        self.memory = MemorySamples(
            self.pids, {"store": f"{stack.query_url}/metrics", "sampler": stack.metrics_url}
        )
        self.started = time.monotonic()
        self._rss_at = 0.0
        self.sent = (0, 0)
        #: Messages the sink committed (so stored) at the last `lags` call.
        self.written = 0
        #: The broker's RSS growth per span sent, when a soak measured it.
        self.broker_bytes_per_span = 0.0

    def broker_memory_rate(self, seconds: float) -> float:
        """The highest rate (spans/s, a multiple of 500) whose traffic the embedded broker can hold
        for `seconds` within `BROKER_MEMORY_SHARE` of the memory available now.

        tansu's memory storage keeps every record produced (it has no retention, and does not
        implement `DeleteRecords`), so its RSS grows with the traffic; the growth per span so far
        (produced and forwarded records, offsets and indexes) is projected over the soak.
        """
        if "broker" not in self.pids:
            return float("inf")  # a cluster of its own, with its own retention
        samples = self.memory.rss.get("broker", [])
        grown = proc_rss_bytes(self.pids["broker"]) - (samples[0][1] if samples else 0)
        per_span = grown / max(self.sent[0], 1)
        available = mem_available_bytes()
        if per_span <= 0 or available <= 0:
            return float("inf")
        self.broker_bytes_per_span = per_span
        rate = BROKER_MEMORY_SHARE * available / (per_span * seconds)
        return max(500.0, rate // 500 * 500)

    def add_pid(self, name: str, pid: int | None) -> None:
        if pid is not None:
            self.pids[name] = pid  # `self.memory` samples it from now on

    def lags(self, messages: int) -> tuple[int, int]:
        """(sampler, sink) lag in spans, given the messages produced so far."""
        sampler = messages - self.sampler_offsets.total()
        self.written = self.sink_offsets.total()
        sink = sampler_kept(self.stack.metrics_url) - self.written
        return round(max(0, sampler) * self.spm), round(max(0, sink) * self.spm)

    def _sample_rss(self) -> None:
        now = time.monotonic()
        if now - self._rss_at >= RSS_EVERY_S:
            self._rss_at = now
            self.memory.sample(now - self.started)

    def _next_report(self, timeout_s: float) -> tuple[Any, ...] | None:
        try:
            report: tuple[Any, ...] = self.load.reports.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if report[0] == "probe":
            self.probes.add(*report[1:])
            return None
        return report

    def step(self, index: int, rate: float, seconds: float) -> Step:
        result = Step(rate, seconds)
        cpu0 = {name: proc_cpu_s(pid) for name, pid in self.pids.items()}
        threads0 = proc_thread_cpu_s(self.pids["store"])
        written0, sent0 = self.sink_offsets.total(), self.sent[0]
        next_progress = PROGRESS_EVERY_S if result.long else float("inf")
        if result.long:  # start the first progress line's window now
            self.probes.take_recent()
            self.store_window.sample()
        started = time.monotonic()
        self.load.run_step(index, rate, seconds)
        deadline = started + seconds + 120
        while time.monotonic() < deadline:
            self._sample_rss()
            report = self._next_report(0.05)
            if report is None or report[0] != "mark":
                continue
            _, _, where, spans, messages, took_s = report
            if where == "sample":
                lags = self.lags(messages)
                result.lag_samples.append((took_s, *lags))
                if took_s >= next_progress:
                    next_progress += PROGRESS_EVERY_S
                    self._progress(lags)
                continue
            result.lag_end = self.lags(messages)
            result.lag_samples.append((took_s, *result.lag_end))
            self.sent, result.sent_s = (spans, messages), took_s
            break
        result.elapsed_s = time.monotonic() - started
        result.sent_spans = self.sent[0] - sent0
        # The sink commits a message's offset once its spans are inserted: committed messages are
        # stored ones (keep-all, one trace per message), without a count over the store.
        result.delivered_spans = round((self.written - written0) * self.spm)
        result.cpu_s = {name: proc_cpu_s(pid) - cpu0[name] for name, pid in self.pids.items()}
        threads1 = proc_thread_cpu_s(self.pids["store"])
        result.store_threads_s = {name: cpu - threads0.get(name, 0.0) for name, cpu in threads1.items()}
        return result

    def _progress(self, lags: tuple[int, int]) -> None:
        """One line on stderr every `PROGRESS_EVERY_S` of a long step: lags, the latency split of the
        probes found since the previous line, what the store did meanwhile, the store worker's memory."""
        elapsed = time.monotonic() - self.started
        probes = split_line(self.probes.take_recent())
        store, memory = self.store_window.sample(), self.memory.store_line()
        line = f"[{elapsed:5.0f} s] lag {lags[0]}/{lags[1]} spans; {probes}; {store}; {memory}"
        print(line, file=sys.stderr)

    def warm_up(self, timeout_s: float = 180.0) -> None:
        """Low load until a probe is queryable: the consumer groups have joined and work."""
        deadline = time.monotonic() + timeout_s
        while not self.probes.latencies(-1):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no probe trace queryable within {timeout_s:.0f}s of warm-up")
            self.step(-1, 200, 1.0)

    def drain(self, timeout_s: float) -> tuple[int, float]:
        """Wait until the store holds every sent span (or the deadline); (stored, seconds waited)."""
        started = time.monotonic()
        self.sent = self.load.stop()
        stored = stored_spans(self.stack.query_url)
        while stored < self.sent[0] and time.monotonic() - started < timeout_s:
            time.sleep(0.5)
            stored = stored_spans(self.stack.query_url)
        waited = time.monotonic() - started
        self.probes.stop()
        self.probes.poll()
        return stored, waited

    def close(self) -> None:
        """Close every watcher, whichever of them raises."""
        with contextlib.ExitStack() as closing:
            for watcher in (self.decisions, self.sampler_offsets, self.sink_offsets, self.probes):
                closing.callback(watcher.close)


def _run_steps(run: _Run, plan: E2EPlan) -> tuple[list[Step], int]:
    """Run the steps (and the soak's hold); the steps run and the highest sustained step's index."""
    steps: list[Step] = []
    best = -1
    for index, rate in enumerate(plan.rates):
        step = run.step(index, rate, plan.step_s)
        steps.append(step)
        if not step.sustained():
            break
        best = index
    left = plan.duration_s - sum(s.seconds for s in steps)
    if plan.soak and best >= 0 and left > 0:
        half = plan.rates[best] * SOAK_FRACTION
        soak_rate = min(half, run.broker_memory_rate(left))
        capped = " (capped by the embedded broker's memory)" if soak_rate < half else ""
        print(
            f"soak: {soak_rate:,.0f} spans/s for {left:,.0f} s; the ladder sustained "
            f"{plan.rates[best]:,.0f}{capped}",
            file=sys.stderr,
        )
        steps.append(run.step(len(steps), soak_rate, left))
    return steps, best


def run_e2e(
    quick: bool, duration_s: float | None = None, kafka: str | None = None, rate: float | None = None
) -> dict[str, float]:
    """Run the suite on the embedded broker, or with `kafka` (bootstrap servers) on that cluster:
    the bench's topics are created there under fresh names, and the broker's CPU and RSS are not
    reported (it is not a local process the bench knows). With `rate`, one fixed step (see the
    module docstring)."""
    plan = E2EPlan.make(quick, duration_s, rate)
    with contextlib.ExitStack() as cleanup:
        broker = None if kafka else cleanup.enter_context(EmbeddedBroker())
        bootstrap = broker.bootstrap_servers if broker is not None else str(kafka)
        tmp = cleanup.enter_context(tempfile.TemporaryDirectory())
        topics = bench_topics(bootstrap)
        if kafka:  # leave the cluster as it was found
            cleanup.callback(drop_topics, bootstrap, topics)
        groups = f"{GROUP_PREFIX}-{topics.spans.rsplit('-', 1)[-1]}"
        settings = Settings(
            data_dir=Path(tmp),
            kafka=KafkaSettings(bootstrap_servers=bootstrap),
            topics=topics,
            query=QuerySettings(port=free_port()),
            worker=WorkerSettings(web_port=free_port(), log_level="warning"),
            sampler=SamplerSettings(
                group_id=f"{groups}-sampler",
                decision_wait=2 * WAIT_AFTER_ROOT_S,
                wait_after_root=WAIT_AFTER_ROOT_S,
            ),
            sink=SinkSettings(group_id=f"{groups}-sink"),
        )
        stack = Stack(settings, broker_port=None)
        load = LoadProcess(bootstrap, topics.spans)
        stack.start()
        try:
            spans_per_message = load.start()
            run = _Run(stack, load, topics, spans_per_message)
            run.add_pid("broker", broker.pid if broker else None)
            try:
                run.warm_up()
                steps, best = _run_steps(run, plan)
                stored, drain_s = run.drain(timeout_s=300.0)
                if plan.fixed:
                    figures = fixed_figures(steps[0], run.probes.latencies_ms, run.probes.splits)
                else:
                    figures = e2e_figures(steps, best, run.probes.latencies_ms, run.probes.splits)
                if run.broker_bytes_per_span:
                    figures["broker_rss_bytes_per_span"] = round(run.broker_bytes_per_span, 1)
                    figures["soak_half_max_spans_per_s"] = plan.rates[best] * SOAK_FRACTION
                figures.update(run.memory.figures())
                sent_spans, sent_messages = run.sent
            finally:
                run.close()
        finally:
            if load.process.is_alive():
                load.stop()
            stack.stop()
        summary = {
            "duration_s": plan.duration_s,
            "wait_after_root_s": WAIT_AFTER_ROOT_S,
            "spans_per_message": round(spans_per_message, 2),
            "sent_spans": float(sent_spans),
            "stored_spans": float(stored),
            "drain_s": round(drain_s, 1),
        }
        if plan.fixed:
            return {**summary, **figures}
        count = min(sent_messages, RAW_COPY_MESSAGES)
        raw = raw_copy_rate(
            bootstrap,
            topics.spans,
            topics.partitions,
            count,
            round(count * spans_per_message),
            drop=bool(kafka),
        )
    sustained = figures["max_sustained_spans_per_s"]
    return {
        **summary,
        "step_s": round(plan.step_s, 1),
        **figures,
        "raw_copy_spans_per_s": round(raw, 1),
        "ratio": round(sustained / raw, 3) if raw else 0.0,
    }
