"""Raw `AnyValue` bytes decoded by kernels (`write._engine_values`) equal the protobuf runtime's reading."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from opentelemetry.proto.common.v1 import common_pb2

from datatracing.pipeline.store._values import T_ARRAY, T_EMPTY, T_KVLIST, T_STRING, encode_pb_value
from datatracing.pipeline.store.write._engine_values import decode_values, py_value

_scalars = st.one_of(
    st.builds(lambda s: common_pb2.AnyValue(string_value=s), st.text(max_size=300)),
    # Long enough for a two- and a three-byte length (the last goes to Python).
    st.builds(lambda n: common_pb2.AnyValue(string_value="x" * n), st.sampled_from([127, 128, 16383, 16384])),
    st.builds(lambda i: common_pb2.AnyValue(int_value=i), st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda b: common_pb2.AnyValue(bool_value=b), st.booleans()),
    st.builds(lambda d: common_pb2.AnyValue(double_value=d), st.floats(allow_nan=False)),
    st.builds(lambda b: common_pb2.AnyValue(bytes_value=b), st.binary(max_size=200)),
    st.just(common_pb2.AnyValue()),
    st.just(
        common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[common_pb2.AnyValue(int_value=1)]))
    ),
    st.just(common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList())),
)


def _python(raw: bytes) -> tuple[str, int] | None:
    """What the Python decoder makes of the bytes (None: it refuses them)."""
    try:
        return encode_pb_value(common_pb2.AnyValue.FromString(raw))
    except Exception:
        return None


@given(st.lists(_scalars, max_size=12))
def test_scalars_decode_as_the_protobuf_runtime_does(values: list[common_pb2.AnyValue]) -> None:
    raw = [v.SerializeToString() for v in values]

    decoded = decode_values(pa.array(raw, pa.binary()))

    for i, (value, data) in enumerate(zip(values, raw, strict=True)):
        expected = encode_pb_value(value)
        if decoded.python[i]:
            # Only what the kernels do not read is left to Python.
            assert expected[1] in (T_ARRAY, T_KVLIST) or len(data) > 16384
            continue
        assert (decoded.text[i].as_py(), int(decoded.code[i])) == expected


@given(st.lists(st.binary(max_size=12), max_size=12))
@example([b"\x0a\x01", b"\x18", b"\x18\x80", b"\x10\x02", b"\x0a\x00\x18\x01", b"\x21" + b"\0" * 7])
@example([b"\x0a\x80\x01" + b"x" * 128, b"\x0a\x81\x00x", b"\x18\xff" * 5 + b"\x01"])
def test_arbitrary_bytes_decode_as_the_runtime_or_go_to_python(raw: list[bytes]) -> None:
    try:
        decoded = decode_values(pa.array(raw, pa.binary()))
    except pa.ArrowInvalid:
        # Bad UTF-8 in a string: the whole batch goes to Python, which finds the message.
        assert any(_python(data) is None for data in raw)
        return
    for i, data in enumerate(raw):
        if not decoded.python[i]:
            assert (decoded.text[i].as_py(), int(decoded.code[i])) == _python(data)


def test_sliced_arrays_and_empty_arrays() -> None:
    values = [common_pb2.AnyValue(string_value=s).SerializeToString() for s in ("a", "bb", "ccc", "dddd")]
    array = pa.array(values, pa.binary())

    assert decode_values(array.slice(1, 2)).text.to_pylist() == ["bb", "ccc"]
    empty = decode_values(pa.array([], pa.binary()))
    assert len(empty.text) == 0
    assert not empty.python.any()
    assert decode_values(pa.array([b""], pa.binary())).code.tolist() == [T_EMPTY]
    assert decode_values(array).code.tolist() == [T_STRING] * 4
    assert py_value(b"") is None
    assert py_value(values[0]) == "a"


@pytest.mark.parametrize("raw", [b"\x2a\x00", b"\x32\x00", b"\x40\x01", b"\x0a\x05ab", b"\x18"])
def test_unread_or_malformed_values_go_to_python(raw: bytes) -> None:
    assert decode_values(pa.array([raw], pa.binary())).python.tolist() == [True]
