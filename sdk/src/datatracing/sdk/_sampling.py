"""Head samplers: decide at span start whether a span records.

The pipeline's tail sampler makes the real keep/drop decision on whole traces, so the default here is
OpenTelemetry's: follow the parent's sampled flag, sample every root.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from datatracing.errors import UsageError
from datatracing.model import SpanKind
from datatracing.sdk._api import SpanContext

__all__ = [
    "ALWAYS_OFF",
    "ALWAYS_ON",
    "DEFAULT_SAMPLER",
    "AlwaysOffSampler",
    "AlwaysOnSampler",
    "ParentBasedSampler",
    "Sampler",
    "TraceIdRatioSampler",
]


class Sampler(Protocol):
    """Decides whether a new span records (and is exported) or only propagates its context."""

    def should_sample(
        self,
        parent: SpanContext | None,
        trace_id: str,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, object] | None,
    ) -> bool:
        """True to record the span; `parent` is None for a root span."""
        ...


class AlwaysOnSampler:
    """Records every span."""

    def should_sample(
        self,
        parent: SpanContext | None,
        trace_id: str,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, object] | None,
    ) -> bool:
        return True


class AlwaysOffSampler:
    """Records no span (contexts still propagate, unsampled)."""

    def should_sample(
        self,
        parent: SpanContext | None,
        trace_id: str,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, object] | None,
    ) -> bool:
        return False


ALWAYS_ON = AlwaysOnSampler()
ALWAYS_OFF = AlwaysOffSampler()


class TraceIdRatioSampler:
    """Records a fraction `ratio` of traces, decided on the trace id so every service agrees."""

    def __init__(self, ratio: float) -> None:
        if not 0.0 <= ratio <= 1.0:
            raise UsageError(f"sampling ratio must be within [0, 1], got {ratio}")
        self.ratio = ratio
        # Same rule as OpenTelemetry: compare the low 64 bits of the trace id with a bound.
        self._bound = round(ratio * (2**64 - 1))

    def should_sample(
        self,
        parent: SpanContext | None,
        trace_id: str,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, object] | None,
    ) -> bool:
        return int(trace_id[16:], 16) < self._bound if self.ratio < 1.0 else True


class ParentBasedSampler:
    """Follows the parent's sampled flag; `root` decides for spans without a parent."""

    def __init__(
        self,
        root: Sampler,
        *,
        remote_parent_sampled: Sampler = ALWAYS_ON,
        remote_parent_not_sampled: Sampler = ALWAYS_OFF,
        local_parent_sampled: Sampler = ALWAYS_ON,
        local_parent_not_sampled: Sampler = ALWAYS_OFF,
    ) -> None:
        self.root = root
        self._remote = (remote_parent_not_sampled, remote_parent_sampled)
        self._local = (local_parent_not_sampled, local_parent_sampled)

    def should_sample(
        self,
        parent: SpanContext | None,
        trace_id: str,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, object] | None,
    ) -> bool:
        if parent is None:
            delegate = self.root
        else:
            delegate = (self._remote if parent.is_remote else self._local)[parent.trace_flags & 1]
        return delegate.should_sample(parent, trace_id, name, kind, attributes)


#: OpenTelemetry's default, `parentbased_always_on`. The tracer short-cuts this exact object.
DEFAULT_SAMPLER = ParentBasedSampler(ALWAYS_ON)
