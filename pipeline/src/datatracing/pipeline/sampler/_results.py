"""What the partition engine hands back to the agent: decisions, late spans, dead letters, stats."""

from __future__ import annotations

from dataclasses import dataclass, field

from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.sampler._decisions import Decision
from datatracing.wire import CONTENT_TYPE_OTLP_PROTO

__all__ = ["AddResult", "DeadLetter", "Decided", "EngineStats", "Late", "Quarantined"]

#: Completion rules, as recorded in `Decided.reason` and the `decisions` topic.
REASON_IDLE = "idle"
REASON_ROOT = "root"
REASON_MAX_AGE = "max_age"
REASON_SPAN_LIMIT = "span_limit"
REASON_BACKPRESSURE = "backpressure"
REASON_FLUSH = "flush"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Bytes the sampler cannot process, why, and their encoding (for the dead-letter topic).

    A whole message (undecodable, oversized, unsupported content type) keeps its original bytes
    and content type; one invalid span of an otherwise good message is re-encoded alone with its
    resource and scope, in the message's encoding. The agent writes a payload over the size
    contract by reference (a bounded prefix, see `bounded_payload`).
    """

    payload: bytes
    reason: str
    content_type: str = CONTENT_TYPE_OTLP_PROTO


@dataclass(frozen=True, slots=True)
class Decided:
    """A trace the engine decided and removed from its buffer.

    `payloads` are OTLP protobuf messages holding the trace's buffered spans, for the agent to
    forward when `keep` (they are filled for dropped traces too). A message that held exactly this
    trace and nothing invalid is passed through as its original bytes.
    """

    trace_id: str
    keep: bool
    audit: SamplingAudit
    payloads: list[bytes]
    #: The offset of the spans-topic message each payload came from.
    offsets: list[int]
    span_count: int
    first_offset: int
    decided_at_ns: int
    reason: str
    first_span_at_ns: int
    last_span_at_ns: int

    @property
    def decision(self) -> Decision:
        """The record for the decision cache and the `decisions` topic."""
        return Decision(
            self.trace_id, self.keep, self.audit, self.decided_at_ns, self.span_count, self.reason
        )


@dataclass(frozen=True, slots=True)
class Late:
    """Spans of an already decided trace: forward `payloads` when `keep`, else they are dropped."""

    trace_id: str
    keep: bool
    audit: SamplingAudit
    payloads: list[bytes]
    span_count: int


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A trace whose decision raised: its payloads (with their source offsets) go to the dead-letter
    topic with the exception's class and message, and the partition goes on."""

    trace_id: str
    payloads: list[bytes]
    offsets: list[int]
    error_class: str
    error: str


@dataclass(slots=True)
class AddResult:
    """The outcome of `PartitionEngine.add` for one message.

    `decided` holds traces decided at once by this message (span limit, backpressure);
    `duplicate` is True when the offset was already added (nothing else happened).
    """

    offset: int
    decided: list[Decided] = field(default_factory=list)
    late: list[Late] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    buffered_spans: int = 0
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class EngineStats:
    """A snapshot of one partition engine's buffer and counters (counters since it was created).

    `late_kept`/`late_dropped` count spans; `decisions` counts traces by (kept, policy name);
    `next_offset` is the last offset added + 1 (-1 before any).
    """

    partition: int
    next_offset: int
    buffered_traces: int
    buffered_spans: int
    buffered_bytes: int
    messages_in: int
    spans_in: int
    duplicate_messages: int
    #: Messages that decoded to no span and no dead letter (an empty request): dropped, counted.
    empty_messages: int
    dead_letters: int
    #: Traces whose decision raised (quarantined to the dead-letter topic).
    quarantined_traces: int
    late_kept: int
    late_dropped: int
    kept_traces: int
    dropped_traces: int
    kept_spans: int
    dropped_spans: int
    decisions: dict[tuple[bool, str], int]
    decisions_by_reason: dict[str, int]
    paused: bool
