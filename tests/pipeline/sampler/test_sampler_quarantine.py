"""Engine and forwarding pieces of the poison-pill quarantine: unit tests, no broker."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from datatracing.pipeline.sampler._forward import fit_payload
from datatracing.pipeline.sampler.policies import TraceView, Verdict
from datatracing.wire import decode_spans, encode_spans
from tests.pipeline.sampler.sampler_data import Feeder, engine, span, trace_id, trace_spans


class _RaisingEvaluator:
    """Delegates to the real evaluator, raising for one trace id (a policy bug on one trace)."""

    def __init__(self, inner: object, bad: str) -> None:
        self.inner = inner
        self.needs = inner.needs  # type: ignore[attr-defined]
        self.bad = bad

    def decide(self, trace: TraceView) -> Verdict:
        if trace.trace_id == self.bad:
            raise ValueError("policy cannot evaluate this trace")
        return self.inner.decide(trace)  # type: ignore[attr-defined,no-any-return]


def test_engine_decision_raising_quarantines_trace_others_decided() -> None:
    feed = Feeder(engine(decision_wait=1))
    feed.engine._evaluator = _RaisingEvaluator(feed.engine._evaluator, trace_id(2))  # type: ignore[assignment]
    for n in (1, 2, 3):
        feed.add(trace_spans(n, 2), at_s=0)
    decided = feed.poll(5)
    assert {d.trace_id for d in decided} == {trace_id(1), trace_id(3)}
    (quarantined,) = feed.engine.take_quarantined()
    assert (quarantined.trace_id, quarantined.offsets, quarantined.error_class) == (
        trace_id(2),
        [1],
        "ValueError",
    )
    assert feed.engine.take_quarantined() == []
    assert feed.engine.stats.quarantined_traces == 1
    # Nothing is left behind the quarantined trace: the partition's offset moves on.
    assert feed.engine.committable_offset() == 3


def test_engine_empty_request_counted_not_dead_lettered() -> None:
    feed = Feeder(engine())
    result = feed.add(encode_spans([]), at_s=0)
    assert (result.dead_letters, result.buffered_spans) == ([], 0)
    assert feed.engine.stats.empty_messages == 1


def test_engine_decided_payloads_carry_their_source_offsets() -> None:
    feed = Feeder(engine(decision_wait=1))
    feed.add(trace_spans(1, 2), at_s=0)
    feed.add(trace_spans(2, 1), at_s=0)
    feed.add(trace_spans(1, 1, root=False, first_id=5), at_s=0)
    by_trace = {d.trace_id: d.offsets for d in feed.poll(5)}
    assert by_trace == {trace_id(1): [0, 2], trace_id(2): [1]}


def test_fit_payload_small_payload_untouched() -> None:
    payload = encode_spans(trace_spans(1, 3))
    assert fit_payload(payload, len(payload)) == ([payload], [])


@given(st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=30), st.integers(2000, 20000))
def test_fit_payload_parts_fit_and_keep_every_span_in_order(sizes: list[int], limit: int) -> None:
    spans = [
        span(1, i + 1, None if i == 0 else 1, service=f"svc-{i % 3}", attributes={"pad": "x" * size})
        for i, size in enumerate(sizes)
    ]
    payload = encode_spans(spans)
    fitted, oversized = fit_payload(payload, limit)
    assert all(len(p) <= limit for p in fitted)
    got = [s for p in fitted + oversized for s in decode_spans(p)]
    # Parts come in span order (oversized ones are reported apart, so compare as sets then order).
    assert sorted(s.span_id for s in got) == sorted(s.span_id for s in spans)
    fitted_ids = [s.span_id for p in fitted for s in decode_spans(p)]
    assert fitted_ids == sorted(fitted_ids)
    assert all(len(decode_spans(p)) == 1 and len(p) > limit for p in oversized)
    # Each span keeps its resource.
    assert {(s.span_id, s.resource.attributes["service.name"]) for s in got} == {
        (s.span_id, s.resource.attributes["service.name"]) for s in spans
    }
