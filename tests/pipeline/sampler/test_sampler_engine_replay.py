"""Crash and replay: a new engine, its cache restored from the recorded decisions, replaying from the
committed offset, reaches the decisions of a crash-free run."""

from __future__ import annotations

import random

import pytest

from datatracing.model import Span
from datatracing.pipeline.sampler._decisions import DecisionCache, encode_decision
from datatracing.pipeline.sampler._engine import PartitionEngine
from datatracing.pipeline.sampler._results import Decided
from datatracing.wire import encode_spans
from tests.pipeline.sampler.sampler_data import T0, S, engine, policy, span

POLICY = policy(
    {"name": "errors", "type": "status_code"},
    {"name": "big", "type": "span_count", "min": 5},
    {"name": "tenth", "type": "probabilistic", "sample_one_in": 10},
)
SETTINGS = {"wait_after_root": 5, "decision_wait": 30}


def _messages(seed: int) -> list[tuple[int, bytes]]:
    """(arrival ns, payload): 40 traces of 1-3 chunks within 3 s each, the root chunk last."""
    rnd = random.Random(seed)
    out: list[tuple[int, bytes]] = []
    for t in range(1, 41):
        start = T0 + t * S // 2
        count = rnd.randint(1, 7)
        spans = [span(t, i, None if i == 1 else 1, error=rnd.random() < 0.1) for i in range(1, count + 1)]
        chunks: list[list[Span]] = [spans[1:], [spans[0]]] if count > 1 else [spans]
        for k, chunk in enumerate(chunks):
            out.append((start + k * rnd.randint(0, 3) * S, encode_spans(chunk)))
    out.sort(key=lambda m: m[0])
    return out


def _run(target: PartitionEngine, messages: list[tuple[int, bytes]], first_offset: int = 0) -> list[Decided]:
    decided: list[Decided] = []
    for offset, (at, payload) in enumerate(messages, start=first_offset):
        decided += [*target.add(offset, payload, (), at).decided, *target.poll(at)]
    return decided


def _keeps(decided: list[Decided]) -> dict[str, bool]:
    return {d.trace_id: d.keep for d in decided}


@pytest.mark.parametrize("crash_at", [5, 23, 47, 70])
def test_engine_replay_after_crash_reaches_crash_free_decisions(crash_at: int) -> None:
    messages = _messages(seed=3)
    reference_engine = engine(POLICY, **SETTINGS)
    reference = _keeps(_run(reference_engine, messages) + reference_engine.flush_all(T0 + 10**6 * S))

    # First owner: runs until `crash_at`, having written its decisions to the `decisions` topic.
    first = engine(POLICY, **SETTINGS)
    decided_first = _run(first, messages[:crash_at])
    committed = first.committable_offset()
    records = [encode_decision(d) for d in decided_first]

    # Next owner: restores the cache and replays from the committed offset, fast, an hour later.
    restart = messages[crash_at - 1][0] + 3600 * S
    cache = DecisionCache(10_000, 2 * 3600 * S)
    for record in records:
        cache.restore(record, restart)
    second = PartitionEngine(0, POLICY, first.settings, cache)
    replayed = [(restart, payload) for _, payload in messages[committed:]]
    after = _keeps(_run(second, replayed, first_offset=committed) + second.flush_all(restart + 3600 * S))
    before = _keeps(decided_first)

    assert len(reference) == 40
    assert len(before) + len(after) == len(reference)  # each trace decided once: the rest came back as late
    assert before | after == reference
