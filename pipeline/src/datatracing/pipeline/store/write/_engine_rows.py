"""Nested Arrow rows of `write._engine` (one per OTLP message) into the flat columns of `spans`.

Every step is a vectorised pass (Arrow kernels, numpy) over a whole batch; Python only touches the
rare values that need `_values`'s exact text (doubles, bytes, and event, link and scope attributes).
The result is row for row what `write._python` builds from the same messages (a property test holds
the two to it). Messages this path does not take are reported instead: spans breaking
`datatracing.wire`'s rules (checked here with its constants; Python refuses them with the rules'
reason), repeated keys, and values the stage does not read (arrays, key/value lists).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.store._values import T_STRING, _dumps
from datatracing.pipeline.store.write._engine_values import Values, decode_values, py_value
from datatracing.wire import MAX_START_TIME_NS, SPAN_ID_BYTES, TRACE_ID_BYTES

__all__ = ["FlatBatch", "Hierarchy", "flatten", "needs_python"]

# Unsigned, as the time columns are: an int64 scalar would make the kernel cast them and fail.
_MAX_START = pa.scalar(MAX_START_TIME_NS, pa.uint64())
_ZERO8 = pa.scalar(bytes(SPAN_ID_BYTES), pa.binary())
_ZERO16 = pa.scalar(bytes(TRACE_ID_BYTES), pa.binary())
_STR = pa.string()

FlatBatch = dict[str, pa.Array]


def _field(array: pa.StructArray, name: str) -> pa.Array:
    """A struct's child, sliced as the struct is (the engine's tuples are never null; the kernel,
    which also merges nulls, is there for arrays that have them)."""
    return array.field(name) if array.null_count == 0 else pc.struct_field(array, name)


def _children(lists: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(all elements, index of each element's list)."""
    return lists.flatten(), pc.list_parent_indices(lists)


def _offsets(lists: pa.Array) -> pa.Array:
    offsets = lists.offsets
    return pc.subtract(offsets, offsets[0])


def _text(array: pa.Array) -> pa.Array:
    """Binary to string; raises `pa.ArrowInvalid` on bad UTF-8 (the protobuf decoder refuses it)."""
    return array.cast(_STR)


def _column(table: pa.Table, name: str) -> pa.Array:
    column = table.column(name)
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()  # no copy if one


class Hierarchy:
    """Who owns whom: message row -> resources -> scopes -> spans, as index arrays.

    Built once per stage table and shared by `needs_python` and `flatten`.
    """

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        rs = _column(table, "resource_spans")
        self.resources, self.resource_row = _children(rs)
        self.scopes, scope_resource = _children(_field(self.resources, "scope_spans"))
        self.spans, self.span_scope = _children(_field(self.scopes, "spans"))
        self.scope_resource = scope_resource
        self.span_resource = pc.take(scope_resource, self.span_scope)
        self.span_row = pc.take(self.resource_row, self.span_resource)
        self.events, self.event_span = _children(_field(self.spans, "events"))
        self.links, self.link_span = _children(_field(self.spans, "links"))
        #: Every key/value list column, by owner.
        self.attributes = {
            "resource": _field(_field(self.resources, "resource"), "attributes"),
            "scope": _field(_field(self.scopes, "scope"), "attributes"),
            "span": _field(self.spans, "attributes"),
            "event": _field(self.events, "attributes"),
            "link": _field(self.links, "attributes"),
        }
        self._pairs: dict[str, tuple[pa.Array, Values]] = {}
        self._texts: dict[str, pa.Array] = {}

    def text(self, name: str) -> pa.Array:
        """One string field of `_TEXT_FIELDS` as text, cast once for both passes; raises
        `pa.ArrowInvalid` on bad UTF-8."""
        if name not in self._texts:
            self._texts[name] = _text(_TEXT_FIELDS[name](self))
        return self._texts[name]

    def pairs(self, owner: str) -> tuple[pa.Array, Values]:
        """Keys (as text) and decoded values of one key/value list column, decoded once for both
        passes; raises `pa.ArrowInvalid` on bad UTF-8."""
        if owner not in self._pairs:
            kvs = self.attributes[owner].flatten()
            self._pairs[owner] = (_text(_field(kvs, "key")), decode_values(_field(kvs, "value")))
        return self._pairs[owner]


