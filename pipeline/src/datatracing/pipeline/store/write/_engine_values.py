"""OTLP `AnyValue` messages, as the stage hands them over (raw bytes), into map text and type codes.

The stage reads each attribute value as the bytes of its `AnyValue` message instead of parsing it
into one column per member, since every such column would be filled for every attribute. An encoder
writes an `AnyValue` as one field, so the bytes are a tag, maybe a length, and the payload;
vectorised code reads the scalar members here:

- string (tag 0x0A) and bytes (0x3A): tag, a length of one or two varint bytes, the payload, and
  nothing else (the length covers the rest of the message);
- int (0x18): tag and a varint of one to ten bytes; bool (0x10): tag and one byte; double (0x21):
  tag and eight bytes; unset: no bytes.

Anything else (arrays, key/value lists, string-table references, values of 16 KiB or more, a
second field, unknown fields, malformed bytes) is flagged for the Python decoder, which handles
(or rejects, with the reason) the whole message. Text and type codes match `_values.encode_pb_value`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from opentelemetry.proto.common.v1 import common_pb2

from datatracing.model import AttributeValue
from datatracing.pipeline.store._values import T_BOOL, T_BYTES, T_DOUBLE, T_EMPTY, T_INT, T_STRING
from datatracing.wire import any_value

__all__ = ["Values", "decode_values", "py_value"]

_STRING_TAG, _BOOL_TAG, _INT_TAG, _DOUBLE_TAG, _BYTES_TAG = 0x0A, 0x10, 0x18, 0x21, 0x3A
_STR = pa.string()
_BOOL_TEXT = pa.array(["false", "true"], _STR)
_BLANK = pa.array([b""], pa.binary())
_ZERO = np.zeros(1, np.uint8)

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Values:
    """Decoded values, one per input row."""

    #: Map text (as `_values`): '' for unset values and for the rows Python must decode.
    text: pa.Array
    #: `_values` type code (`T_STRING`, ...).
    code: npt.NDArray[np.uint8]
    #: Rows whose value only the Python decoder reads.
    python: Mask


def py_value(raw: bytes) -> AttributeValue:
    """One raw `AnyValue` as the model's attribute value (the protobuf runtime, for rare values)."""
    return any_value(common_pb2.AnyValue.FromString(raw))


def _varints(
    data: npt.NDArray[np.uint8], start: npt.NDArray[np.int64], size: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], Mask]:
    """The varint filling data[start:start+size] exactly, as int64, and whether it does."""
    value = np.zeros(len(start), np.uint64)
    ok = (size >= 1) & (size <= 10)
    last = len(data) - 1
    for k in range(min(int(size.max(initial=0)), 10)):
        byte = data[np.minimum(start + k, last)]
        inside = k < size
        value |= np.where(inside, (byte & 0x7F).astype(np.uint64) << np.uint64(7 * k), np.uint64(0))
        more = (byte & 0x80) != 0
        # Every byte but the last has the continuation bit; the last does not.
        ok &= ~inside | (more == (k < size - 1))
    return value.view(np.int64), ok


def decode_values(raw: pa.Array) -> Values:
    """Decode raw `AnyValue` bytes (a non-null binary array); raises `pa.ArrowInvalid` on bad UTF-8."""
    n = len(raw)
    buffers = raw.buffers()
    offsets = np.frombuffer(buffers[1], np.int32, count=n + 1, offset=raw.offset * 4)
    data = np.frombuffer(buffers[2], np.uint8) if buffers[2] is not None and len(buffers[2]) else _ZERO
    last = len(data) - 1
    start, size = offsets[:-1], np.diff(offsets)
    # Bytes read past a row's end belong to the next row: every test below also checks the size.
    tag, b1 = data[np.minimum(start, last)], data[np.minimum(start + 1, last)]
    # Strings with a one-byte length, nearly every value: the payload from byte 2.
    plain = (tag == _STRING_TAG) & (b1 < 0x80) & (size == b1.astype(np.int32) + 2)
    # An explicit end: without one, Arrow 26 fails on arrays of an even length ("Negative buffer
    # resize") and is ten times slower otherwise.
    text = pc.binary_slice(raw, 2, max(int(size.max(initial=0)), 2))
    code = np.full(n, T_STRING, np.uint8)
    python = np.zeros(n, np.bool_)
    rest = np.flatnonzero(~plain)
    if len(rest):
        text = _others(
            raw, data, rest, start[rest].astype(np.int64), size[rest].astype(np.int64), text, code, python
        )
    return Values(text=text.cast(_STR), code=code, python=python)


