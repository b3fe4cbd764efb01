"""The sampler worker under faults, against the real broker: kill -9, rebalance, SIGTERM.

Every trace must end with exactly the decision a crash-free engine gives it, never two different
decisions, and every span of every kept trace must reach `sampled-spans` (duplicates are allowed:
the pipeline is at-least-once and the store deduplicates).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from datatracing.pipeline.config import TopicSettings
from datatracing.pipeline.runtime._stack import wait_healthy
from tests.pipeline.sampler.worker_support import (
    SamplerProcess,
    TopicReader,
    Workload,
    decisions_by_trace,
    sampled_spans_by_trace,
)

pytestmark = pytest.mark.slow


def _check(workload: Workload, decisions: TopicReader, sampled: TopicReader) -> None:
    decided = decisions_by_trace(decisions)
    assert decided.keys() == workload.expected_keep.keys()
    wrong = {t: keeps for t, keeps in decided.items() if keeps != {workload.expected_keep[t]}}
    assert wrong == {}
    sampled.poll()
    got = sampled_spans_by_trace(sampled)
    kept = {t for t, keep in workload.expected_keep.items() if keep}
    assert got.keys() == kept
    missing = {t: workload.spans_by_trace[t] - got[t] for t in kept if workload.spans_by_trace[t] - got[t]}
    assert missing == {}


def _all_decided(workload: Workload, reader: TopicReader) -> bool:
    return decisions_by_trace(reader).keys() >= workload.expected_keep.keys()


def test_sampler_worker_kill9_twice_same_decisions_nothing_lost(
    kafka_bootstrap: str, pipeline_topics: TopicSettings, tmp_path: Path
) -> None:
    workload = Workload.build(traces=400, seed=11)
    assert any(workload.expected_keep.values())
    assert not all(workload.expected_keep.values())
    rng = random.Random(5)
    workload.produce(kafka_bootstrap, pipeline_topics.spans)
    decisions = TopicReader(kafka_bootstrap, pipeline_topics.decisions, pipeline_topics.partitions)
    sampled = TopicReader(kafka_bootstrap, pipeline_topics.sampled, pipeline_topics.partitions)
    worker = SamplerProcess(kafka_bootstrap, pipeline_topics, tmp_path)
    try:
        for _ in range(2):
            worker.start()
            # Kill at a random point once it has decided some traces, but not all.
            target = rng.randint(20, 200)
            decisions.until(lambda t=target: len(decisions_by_trace(decisions)) >= t, 90, "first decisions")
            worker.kill()
        worker.start()
        decisions.until(lambda: _all_decided(workload, decisions), 120, "every trace decided")
        _check(workload, decisions, sampled)
    except AssertionError:
        print(worker.log_tail())
        raise
    finally:
        if worker.process and worker.process.poll() is None:
            worker.terminate()
        decisions.close()
        sampled.close()


def test_sampler_workers_rebalance_on_sigterm_same_decisions_nothing_lost(
    kafka_bootstrap: str, pipeline_topics: TopicSettings, tmp_path: Path
) -> None:
    workload = Workload.build(traces=400, seed=12)
    # Whole traces in each half: a trace cut by the pause would be decided on its first part alone.
    first_half, second_half = workload.halves()
    decisions = TopicReader(kafka_bootstrap, pipeline_topics.decisions, pipeline_topics.partitions)
    sampled = TopicReader(kafka_bootstrap, pipeline_topics.sampled, pipeline_topics.partitions)
    first = SamplerProcess(kafka_bootstrap, pipeline_topics, tmp_path / "a", name="a")
    second = SamplerProcess(kafka_bootstrap, pipeline_topics, tmp_path / "b", name="b")
    try:
        first.start(wait=False)
        second.start(wait=False)
        for worker in (first, second):
            wait_healthy(f"http://127.0.0.1:{worker.web_port}/metrics", 90)
        workload.produce(kafka_bootstrap, pipeline_topics.spans, first_half)
        decisions.until(lambda: len(decisions_by_trace(decisions)) >= 10, 90, "first decisions")
        # SIGTERM: the second worker stops consuming and commits only decided work; the first
        # takes its partitions over and rebuilds the undecided traces from the committed offsets.
        assert second.terminate() == 0
        workload.produce(kafka_bootstrap, pipeline_topics.spans, second_half)
        decisions.until(lambda: _all_decided(workload, decisions), 120, "every trace decided")
        _check(workload, decisions, sampled)
    except AssertionError:
        print(first.log_tail())
        print(second.log_tail())
        raise
    finally:
        for worker in (first, second):
            if worker.process and worker.process.poll() is None:
                worker.terminate()
        decisions.close()
        sampled.close()
