"""A byte-level pre-filter for attribute policies: candidate values of one key, without decoding.

Decoding every key/value of every span builds one Python object per element, the expensive part of
evaluating a policy in Python. An attribute policy usually does not match, and proving that needs no
decoding: every OTLP encoder writes a `KeyValue` as its key field then its value field, so the key's
bytes are followed by the value's. `KeyScan.values` finds each `0x0a <len> key 0x12 <len> <AnyValue>` in
the payload (one `bytes.split` in C) and returns the distinct AnyValue bytes — a superset of the key's
values on spans (it also sees resource, event, link and nested attributes).

It is exact in the direction that matters: it gives up (returns None, so the caller decodes) unless
*every* occurrence of the key's bytes in the payload sits in such a match. Any `KeyValue` with this
key contains the key's bytes, so when all occurrences are matches, the real values are among the
candidates; a policy whose test fails on every candidate does not match, and a candidate that passes
is always confirmed by a full decode. Keys whose bytes can overlap themselves (`"a.a"`) are never
scanned, since counting their occurrences is ambiguous.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from itertools import islice
from typing import Any, cast

from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

__all__ = ["KeyScan", "key_scan", "typed_values"]


def _overlaps_itself(key: bytes) -> bool:
    return any(key[:i] == key[-i:] for i in range(1, len(key)))


class KeyScan:
    """Finds the raw values of attribute `key` in OTLP protobuf bytes (see the module docstring)."""

    __slots__ = ("key", "prefix", "usable")

    def __init__(self, key: str) -> None:
        self.key = key.encode()
        self.usable = 0 < len(self.key) < 128 and not _overlaps_itself(self.key)
        #: key field (tag 1, length, key) then the value field's tag (2, length-delimited)
        self.prefix = b"\x0a" + bytes((len(self.key) & 0x7F,)) + self.key + b"\x12"

    def values(self, payloads: Sequence[bytes]) -> set[bytes] | None:
        """Distinct raw AnyValue bytes of every canonical KeyValue with this key, or None when an
        occurrence of the key is not one (then only a full decode can tell)."""
        if not self.usable:
            return None
        found: set[bytes] = set()
        for payload in payloads:
            # Splitting at the prefix (in C) leaves each value at the start of a segment.
            segments = payload.split(self.prefix)
            if len(segments) - 1 != payload.count(self.key):
                return None
            for segment in islice(segments, 1, None):
                if not segment:
                    return None  # the prefix ends the payload
                length = segment[0]
                if length < 0x80:
                    if len(segment) <= length:
                        return None  # the value holds the prefix itself (split cut it)
                    found.add(segment[1 : 1 + length])
                elif not _add_long(segment, found):
                    return None
        return found


def _add_long(segment: bytes, found: set[bytes]) -> bool:
    """A value of 128 bytes or more (two-byte length); False when it cannot be read."""
    if len(segment) < 2 or segment[1] >= 0x80:
        return False
    length = (segment[0] & 0x7F) | (segment[1] << 7)
    if len(segment) < 2 + length:
        return False
    found.add(segment[2 : 2 + length])
    return True


_KINDS = {"string_value": "strings", "int_value": "numbers", "double_value": "numbers", "bool_value": "bools"}
#: Raw AnyValue bytes → (kind, value), None (a kind no policy matches) or _UNDECODABLE. Values repeat
#: across traces (status codes, routes, tiers), so most lookups skip the decode; cleared when full.
_DECODED: dict[bytes, tuple[str, Any] | object | None] = {}
_DECODED_MAX = 16_384
_UNDECODABLE = object()
_MISS = object()


def _decode_value(raw: bytes) -> tuple[str, Any] | object | None:
    try:
        value = AnyValue.FromString(raw)
    except DecodeError:
        return _UNDECODABLE
    which = value.WhichOneof("value") or ""
    kind = _KINDS.get(which)
    return None if kind is None else (kind, getattr(value, which))


def typed_values(raw_values: set[bytes]) -> dict[str, set[Any]] | None:
    """Decode distinct raw AnyValues into Python values by kind (`strings`, `numbers`, `bools`;
    arrays, maps and bytes skipped); None if one does not decode (a false match: decode instead)."""
    out: dict[str, set[Any]] = {"strings": set(), "numbers": set(), "bools": set()}
    cache = _DECODED
    for raw in raw_values:
        hit = cache.get(raw, _MISS)
        if hit is _MISS:
            hit = _decode_value(raw)
            if len(cache) >= _DECODED_MAX:
                cache.clear()
            cache[raw] = hit
        if hit is _UNDECODABLE:
            return None
        if hit is not None:
            kind, value = cast("tuple[str, Any]", hit)
            out[kind].add(value)
    return out


@functools.lru_cache(maxsize=1024)
def key_scan(key: str) -> KeyScan:
    """A shared `KeyScan` per key."""
    return KeyScan(key)
