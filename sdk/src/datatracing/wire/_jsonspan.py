"""One OTLP JSON span into a protobuf `Span`: a fast path, and protobuf's `json_format` behind it.

The fast path accepts only what it understands exactly (lowerCamelCase keys; integers as JSON
integers or ASCII decimal strings; the common `AnyValue` kinds) and gives up on anything else by
returning False, so the caller parses that span again with `json_format` (`parse_span_slow`), which
is several times slower. A differential property test holds the two paths to the same result
wherever the fast one accepts. Ids are hex in OTLP JSON (base64 in protobuf's own JSON mapping), so
both paths convert them by hand, refusing anything but hex digits.
"""

from __future__ import annotations

import binascii
import re
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

__all__ = ["fast_span", "hex_id", "parse_span_slow"]

_DECIMAL = re.compile(r"-?[0-9]+")
_U32_FIELDS = {
    "flags": "flags",
    "droppedAttributesCount": "dropped_attributes_count",
    "droppedEventsCount": "dropped_events_count",
    "droppedLinksCount": "dropped_links_count",
}
_U64_FIELDS = {"startTimeUnixNano": "start_time_unix_nano", "endTimeUnixNano": "end_time_unix_nano"}
_STR_FIELDS = {"name": "name", "traceState": "trace_state"}
_IDS = {"traceId": "trace_id", "spanId": "span_id", "parentSpanId": "parent_span_id"}
_SLOW_IDS = (("traceId", "trace_id"), ("spanId", "span_id"), ("parentSpanId", "parent_span_id"))
_LINK_IDS = (("traceId", "trace_id"), ("spanId", "span_id"))
_ID_KEYS = frozenset(k for pair in _SLOW_IDS for k in pair)


class _GiveUp(Exception):
    """Not a shape the fast path handles: parse the span with `json_format` instead."""


def hex_id(value: Any, name: str) -> bytes:
    """Decode a hex id (any case); None is empty. `ValueError` when it is not a hex string."""
    if value is None:
        return b""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a hex string, got {type(value).__name__}")
    try:
        # unhexlify, unlike bytes.fromhex, refuses embedded whitespace.
        return binascii.unhexlify(value)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{name} is not hex: {value[:40]!r}") from exc


def _int(value: Any) -> int:
    if type(value) is int:
        return value
    if type(value) is str and _DECIMAL.fullmatch(value):
        return int(value)
    raise _GiveUp


def _str(value: Any) -> str:
    if type(value) is str:
        return value
    raise _GiveUp


def _any_value(doc: Any, target: common_pb2.AnyValue) -> None:
    if type(doc) is not dict or len(doc) > 1:
        raise _GiveUp
    for kind, value in doc.items():
        if kind == "stringValue":
            target.string_value = _str(value)
        elif kind == "intValue":
            target.int_value = _int(value)
        elif kind == "boolValue" and type(value) is bool:
            target.bool_value = value
        elif kind == "doubleValue" and type(value) in (int, float):
            target.double_value = float(value)
        elif kind == "arrayValue" and type(value) is dict and value.keys() <= {"values"}:
            target.array_value.SetInParent()
            for item in _list(value.get("values")):
                _any_value(item, target.array_value.values.add())
        elif kind == "kvlistValue" and type(value) is dict and value.keys() <= {"values"}:
            target.kvlist_value.SetInParent()
            _attributes(value.get("values"), target.kvlist_value.values)
        else:
            raise _GiveUp


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if type(value) is not list:
        raise _GiveUp
    return value


def _attributes(docs: Any, target: Any) -> None:
    for doc in _list(docs):
        if type(doc) is not dict or not doc.keys() <= {"key", "value"}:
            raise _GiveUp
        kv = target.add()
        kv.key = _str(doc.get("key", ""))
        if "value" in doc:
            kv.value.SetInParent()
            _any_value(doc["value"], kv.value)


def _event(doc: Any, target: trace_pb2.Span.Event) -> None:
    if type(doc) is not dict:
        raise _GiveUp
    for key, value in doc.items():
        if key == "timeUnixNano":
            target.time_unix_nano = _int(value)
        elif key == "name":
            target.name = _str(value)
        elif key == "attributes":
            _attributes(value, target.attributes)
        elif key == "droppedAttributesCount":
            target.dropped_attributes_count = _int(value)
        else:
            raise _GiveUp


def _fill(doc: dict[str, Any], target: trace_pb2.Span) -> None:
    for key, value in doc.items():
        if key in _IDS:
            setattr(target, _IDS[key], hex_id(value, key))
        elif key in _U64_FIELDS or key in _U32_FIELDS:
            setattr(target, _U64_FIELDS.get(key) or _U32_FIELDS[key], _int(value))
        elif key in _STR_FIELDS:
            setattr(target, _STR_FIELDS[key], _str(value))
        elif key == "kind" and type(value) is int:
            target.kind = value  # type: ignore[assignment]
        elif key == "attributes":
            _attributes(value, target.attributes)
        elif key == "events":
            for event in _list(value):
                _event(event, target.events.add())
        elif key == "status" and type(value) is dict and value.keys() <= {"code", "message"}:
            target.status.SetInParent()
            if "code" in value:
                target.status.code = _int(value["code"])  # type: ignore[assignment]
            if "message" in value:
                target.status.message = _str(value["message"])
        else:  # links, snake_case keys, enum names, unknown fields: json_format's job
            raise _GiveUp


def fast_span(doc: dict[str, Any], target: trace_pb2.Span) -> bool:
    """Fill `target` from a span's OTLP JSON; False (target left dirty) when `json_format` must."""
    try:
        _fill(doc, target)
    except (_GiveUp, ValueError, TypeError, ArithmeticError):
        return False
    return True


def _get(doc: dict[str, Any], camel: str, snake: str) -> Any:
    value = doc.get(camel)
    return doc.get(snake) if value is None else value


def parse_span_slow(doc: dict[str, Any], target: trace_pb2.Span) -> None:
    """One span's OTLP JSON through protobuf's `json_format` (ids converted from hex by hand).

    Raises what `json_format` raises on values of the wrong type or range, `ValueError` on bad hex.
    """
    rest = {k: v for k, v in doc.items() if k not in _ID_KEYS}
    links = rest.pop("links", None) or []
    if not isinstance(links, list):
        raise TypeError("links must be a JSON array")
    if not all(isinstance(link, dict) for link in links):
        raise TypeError("a link must be a JSON object")
    if links:
        rest["links"] = [{k: v for k, v in link.items() if k not in _ID_KEYS} for link in links]
    json_format.ParseDict(rest, target, ignore_unknown_fields=True)
    target.trace_id = hex_id(_get(doc, *_SLOW_IDS[0]), "traceId")
    target.span_id = hex_id(_get(doc, *_SLOW_IDS[1]), "spanId")
    target.parent_span_id = hex_id(_get(doc, *_SLOW_IDS[2]), "parentSpanId")
    for link_doc, link in zip(links, target.links, strict=True):
        link.trace_id = hex_id(_get(link_doc, *_LINK_IDS[0]), "links.traceId")
        link.span_id = hex_id(_get(link_doc, *_LINK_IDS[1]), "links.spanId")
