"""The tail-sampling engine of one partition: synchronous, deterministic, driven by offsets and a clock.

The agent feeds each message with `add(offset, payload, headers, now_ns)`, calls `poll(now_ns)` on a
timer, forwards what is kept, and commits no further than `committable_offset()`. After a crash the
next owner replays from the committed offset into a fresh engine (with the decision cache restored
from the `decisions` topic) and reaches the same decisions:

- a trace already decided is answered from the decision cache (its spans come back as `late`);
- an undecided one is rebuilt from the replayed messages and decided by policies that depend only
  on its spans (see `policies` for the rate limiter's one exception).

`now_ns` should be Unix nanoseconds (decisions persist across processes with their time); the
engine never lets it run backwards.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence

from datatracing.pipeline.audit import HEADER_TENANT
from datatracing.pipeline.config import SamplerSettings
from datatracing.pipeline.sampler._buffer import Buffer, TraceBuffer
from datatracing.pipeline.sampler._decisions import DecisionCache, intern_audit
from datatracing.pipeline.sampler._decode import content_type_of, split_message
from datatracing.pipeline.sampler._results import (
    REASON_BACKPRESSURE,
    REASON_FLUSH,
    REASON_SPAN_LIMIT,
    AddResult,
    DeadLetter,
    Decided,
    EngineStats,
    Late,
    Quarantined,
)
from datatracing.pipeline.sampler.policies import CompiledPolicy
from datatracing.wire import CONTENT_TYPE_HEADER

__all__ = ["AddResult", "Decided", "PartitionEngine", "SamplerSettings"]

#: In `pause` mode the engine still decides oldest traces past this multiple of the bounds.
_HARD_LIMIT_FACTOR = 2


def _order(buf: TraceBuffer) -> tuple[int, str]:
    # Decisions of one batch are taken in trace start order (then id), whatever the arrival order,
    # so stateful policies (the rate limiter) see the same sequence on a replay.
    return (buf.start_ns, buf.trace_id)


class PartitionEngine:
    """Buffers the traces of one partition and decides them when complete.

    Example:
        >>> from datatracing.pipeline.sampler.policies import default_policy
        >>> engine = PartitionEngine(0, default_policy(), SamplerSettings())
        >>> engine.committable_offset()
        -1
    """

    def __init__(
        self,
        partition: int,
        policy: CompiledPolicy,
        settings: SamplerSettings,
        decisions: DecisionCache | None = None,
    ) -> None:
        self.partition = partition
        self.policy = policy
        self.settings = settings
        #: Pass one cache to several engines to share it; the agent restores it from the topic.
        self.decisions = decisions or DecisionCache(
            settings.decision_cache_size, settings.decision_cache_ttl_ns
        )
        self._evaluator = policy.evaluator()
        self._buffer = Buffer()
        self._wait_ns = settings.decision_wait_ns
        self._root_wait_ns = settings.wait_after_root_ns
        self._max_age_ns = settings.max_trace_age_ns
        self._now = 0
        self._last_offset = -1
        self._paused = False
        self._counts: Counter[str] = Counter()
        self._by_policy: Counter[tuple[bool, str]] = Counter()
        self._by_reason: Counter[str] = Counter()
        #: Traces whose decision raised, for the agent to dead-letter (`take_quarantined`).
        self._quarantined: list[Quarantined] = []

    # --- input -----------------------------------------------------------------------------------

    def add(
        self, offset: int, payload: bytes, headers: Sequence[tuple[str, bytes | None]], now_ns: int
    ) -> AddResult:
        """Buffer the spans of the message at `offset`; see `AddResult` for what comes back.

        An offset at or below the last one added is a redelivery and is ignored (`duplicate`).
        """
        now = self._tick(now_ns)
        result = AddResult(offset)
        counts = self._counts
        if offset <= self._last_offset:
            counts["duplicate_messages"] += 1
            result.duplicate = True
            return result
        self._last_offset = offset
        counts["messages_in"] += 1
        content_type, tenant = self._read_headers(headers)
        payload = payload or b""
        if len(payload) > self.settings.max_message_bytes:
            reason = f"oversized: {len(payload)} bytes > max_message_bytes {self.settings.max_message_bytes}"
            result.dead_letters.append(DeadLetter(payload, reason, content_type))
            counts["dead_letters"] += 1
            return result
        chunks, dead = split_message(payload, content_type)
        if dead:
            result.dead_letters = dead
            counts["dead_letters"] += len(dead)
        elif not chunks:
            # A valid request with no span (or bytes that parse as one): nothing to keep or reject.
            counts["empty_messages"] += 1
        lookup = self.decisions.lookup
        max_spans = self.settings.max_spans_per_trace
        for chunk in chunks:
            counts["spans_in"] += chunk.span_count
            decision = lookup(chunk.trace_id, now)
            if decision is not None:
                late = Late(chunk.trace_id, decision.keep, decision.audit, [chunk.payload], chunk.span_count)
                result.late.append(late)
                counts["late_kept" if decision.keep else "late_dropped"] += chunk.span_count
                continue
            buf = self._buffer.add(chunk, offset, now, tenant)
            result.buffered_spans += chunk.span_count
            if buf.span_count >= max_spans:
                self._decide_into(result.decided, buf, REASON_SPAN_LIMIT, now)
        self._enforce_bounds(now, result.decided)
        return result

    def skip(self, offset: int, now_ns: int) -> None:
        """Pass over the message at `offset` without reading it (a quarantined message)."""
        self._tick(now_ns)
        self._last_offset = max(self._last_offset, offset)

    def _read_headers(self, headers: Sequence[tuple[str, bytes | None]]) -> tuple[str, str]:
        content_type: bytes | None = None
        tenant = self.settings.tenant
        for key, value in headers:
            name = key.lower()
            if name == CONTENT_TYPE_HEADER:
                content_type = value
            elif name == HEADER_TENANT and value:
                tenant = sys.intern(value.decode("utf-8", errors="replace"))
        return content_type_of(content_type), tenant

    def _tick(self, now_ns: int) -> int:
        self._now = max(self._now, now_ns)
        return self._now

    # --- decisions -------------------------------------------------------------------------------

    def poll(self, now_ns: int) -> list[Decided]:
        """Decide and remove every trace whose completion rule has fired by `now_ns`."""
        now = self._tick(now_ns)
        due = self._buffer.due(now, self._wait_ns, self._root_wait_ns, self._max_age_ns)
        due.sort(key=lambda item: _order(item[0]))
        decided: list[Decided] = []
        for buf, reason in due:
            self._decide_into(decided, buf, reason, now)
        self._update_pause()
        return decided

    def flush_all(self, now_ns: int) -> list[Decided]:
        """Decide every buffered trace now (shutdown, tests)."""
        now = self._tick(now_ns)
        bufs = sorted(self._buffer.traces.values(), key=_order)
        decided: list[Decided] = []
        for buf in bufs:
            self._decide_into(decided, buf, REASON_FLUSH, now)
        self._update_pause()
        return decided

    def take_quarantined(self) -> list[Quarantined]:
        """The traces whose decision raised since the last call (the agent dead-letters them)."""
        out, self._quarantined = self._quarantined, []
        return out

    def _decide_into(self, out: list[Decided], buf: TraceBuffer, reason: str, now: int) -> None:
        """Decide `buf` into `out`; a decision that raises quarantines the trace instead, so one
        trace a policy cannot evaluate never stops the partition."""
        try:
            out.append(self._decide(buf, reason, now))
        except Exception as exc:
            if buf.trace_id in self._buffer.traces:
                self._buffer.remove(buf.trace_id)
            self._counts["quarantined_traces"] += 1
            self._quarantined.append(
                Quarantined(buf.trace_id, buf.payloads, buf.offsets, type(exc).__name__, str(exc))
            )

    def _decide(self, buf: TraceBuffer, reason: str, now: int) -> Decided:
        self._buffer.remove(buf.trace_id)
        verdict = self._evaluator.decide(buf.view(self._evaluator.needs))
        audit = intern_audit(verdict.policy, self.policy.version, verdict.sample_rate, buf.tenant)
        decided = Decided(
            trace_id=buf.trace_id,
            keep=verdict.keep,
            audit=audit,
            payloads=buf.payloads,
            offsets=buf.offsets,
            span_count=buf.span_count,
            first_offset=buf.first_offset,
            decided_at_ns=now,
            reason=reason,
            first_span_at_ns=buf.first_seen_ns,
            last_span_at_ns=buf.last_seen_ns,
        )
        self.decisions.record(buf.trace_id, decided.decision, now)
        counts = self._counts
        if verdict.keep:
            counts["kept_traces"] += 1
            counts["kept_spans"] += buf.span_count
        else:
            counts["dropped_traces"] += 1
            counts["dropped_spans"] += buf.span_count
        self._by_policy[verdict.keep, verdict.policy] += 1
        self._by_reason[reason] += 1
        return decided

    # --- bounds ----------------------------------------------------------------------------------

    def _enforce_bounds(self, now: int, decided: list[Decided]) -> None:
        settings, buffer = self.settings, self._buffer
        factor = _HARD_LIMIT_FACTOR if settings.backpressure == "pause" else 1
        max_spans = settings.max_buffered_spans * factor
        max_bytes = settings.max_buffered_bytes * factor
        while buffer.spans > max_spans or buffer.nbytes > max_bytes:
            oldest = buffer.oldest()
            if oldest is None:  # pragma: no cover - totals are zero when empty
                break
            self._decide_into(decided, oldest, REASON_BACKPRESSURE, now)
        self._update_pause()

    def _update_pause(self) -> None:
        settings, buffer = self.settings, self._buffer
        if settings.backpressure != "pause":
            return
        if buffer.spans >= settings.max_buffered_spans or buffer.nbytes >= settings.max_buffered_bytes:
            self._paused = True
        elif (
            buffer.spans < settings.max_buffered_spans * settings.resume_ratio
            and buffer.nbytes < settings.max_buffered_bytes * settings.resume_ratio
        ):
            self._paused = False

    @property
    def should_pause(self) -> bool:
        """True in `pause` mode once a bound is reached, until the buffer is below `resume_ratio`."""
        return self._paused

    # --- offsets and stats -----------------------------------------------------------------------

    def committable_offset(self) -> int:
        """The offset to commit: the lowest one an undecided trace still needs, else the last added
        + 1; -1 before anything was added (commit nothing)."""
        first = self._buffer.first_offset()
        if first is not None:
            return first
        return self._last_offset + 1 if self._last_offset >= 0 else -1

    @property
    def stats(self) -> EngineStats:
        """A snapshot of the buffer and the counters."""
        counts, buffer = self._counts, self._buffer
        return EngineStats(
            partition=self.partition,
            next_offset=self._last_offset + 1 if self._last_offset >= 0 else -1,
            buffered_traces=len(buffer),
            buffered_spans=buffer.spans,
            buffered_bytes=buffer.nbytes,
            messages_in=counts["messages_in"],
            spans_in=counts["spans_in"],
            duplicate_messages=counts["duplicate_messages"],
            empty_messages=counts["empty_messages"],
            dead_letters=counts["dead_letters"],
            quarantined_traces=counts["quarantined_traces"],
            late_kept=counts["late_kept"],
            late_dropped=counts["late_dropped"],
            kept_traces=counts["kept_traces"],
            dropped_traces=counts["dropped_traces"],
            kept_spans=counts["kept_spans"],
            dropped_spans=counts["dropped_spans"],
            decisions=dict(self._by_policy),
            decisions_by_reason=dict(self._by_reason),
            paused=self._paused,
        )
