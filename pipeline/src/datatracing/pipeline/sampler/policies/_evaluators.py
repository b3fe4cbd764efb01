"""Compiled conditions: small objects that look at a `TraceView` and answer a sample rate.

An evaluator returns 0.0 when the trace does not match, otherwise the "1 in N" rate it keeps the
trace at (1.0 for plain conditions, N for probabilistic ones; `and` multiplies, `or` takes the
lowest). Everything here depends only on the trace (and, for the rate limiter, on the traces it
was shown before, in order), never on the wall clock, so a replay decides the same.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from datatracing.pipeline.sampler.policies._view import TraceView

__all__ = [
    "SERVICE_NAME",
    "AllOf",
    "AnyOf",
    "AttributeMatch",
    "Constant",
    "Evaluator",
    "Latency",
    "NameMatch",
    "Negation",
    "Probabilistic",
    "RateLimiter",
    "SpanCount",
    "StatusMatch",
    "hash_keeps",
    "string_matcher",
    "trace_hash",
]

_TWO64 = 1 << 64
#: The resource attribute the `service` policy matches.
SERVICE_NAME = "service.name"


class Evaluator(Protocol):
    """The policy port: a compiled condition over one trace."""

    def evaluate(self, trace: TraceView) -> float:
        """0.0: no match; otherwise the "1 in N" rate at which the trace is kept."""
        ...


#: Relative cost of an evaluation, for `and` to try the cheapest children first: scalars, then the
#: byte pre-filters that may decode (status, names), then attribute scans. Unknown kinds rank last.
_COSTS = {
    "Constant": 0,
    "Latency": 0,
    "SpanCount": 0,
    "Probabilistic": 0,
    "StatusMatch": 1,
    "NameMatch": 2,
    "AttributeMatch": 3,
}
_UNKNOWN_COST = 4


def _parts(evaluator: Evaluator) -> tuple[Evaluator, ...] | None:
    """The evaluators a composite (`and`, `or`, `not`) is made of; None for a leaf."""
    children = getattr(evaluator, "children", None)
    if children is not None:
        return tuple(children)
    child = getattr(evaluator, "child", None)
    return None if child is None else (child,)


def cost(evaluator: Evaluator) -> int:
    """How expensive `evaluator` is to run, relative to the others (see `_COSTS`)."""
    parts = _parts(evaluator)
    if parts is None:
        return _COSTS.get(type(evaluator).__name__, _UNKNOWN_COST)
    return max(map(cost, parts), default=0)


def stateful(evaluator: Evaluator) -> bool:
    """True when evaluating changes state (the rate limiter spends tokens): order then matters."""
    return isinstance(evaluator, RateLimiter) or any(map(stateful, _parts(evaluator) or ()))


def trace_hash(trace_id: str, salt: bytes = b"") -> int:
    """A 64-bit hash of `salt`, a zero byte and the 16 trace id bytes (BLAKE2b, process independent)."""
    digest = hashlib.blake2b(salt + b"\x00" + bytes.fromhex(trace_id), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def hash_keeps(trace_id: str, salt: bytes, one_in: float) -> bool:
    """Keep 1 in `one_in` traces: the hash lies below 2**64 / one_in (same salt: nested rates agree)."""
    return one_in <= 1.0 or trace_hash(trace_id, salt) < int(_TWO64 / one_in)


def string_matcher(values: Sequence[str], match: str) -> Callable[[str], bool]:
    """`exact`: equal to one of `values`; `regex`: any of them found anywhere in the string."""
    if match == "regex":
        # Compiled one by one: joining them would break patterns that start with flags, like (?i).
        searches = [re.compile(v).search for v in values]
        if len(searches) == 1:
            only_search = searches[0]
            return lambda s: only_search(s) is not None
        return lambda s: any(search(s) is not None for search in searches)
    if len(values) == 1:
        only = values[0]
        return lambda s: s == only
    return frozenset(values).__contains__


class Constant:
    """`always` (1.0) or `never` (0.0)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def evaluate(self, trace: TraceView) -> float:
        return self.rate


class Latency:
    """First start to last end within [lower_ns, upper_ns]."""

    def __init__(self, lower_ns: int | None, upper_ns: int | None) -> None:
        self.lower_ns = lower_ns if lower_ns is not None else 0
        self.upper_ns = upper_ns

    def evaluate(self, trace: TraceView) -> float:
        duration = trace.end_ns - trace.start_ns
        if duration < self.lower_ns or (self.upper_ns is not None and duration > self.upper_ns):
            return 0.0
        return 1.0


class SpanCount:
    """Buffered span count within [low, high]."""

    def __init__(self, low: int | None, high: int | None) -> None:
        self.low = low if low is not None else 0
        self.high = high

    def evaluate(self, trace: TraceView) -> float:
        n = trace.span_count
        return 0.0 if n < self.low or (self.high is not None and n > self.high) else 1.0


class StatusMatch:
    """A span (or a root span) has one of the status codes.

    Pre-filter: `Status.code` is field 3, so a set code c is the bytes 0x18, c in the payload (every
    protobuf encoder writes minimal varints); when none of the wanted codes' bytes occur, no span can
    have them and nothing is decoded. UNSET (0) is not written at all, so it is never pre-filtered.
    """

    def __init__(self, codes: frozenset[int], roots_only: bool) -> None:
        self.codes = codes
        self.roots_only = roots_only
        self.needles = () if 0 in codes else tuple(bytes((0x18, c)) for c in sorted(codes))

    def evaluate(self, trace: TraceView) -> float:
        if self.needles and not any(trace.contains(n) for n in self.needles):
            return 0.0
        return 1.0 if not self.codes.isdisjoint(trace.facts(self.roots_only).codes()) else 0.0


