"""The decision cache (size and TTL bounds) and the `SamplingDecision` record codec."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datatracing.errors import InvalidDataError
from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.proto.v1.sampling_pb2 import SamplingDecision
from datatracing.pipeline.sampler._decisions import (
    Decision,
    DecisionCache,
    decode_decision,
    encode_decision,
    intern_audit,
)
from tests.pipeline.sampler.sampler_data import T0, Feeder, engine, trace_id, trace_spans


def _decision(n: int, at: int = T0, keep: bool = True) -> Decision:
    return Decision(trace_id(n), keep, SamplingAudit("p", "v", 1.0, "t"), at, 1, "idle")


def test_decision_cache_lookup_until_ttl() -> None:
    cache = DecisionCache(max_size=10, ttl_ns=100)
    cache.record(trace_id(1), _decision(1), at_ns=1000)
    assert cache.lookup(trace_id(1), 1099) == _decision(1)
    assert cache.lookup(trace_id(1), 1100) is None
    assert (len(cache), cache.expired) == (0, 1)
    assert cache.lookup(trace_id(2), 1000) is None


def test_decision_cache_evicts_oldest_recorded_at_size_bound() -> None:
    cache = DecisionCache(max_size=2, ttl_ns=10**12)
    for n in (1, 2):
        cache.record(trace_id(n), _decision(n), at_ns=n)
    cache.record(trace_id(1), _decision(1), at_ns=3)  # refreshed: now the newest
    cache.record(trace_id(3), _decision(3), at_ns=4)
    assert [cache.lookup(trace_id(n), 5) is not None for n in (1, 2, 3)] == [True, False, True]
    assert cache.evicted == 1


def test_decision_cache_record_expires_old_front_entries() -> None:
    cache = DecisionCache(max_size=10, ttl_ns=100)
    for n in range(5):
        cache.record(trace_id(n), _decision(n), at_ns=n * 10)
    cache.record(trace_id(9), _decision(9), at_ns=135)
    assert len(cache) == 2  # those recorded at 0..30 are 100 ns old or more at 135
    assert cache.expire(10**6) == 2


def test_decision_cache_rejects_nonpositive_bounds() -> None:
    with pytest.raises(ValueError, match="positive"):
        DecisionCache(max_size=0, ttl_ns=1)


audits = st.builds(
    SamplingAudit,
    policy=st.text(max_size=10),
    policy_version=st.text(max_size=16),
    sample_rate=st.floats(min_value=1.0, max_value=1e6),
    tenant=st.text(min_size=1, max_size=8),
)
decisions = st.builds(
    Decision,
    trace_id=st.integers(1, 2**128 - 1).map(trace_id),
    keep=st.booleans(),
    audit=audits,
    decided_at_ns=st.integers(0, 2**64 - 1),
    span_count=st.integers(0, 2**32 - 1),
    reason=st.sampled_from(["idle", "root", "max_age", "span_limit", "backpressure", "flush"]),
)


@given(decisions)
def test_decision_record_roundtrip(decision: Decision) -> None:
    assert decode_decision(encode_decision(decision)) == decision


def test_decision_record_from_engine_decided() -> None:
    feed = Feeder(engine(wait_after_root=0))
    feed.add(trace_spans(1, 2), at_s=0)
    (decided,) = feed.poll(0)
    assert decode_decision(encode_decision(decided)) == decided.decision


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\xff\xff", "not a SamplingDecision"),
        (SamplingDecision(trace_id=b"\x01" * 3).SerializeToString(), "must be 16 bytes"),
    ],
)
def test_decision_record_invalid_raises(payload: bytes, message: str) -> None:
    with pytest.raises(InvalidDataError, match=message):
        decode_decision(payload)


def test_decision_record_defaults_missing_tenant_and_rate() -> None:
    decision = decode_decision(SamplingDecision(trace_id=b"\x01" * 16, keep=True).SerializeToString())
    assert (decision.audit.tenant, decision.audit.sample_rate) == ("default", 1.0)


def test_decision_cache_restore_skips_tombstones_and_expired() -> None:
    cache = DecisionCache(max_size=10, ttl_ns=100)
    assert cache.restore(None, 0) is None
    assert cache.restore(encode_decision(_decision(1, at=0)), now_ns=100) is None
    restored = cache.restore(encode_decision(_decision(2, at=50)), now_ns=100)
    assert restored == _decision(2, at=50)
    assert cache.lookup(trace_id(2), 149) == restored
    assert cache.lookup(trace_id(1), 100) is None


def test_intern_audit_shares_equal_values() -> None:
    assert intern_audit("p", "v", 2.0, "t") is intern_audit("p", "v", 2.0, "t")
