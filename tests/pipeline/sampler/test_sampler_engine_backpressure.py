"""Memory bounds: `decide_oldest` decides early, `pause` asks the agent to pause (with a hard cap)."""

from __future__ import annotations

from datatracing.wire import encode_spans
from tests.pipeline.sampler.sampler_data import Feeder, engine, trace_id, trace_spans


def test_engine_decide_oldest_keeps_spans_within_bound() -> None:
    feed = Feeder(engine(max_buffered_spans=10, backpressure="decide_oldest"))
    assert feed.add(trace_spans(1, 4, root=False), at_s=0).decided == []
    assert feed.add(trace_spans(2, 4, root=False), at_s=1).decided == []
    result = feed.add(trace_spans(3, 4, root=False), at_s=2)
    assert [(d.trace_id, d.reason, d.span_count) for d in result.decided] == [
        (trace_id(1), "backpressure", 4)
    ]
    assert feed.engine.stats.buffered_spans == 8
    assert feed.engine.committable_offset() == 1
    assert not feed.engine.should_pause


def test_engine_decide_oldest_bounds_bytes() -> None:
    size = len(encode_spans(trace_spans(1, 4, root=False)))
    feed = Feeder(engine(max_buffered_bytes=2 * size + 1))
    for n in range(1, 6):
        feed.add(trace_spans(n, 4, root=False), at_s=n)
        assert feed.engine.stats.buffered_bytes <= 2 * size + 1
    assert [d.trace_id for d in feed.decided] == [trace_id(1), trace_id(2), trace_id(3)]


def test_engine_decide_oldest_decides_single_huge_trace() -> None:
    feed = Feeder(engine(max_buffered_spans=3))
    (decided,) = feed.add(trace_spans(1, 5, root=False), at_s=0).decided
    assert (decided.span_count, feed.engine.stats.buffered_spans) == (5, 0)


def test_engine_pause_mode_raises_and_clears_with_hysteresis() -> None:
    feed = Feeder(engine(max_buffered_spans=10, backpressure="pause", resume_ratio=0.5, decision_wait=10))
    feed.add(trace_spans(1, 4, root=False), at_s=0)
    feed.add(trace_spans(2, 4, root=False), at_s=1)
    assert not feed.engine.should_pause
    result = feed.add(trace_spans(3, 4, root=False), at_s=2)
    assert (result.decided, feed.engine.should_pause) == ([], True)
    feed.poll(10)  # trace 1 idle: 8 spans left, above half the bound
    assert feed.engine.should_pause
    feed.poll(11)  # trace 2 idle: 4 spans left
    assert not feed.engine.should_pause
    assert feed.engine.stats.paused is False


def test_engine_pause_mode_hard_cap_at_twice_the_bound() -> None:
    feed = Feeder(engine(max_buffered_spans=10, backpressure="pause"))
    for n in range(1, 6):  # 20 spans: at the hard cap, nothing decided yet
        assert feed.add(trace_spans(n, 4, root=False), at_s=n).decided == []
    result = feed.add(trace_spans(6, 4, root=False), at_s=6)
    assert [(d.trace_id, d.reason) for d in result.decided] == [(trace_id(1), "backpressure")]
    assert feed.engine.stats.buffered_spans == 20
    assert feed.engine.should_pause
