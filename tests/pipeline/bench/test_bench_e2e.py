from __future__ import annotations

import pytest

from datatracing.pipeline.bench._e2e import QUICK_RATES, E2EPlan, _run_steps, run_e2e
from datatracing.pipeline.bench._e2e_steps import WAIT_AFTER_ROOT_S, Step
from datatracing.pipeline.bench._stages import split_line


def test_run_e2e_quick_stores_every_sent_span_and_reports_each_step() -> None:
    result = run_e2e(quick=True, duration_s=6.0)

    assert result["sent_spans"] > 0
    assert result["stored_spans"] == result["sent_spans"]
    assert {"max_sustained_spans_per_s", "raw_copy_spans_per_s", "ratio", "wait_after_root_s"} <= set(result)
    assert {"store_rss_mb_peak", "sampler_rss_mb_peak", "broker_rss_mb_peak"} <= set(result)
    # Whose memory: the anonymous part of each RSS, and the store worker's engine by kind.
    assert 0 < result["store_rss_anon_mb_peak"] < result["store_rss_mb_peak"]
    assert result["store_engine_tracked_memory_mb_peak"] > 0
    assert result["store_engine_allocator_resident_memory_mb_peak"] > 0
    steps = [i for i in range(len(QUICK_RATES)) if f"step{i}_offered_spans_per_s" in result]
    assert steps
    assert steps == list(range(len(steps)))
    for i in steps:
        assert result[f"step{i}_offered_spans_per_s"] == QUICK_RATES[i]
        for key in ("sent_spans_per_s", "delivered_spans_per_s", "sampler_lag_spans", "sink_lag_spans"):
            assert result[f"step{i}_{key}"] >= 0
        assert result[f"step{i}_latency_p95_ms"] > 0
        # Every probe's latency splits where the sampler decided its trace: the sampler's side holds
        # its wait after the root, the store's side the rest.
        assert result[f"step{i}_latency_split_probes"] >= 1
        assert result[f"step{i}_latency_sampler_p50_ms"] >= 0.9 * WAIT_AFTER_ROOT_S * 1000
        assert 0 < result[f"step{i}_latency_store_p50_ms"] < result[f"step{i}_latency_p95_ms"]
    if result["max_sustained_spans_per_s"] > 0:
        assert result["latency_p95_ms"] > 0
        assert {"store_cpu_us_per_span", "sampler_cpu_us_per_span", "broker_cpu_us_per_span"} <= set(result)


def test_run_e2e_at_a_fixed_rate_runs_one_step_and_gives_cpu_per_span_by_process() -> None:
    result = run_e2e(quick=True, duration_s=4.0, rate=1_000.0)

    assert result["offered_spans_per_s"] == 1_000.0
    assert result["stored_spans"] == result["sent_spans"] > 0
    assert result["latency_p95_ms"] > 0
    assert {"store_cpu_us_per_span", "sampler_cpu_us_per_span", "broker_cpu_us_per_span"} <= set(result)
    assert "broker_rss_mb_end" in result
    # No ladder, so neither per-step figures nor a capacity (and no raw copy to compare it with).
    assert not any(key.startswith("step") for key in result)
    assert "max_sustained_spans_per_s" not in result
    assert "raw_copy_spans_per_s" not in result


class _SteadyRun:
    """Every step keeps up with no lag; the broker's memory allows `memory_rate` spans/s."""

    def __init__(self, memory_rate: float) -> None:
        self.memory_rate = memory_rate

    def step(self, index: int, rate: float, seconds: float) -> Step:
        step = Step(rate, seconds)
        step.sent_spans = round(rate * seconds)
        return step

    def broker_memory_rate(self, seconds: float) -> float:
        return self.memory_rate


