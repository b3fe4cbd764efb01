"""The e2e bench's steps and figures: what one step measured, whether it was sustained, and the
figures a run reports from its steps (see `_e2e` for how a run drives the load)."""

from __future__ import annotations

from dataclasses import dataclass, field

from datatracing.pipeline.bench._store import percentile

__all__ = [
    "LATENCY_GOAL_S",
    "PROGRESS_EVERY_S",
    "WAIT_AFTER_ROOT_S",
    "Step",
    "e2e_figures",
    "fixed_figures",
]

LAG_BOUND_S = 2.0
#: What each stage holds back by design before committing, in seconds of traffic: the sampler its
#: decision wait, the sink its batch wait and Faust's commit interval (set in `run_e2e`/defaults).
STAGE_HOLD_S = (1.0, 1.5)
GROWTH_BOUND_S = 0.5
#: The parts of a step (as fractions of it) whose lowest lag is compared: a stage keeps up when its
#: lag at the end of the step has come back as low as in the middle.
MID_WINDOW = (0.25, 0.5)
END_WINDOW = (0.75, 1.0)
WAIT_AFTER_ROOT_S = 1.0
#: A long step (a soak, a fixed-rate run) prints a progress line this often: the lag sample that
#: passes each multiple of it.
PROGRESS_EVERY_S = 30.0
#: Latency p95 a step should keep past the sampler's wait after the root.
LATENCY_GOAL_S = 3.0


@dataclass
class Step:
    rate: float
    seconds: float
    sent_spans: int = 0
    #: Seconds the producer took for the step, and the measuring side from first to last sample.
    sent_s: float = 0.0
    delivered_spans: int = 0
    elapsed_s: float = 0.0
    lag_end: tuple[int, int] = (0, 0)
    #: (seconds into the step, sampler lag, sink lag) every `SAMPLE_MARK_S`, and at the end.
    lag_samples: list[tuple[float, int, int]] = field(default_factory=list)
    cpu_s: dict[str, float] = field(default_factory=dict)
    #: The store worker's CPU seconds by thread name.
    store_threads_s: dict[str, float] = field(default_factory=dict)

    @property
    def long(self) -> bool:
        """A step long enough to print progress lines (every `PROGRESS_EVERY_S`) and report its
        maximum lag: a soak, or a fixed-rate run."""
        return self.seconds > 2 * PROGRESS_EVERY_S

    def lag_max(self) -> tuple[int, int]:
        """Each stage's highest lag of the step's samples."""
        if not self.lag_samples:
            return self.lag_end
        return max(s[1] for s in self.lag_samples), max(s[2] for s in self.lag_samples)

    def lag_low(self, window: tuple[float, float]) -> tuple[int, int]:
        """The lowest (sampler, sink) lag read within `window` (fractions of the step), each stage
        apart; the lag at the end when no reading fell in it.

        Each stage's lag is a sawtooth by design: the sampler commits only behind its undecided
        traces and the sink once a batch (up to a second of traffic) is written, so one reading lands
        anywhere between a tooth's low and high point, a second and a half apart. The low points are
        what a stage has not caught up with; they rise only when it falls behind.
        """
        start, stop = window[0] * self.seconds, window[1] * self.seconds
        inside = [(a, b) for t, a, b in self.lag_samples if start <= t <= stop]
        if not inside:
            return self.lag_end
        return min(a for a, _ in inside), min(b for _, b in inside)

    def sustained(self) -> bool:
        """Everything offered was sent, and each stage's lowest lag late in the step is within
        `LAG_BOUND_S` of traffic past what it holds by design and has grown by at most
        `GROWTH_BOUND_S` of traffic since the middle of the step."""
        keeps_up = self.sent_spans >= 0.95 * self.rate * self.seconds
        growth = GROWTH_BOUND_S * self.rate
        mid, end = self.lag_low(MID_WINDOW), self.lag_low(END_WINDOW)
        lags_ok = all(
            low_end <= (LAG_BOUND_S + hold) * self.rate and low_end - low_mid <= growth
            for low_mid, low_end, hold in zip(mid, end, STAGE_HOLD_S, strict=True)
        )
        return keeps_up and lags_ok


def split_figures(splits: list[tuple[float, float, float]]) -> dict[str, float]:
    """p50/p95 of the sampler's side (produce to decided) and the store's (decided to queryable)
    of the probes' latencies, and how many probes were split (those whose decision was read)."""
    if not splits:
        return {}
    figures = {"latency_split_probes": float(len(splits))}
    for index, side in ((1, "sampler"), (2, "store")):
        values = [split[index] for split in splits]
        for q in (50, 95):
            figures[f"latency_{side}_p{q}_ms"] = round(percentile(values, q), 1)
    return figures


