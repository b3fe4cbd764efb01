"""Baggage: string name/value pairs that travel with the context, and its W3C propagator.

Values are percent-encoded on the wire. Extraction decodes `+` as a space too, because
OpenTelemetry Python encodes spaces that way; injection writes `%20`, which every decoder reads.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, unquote_plus

from datatracing.sdk._carriers import Getter, Setter, dict_setter, headers_getter
from datatracing.sdk._context import BAGGAGE_KEY, Context, current_context_var

__all__ = [
    "BaggagePropagator",
    "clear_baggage",
    "get_all_baggage",
    "get_baggage",
    "remove_baggage",
    "set_baggage",
]

_log = logging.getLogger("datatracing.sdk")
_HEADER = "baggage"
_MAX_HEADER_LENGTH = 8192
_MAX_MEMBERS = 180
_MAX_MEMBER_LENGTH = 4096
# RFC 9110 token characters: what a baggage key may be made of.
_KEY = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# W3C baggage-octet plus "%" for escapes (space, quote, comma, semicolon and backslash excluded).
_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")
_SAFE_KEY = "!#$&'*+-.^_`|~"
_EMPTY: Mapping[str, str] = MappingProxyType({})


def _entries(context: Context | None) -> Mapping[str, str]:
    found: Mapping[str, str] | None = (context if context is not None else current_context_var.get()).get(
        BAGGAGE_KEY
    )
    return found if found is not None else _EMPTY


def get_all_baggage(context: Context | None = None) -> Mapping[str, str]:
    """Every baggage entry of `context` (default: the current context), read-only."""
    return MappingProxyType(dict(_entries(context)))


def get_baggage(name: str, context: Context | None = None) -> str | None:
    """The baggage value `name` in `context` (default: the current context), or None."""
    return _entries(context).get(name)


def set_baggage(name: str, value: str, context: Context | None = None) -> Context:
    """A new context with baggage `name` set to `value` (the given context is not changed)."""
    ctx = context if context is not None else current_context_var.get()
    entries = dict(_entries(ctx))
    entries[str(name)] = str(value)
    return ctx.with_value(BAGGAGE_KEY, entries)


def remove_baggage(name: str, context: Context | None = None) -> Context:
    """A new context without baggage `name`."""
    ctx = context if context is not None else current_context_var.get()
    entries = dict(_entries(ctx))
    entries.pop(name, None)
    return ctx.with_value(BAGGAGE_KEY, entries)


def clear_baggage(context: Context | None = None) -> Context:
    """A new context with no baggage."""
    ctx = context if context is not None else current_context_var.get()
    return ctx.with_value(BAGGAGE_KEY, {})


def _parse(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in header.split(","):
        if len(out) >= _MAX_MEMBERS:
            break
        member = raw.strip(" \t")
        if not member or len(member) > _MAX_MEMBER_LENGTH:
            continue
        # Properties after ";" are metadata we do not keep.
        pair = member.split(";", 1)[0]
        key, sep, value = pair.partition("=")
        key, value = key.strip(" \t"), value.strip(" \t")
        if not sep or not _KEY.fullmatch(key) or not _VALUE.fullmatch(value):
            continue
        out[unquote_plus(key)] = unquote_plus(value)
    return out


class BaggagePropagator:
    """The W3C `baggage` header."""

    @property
    def fields(self) -> set[str]:
        return {_HEADER}

    def extract(
        self, carrier: Any, context: Context | None = None, getter: Getter = headers_getter
    ) -> Context:
        """The context with the carrier's baggage added; malformed members are skipped."""
        ctx = context if context is not None else current_context_var.get()
        try:
            values = getter.get(carrier, _HEADER)
            if not values:
                return ctx
            header = ",".join(values)
            if len(header) > _MAX_HEADER_LENGTH or not header.isascii():
                return ctx
            parsed = _parse(header)
        except Exception:
            _log.debug("ignored a malformed baggage header", exc_info=True)
            return ctx
        if not parsed:
            return ctx
        entries = {**_entries(ctx), **parsed}
        return ctx.with_value(BAGGAGE_KEY, entries)

    def inject(self, carrier: Any, context: Context | None = None, setter: Setter = dict_setter) -> None:
        """Write the context's baggage (up to the W3C size limits) into the carrier."""
        members: list[str] = []
        length = 0
        for key, value in _entries(context).items():
            member = quote(key, safe=_SAFE_KEY) + "=" + quote(value, safe="")
            if len(member) > _MAX_MEMBER_LENGTH:
                continue
            if len(members) >= _MAX_MEMBERS or length + len(member) + 1 > _MAX_HEADER_LENGTH:
                break
            members.append(member)
            length += len(member) + 1
        if members:
            try:
                setter.set(carrier, _HEADER, ",".join(members))
            except Exception:
                _log.debug("failed to inject baggage", exc_info=True)