@pytest.mark.parametrize(
    ("memory_rate", "soak_rate", "capped"), [(1e9, 3_750.0, False), (3_000.0, 3_000.0, True)]
)
def test_soak_holds_half_the_best_step_unless_the_broker_memory_caps_it(
    memory_rate: float, soak_rate: float, capped: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = E2EPlan((5_000, 7_500), 10.0, 700.0)

    steps, best = _run_steps(_SteadyRun(memory_rate), plan)  # type: ignore[arg-type]

    assert best == 1
    assert [s.rate for s in steps] == [5_000, 7_500, soak_rate]
    assert steps[-1].seconds == 680.0
    line = capsys.readouterr().err
    assert line.startswith(f"soak: {soak_rate:,.0f} spans/s for 680 s; the ladder sustained 7,500")
    assert ("capped by the embedded broker's memory" in line) is capped


def test_fixed_rate_plan_runs_one_step_for_the_whole_duration_even_past_the_soak_length(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plan = E2EPlan.make(quick=False, duration_s=700.0, rate=4_000.0)

    steps, best = _run_steps(_SteadyRun(1e9), plan)  # type: ignore[arg-type]

    assert (best, [(s.rate, s.seconds) for s in steps]) == (0, [(4_000.0, 700.0)])
    assert capsys.readouterr().err == ""


def test_split_line_gives_each_side_of_the_probes_latency() -> None:
    line = split_line([(3000.0, 1200.0, 1800.0), (2000.0, 1100.0, 900.0)])

    assert line.startswith("2 probes: total p50/p95 ")
    assert "sampler p50/p95 " in line
    assert "store p50/p95 " in line
    assert split_line([]) == "no probe"


def test_run_e2e_on_a_given_cluster_creates_its_topics_there_and_leaves_out_the_broker_figures(
    kafka_bootstrap: str,
) -> None:
    result = run_e2e(quick=True, duration_s=3.0, kafka=kafka_bootstrap)

    assert result["sent_spans"] > 0
    assert result["stored_spans"] == result["sent_spans"]
    assert "step0_latency_p95_ms" in result
    # Not a process of the bench: neither its CPU nor its memory is read.
    assert not any(key.startswith("broker_") for key in result)


def _sawtooth_step(rate: float, sink_lows: list[int]) -> Step:
    """A 10 s step whose sink lag climbs from a low point by 1.5 s of traffic and drops back to it
    every 2 s (a batch written and committed), the low point taken from `sink_lows` in turn."""
    step = Step(rate, 10.0)
    step.sent_spans = round(rate * 10.0)
    for i in range(21):
        t = i * 0.5
        low = sink_lows[min(int(t / 2.5), len(sink_lows) - 1)]
        step.lag_samples.append((t, round(rate), low + round(((t + 1.0) % 2.0) / 2.0 * 1.5 * rate)))
    step.lag_end = step.lag_samples[-1][1:]
    return step


def test_a_step_whose_lag_only_saws_is_sustained_whatever_point_of_a_tooth_a_reading_hits() -> None:
    step = _sawtooth_step(10_000, [0, 0, 0, 0])
    mid_reading = next(sink for t, _, sink in step.lag_samples if t == 5.0)
    # One reading at mid-step and one at the end differ by more than the growth bound...
    assert step.lag_end[1] - mid_reading > 0.5 * 10_000
    # ...but the low points do not move.
    assert step.lag_low((0.25, 0.5)) == step.lag_low((0.75, 1.0)) == (10_000, 0)
    assert step.sustained()


def test_a_step_whose_lag_low_points_rise_is_not_sustained() -> None:
    assert not _sawtooth_step(10_000, [0, 0, 4_000, 8_000]).sustained()
    # Low points past the bound (2 s beyond the sink's 1.5 s hold) fail even when flat.
    assert not _sawtooth_step(10_000, [36_000] * 4).sustained()


def test_a_long_step_reports_each_stages_highest_lag_of_its_samples() -> None:
    step = Step(10_000, 120.0)
    step.lag_samples = [(0.5, 100, 900), (60.0, 4_000, 300), (119.5, 200, 50)]
    step.lag_end = (200, 50)

    assert step.long
    assert not Step(10_000, 10.0).long
    # The maxima of each stage, whichever sample holds them, not the last reading.
    assert step.lag_max() == (4_000, 900)
