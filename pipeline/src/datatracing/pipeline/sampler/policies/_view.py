"""What a policy sees of a buffered trace: a few scalars at once, the spans decoded on demand.

The engine keeps a trace as OTLP protobuf bytes plus a handful of numbers (span count, first start,
last end, root seen). Policies that need no more (latency, span count, probabilistic, rate limit)
never decode. The others go from cheap to exact, and stop as soon as the answer is known:

1. `contains(b"...")` searches the raw bytes: protobuf stores strings as raw UTF-8, so a key or an
   exact value absent from the bytes is in no span;
2. `scan(key)` lists the candidate values of an attribute straight from the bytes (see `_scan`): if
   none passes the policy's test, no span's does;
3. `facts()` decodes, once per trace and shared by every policy, with the policy-view messages
   (`policy_view.proto`): a subset of OTLP that leaves attributes and status as raw bytes, so each
   *distinct* attribute or status is decoded once. Per key/value Python objects are what costs in
   Python; distinct values are few.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from datatracing.model import Span as ModelSpan
from datatracing.pipeline.proto.v1 import policy_view_pb2 as pv
from datatracing.pipeline.sampler.policies._scan import key_scan, typed_values
from datatracing.wire import encode_spans

__all__ = ["AttrValues", "Facts", "Needs", "SpanGroup", "TraceView"]

#: A resource and the spans (of this trace) that it produced, fully decoded.
SpanGroup = tuple[Resource, list[Span]]
#: A resource's raw attributes (KeyValue bytes) and its spans, read with the policy-view messages.
LiteGroup = tuple[Sequence[bytes], list[pv.Span]]


@dataclass(frozen=True, slots=True)
class Needs:
    """The attribute keys policies read (`None`: every key), so only those are decoded."""

    span_keys: frozenset[str] | None = None
    resource_keys: frozenset[str] | None = None


EVERYTHING = Needs()


@dataclass(slots=True)
class AttrValues:
    """Distinct attribute values by key, split by type (so 1, 1.0 and True stay apart).

    Arrays, maps and bytes values are not gathered: no policy matches them.
    """

    strings: dict[str, set[str]] = field(default_factory=dict)
    numbers: dict[str, set[int | float]] = field(default_factory=dict)
    bools: dict[str, set[bool]] = field(default_factory=dict)

    def add(self, key: str, value: AnyValue) -> None:
        which = value.WhichOneof("value")
        if which == "string_value":
            target: dict[str, Any] = self.strings
        elif which in {"int_value", "double_value"}:
            target = self.numbers
        elif which == "bool_value":
            target = self.bools
        else:
            return
        found = target.get(key)
        if found is None:
            target[key] = {getattr(value, which)}
        else:
            found.add(getattr(value, which))


def _present(keys: frozenset[str] | None, view: TraceView) -> frozenset[str] | None:
    if keys is None:
        return None
    return frozenset(k for k in keys if view.contains(k.encode()))


@functools.lru_cache(maxsize=256)
def _key_search(keys: frozenset[str]) -> Callable[[bytes], re.Match[bytes] | None]:
    # One regex search per item finds any of the keys; bytes `in` costs more, once per key.
    return re.compile(b"|".join(re.escape(k.encode()) for k in sorted(keys))).search


def _decode_attrs(raw: set[bytes], keys: frozenset[str] | None) -> AttrValues:
    """Decode each distinct raw KeyValue once; with `keys`, only those that can hold a wanted key."""
    values = AttrValues()
    if keys is None:
        for item in raw:
            kv = KeyValue.FromString(item)
            values.add(kv.key, kv.value)
        return values
    if not keys:
        return values
    search = _key_search(keys)
    for item in raw:
        if search(item) is not None:
            kv = KeyValue.FromString(item)
            if kv.key in keys:
                values.add(kv.key, kv.value)
    return values


class Facts:
    """Facts about a set of spans (all of a trace's, or its roots) and their resources, each
    gathered on first use."""

    __slots__ = (
        "_codes",
        "_groups",
        "_load",
        "_names",
        "_needs",
        "_resource",
        "_resources",
        "_span",
        "_view",
    )

    def __init__(
        self,
        groups: Callable[[], list[LiteGroup]],
        resources: Callable[[], list[Sequence[bytes]]] | None,
        needs: Needs,
        view: TraceView,
    ) -> None:
        self._load = groups
        self._groups: list[LiteGroup] | None = None
        self._resources = resources or (lambda: [attributes for attributes, _ in self._spans()])
        self._needs = needs
        self._view = view
        self._names: set[str] | None = None
        self._codes: set[int] | None = None
        self._span: AttrValues | None = None
        self._resource: AttrValues | None = None

    def names(self) -> set[str]:
        """Distinct span names."""
        if self._names is None:
            self._names = {span.name for _, spans in self._spans() for span in spans}
        return self._names

    def codes(self) -> set[int]:
        """Distinct status codes (0 unset, 1 ok, 2 error)."""
        if self._codes is None:
            raw = {span.status for _, spans in self._spans() for span in spans}
            self._codes = {Status.FromString(item).code if item else 0 for item in raw}
        return self._codes

    def span_attrs(self) -> AttrValues:
        """Values of the span attributes the policies read."""
        if self._span is None:
            raw: set[bytes] = set()
            for _, spans in self._spans():
                for span in spans:
                    raw.update(span.attributes)
            self._span = _decode_attrs(raw, _present(self._needs.span_keys, self._view))
        return self._span

    def resource_attrs(self) -> AttrValues:
        """Values of the resource attributes the policies read, over the resources of these spans."""
        if self._resource is None:
            raw: set[bytes] = set()
            for attributes in self._resources():
                raw.update(attributes)
            self._resource = _decode_attrs(raw, _present(self._needs.resource_keys, self._view))
        return self._resource

    def _spans(self) -> list[LiteGroup]:
        if self._groups is None:
            self._groups = self._load()
        return self._groups


class TraceView:
    """A read-only view of one buffered trace, built by the engine at decision time."""

    __slots__ = (
        "_facts",
        "_haystack",
        "_lite",
        "_root_facts",
        "_scans",
        "end_ns",
        "has_root",
        "needs",
        "payloads",
        "span_count",
        "start_ns",
        "trace_id",
    )

    def __init__(
        self,
        trace_id: str,
        payloads: Sequence[bytes],
        span_count: int,
        start_ns: int,
        end_ns: int,
        has_root: bool,
        needs: Needs = EVERYTHING,
    ) -> None:
        self.trace_id = trace_id
        self.payloads = payloads
        self.span_count = span_count
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.has_root = has_root
        self.needs = needs
        self._lite: list[LiteGroup] | None = None
        # One bytes to search: a needle spanning two joined payloads is a harmless false positive.
        self._haystack = payloads[0] if len(payloads) == 1 else b"".join(payloads)
        self._facts: Facts | None = None
        self._root_facts: Facts | None = None
        self._scans: dict[str, dict[str, set[Any]] | None] = {}

    @classmethod
    def from_spans(cls, spans: Iterable[ModelSpan]) -> TraceView:
        """A view over model spans of one trace (for tests and tools)."""
        spans = list(spans)
        if not spans:
            raise ValueError("a trace needs at least one span")
        return cls(
            trace_id=spans[0].trace_id,
            payloads=[encode_spans(spans)],
            span_count=len(spans),
            start_ns=min(s.start_time_unix_nano for s in spans),
            end_ns=max(s.end_time_unix_nano for s in spans),
            has_root=any(s.parent_span_id is None for s in spans),
        )

    @property
    def duration_ns(self) -> int:
        """First start to last end over the buffered spans."""
        return self.end_ns - self.start_ns

    def contains(self, needle: bytes) -> bool:
        """False when `needle` occurs in no payload: then no span or resource carries that string."""
        return needle in self._haystack

    def scan(self, key: str) -> dict[str, set[Any]] | None:
        """Candidate values of attribute `key` anywhere in the payloads, by kind, read from the bytes
        (a superset: see `_scan`), or None when only decoding can tell."""
        if key not in self._scans:
            raw = key_scan(key).values(self.payloads)
            self._scans[key] = None if raw is None else typed_values(raw)
        return self._scans[key]

    def groups(self) -> list[SpanGroup]:
        """Every span with its resource, fully decoded (for custom policies; the built-in ones
        read `facts`)."""
        groups: list[SpanGroup] = []
        for payload in self.payloads:
            for rs in ExportTraceServiceRequest.FromString(payload).resource_spans:
                spans = [span for ss in rs.scope_spans for span in ss.spans]
                if spans:
                    groups.append((rs.resource, spans))
        return groups

    def _lite_groups(self) -> list[LiteGroup]:
        if self._lite is None:
            lite: list[LiteGroup] = []
            for payload in self.payloads:
                for rs in pv.TraceRequest.FromString(payload).resource_spans:
                    spans = [span for ss in rs.scope_spans for span in ss.spans]
                    if spans:
                        lite.append((rs.resource.attributes, spans))
            self._lite = lite
        return self._lite

    def facts(self, roots_only: bool = False) -> Facts:
        """Facts over every span, or over root spans (no parent) only."""
        if not roots_only:
            if self._facts is None:
                # Resource facts over all spans read resources only, without decoding spans.
                self._facts = Facts(self._lite_groups, self._resource_heads, self.needs, self)
            return self._facts
        if self._root_facts is None:
            self._root_facts = Facts(self._root_groups, None, self.needs, self)
        return self._root_facts

    def _root_groups(self) -> list[LiteGroup]:
        roots: list[LiteGroup] = []
        if self.has_root:
            for attributes, spans in self._lite_groups():
                found = [span for span in spans if not span.parent_span_id]
                if found:
                    roots.append((attributes, found))
        return roots

    def _resource_heads(self) -> list[Sequence[bytes]]:
        """Attributes of every resource that has spans, without decoding the spans."""
        if self._lite is not None:
            return [attributes for attributes, _ in self._lite]
        heads: list[Sequence[bytes]] = []
        for payload in self.payloads:
            for rs in pv.ResourcesRequest.FromString(payload).resource_spans:
                if any(ss.spans for ss in rs.scope_spans):
                    heads.append(rs.resource.attributes)
        return heads
