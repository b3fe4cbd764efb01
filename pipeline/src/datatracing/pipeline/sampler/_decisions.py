"""The decision cache: which traces were decided, so late spans follow the earlier decision.

Bounded twice: at most `max_size` trace ids (oldest recorded evicted first) and each for at most
`ttl_ns` after its decision. It lives in memory; the agent makes it durable by writing every
decision to the compacted `decisions` topic (`encode_decision`) and, on start-up or when it gains a
partition, replaying that topic into the cache (`DecisionCache.restore`).

Example:
    >>> cache = DecisionCache(max_size=10, ttl_ns=1_000)
    >>> d = Decision("ab" * 16, keep=True, audit=SamplingAudit("errors"), decided_at_ns=5)
    >>> cache.record(d.trace_id, d, at_ns=5)
    >>> cache.lookup("ab" * 16, now_ns=100).keep
    True
    >>> decode_decision(encode_decision(d)) == d
    True
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import DecodeError

from datatracing.errors import InvalidDataError
from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.config import DEFAULT_TENANT
from datatracing.pipeline.proto.v1.sampling_pb2 import SamplingDecision

__all__ = [
    "Decision",
    "DecisionCache",
    "DecisionRecord",
    "decode_decision",
    "encode_decision",
    "intern_audit",
]

_MAX_INTERNED = 4096
_audits: dict[tuple[str, str, float, str], SamplingAudit] = {}


def intern_audit(policy: str, policy_version: str, sample_rate: float, tenant: str) -> SamplingAudit:
    """One shared `SamplingAudit` per distinct value: a cache of 100k decisions holds a handful."""
    key = (policy, policy_version, sample_rate, tenant)
    audit = _audits.get(key)
    if audit is None:
        audit = SamplingAudit(policy, policy_version, sample_rate, tenant)
        if len(_audits) < _MAX_INTERNED:
            _audits[key] = audit
    return audit


class DecisionRecord(Protocol):
    """What `encode_decision` needs: a `Decision`, or the engine's `Decided`, satisfies it."""

    @property
    def trace_id(self) -> str: ...
    @property
    def keep(self) -> bool: ...
    @property
    def audit(self) -> SamplingAudit: ...
    @property
    def decided_at_ns(self) -> int: ...
    @property
    def span_count(self) -> int: ...
    @property
    def reason(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Decision:
    """A recorded decision about one trace (its id as 32 lowercase hex characters)."""

    trace_id: str
    keep: bool
    audit: SamplingAudit
    decided_at_ns: int
    span_count: int = 0
    reason: str = ""


def encode_decision(decision: DecisionRecord) -> bytes:
    """Serialize a decision as a `datatracing.v1.SamplingDecision` (the `decisions` topic value)."""
    audit = decision.audit
    return SamplingDecision(
        trace_id=bytes.fromhex(decision.trace_id),
        keep=decision.keep,
        policy=audit.policy,
        policy_version=audit.policy_version,
        sample_rate=audit.sample_rate,
        decided_at_unix_nano=decision.decided_at_ns,
        span_count=min(decision.span_count, 2**32 - 1),
        tenant=audit.tenant,
        reason=decision.reason,
    ).SerializeToString()


def decode_decision(payload: bytes) -> Decision:
    """Parse a `SamplingDecision`; raises `InvalidDataError` when it does not decode."""
    record = SamplingDecision()
    try:
        record.ParseFromString(payload)
    except DecodeError as exc:
        raise InvalidDataError(f"not a SamplingDecision: {exc}") from exc
    if len(record.trace_id) != 16:
        raise InvalidDataError(f"SamplingDecision.trace_id must be 16 bytes, got {len(record.trace_id)}")
    audit = intern_audit(
        record.policy,
        record.policy_version,
        record.sample_rate if record.sample_rate > 0 else 1.0,
        record.tenant or DEFAULT_TENANT,
    )
    return Decision(
        trace_id=record.trace_id.hex(),
        keep=record.keep,
        audit=audit,
        decided_at_ns=record.decided_at_unix_nano,
        span_count=record.span_count,
        reason=record.reason,
    )


class DecisionCache:
    """Trace id → `Decision`, bounded by size (oldest recorded evicted first) and time to live."""

    def __init__(self, max_size: int, ttl_ns: int) -> None:
        if max_size < 1 or ttl_ns < 1:
            raise ValueError("max_size and ttl_ns must be positive")
        self.max_size = max_size
        self.ttl_ns = ttl_ns
        # Insertion order is recording order, so the front holds the entries to expire or evict first.
        self._entries: OrderedDict[str, tuple[int, Decision]] = OrderedDict()
        self.evicted = 0
        self.expired = 0

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, trace_id: str, decision: Decision, at_ns: int) -> None:
        """Remember `decision` for `trace_id` until `at_ns + ttl_ns` (re-recording refreshes it)."""
        entries = self._entries
        if trace_id in entries:
            del entries[trace_id]
        entries[trace_id] = (at_ns, decision)
        if len(entries) > self.max_size:
            entries.popitem(last=False)
            self.evicted += 1
        self.expire(at_ns)

    def lookup(self, trace_id: str, now_ns: int) -> Decision | None:
        """The live decision for `trace_id`, or None (never decided, evicted or expired)."""
        entry = self._entries.get(trace_id)
        if entry is None:
            return None
        if now_ns - entry[0] >= self.ttl_ns:
            del self._entries[trace_id]
            self.expired += 1
            return None
        return entry[1]

    def expire(self, now_ns: int) -> int:
        """Drop expired entries from the front; returns how many were dropped.

        Restored records may arrive out of time order, so an expired entry behind a live one
        survives here until `lookup` meets it: that costs memory, never a wrong answer.
        """
        entries = self._entries
        dropped = 0
        while entries:
            at_ns, _ = entries[next(iter(entries))]
            if now_ns - at_ns < self.ttl_ns:
                break
            entries.popitem(last=False)
            dropped += 1
        self.expired += dropped
        return dropped

    def restore(self, payload: bytes | None, now_ns: int) -> Decision | None:
        """Replay one `decisions` topic record into the cache; tombstones and expired ones are skipped.

        Raises `InvalidDataError` when the record does not decode.
        """
        if not payload:
            return None
        decision = decode_decision(payload)
        if now_ns - decision.decided_at_ns >= self.ttl_ns:
            return None
        self.record(decision.trace_id, decision, decision.decided_at_ns)
        return decision
