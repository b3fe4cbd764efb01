"""Flat column buffers filled from OTLP protobuf, then turned into one Arrow table.

Spans are checked against the pipeline's one set of rules (`datatracing.wire`: id sizes, all-zero
ids, end before start, start past 2262, links) with a few inline comparisons on the fields the
columns read anyway; a span that fails one is refused with `invalid_span_reason`'s text, the reason
the gateway and the sampler give for the same span.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from datatracing.errors import InvalidDataError
from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.store._values import T_STRING, encode_json_attributes, encode_pb_value
from datatracing.wire import MAX_START_TIME_NS, SPAN_ID_BYTES, TRACE_ID_BYTES, invalid_span_reason

__all__ = ["COMPUTED", "EXTRAS_FIELDS", "SPANS_SCHEMA", "Columns", "Group"]

_ZERO8, _ZERO16 = bytes(SPAN_ID_BYTES), bytes(TRACE_ID_BYTES)
_STR = pa.string()
_STR_MAP = pa.map_(pa.string(), pa.string())
_TYPE_MAP = pa.map_(pa.string(), pa.uint8())

SPANS_SCHEMA = pa.schema(
    [
        ("tenant", _STR),
        ("timestamp", pa.timestamp("ns")),
        ("trace_id", pa.binary(16)),
        ("span_id", pa.binary(8)),
        ("parent_span_id", pa.binary(8)),
        ("trace_state", _STR),
        ("flags", pa.uint32()),
        ("service", _STR),
        ("name", _STR),
        ("kind", pa.int8()),
        ("duration_ns", pa.uint64()),
        ("status_code", pa.int8()),
        ("status_message", _STR),
        ("parent_service", _STR),
        ("attributes", _STR_MAP),
        ("attribute_types", _TYPE_MAP),
        ("dropped_attributes_count", pa.uint32()),
        ("resource_attributes", _STR_MAP),
        ("resource_attribute_types", _TYPE_MAP),
        ("resource_dropped_attributes_count", pa.uint32()),
        ("scope_name", _STR),
        ("scope_version", _STR),
        ("scope_attributes", _STR),
        ("scope_dropped_attributes_count", pa.uint32()),
        ("events.time_unix_nano", pa.list_(pa.uint64())),
        ("events.name", pa.list_(_STR)),
        ("events.attributes", pa.list_(_STR)),
        ("events.dropped_attributes_count", pa.list_(pa.uint32())),
        ("dropped_events_count", pa.uint32()),
        ("links.trace_id", pa.list_(pa.binary(16))),
        ("links.span_id", pa.list_(pa.binary(8))),
        ("links.trace_state", pa.list_(_STR)),
        ("links.flags", pa.list_(pa.uint32())),
        ("links.attributes", pa.list_(_STR)),
        ("links.dropped_attributes_count", pa.list_(pa.uint32())),
        ("dropped_links_count", pa.uint32()),
        ("policy", _STR),
        ("policy_version", _STR),
        ("sample_rate", pa.float64()),
        ("extras", _STR),
    ]
)

#: Columns `SpanBatch` computes over the whole batch, after the decoders.
COMPUTED = frozenset({"parent_service", "extras"})

#: The fields packed into `extras`, in the order of its JSON array (schema/0005_read_path.sql;
#: link ids as hex). Written by `SpanBatch` and the column's DEFAULT, read by `rows_to_spans`.
EXTRAS_FIELDS = (
    "dropped_attributes_count",
    "resource_dropped_attributes_count",
    "scope_attributes",
    "scope_dropped_attributes_count",
    "events.time_unix_nano",
    "events.name",
    "events.attributes",
    "events.dropped_attributes_count",
    "dropped_events_count",
    "links.trace_id",
    "links.span_id",
    "links.trace_state",
    "links.flags",
    "links.attributes",
    "links.dropped_attributes_count",
    "dropped_links_count",
)

# Columns that are constant for a (resource, scope, message) group; spread over spans by `take`.
_GROUP_FIELDS = (
    "tenant",
    "service",
    "resource_attributes",
    "resource_attribute_types",
    "resource_dropped_attributes_count",
    "scope_name",
    "scope_version",
    "scope_attributes",
    "scope_dropped_attributes_count",
    "policy",
    "policy_version",
    "sample_rate",
)


def _encode_map(kvs: Iterable[common_pb2.KeyValue]) -> tuple[list[str], list[str], list[str], list[int]]:
    values: dict[str, tuple[str, int]] = {}
    for kv in kvs:  # a repeated key keeps its last value, as the codec does
        values[kv.key] = encode_pb_value(kv.value)
    keys = list(values)
    texts = [t for t, _ in values.values()]
    typed = [(k, c) for k, (_, c) in values.items() if c != T_STRING]
    return keys, texts, [k for k, _ in typed], [c for _, c in typed]


def _refuse(span: trace_pb2.Span) -> InvalidDataError:
    """The error for a span an inline check failed: the rules' own reason."""
    return InvalidDataError(invalid_span_reason(span) or "invalid span")