def step_figures(
    index: int, step: Step, latencies: list[float], splits: list[tuple[float, float, float]]
) -> dict[str, float]:
    prefix = f"step{index}_"
    elapsed = max(step.elapsed_s, 1e-9)
    low = step.lag_low(END_WINDOW)
    figures = {
        "offered_spans_per_s": float(step.rate),
        "sent_spans_per_s": round(step.sent_spans / max(step.sent_s, 1e-9), 1),
        "delivered_spans_per_s": round(step.delivered_spans / elapsed, 1),
        "sampler_lag_spans": float(step.lag_end[0]),
        "sink_lag_spans": float(step.lag_end[1]),
        "sampler_lag_low_spans": float(low[0]),
        "sink_lag_low_spans": float(low[1]),
        "latency_p50_ms": round(percentile(latencies, 50), 1) if latencies else 0.0,
        "latency_p95_ms": round(percentile(latencies, 95), 1) if latencies else 0.0,
        "latency_p99_ms": round(percentile(latencies, 99), 1) if latencies else 0.0,
        "sustained": 1.0 if step.sustained() else 0.0,
        **split_figures(splits),
    }
    return {prefix + key: value for key, value in figures.items()}


def e2e_figures(
    steps: list[Step],
    best: int,
    latencies: dict[int, list[float]],
    splits: dict[int, list[tuple[float, float, float]]],
) -> dict[str, float]:
    """Per-step figures, then the highest sustained step's (latency, CPU per span by process)."""
    figures: dict[str, float] = {}
    for index, step in enumerate(steps):
        figures.update(step_figures(index, step, latencies.get(index, []), splits.get(index, [])))
    if best < 0:
        figures["max_sustained_spans_per_s"] = 0.0
        return figures
    step = steps[best]
    at_best = latencies.get(best, [])
    figures["max_sustained_spans_per_s"] = float(step.rate)
    # The latency goal (`LATENCY_GOAL_S` past the sampler's wait): the highest sustained
    # step that also met it.
    goal_ms = (WAIT_AFTER_ROOT_S + LATENCY_GOAL_S) * 1000
    within = [steps[i].rate for i in range(best + 1) if figures[f"step{i}_latency_p95_ms"] <= goal_ms]
    figures["latency_goal_ms"] = goal_ms
    figures["max_within_latency_goal_spans_per_s"] = float(max(within, default=0))
    if best + 1 < len(steps) and steps[best + 1].rate > step.rate:
        # The first step past the knee: what the stack delivered when offered more than it sustains.
        figures["saturated_delivered_spans_per_s"] = figures[f"step{best + 1}_delivered_spans_per_s"]
    for q in (50, 95, 99):
        figures[f"latency_p{q}_ms"] = round(percentile(at_best, q), 1) if at_best else 0.0
    figures.update(split_figures(splits.get(best, [])))
    figures.update(cpu_figures(step))
    soak = steps[-1]
    if soak.long:
        figures["soak_spans_per_s"] = float(soak.rate)
        figures["soak_s"] = round(soak.seconds, 1)
        figures["soak_sampler_lag_max_spans"], figures["soak_sink_lag_max_spans"] = map(float, soak.lag_max())
    return figures


def fixed_figures(
    step: Step, latencies: dict[int, list[float]], splits: dict[int, list[tuple[float, float, float]]]
) -> dict[str, float]:
    """The figures of a one-step run at a fixed rate: the step's, then CPU per span by process."""
    prefix = "step0_"
    figures = {
        key.removeprefix(prefix): value
        for key, value in step_figures(0, step, latencies.get(0, []), splits.get(0, [])).items()
    }
    figures.update(cpu_figures(step))
    if step.long:
        figures["sampler_lag_max_spans"], figures["sink_lag_max_spans"] = map(float, step.lag_max())
    return figures


def cpu_figures(step: Step) -> dict[str, float]:
    """CPU per span of each process during `step`, the store worker's also split by thread."""
    per_span = 1e6 / max(step.sent_spans, 1)
    figures = {f"{name}_cpu_us_per_span": round(cpu * per_span, 2) for name, cpu in step.cpu_s.items()}
    figures.update(store_thread_figures(step, per_span))
    return figures


def store_thread_figures(step: Step, per_span: float) -> dict[str, float]:
    """The store worker's CPU per span split: Python threads, merges, the rest of the engine."""
    threads = step.store_threads_s
    if not threads:
        return {}
    python = sum(cpu for name, cpu in threads.items() if name.startswith("python"))
    merges = threads.get("MergeMutate", 0.0)
    engine = step.cpu_s.get("store", 0.0) - python - merges
    return {
        "store_python_cpu_us_per_span": round(python * per_span, 2),
        "store_merges_cpu_us_per_span": round(merges * per_span, 2),
        "store_engine_cpu_us_per_span": round(max(0.0, engine) * per_span, 2),
    }