class NameMatch:
    """A span's name (or, with `service=True`, its resource's `service.name`) matches."""

    def __init__(
        self, test: Callable[[str], bool], needles: tuple[bytes, ...], roots_only: bool, service: bool
    ) -> None:
        self.test = test
        self.needles = needles
        self.roots_only = roots_only
        self.service = service

    def evaluate(self, trace: TraceView) -> float:
        if self.needles and not any(trace.contains(n) for n in self.needles):
            return 0.0
        facts = trace.facts(self.roots_only)
        names = facts.resource_attrs().strings.get(SERVICE_NAME, ()) if self.service else facts.names()
        return 1.0 if any(map(self.test, names)) else 0.0


class AttributeMatch:
    """Attribute `key` of a span (or its resource) has a value of one type passing `test`.

    `kind` is `strings`, `numbers` or `bools`; `needles` (exact string values) pre-filter the bytes.
    """

    def __init__(
        self,
        key: str,
        kind: str,
        test: Callable[[Any], bool],
        needles: tuple[bytes, ...],
        resource_level: bool,
        roots_only: bool,
    ) -> None:
        self.key = key
        self.key_bytes = key.encode()
        self.kind = kind
        self.test = test
        self.needles = needles
        self.resource_level = resource_level
        self.roots_only = roots_only

    def evaluate(self, trace: TraceView) -> float:
        if not trace.contains(self.key_bytes):
            return 0.0
        if self.needles and not any(trace.contains(n) for n in self.needles):
            return 0.0
        candidates = trace.scan(self.key)
        if candidates is not None and not any(map(self.test, candidates[self.kind])):
            return 0.0  # no value anywhere in the bytes passes: no need to decode
        facts = trace.facts(self.roots_only)
        attrs = facts.resource_attrs() if self.resource_level else facts.span_attrs()
        values: dict[str, set[Any]] = getattr(attrs, self.kind)
        return 1.0 if any(map(self.test, values.get(self.key, ()))) else 0.0


class Probabilistic:
    """Keep 1 in `one_in` traces by the salted trace-id hash."""

    def __init__(self, one_in: float, salt: str) -> None:
        self.one_in = one_in
        self.salt = salt.encode()
        self.threshold = _TWO64 if one_in <= 1.0 else int(_TWO64 / one_in)

    def evaluate(self, trace: TraceView) -> float:
        if self.threshold >= _TWO64 or trace_hash(trace.trace_id, self.salt) < self.threshold:
            return self.one_in
        return 0.0


class RateLimiter:
    """Token bucket of spans whose clock is the traces' own start times, not the wall clock.

    Tokens refill at `spans_per_second` as the start time of the traces shown advances (a trace
    starting earlier than the latest seen refills nothing), up to `burst`; a trace is kept when the
    bucket holds at least its span count. Given the same traces in the same order, a replay keeps
    the same ones. The engine shows traces in a fixed order (per completion batch, by start time
    then id), and each partition engine owns its own bucket: the limit is per partition.
    """

    def __init__(self, spans_per_second: float, burst: float) -> None:
        self.per_ns = spans_per_second / 1e9
        self.burst = burst
        self.tokens = burst
        self.clock_ns: int | None = None

    def evaluate(self, trace: TraceView) -> float:
        start = trace.start_ns
        if self.clock_ns is None:
            self.clock_ns = start
        elif start > self.clock_ns:
            self.tokens = min(self.burst, self.tokens + (start - self.clock_ns) * self.per_ns)
            self.clock_ns = start
        if self.tokens >= trace.span_count:
            self.tokens -= trace.span_count
            return 1.0
        return 0.0


class AllOf:
    """`and`: every child matches; the rate is the product of theirs.

    The product does not depend on the order, so children run cheapest first (`cost`) and stop at
    the first miss, unless one of them is stateful (a rate limiter spends tokens only when reached).
    """

    def __init__(self, children: Sequence[Evaluator]) -> None:
        ordered = tuple(children)
        if not any(stateful(c) for c in ordered):
            ordered = tuple(sorted(ordered, key=cost))
        self.children = ordered

    def evaluate(self, trace: TraceView) -> float:
        rate = 1.0
        for child in self.children:
            r = child.evaluate(trace)
            if r == 0.0:
                return 0.0
            rate *= r
        return rate


class AnyOf:
    """`or`: some child matches; the rate is the lowest among matching children."""

    def __init__(self, children: Sequence[Evaluator]) -> None:
        self.children = tuple(children)

    def evaluate(self, trace: TraceView) -> float:
        best = 0.0
        for child in self.children:
            r = child.evaluate(trace)
            if r != 0.0 and (best == 0.0 or r < best):
                best = r
                if best <= 1.0:
                    break  # nothing can keep it more surely
        return best


class Negation:
    """`not`: matches (at rate 1) exactly when the child does not."""

    def __init__(self, child: Evaluator) -> None:
        self.child = child

    def evaluate(self, trace: TraceView) -> float:
        return 1.0 if self.child.evaluate(trace) == 0.0 else 0.0