class Columns:
    """Growing per-span lists plus one row per (resource, scope, audit) group."""

    def __init__(self) -> None:
        self.trace_id: list[bytes] = []
        self.span_id: list[bytes] = []
        self.parent: list[bytes] = []
        self.trace_state: list[str] = []
        self.flags: list[int] = []
        self.name: list[str] = []
        self.kind: list[int] = []
        self.start: list[int] = []
        self.duration: list[int] = []
        self.status_code: list[int] = []
        self.status_message: list[str] = []
        self.dropped: list[int] = []
        self.dropped_events: list[int] = []
        self.dropped_links: list[int] = []
        self.group: list[int] = []
        self.attr_offsets: list[int] = [0]
        self.attr_keys: list[str] = []
        self.attr_vals: list[str] = []
        self.type_offsets: list[int] = [0]
        self.type_keys: list[str] = []
        self.type_vals: list[int] = []
        self.ev_offsets: list[int] = [0]
        self.ev_time: list[int] = []
        self.ev_name: list[str] = []
        self.ev_attrs: list[str] = []
        self.ev_dropped: list[int] = []
        self.lk_offsets: list[int] = [0]
        self.lk_trace: list[bytes] = []
        self.lk_span: list[bytes] = []
        self.lk_state: list[str] = []
        self.lk_flags: list[int] = []
        self.lk_attrs: list[str] = []
        self.lk_dropped: list[int] = []
        self.groups: dict[str, list[Any]] = {f: [] for f in _GROUP_FIELDS}
        self._lists: list[list[Any]] = [v for v in vars(self).values() if isinstance(v, list)]
        self._lists.extend(self.groups.values())
        self._group_index: dict[tuple[bytes, bytes, SamplingAudit], int] = {}

    def mark(self) -> tuple[int, ...]:
        """Lengths of every buffer, to undo a message that turns out to be invalid."""
        return tuple(len(lst) for lst in self._lists)

    def rollback(self, mark: tuple[int, ...]) -> None:
        for lst, size in zip(self._lists, mark, strict=True):
            del lst[size:]
        groups = len(self.groups["tenant"])
        self._group_index = {k: v for k, v in self._group_index.items() if v < groups}

    def add_group(self, service: str, resource: Any, scope: Any, audit: SamplingAudit) -> int:
        """Index of the (resource, scope, audit) group, encoding it only the first time it is seen."""
        key = (resource.SerializeToString(), scope.SerializeToString(), audit)
        index = self._group_index.get(key)
        if index is not None:
            return index
        keys, texts, tkeys, tvals = _encode_map(resource.attributes)
        g = self.groups
        g["tenant"].append(audit.tenant)
        g["service"].append(service)
        g["resource_attributes"].append(list(zip(keys, texts, strict=True)))
        g["resource_attribute_types"].append(list(zip(tkeys, tvals, strict=True)))
        g["resource_dropped_attributes_count"].append(resource.dropped_attributes_count)
        g["scope_name"].append(scope.name)
        g["scope_version"].append(scope.version)
        g["scope_attributes"].append(encode_json_attributes(scope.attributes))
        g["scope_dropped_attributes_count"].append(scope.dropped_attributes_count)
        g["policy"].append(audit.policy)
        g["policy_version"].append(audit.policy_version)
        g["sample_rate"].append(audit.sample_rate)
        index = self._group_index[key] = len(g["tenant"]) - 1
        return index

    def add_spans(self, spans: Iterable[trace_pb2.Span], group: int) -> None:
        attr_keys, attr_vals = self.attr_keys, self.attr_vals
        type_keys = self.type_keys
        add_key, add_val = attr_keys.append, attr_vals.append
        add_type_key, add_type_val = type_keys.append, self.type_vals.append
        for sp in spans:
            tid, sid, pid = sp.trace_id, sp.span_id, sp.parent_span_id
            if len(tid) != TRACE_ID_BYTES or tid == _ZERO16 or len(sid) != SPAN_ID_BYTES or sid == _ZERO8:
                raise _refuse(sp)
            if pid:
                if len(pid) != SPAN_ID_BYTES or pid == _ZERO8:
                    raise _refuse(sp)
            else:
                pid = _ZERO8
            start, end = sp.start_time_unix_nano, sp.end_time_unix_nano
            if end < start or start > MAX_START_TIME_NS:
                raise _refuse(sp)
            first = len(attr_keys)
            for kv in sp.attributes:
                key, value = kv.key, kv.value
                add_key(key)
                if value.WhichOneof("value") == "string_value":
                    add_val(value.string_value)
                else:
                    text, code = encode_pb_value(value)
                    add_val(text)
                    add_type_key(key)
                    add_type_val(code)
            if len(attr_keys) - first > 1 and len(set(attr_keys[first:])) < len(attr_keys) - first:
                self._redo_span_attributes(first, sp.attributes)
            self.attr_offsets.append(len(attr_keys))
            self.type_offsets.append(len(type_keys))
            if sp.events:
                self._add_events(sp.events)
            self.ev_offsets.append(len(self.ev_time))
            if sp.links:
                if invalid_span_reason(sp) is not None:
                    raise _refuse(sp)
                self._add_links(sp.links)
            self.lk_offsets.append(len(self.lk_trace))
            status = sp.status
            kind, code = sp.kind, status.code
            self.trace_id.append(tid)
            self.span_id.append(sid)
            self.parent.append(pid)
            self.trace_state.append(sp.trace_state)
            self.flags.append(sp.flags)
            self.name.append(sp.name)
            self.kind.append(kind if 0 <= kind <= 5 else 0)
            self.start.append(start)
            self.duration.append(end - start)
            self.status_code.append(code if 0 <= code <= 2 else 0)
            self.status_message.append(status.message)
            self.dropped.append(sp.dropped_attributes_count)
            self.dropped_events.append(sp.dropped_events_count)
            self.dropped_links.append(sp.dropped_links_count)
            self.group.append(group)

    def _redo_span_attributes(self, first: int, attributes: Iterable[common_pb2.KeyValue]) -> None:
        # A repeated key keeps its last value, as the model codec does; rare, so simply re-encoded.
        del self.attr_keys[first:], self.attr_vals[first:]
        del self.type_keys[self.type_offsets[-1] :], self.type_vals[self.type_offsets[-1] :]
        keys, texts, tkeys, tvals = _encode_map(attributes)
        self.attr_keys.extend(keys)
        self.attr_vals.extend(texts)
        self.type_keys.extend(tkeys)
        self.type_vals.extend(tvals)

    def _add_events(self, events: Iterable[trace_pb2.Span.Event]) -> None:
        for ev in events:
            self.ev_time.append(ev.time_unix_nano)
            self.ev_name.append(ev.name)
            self.ev_attrs.append(encode_json_attributes(ev.attributes))
            self.ev_dropped.append(ev.dropped_attributes_count)

    def _add_links(self, links: Iterable[trace_pb2.Span.Link]) -> None:
        for lk in links:
            self.lk_trace.append(lk.trace_id)
            self.lk_span.append(lk.span_id)
            self.lk_state.append(lk.trace_state)
            self.lk_flags.append(lk.flags)
            self.lk_attrs.append(encode_json_attributes(lk.attributes))
            self.lk_dropped.append(lk.dropped_attributes_count)

    def arrays(self) -> dict[str, pa.Array]:
        """All buffered spans as Arrow arrays by `SPANS_SCHEMA` name (all but `COMPUTED`)."""
        f = SPANS_SCHEMA.field
        groups = pa.table({name: pa.array(self.groups[name], f(name).type) for name in _GROUP_FIELDS}).take(
            pa.array(self.group, pa.int32())
        )

        def lists(offsets: list[int], values: list[Any], name: str) -> pa.Array:
            value_type = f(name).type.value_type
            return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(values, value_type))

        own: dict[str, pa.Array] = {
            "timestamp": pa.array(self.start, pa.timestamp("ns")),
            "trace_id": pa.array(self.trace_id, pa.binary(16)),
            "span_id": pa.array(self.span_id, pa.binary(8)),
            "parent_span_id": pa.array(self.parent, pa.binary(8)),
            "trace_state": pa.array(self.trace_state, _STR),
            "flags": pa.array(self.flags, pa.uint32()),
            "name": pa.array(self.name, _STR),
            "kind": pa.array(self.kind, pa.int8()),
            "duration_ns": pa.array(self.duration, pa.uint64()),
            "status_code": pa.array(self.status_code, pa.int8()),
            "status_message": pa.array(self.status_message, _STR),
            "attributes": pa.MapArray.from_arrays(
                pa.array(self.attr_offsets, pa.int32()),
                pa.array(self.attr_keys, _STR),
                pa.array(self.attr_vals, _STR),
            ),
            "attribute_types": pa.MapArray.from_arrays(
                pa.array(self.type_offsets, pa.int32()),
                pa.array(self.type_keys, _STR),
                pa.array(self.type_vals, pa.uint8()),
            ),
            "dropped_attributes_count": pa.array(self.dropped, pa.uint32()),
            "events.time_unix_nano": lists(self.ev_offsets, self.ev_time, "events.time_unix_nano"),
            "events.name": lists(self.ev_offsets, self.ev_name, "events.name"),
            "events.attributes": lists(self.ev_offsets, self.ev_attrs, "events.attributes"),
            "events.dropped_attributes_count": lists(
                self.ev_offsets, self.ev_dropped, "events.dropped_attributes_count"
            ),
            "dropped_events_count": pa.array(self.dropped_events, pa.uint32()),
            "links.trace_id": lists(self.lk_offsets, self.lk_trace, "links.trace_id"),
            "links.span_id": lists(self.lk_offsets, self.lk_span, "links.span_id"),
            "links.trace_state": lists(self.lk_offsets, self.lk_state, "links.trace_state"),
            "links.flags": lists(self.lk_offsets, self.lk_flags, "links.flags"),
            "links.attributes": lists(self.lk_offsets, self.lk_attrs, "links.attributes"),
            "links.dropped_attributes_count": lists(
                self.lk_offsets, self.lk_dropped, "links.dropped_attributes_count"
            ),
            "dropped_links_count": pa.array(self.dropped_links, pa.uint32()),
        }
        return {
            name: own[name] if name in own else groups.column(name).combine_chunks()
            for name in SPANS_SCHEMA.names
            if name not in COMPUTED
        }


class Group:
    """Adds one message's resource/scope groups and spans to `Columns`."""

    def __init__(self, columns: Columns, audit: SamplingAudit) -> None:
        self._columns = columns
        self._audit = audit

    def add_resource_spans(self, resource_spans: trace_pb2.ResourceSpans) -> None:
        resource = resource_spans.resource
        service = "unknown_service"
        for kv in resource.attributes:
            if kv.key == "service.name":
                # Like `Resource.service_name`: only a string value names the service; last one wins.
                value = kv.value
                service = (
                    value.string_value if value.WhichOneof("value") == "string_value" else "unknown_service"
                )
        for scope_spans in resource_spans.scope_spans:
            if not scope_spans.spans:
                continue
            group = self._columns.add_group(service, resource, scope_spans.scope, self._audit)
            self._columns.add_spans(scope_spans.spans, group)