def _others(
    raw: pa.Array,
    data: npt.NDArray[np.uint8],
    rest: npt.NDArray[np.intp],
    start: npt.NDArray[np.int64],
    size: npt.NDArray[np.int64],
    text: pa.Array,
    code: npt.NDArray[np.uint8],
    python: Mask,
) -> pa.Array:
    """Text of the rows that are not short strings (`rest`, with their `start` and `size`); fills
    `code` and `python` for them."""
    last = len(data) - 1
    tag, b1, b2 = (data[np.minimum(start + k, last)] for k in range(3))
    short = b1 < 0x80
    length = np.where(short, b1, (b1 & 0x7F).astype(np.int64) | (b2.astype(np.int64) << 7))
    delimited = (size >= 2) & (short | ((b2 < 0x80) & (size >= 3))) & (size == np.where(short, 2, 3) + length)
    is_str = (tag == _STRING_TAG) & delimited  # with a two-byte length
    is_bytes = (tag == _BYTES_TAG) & delimited
    is_bool = (tag == _BOOL_TAG) & (size == 2) & short
    is_double = (tag == _DOUBLE_TAG) & (size == 9)
    is_int = tag == _INT_TAG
    int_rows = np.flatnonzero(is_int)
    ints, int_ok = _varints(data, start[int_rows] + 1, size[int_rows] - 1)
    is_int[int_rows[~int_ok]] = False
    empty = size == 0
    python[rest] = ~(is_str | is_bytes | is_bool | is_double | is_int | empty)
    for rows, type_code in ((is_int, T_INT), (is_bool, T_BOOL), (is_double, T_DOUBLE), (is_bytes, T_BYTES)):
        code[rest[rows]] = type_code
    code[rest[empty]] = T_EMPTY
    doubles = data[(start[is_double] + 1)[:, None] + np.arange(8)].view("<f8").ravel()
    pieces: list[tuple[Mask, pa.Array]] = [
        (is_int, pc.cast(pa.array(ints[int_ok], pa.int64()), _STR)),
        (is_bool, pc.take(_BOOL_TEXT, pa.array((b1[is_bool] != 0).astype(np.int8)))),
        (is_str, pc.binary_slice(pc.take(raw, pa.array(rest[is_str])), 3, max(int(size.max()), 3))),
        (is_double, pa.array([repr(float(d)) for d in doubles], _STR)),
        (is_bytes, _base64(raw, rest[is_bytes], short[is_bytes])),
    ]
    # One take builds the whole column: rows not in `rest` keep their own text, the others take
    # theirs from one array per kind appended after it (a take copies once, a masked replace after
    # a take twice, and the replace kernel is the slower of the two).
    base = len(text)
    position = np.arange(base, dtype=np.int64)
    taken = np.full(len(rest), base + sum(len(values) for _, values in pieces), np.int64)  # ''
    for rows, values in pieces:
        taken[rows] = base + np.arange(len(values))
        base += len(values)
    position[rest] = taken
    arrays = [text.cast(pa.binary())] + [values.cast(pa.binary()) for _, values in pieces] + [_BLANK]
    return pc.take(pa.concat_arrays(arrays), pa.array(position))


def _base64(raw: pa.Array, rows: npt.NDArray[np.intp], short: Mask) -> pa.Array:
    payloads = pc.take(raw, pa.array(rows)).to_pylist()
    heads = np.where(short, 2, 3).tolist()
    return pa.array(
        [base64.b64encode(p[h:]).decode("ascii") for p, h in zip(payloads, heads, strict=True)], _STR
    )
