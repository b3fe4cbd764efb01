"""Nested Arrow rows of `_stage` (one per OTLP message) into the flat columns of `spans`.

Every step is an Arrow kernel over a whole batch; Python only touches the rare values that need
`_codec`'s exact text (doubles, bytes, and event, link and scope attributes). The result is row for
row what `_columns` builds from the same messages (a property test holds the two to it). Messages
this path does not take are reported instead: invalid spans (Python rejects them with the reason),
repeated keys, and values the stage does not read (arrays, key/value lists).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from datatracing.model import AttributeValue
from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.store._codec import T_EMPTY, _dumps

__all__ = ["FlatBatch", "Hierarchy", "flatten", "needs_python"]

_STRING, _BOOL, _INT, _DOUBLE, _ARRAY, _KVLIST, _BYTES, _STRINDEX = range(1, 9)
# `_codec` type code by oneof field number (0: unset).
_TYPE_CODE = pa.array([T_EMPTY, 0, 3, 1, 2, 5, 6, 4, T_EMPTY], pa.uint8())
_MAX_NS = 2**63 - 1
_ZERO8, _ZERO16 = pa.scalar(b"\x00" * 8, pa.binary()), pa.scalar(b"\x00" * 16, pa.binary())
_STR = pa.string()

FlatBatch = dict[str, pa.Array]


def _f(array: pa.Array, name: str) -> pa.Array:
    return pc.struct_field(array, name)


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
        self.scopes, scope_resource = _children(_f(self.resources, "scope_spans"))
        self.spans, self.span_scope = _children(_f(self.scopes, "spans"))
        self.scope_resource = scope_resource
        self.span_resource = pc.take(scope_resource, self.span_scope)
        self.span_row = pc.take(self.resource_row, self.span_resource)


# --- which messages Python must decode -------------------------------------------------------------


def _lists(h: Hierarchy) -> list[tuple[pa.Array, pa.Array]]:
    """Every key/value list with the stage row of its owner."""
    resource_attrs = _f(_f(h.resources, "resource"), "attributes")
    scope_attrs = _f(_f(h.scopes, "scope"), "attributes")
    events, event_span = _children(_f(h.spans, "events"))
    links, link_span = _children(_f(h.spans, "links"))
    scope_row = pc.take(h.resource_row, h.scope_resource)
    return [
        (resource_attrs, h.resource_row),
        (scope_attrs, scope_row),
        (_f(h.spans, "attributes"), h.span_row),
        (_f(events, "attributes"), pc.take(h.span_row, event_span)),
        (_f(links, "attributes"), pc.take(h.span_row, link_span)),
    ]


_U64 = pa.uint64()
_ONE = pa.scalar(1, _U64)
_SHIFT = {n: pa.scalar(n, _U64) for n in (1, 2, 4, 56)}  # uint64 amounts keep the kernels unsigned
_M1, _M2, _M4, _H01 = (
    pa.scalar(m, _U64)
    for m in (0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F, 0x0101010101010101)
)


def _popcount(x: pa.Array) -> pa.Array:
    """Set bits of each uint64 (the SWAR count; Arrow's unchecked arithmetic wraps like C)."""
    x = pc.subtract(x, pc.bit_wise_and(pc.shift_right(x, _SHIFT[1]), _M1))
    x = pc.add(pc.bit_wise_and(x, _M2), pc.bit_wise_and(pc.shift_right(x, _SHIFT[2]), _M2))
    x = pc.bit_wise_and(pc.add(x, pc.shift_right(x, _SHIFT[4])), _M4)
    return pc.shift_right(pc.multiply(x, _H01), _SHIFT[56])


def _repeated_keys(lists: pa.Array, owner_row: pa.Array) -> pa.Array:
    """Rows owning a list that holds a key twice.

    With at most 64 distinct keys in the batch (the usual case), key number k adds 2**k to its
    list's sum: a list of n keys is free of repeats exactly when the sum has n bits set (a repeat
    carries, and carries only lose bits, also past bit 63). Otherwise (list, key) pairs are hashed.
    """
    keys = _f(lists.flatten(), "key")
    if len(keys) < 2:
        return pa.array([], pa.int64())
    encoded = pc.dictionary_encode(keys)
    if len(encoded.dictionary) <= 64:
        bits = pc.shift_left(_ONE, encoded.indices.cast(_U64))
        running = pa.concat_arrays([pa.array([0], _U64), pc.cumulative_sum(bits)])
        offsets = _offsets(lists)
        sums = pc.subtract(pc.take(running, offsets[1:]), pc.take(running, offsets[:-1]))
        repeats = pc.not_equal(_popcount(sums), pc.list_value_length(lists).cast(_U64))
        return pc.filter(owner_row, repeats)
    parent = pc.list_parent_indices(lists)
    codes = encoded.indices.cast(pa.int64())
    pairs = pc.add(pc.multiply(parent.cast(pa.int64()), len(keys)), codes)
    if len(pc.unique(pairs)) == len(pairs):
        return pa.array([], pa.int64())
    counts = pa.table({"p": pairs, "o": parent}).group_by(["p", "o"]).aggregate([([], "count_all")])
    dup = pc.filter(counts.column("o"), pc.greater(counts.column("count_all"), 1))
    return pc.take(owner_row, dup.combine_chunks())


def _list_rows(lists: pa.Array, owner_row: pa.Array) -> list[pa.Array]:
    """Rows whose list has repeated keys, values the stage does not read (arrays, key/value lists,
    string-table references), or bad UTF-8."""
    kvs, parent = _children(lists)
    value = _f(kvs, "value")
    kv_row = pc.take(owner_row, parent)
    for strings in (_f(kvs, "key"), _f(value, "string_value")):
        _text(strings)
    unread = pc.is_in(_f(value, "value"), pa.array([_ARRAY, _KVLIST, _STRINDEX], pa.int8()))
    return [_repeated_keys(lists, owner_row), pc.filter(kv_row, unread)]


def _bad_id(ids: pa.Array, size: int, zero: pa.Scalar) -> pa.Array:
    return pc.or_(pc.not_equal(pc.binary_length(ids), size), pc.equal(ids, zero))


def needs_python(h: Hierarchy) -> set[int]:
    """Stage rows (positions) Python must decode; raises `pa.ArrowInvalid` on bad UTF-8 anywhere.

    Rows without spans are among them: the engine reads some malformed bytes (field number 0, say)
    as an empty message where the protobuf runtime refuses them, and only Python gives the reason.
    """
    spanless = set(range(h.table.num_rows)) - set(pc.unique(h.span_row).to_pylist())
    spans = h.spans
    pid = _f(spans, "parent_span_id")
    start, end = _f(spans, "start_time_unix_nano"), _f(spans, "end_time_unix_nano")
    bad = pc.or_(_bad_id(_f(spans, "trace_id"), 16, _ZERO16), _bad_id(_f(spans, "span_id"), 8, _ZERO8))
    bad = pc.or_(bad, pc.and_(pc.not_equal(pc.binary_length(pid), 0), _bad_id(pid, 8, _ZERO8)))
    bad = pc.or_(bad, pc.or_(pc.less(end, start), pc.greater(start, _MAX_NS)))
    links, link_span = _children(_f(spans, "links"))
    bad_link = pc.or_(_bad_id(_f(links, "trace_id"), 16, _ZERO16), _bad_id(_f(links, "span_id"), 8, _ZERO8))
    rows = [pc.filter(h.span_row, bad), pc.filter(pc.take(h.span_row, link_span), bad_link)]
    scope = _f(h.scopes, "scope")
    events = _f(spans, "events").flatten()
    for strings in (
        _f(scope, "name"),
        _f(scope, "version"),
        _f(spans, "name"),
        _f(spans, "trace_state"),
        _f(_f(spans, "status"), "message"),
        _f(events, "name"),
        _f(links, "trace_state"),
    ):
        _text(strings)
    for lists, owner_row in _lists(h):
        rows.extend(_list_rows(lists, owner_row))
    return spanless | {int(row) for array in rows for row in pc.unique(array).to_pylist()}


# --- values ---------------------------------------------------------------------------------------


def _py_value(value: dict[str, Any]) -> AttributeValue:
    """A stage value (as `to_pylist` gives it) as the model's attribute value."""
    presence = value["value"]
    if presence == _STRING:
        text: str = value["string_value"].decode("utf-8")
        return text
    if presence == _BOOL:
        return bool(value["bool_value"])
    if presence == _INT:
        return int(value["int_value"])
    if presence == _DOUBLE:
        return float(value["double_value"])
    if presence == _BYTES:
        return bytes(value["bytes_value"])
    if presence in (_ARRAY, _KVLIST, _STRINDEX):  # pragma: no cover - `needs_python` sends these away
        raise ValueError(f"the stage does not read AnyValue member {presence}")
    return None


def _replace(text: pa.Array, mask: pa.Array, values: list[str]) -> pa.Array:
    return pc.replace_with_mask(text, mask, pa.array(values, _STR))


def _value_texts(value: pa.Array) -> pa.Array:
    """Map text of each value (see `_codec`): kernels for strings and ints, Python for the rare rest."""
    presence = _f(value, "value")
    text = _text(_f(value, "string_value"))
    kinds = set(pc.unique(presence).to_pylist()) - {_STRING, 0}
    if _INT in kinds:
        mask = pc.equal(presence, _INT)
        text = pc.replace_with_mask(text, mask, pc.filter(_f(value, "int_value"), mask).cast(_STR))
    if _BOOL in kinds:
        mask = pc.equal(presence, _BOOL)
        flags = pc.filter(_f(value, "bool_value"), mask).to_pylist()
        text = _replace(text, mask, ["true" if flag else "false" for flag in flags])
    if _DOUBLE in kinds:
        mask = pc.equal(presence, _DOUBLE)
        text = _replace(
            text, mask, [repr(float(d)) for d in pc.filter(_f(value, "double_value"), mask).to_pylist()]
        )
    if _BYTES in kinds:
        mask = pc.equal(presence, _BYTES)
        raw = pc.filter(_f(value, "bytes_value"), mask).to_pylist()
        text = _replace(text, mask, [base64.b64encode(b).decode("ascii") for b in raw])
    return text


def _maps(lists: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(text map, type map) per key/value list."""
    kvs = lists.flatten()
    keys, value = _text(_f(kvs, "key")), _f(kvs, "value")
    presence = _f(value, "value")
    offsets = _offsets(lists)
    text = pa.MapArray.from_arrays(offsets, keys, _value_texts(value))
    typed = pc.not_equal(presence, _STRING)
    running = pc.cumulative_sum(typed.cast(pa.int32()))
    typed_offsets = pc.take(pa.concat_arrays([pa.array([0], pa.int32()), running]), offsets)
    codes = pc.take(_TYPE_CODE, pc.filter(presence, typed).cast(pa.int32()))
    types = pa.MapArray.from_arrays(typed_offsets, pc.filter(keys, typed), codes)
    return text, types


def _json_each(lists: pa.Array) -> pa.Array:
    """One JSON object per key/value list ('' when empty), as `_codec.encode_json_attributes`."""
    lengths = pc.list_value_length(lists)
    out = pa.nulls(len(lists), _STR).fill_null("")
    mask = pc.greater(lengths, 0)
    if not pc.any(mask).as_py():
        return out
    texts = [
        _dumps({kv["key"].decode("utf-8"): _py_value(kv["value"]) for kv in kvs})
        for kvs in pc.filter(lists, mask).to_pylist()
    ]
    return _replace(out, mask, texts)


def _nested(parents: pa.Array, values: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(_offsets(parents), values)


def _service(resources: pa.Array) -> pa.Array:
    """Per resource: the (single) string `service.name`, else `unknown_service`."""
    lists = _f(_f(resources, "resource"), "attributes")
    kvs, owner = _children(lists)
    out = pa.nulls(len(resources), _STR).fill_null("unknown_service")
    mask = pc.and_(
        pc.equal(_f(kvs, "key"), b"service.name"), pc.equal(_f(_f(kvs, "value"), "value"), _STRING)
    )
    if not pc.any(mask).as_py():
        return out
    names = _text(pc.filter(_f(_f(kvs, "value"), "string_value"), mask))
    return pc.replace_with_mask(
        out, pc.is_in(pa.array(range(len(resources)), pa.int64()), pc.filter(owner, mask)), names
    )


def flatten(h: Hierarchy, audits: Sequence[SamplingAudit]) -> FlatBatch:
    """Columns of `spans` (all but the batch's computed ones) for every span of the stage table's
    messages. `audits[i]` is the audit of the message with `dt_index == i`.
    """
    spans = h.spans
    index = _column(h.table, "dt_index")
    span_message = pc.take(index, h.span_row)
    res = h.resources
    res_text, res_types = _maps(_f(_f(res, "resource"), "attributes"))
    scope = _f(h.scopes, "scope")
    start, end = _f(spans, "start_time_unix_nano"), _f(spans, "end_time_unix_nano")
    pid = _f(spans, "parent_span_id")
    kind, status = _f(spans, "kind"), _f(spans, "status")
    code = _f(status, "code")
    text, types = _maps(_f(spans, "attributes"))
    ev_lists = _f(spans, "events")
    events = ev_lists.flatten()
    lk_lists = _f(spans, "links")
    links = lk_lists.flatten()

    def per_message(values: list[Any], type_: pa.DataType) -> pa.Array:
        return pc.take(pa.array(values, type_), span_message)

    def per_resource(values: pa.Array) -> pa.Array:
        return pc.take(values, h.span_resource)

    def per_scope(values: pa.Array) -> pa.Array:
        return pc.take(values, h.span_scope)

    return {
        "tenant": per_message([a.tenant for a in audits], _STR),
        "timestamp": start.cast(pa.int64()).cast(pa.timestamp("ns")),
        "trace_id": _f(spans, "trace_id").cast(pa.binary(16)),
        "span_id": _f(spans, "span_id").cast(pa.binary(8)),
        "parent_span_id": pc.if_else(pc.equal(pc.binary_length(pid), 0), _ZERO8, pid).cast(pa.binary(8)),
        "trace_state": _text(_f(spans, "trace_state")),
        "flags": _f(spans, "flags"),
        "service": per_resource(_service(res)),
        "name": _text(_f(spans, "name")),
        "kind": pc.if_else(pc.and_(pc.greater_equal(kind, 0), pc.less_equal(kind, 5)), kind, 0).cast(
            pa.int8()
        ),
        "duration_ns": pc.subtract(end, start),
        "status_code": pc.if_else(pc.and_(pc.greater_equal(code, 0), pc.less_equal(code, 2)), code, 0).cast(
            pa.int8()
        ),
        "status_message": _text(_f(status, "message")),
        "attributes": text,
        "attribute_types": types,
        "dropped_attributes_count": _f(spans, "dropped_attributes_count"),
        "resource_attributes": per_resource(res_text),
        "resource_attribute_types": per_resource(res_types),
        "resource_dropped_attributes_count": per_resource(
            _f(_f(res, "resource"), "dropped_attributes_count")
        ),
        "scope_name": per_scope(_text(_f(scope, "name"))),
        "scope_version": per_scope(_text(_f(scope, "version"))),
        "scope_attributes": per_scope(_json_each(_f(scope, "attributes"))),
        "scope_dropped_attributes_count": per_scope(_f(scope, "dropped_attributes_count")),
        "events.time_unix_nano": _nested(ev_lists, _f(events, "time_unix_nano")),
        "events.name": _nested(ev_lists, _text(_f(events, "name"))),
        "events.attributes": _nested(ev_lists, _json_each(_f(events, "attributes"))),
        "events.dropped_attributes_count": _nested(ev_lists, _f(events, "dropped_attributes_count")),
        "dropped_events_count": _f(spans, "dropped_events_count"),
        "links.trace_id": _nested(lk_lists, _f(links, "trace_id").cast(pa.binary(16))),
        "links.span_id": _nested(lk_lists, _f(links, "span_id").cast(pa.binary(8))),
        "links.trace_state": _nested(lk_lists, _text(_f(links, "trace_state"))),
        "links.flags": _nested(lk_lists, _f(links, "flags")),
        "links.attributes": _nested(lk_lists, _json_each(_f(links, "attributes"))),
        "links.dropped_attributes_count": _nested(lk_lists, _f(links, "dropped_attributes_count")),
        "dropped_links_count": _f(spans, "dropped_links_count"),
        "policy": per_message([a.policy for a in audits], _STR),
        "policy_version": per_message([a.policy_version for a in audits], _STR),
        "sample_rate": per_message([a.sample_rate for a in audits], pa.float64()),
    }
