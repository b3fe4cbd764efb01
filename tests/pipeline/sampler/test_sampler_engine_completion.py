"""Completion rules, decision order and committable offsets of the partition engine (test clock)."""

from __future__ import annotations

from datatracing.wire import encode_spans
from tests.pipeline.sampler.sampler_data import T0, Feeder, S, engine, policy, span, trace_id, trace_spans


def test_engine_idle_trace_decided_after_decision_wait() -> None:
    feed = Feeder(engine(decision_wait=30))
    feed.add(trace_spans(1, 3, root=False), at_s=0)
    feed.add([span(1, 9, 1)], at_s=10)  # a new span restarts the wait
    assert feed.poll(39.9) == []
    (decided,) = feed.poll(40)
    assert (decided.trace_id, decided.reason, decided.span_count) == (trace_id(1), "idle", 4)
    assert (decided.first_span_at_ns, decided.last_span_at_ns) == (T0, T0 + 10 * S)


def test_engine_root_trace_decided_after_wait_after_root() -> None:
    feed = Feeder(engine(wait_after_root=2))
    feed.add(trace_spans(1, 2, root=False, first_id=2), at_s=0)
    feed.add([span(1, 1)], at_s=5)  # the root arrives
    assert feed.poll(6.9) == []
    (decided,) = feed.poll(7)
    assert (decided.reason, decided.span_count) == ("root", 3)


def test_engine_root_wait_zero_decides_on_next_poll() -> None:
    feed = Feeder(engine(wait_after_root=0))
    feed.add(trace_spans(1, 2), at_s=0)
    assert [d.reason for d in feed.poll(0)] == ["root"]


def test_engine_busy_trace_decided_at_max_trace_age() -> None:
    feed = Feeder(engine(decision_wait=30, max_trace_age=60))
    for i in range(7):
        feed.add([span(1, i + 2, 1)], at_s=i * 10)
        if i * 10 < 60:
            assert feed.poll(i * 10) == []
    (decided,) = feed.poll(60)
    assert (decided.reason, decided.span_count) == ("max_age", 7)


def test_engine_span_limit_decides_at_once_and_later_spans_are_late() -> None:
    feed = Feeder(engine(max_spans_per_trace=5))
    assert feed.add(trace_spans(1, 3), at_s=0).decided == []
    result = feed.add(trace_spans(1, 3, root=False, first_id=4), at_s=1)
    (decided,) = result.decided
    assert (decided.reason, decided.span_count, decided.keep) == ("span_limit", 6, True)
    late = feed.add([span(1, 20, 1)], at_s=2).late
    assert [(x.trace_id, x.keep, x.span_count) for x in late] == [(trace_id(1), True, 1)]


def test_engine_poll_decides_batch_in_trace_start_order() -> None:
    feed = Feeder(engine(wait_after_root=0))
    feed.add([span(3, 1, start_ms=30, end_ms=31)], at_s=0)
    feed.add([span(1, 1, start_ms=10, end_ms=11)], at_s=0)
    feed.add([span(2, 1, start_ms=20, end_ms=21)], at_s=0)
    assert [d.trace_id for d in feed.poll(1)] == [trace_id(1), trace_id(2), trace_id(3)]


def test_engine_clock_never_runs_backwards() -> None:
    feed = Feeder(engine(wait_after_root=1))
    feed.add(trace_spans(1, 1), at_s=10)
    assert feed.poll(11) != []
    feed.add(trace_spans(2, 1), at_s=0)  # stale clock: treated as 11
    assert feed.poll(11.5) == []
    assert feed.poll(12) != []


def test_engine_single_trace_message_passed_through_untouched() -> None:
    feed = Feeder(engine(wait_after_root=0))
    payload = encode_spans(trace_spans(1, 3))
    feed.add(payload, at_s=0)
    (decided,) = feed.poll(0)
    assert decided.payloads[0] is payload
    assert decided.first_offset == 0
    assert decided.decided_at_ns == T0


def test_engine_committable_offset_tracks_oldest_undecided_trace() -> None:
    feed = Feeder(engine(wait_after_root=1, decision_wait=30))
    target = feed.engine
    assert target.committable_offset() == -1
    feed.add(trace_spans(1, 2, root=False), at_s=0)  # offset 0: A, no root yet
    feed.add(trace_spans(2, 2), at_s=0)  # offset 1: B, complete at 1 s
    feed.add([span(3, 1), span(4, 1)], at_s=0)  # offset 2: C and D together
    assert target.committable_offset() == 0
    assert {d.trace_id for d in feed.poll(1)} == {trace_id(2), trace_id(3), trace_id(4)}
    assert target.committable_offset() == 0  # A still holds offset 0
    feed.add([span(1, 1)], at_s=2)  # offset 3: A's root
    assert [d.trace_id for d in feed.poll(3)] == [trace_id(1)]
    assert target.committable_offset() == 4


def test_engine_committable_offset_held_by_partly_decided_message() -> None:
    feed = Feeder(engine(wait_after_root=0))
    feed.add([span(1, 1), span(2, 2, 1)], at_s=0)  # offset 0: A complete, B without root
    assert [d.trace_id for d in feed.poll(0)] == [trace_id(1)]
    assert feed.engine.committable_offset() == 0
    feed.add([span(2, 1)], at_s=1)
    feed.poll(1)
    assert feed.engine.committable_offset() == 2


def test_engine_duplicate_offset_ignored() -> None:
    target = engine()
    payload = encode_spans(trace_spans(1, 2))
    assert target.add(5, payload, (), T0).buffered_spans == 2
    again = target.add(5, payload, (), T0)
    assert again.duplicate
    assert target.add(4, payload, (), T0).duplicate
    stats = target.stats
    assert (stats.buffered_spans, stats.duplicate_messages, stats.next_offset) == (2, 2, 6)


def test_engine_flush_all_decides_everything() -> None:
    feed = Feeder(engine(compiled=policy({"name": "errors", "type": "status_code"})))
    feed.add([span(1, 1, error=True)], at_s=0)
    feed.add(trace_spans(2, 2), at_s=0)
    decided = feed.engine.flush_all(T0)
    assert [(d.trace_id, d.keep, d.reason) for d in decided] == [
        (trace_id(1), True, "flush"),
        (trace_id(2), False, "flush"),
    ]
    stats = feed.engine.stats
    assert stats.buffered_traces == 0
    assert stats.decisions == {(True, "errors"): 1, (False, "(none)"): 1}
    assert (stats.kept_spans, stats.dropped_spans, stats.decisions_by_reason) == (1, 2, {"flush": 2})


def test_engine_decision_recorded_in_cache() -> None:
    feed = Feeder(engine(wait_after_root=0))
    feed.add(trace_spans(1, 1), at_s=0)
    (decided,) = feed.poll(0)
    cached = feed.engine.decisions.lookup(trace_id(1), T0)
    assert cached == decided.decision