#: The string fields that are checked for UTF-8 and stored as text, by name.
_TEXT_FIELDS: dict[str, Callable[[Hierarchy], pa.Array]] = {
    "scope.name": lambda h: _field(_field(h.scopes, "scope"), "name"),
    "scope.version": lambda h: _field(_field(h.scopes, "scope"), "version"),
    "span.name": lambda h: _field(h.spans, "name"),
    "span.trace_state": lambda h: _field(h.spans, "trace_state"),
    "span.status_message": lambda h: _field(_field(h.spans, "status"), "message"),
    "event.name": lambda h: _field(h.events, "name"),
    "link.trace_state": lambda h: _field(h.links, "trace_state"),
}


# --- which messages Python must decode -------------------------------------------------------------


def _owner_rows(h: Hierarchy) -> dict[str, pa.Array]:
    """The stage row of each key/value list's owner."""
    return {
        "resource": h.resource_row,
        "scope": pc.take(h.resource_row, h.scope_resource),
        "span": h.span_row,
        "event": pc.take(h.span_row, h.event_span),
        "link": pc.take(h.span_row, h.link_span),
    }


_M1, _M2, _M4, _H01 = (
    np.uint64(m) for m in (0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F, 0x0101010101010101)
)


def _popcount(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Set bits of each uint64 (the SWAR count; numpy's uint64 arithmetic wraps like C)."""
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return (x * _H01) >> np.uint64(56)


def _repeated_keys(lists: pa.Array, owner_row: pa.Array) -> pa.Array:
    """Rows owning a list that holds a key twice.

    With at most 64 distinct keys in the batch (the usual case), key number k is bit k: a list of
    n keys is free of repeats exactly when the OR of its keys' bits has n bits set (one pass over
    the keys in numpy). Otherwise (list, key) pairs are hashed.
    """
    keys = _field(lists.flatten(), "key")
    if len(keys) < 2:
        return pa.array([], pa.int64())
    encoded = pc.dictionary_encode(keys)
    if len(encoded.dictionary) <= 64:
        offsets = _offsets(lists).to_numpy()
        lengths = np.diff(offsets)
        filled = np.flatnonzero(lengths)
        bits = np.left_shift(np.uint64(1), encoded.indices.to_numpy().astype(np.uint64))
        seen = np.zeros(len(lengths), np.uint64)
        # Only the non-empty lists: their starts ascend strictly, so each OR stops at the next one.
        seen[filled] = np.bitwise_or.reduceat(bits, offsets[filled])
        repeats = _popcount(seen) != lengths.astype(np.uint64)
        return pc.filter(owner_row, pa.array(repeats))
    parent = pc.list_parent_indices(lists)
    codes = encoded.indices.cast(pa.int64())
    pairs = pc.add(pc.multiply(parent.cast(pa.int64()), len(keys)), codes)
    if len(pc.unique(pairs)) == len(pairs):
        return pa.array([], pa.int64())
    counts = pa.table({"p": pairs, "o": parent}).group_by(["p", "o"]).aggregate([([], "count_all")])
    dup = pc.filter(counts.column("o"), pc.greater(counts.column("count_all"), 1))
    return pc.take(owner_row, dup.combine_chunks())


def _list_rows(h: Hierarchy, owner: str, owner_row: pa.Array) -> list[pa.Array]:
    """Rows whose list has repeated keys, values the kernels do not read (see `write._engine_values`), or
    bad UTF-8."""
    lists = h.attributes[owner]
    python = h.pairs(owner)[1].python
    rows = [_repeated_keys(lists, owner_row)]
    if python.any():
        kv_row = pc.take(owner_row, pc.list_parent_indices(lists))
        rows.append(pc.filter(kv_row, pa.array(python)))
    return rows


def _bad_id(ids: pa.Array, size: int, zero: pa.Scalar) -> pa.Array:
    return pc.or_(pc.not_equal(pc.binary_length(ids), size), pc.equal(ids, zero))


def needs_python(h: Hierarchy) -> npt.NDArray[np.bool_]:
    """Which stage rows Python must decode (a mask); raises `pa.ArrowInvalid` on bad UTF-8 anywhere.

    Rows without spans are among them: the engine reads some malformed bytes (field number 0, say)
    as an empty message where the protobuf runtime refuses them, and only Python gives the reason.
    """
    spans = h.spans
    pid = _field(spans, "parent_span_id")
    start, end = _field(spans, "start_time_unix_nano"), _field(spans, "end_time_unix_nano")
    bad = pc.or_(
        _bad_id(_field(spans, "trace_id"), TRACE_ID_BYTES, _ZERO16),
        _bad_id(_field(spans, "span_id"), SPAN_ID_BYTES, _ZERO8),
    )
    bad = pc.or_(bad, pc.and_(pc.not_equal(pc.binary_length(pid), 0), _bad_id(pid, SPAN_ID_BYTES, _ZERO8)))
    bad = pc.or_(bad, pc.or_(pc.less(end, start), pc.greater(start, _MAX_START)))
    links = h.links
    bad_link = pc.or_(
        _bad_id(_field(links, "trace_id"), TRACE_ID_BYTES, _ZERO16),
        _bad_id(_field(links, "span_id"), SPAN_ID_BYTES, _ZERO8),
    )
    rows = [pc.filter(h.span_row, bad), pc.filter(pc.take(h.span_row, h.link_span), bad_link)]
    for name in _TEXT_FIELDS:
        h.text(name)
    for owner, owner_row in _owner_rows(h).items():
        rows.extend(_list_rows(h, owner, owner_row))
    flagged = np.zeros(h.table.num_rows, np.bool_)
    flagged[np.concatenate([array.to_numpy() for array in rows])] = True
    has_spans = np.zeros(h.table.num_rows, np.bool_)
    has_spans[h.span_row.to_numpy()] = True
    return flagged | ~has_spans


# --- values ---------------------------------------------------------------------------------------


def _replace(text: pa.Array, mask: pa.Array, values: list[str]) -> pa.Array:
    return pc.replace_with_mask(text, mask, pa.array(values, _STR))


def _maps(lists: pa.Array, keys: pa.Array, values: Values) -> tuple[pa.Array, pa.Array]:
    """(text map, type map) per key/value list; the type map holds the keys of non-strings."""
    offsets = _offsets(lists)
    text = pa.MapArray.from_arrays(offsets, keys, values.text)
    typed = values.code != T_STRING
    running = np.concatenate([np.zeros(1, np.int32), np.cumsum(typed, dtype=np.int32)])
    typed_offsets = pa.array(running[offsets.to_numpy()])
    mask = pa.array(typed)
    types = pa.MapArray.from_arrays(typed_offsets, pc.filter(keys, mask), pa.array(values.code[typed]))
    return text, types


def _json_each(lists: pa.Array) -> pa.Array:
    """One JSON object per key/value list ('' when empty), as `_values.encode_json_attributes`."""
    lengths = pc.list_value_length(lists)
    out = pa.nulls(len(lists), _STR).fill_null("")
    mask = pc.greater(lengths, 0)
    if not pc.any(mask).as_py():
        return out
    texts = [
        _dumps({kv["key"].decode("utf-8"): py_value(kv["value"]) for kv in kvs})
        for kvs in pc.filter(lists, mask).to_pylist()
    ]
    return _replace(out, mask, texts)


def _nested(parents: pa.Array, values: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(_offsets(parents), values)


def _service(h: Hierarchy) -> pa.Array:
    """Per resource: the (single) string `service.name`, else `unknown_service`."""
    owner = pc.list_parent_indices(h.attributes["resource"])
    keys, values = h.pairs("resource")
    out = pa.nulls(len(h.resources), _STR).fill_null("unknown_service")
    mask = pc.and_(pc.equal(keys, "service.name"), pa.array(values.code == T_STRING))
    if not pc.any(mask).as_py():
        return out
    names = pc.filter(values.text, mask)
    return pc.replace_with_mask(
        out, pc.is_in(pa.array(range(len(h.resources)), pa.int64()), pc.filter(owner, mask)), names
    )


def flatten(h: Hierarchy, audits: Sequence[SamplingAudit]) -> FlatBatch:
    """Columns of `spans` (all but the batch's computed ones) for every span of the stage table's
    messages. `audits[i]` is the audit of the message with `dt_index == i`.
    """
    spans = h.spans
    index = _column(h.table, "dt_index")
    span_message = pc.take(index, h.span_row)
    res = h.resources
    res_text, res_types = _maps(h.attributes["resource"], *h.pairs("resource"))
    scope = _field(h.scopes, "scope")
    start, end = _field(spans, "start_time_unix_nano"), _field(spans, "end_time_unix_nano")
    pid = _field(spans, "parent_span_id")
    kind, status = _field(spans, "kind"), _field(spans, "status")
    code = _field(status, "code")
    text, types = _maps(h.attributes["span"], *h.pairs("span"))
    ev_lists, events = _field(spans, "events"), h.events
    lk_lists, links = _field(spans, "links"), h.links

    def per_message(values: list[Any], type_: pa.DataType) -> pa.Array:
        return pc.take(pa.array(values, type_), span_message)

    def per_resource(values: pa.Array) -> pa.Array:
        return pc.take(values, h.span_resource)

    def per_scope(values: pa.Array) -> pa.Array:
        return pc.take(values, h.span_scope)

    return {
        "tenant": per_message([a.tenant for a in audits], _STR),
        "timestamp": start.cast(pa.int64()).cast(pa.timestamp("ns")),
        "trace_id": _field(spans, "trace_id").cast(pa.binary(16)),
        "span_id": _field(spans, "span_id").cast(pa.binary(8)),
        "parent_span_id": pc.if_else(pc.equal(pc.binary_length(pid), 0), _ZERO8, pid).cast(pa.binary(8)),
        "trace_state": h.text("span.trace_state"),
        "flags": _field(spans, "flags"),
        "service": per_resource(_service(h)),
        "name": h.text("span.name"),
        "kind": pc.if_else(pc.and_(pc.greater_equal(kind, 0), pc.less_equal(kind, 5)), kind, 0).cast(
            pa.int8()
        ),
        "duration_ns": pc.subtract(end, start),
        "status_code": pc.if_else(pc.and_(pc.greater_equal(code, 0), pc.less_equal(code, 2)), code, 0).cast(
            pa.int8()
        ),
        "status_message": h.text("span.status_message"),
        "attributes": text,
        "attribute_types": types,
        "dropped_attributes_count": _field(spans, "dropped_attributes_count"),
        "resource_attributes": per_resource(res_text),
        "resource_attribute_types": per_resource(res_types),
        "resource_dropped_attributes_count": per_resource(
            _field(_field(res, "resource"), "dropped_attributes_count")
        ),
        "scope_name": per_scope(h.text("scope.name")),
        "scope_version": per_scope(h.text("scope.version")),
        "scope_attributes": per_scope(_json_each(_field(scope, "attributes"))),
        "scope_dropped_attributes_count": per_scope(_field(scope, "dropped_attributes_count")),
        "events.time_unix_nano": _nested(ev_lists, _field(events, "time_unix_nano")),
        "events.name": _nested(ev_lists, h.text("event.name")),
        "events.attributes": _nested(ev_lists, _json_each(_field(events, "attributes"))),
        "events.dropped_attributes_count": _nested(ev_lists, _field(events, "dropped_attributes_count")),
        "dropped_events_count": _field(spans, "dropped_events_count"),
        "links.trace_id": _nested(lk_lists, _field(links, "trace_id").cast(pa.binary(16))),
        "links.span_id": _nested(lk_lists, _field(links, "span_id").cast(pa.binary(8))),
        "links.trace_state": _nested(lk_lists, h.text("link.trace_state")),
        "links.flags": _nested(lk_lists, _field(links, "flags")),
        "links.attributes": _nested(lk_lists, _json_each(_field(links, "attributes"))),
        "links.dropped_attributes_count": _nested(lk_lists, _field(links, "dropped_attributes_count")),
        "dropped_links_count": _field(spans, "dropped_links_count"),
        "policy": per_message([a.policy for a in audits], _STR),
        "policy_version": per_message([a.policy_version for a in audits], _STR),
        "sample_rate": per_message([a.sample_rate for a in audits], pa.float64()),
    }
