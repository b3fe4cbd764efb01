"""Settings of the tail-sampling engine: when a trace is complete, and how much may be buffered.

Defaults follow the OpenTelemetry Collector's `tail_sampling` processor and Honeycomb Refinery:
decide 30 s after the last span (OTel `decision_wait`), 2 s after the root span arrived (Refinery's
send delay), at the latest 60 s after the first span (Refinery's trace timeout), and at once past
32,000 spans (Refinery's span limit).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from datatracing.pipeline.audit import DEFAULT_TENANT

__all__ = ["SamplerSettings"]

_NS_PER_S = 1_000_000_000


def _ns(value: timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * _NS_PER_S + value.microseconds * 1_000


class SamplerSettings(BaseModel):
    """How one partition engine decides completion and bounds its memory.

    Durations accept seconds (`30`, `0.5`) or ISO 8601 (`PT30S`).

    Example:
        >>> SamplerSettings(decision_wait=10).decision_wait_ns
        10000000000
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Decide a trace when no new span has arrived for this long (idle).
    decision_wait: timedelta = Field(default=timedelta(seconds=30), gt=timedelta(0))
    #: Decide a trace this long after its root span (no parent) arrived.
    wait_after_root: timedelta = Field(default=timedelta(seconds=2), ge=timedelta(0))
    #: Decide a trace at the latest this long after its first span arrived.
    max_trace_age: timedelta = Field(default=timedelta(seconds=60), gt=timedelta(0))
    #: Decide a trace at once when it holds this many spans.
    max_spans_per_trace: int = Field(default=32_000, ge=1)
    #: Bounds on what one partition engine buffers (spans, payload bytes).
    max_buffered_spans: int = Field(default=500_000, ge=1)
    max_buffered_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    #: At a bound: `decide_oldest` decides the oldest traces early (normal policies);
    #: `pause` raises `should_pause` so the agent pauses the partition until traces complete.
    #: In `pause` mode the engine still decides oldest traces at twice the bounds, so memory stays
    #: bounded even when the agent cannot pause in time.
    backpressure: Literal["pause", "decide_oldest"] = "decide_oldest"
    #: `should_pause` clears once the buffer is below this fraction of both bounds.
    resume_ratio: float = Field(default=0.8, gt=0, lt=1)
    #: Messages larger than this are dead-lettered by reference (OTLP/gRPC's default receive limit).
    #: In a worker it is `kafka.max_message_bytes`, the pipeline's one size contract (see `config`).
    max_message_bytes: int = Field(default=4 * 1024 * 1024, ge=1)
    #: Decided trace ids remembered so late spans follow the decision (LRU size, time to live).
    decision_cache_size: int = Field(default=200_000, ge=1)
    decision_cache_ttl: timedelta = Field(default=timedelta(minutes=5), gt=timedelta(0))
    #: Tenant recorded on decisions when a message carries no `dt-tenant` header.
    tenant: str = Field(default=DEFAULT_TENANT, min_length=1)

    @property
    def decision_wait_ns(self) -> int:
        return _ns(self.decision_wait)

    @property
    def wait_after_root_ns(self) -> int:
        return _ns(self.wait_after_root)

    @property
    def max_trace_age_ns(self) -> int:
        return _ns(self.max_trace_age)

    @property
    def decision_cache_ttl_ns(self) -> int:
        return _ns(self.decision_cache_ttl)
