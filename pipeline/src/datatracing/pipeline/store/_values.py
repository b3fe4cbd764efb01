"""How attribute values are stored, exactly and still searchable.

Span and resource attributes go into `Map(LowCardinality(String), String)`: every value as text, so
`attributes['http.status_code'] = '200'` finds the integer 200. A side map (`attribute_types`) records
the type of each non-string value, which makes the round trip exact:

====  ==========  =========================================================
code  type        text form
====  ==========  =========================================================
0     string      the string itself (not listed in the type map)
1     int         decimal
2     double      Python `repr` (round-trips every float)
3     bool        `true` / `false`
4     bytes       base64
5     array       JSON (bytes inside as `{"$bytes": base64}`)
6     kvlist      JSON object
7     empty       empty text (OTLP's empty `AnyValue`, the model's `None`)
====  ==========  =========================================================

Event, link and scope attributes are rarely searched; they are stored as one JSON object each.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.proto.common.v1 import common_pb2

from datatracing.model import AttributeValue
from datatracing.wire import any_value

__all__ = [
    "T_ARRAY",
    "T_BOOL",
    "T_BYTES",
    "T_DOUBLE",
    "T_EMPTY",
    "T_INT",
    "T_KVLIST",
    "T_STRING",
    "decode_json_attributes",
    "decode_value",
    "encode_json_attributes",
    "encode_model_value",
    "encode_pb_value",
]

T_STRING, T_INT, T_DOUBLE, T_BOOL, T_BYTES, T_ARRAY, T_KVLIST, T_EMPTY = range(8)
_BYTES_TAG = "$bytes"


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return {_BYTES_TAG: base64.b64encode(value).decode("ascii")}
    raise TypeError(f"cannot store attribute value of type {type(value).__name__}")


def _json_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _BYTES_TAG in obj and isinstance(obj[_BYTES_TAG], str):
        return base64.b64decode(obj[_BYTES_TAG])
    return obj


def _dumps(value: object) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def encode_pb_value(value: common_pb2.AnyValue) -> tuple[str, int]:
    """Text form and type code of an OTLP `AnyValue` (hot path: no model objects)."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value, T_STRING
    if which == "int_value":
        return str(value.int_value), T_INT
    if which == "double_value":
        return repr(value.double_value), T_DOUBLE
    if which == "bool_value":
        return ("true" if value.bool_value else "false"), T_BOOL
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii"), T_BYTES
    if which == "array_value":
        return _dumps(any_value(value)), T_ARRAY
    if which == "kvlist_value":
        return _dumps(any_value(value)), T_KVLIST
    return "", T_EMPTY


def encode_model_value(value: AttributeValue) -> tuple[str, int]:
    """Text form and type code of a model attribute value."""
    if value is None:
        return "", T_EMPTY
    if isinstance(value, str):
        return value, T_STRING
    if isinstance(value, bool):  # before int: bool is an int
        return ("true" if value else "false"), T_BOOL
    if isinstance(value, int):
        return str(value), T_INT
    if isinstance(value, float):
        return repr(value), T_DOUBLE
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii"), T_BYTES
    if isinstance(value, list):
        return _dumps(value), T_ARRAY
    return _dumps(value), T_KVLIST


def decode_value(text: str, type_code: int) -> AttributeValue:
    """Inverse of the encoders."""
    if type_code == T_STRING:
        return text
    if type_code == T_INT:
        return int(text)
    if type_code == T_DOUBLE:
        return float(text)
    if type_code == T_BOOL:
        return text == "true"
    if type_code == T_BYTES:
        return base64.b64decode(text)
    if type_code in (T_ARRAY, T_KVLIST):
        decoded: AttributeValue = json.loads(text, object_hook=_json_hook)
        return decoded
    return None


def decode_map(
    pairs: Iterable[tuple[str, str]], types: Iterable[tuple[str, int]]
) -> dict[str, AttributeValue]:
    """Rebuild an attribute dict from the text map and the type map (as Arrow gives them: pairs)."""
    type_of = dict(types)
    if not type_of:
        return dict(pairs)
    return {k: decode_value(v, type_of.get(k, T_STRING)) for k, v in pairs}


def encode_json_attributes(pb_attributes: Iterable[common_pb2.KeyValue]) -> str:
    """An OTLP key/value list as one JSON object ('' when empty, the common case)."""
    items = list(pb_attributes)
    if not items:
        return ""
    return _dumps({kv.key: any_value(kv.value) for kv in items})


def decode_json_attributes(text: str) -> dict[str, AttributeValue]:
    """Inverse of `encode_json_attributes`."""
    if not text:
        return {}
    decoded: Mapping[str, AttributeValue] = json.loads(text, object_hook=_json_hook)
    return dict(decoded)
