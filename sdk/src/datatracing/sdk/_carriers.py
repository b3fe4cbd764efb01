"""Getters and setters: how propagators read and write the carrier of each transport.

A getter returns every value of a header (None when absent); a setter writes one. None raises on a
carrier of the wrong shape: a getter then finds nothing, a setter writes nothing.

| carrier                                   | getter           | setter           |
|-------------------------------------------|------------------|------------------|
| plain dict (exact keys)                   | `dict_getter`    | `dict_setter`    |
| HTTP headers mapping (any case)           | `headers_getter` | `headers_setter` |
| ASGI scope / message (`headers` list)     | `asgi_getter`    | `asgi_setter`    |
| WSGI environ (`HTTP_TRACEPARENT`)         | `wsgi_getter`    |                  |
| Kafka headers (list of (str, bytes)/dict) | `kafka_getter`   | `kafka_setter`   |
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, Protocol

__all__ = [
    "AsgiGetter",
    "AsgiSetter",
    "DictGetter",
    "DictSetter",
    "Getter",
    "HeadersGetter",
    "KafkaGetter",
    "KafkaSetter",
    "Setter",
    "WsgiGetter",
    "asgi_getter",
    "asgi_setter",
    "dict_getter",
    "dict_setter",
    "headers_getter",
    "headers_setter",
    "kafka_getter",
    "kafka_setter",
    "wsgi_getter",
]


class Getter(Protocol):
    """Reads propagation fields from a carrier."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        """Every value of field `key` (lower-case name), or None when absent."""
        ...

    def keys(self, carrier: Any) -> list[str]:
        """The field names present in `carrier`."""
        ...


class Setter(Protocol):
    """Writes propagation fields into a carrier."""

    def set(self, carrier: Any, key: str, value: str) -> None:
        """Set field `key` to `value`, replacing any earlier value."""
        ...


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    return None


def _values(value: object) -> list[str] | None:
    if value is None:
        return None
    single = _text(value)
    if single is not None:
        return [single]
    if isinstance(value, list | tuple):
        found = [text for text in (_text(item) for item in value) if text is not None]
        return found or None
    return None


class DictGetter:
    """A plain mapping with exact keys; values may be a string or a list of strings."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        if not isinstance(carrier, Mapping):
            return None
        return _values(carrier.get(key))

    def keys(self, carrier: Any) -> list[str]:
        return [k for k in carrier if isinstance(k, str)] if isinstance(carrier, Mapping) else []


class DictSetter:
    """Sets `carrier[key] = value` on a mutable mapping (HTTP client header dicts too)."""

    def set(self, carrier: Any, key: str, value: str) -> None:
        if isinstance(carrier, MutableMapping):
            carrier[key] = value


class HeadersGetter(DictGetter):
    """HTTP headers in a mapping, matched case-insensitively (`Traceparent` finds `traceparent`).

    Multi-valued header objects (`http.client.HTTPMessage`, `email.message.Message`) give all values.
    """

    def get(self, carrier: Any, key: str) -> list[str] | None:
        get_all = getattr(carrier, "get_all", None)
        if callable(get_all) and not isinstance(carrier, dict):
            try:
                return _values(get_all(key))
            except Exception:
                return None
        if not isinstance(carrier, Mapping):
            return None
        found = carrier.get(key)
        if found is not None:
            return _values(found)
        lower = key.lower()
        out: list[str] = []
        for name, value in carrier.items():
            if isinstance(name, str | bytes) and _text(name).lower() == lower:  # type: ignore[union-attr]
                out.extend(_values(value) or ())
        return out or None


class AsgiGetter:
    """An ASGI scope: `scope["headers"]` is a list of (bytes, bytes) with lower-case names."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        headers = carrier.get("headers") if isinstance(carrier, Mapping) else carrier
        if not isinstance(headers, list | tuple):
            return None
        name = key.lower().encode("latin-1")
        out = [
            value.decode("latin-1")
            for header in headers
            if isinstance(header, list | tuple) and len(header) == 2
            for raw, value in (header,)
            if isinstance(raw, bytes) and isinstance(value, bytes) and raw.lower() == name
        ]
        return out or None

    def keys(self, carrier: Any) -> list[str]:
        headers = carrier.get("headers") if isinstance(carrier, Mapping) else carrier
        if not isinstance(headers, list | tuple):
            return []
        return [
            h[0].decode("latin-1") for h in headers if isinstance(h, list | tuple) and isinstance(h[0], bytes)
        ]


class AsgiSetter:
    """An ASGI message (`http.response.start`) or scope: appends to its `headers` list."""

    def set(self, carrier: Any, key: str, value: str) -> None:
        headers = carrier.setdefault("headers", []) if isinstance(carrier, MutableMapping) else carrier
        if not isinstance(headers, list):
            return
        name = key.lower().encode("latin-1")
        headers[:] = [h for h in headers if not (isinstance(h, list | tuple) and h and h[0] == name)]
        headers.append((name, value.encode("latin-1", "replace")))


class WsgiGetter:
    """A WSGI environ: header `traceparent` is `environ["HTTP_TRACEPARENT"]`."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        if not isinstance(carrier, Mapping):
            return None
        return _values(carrier.get("HTTP_" + key.upper().replace("-", "_")))

    def keys(self, carrier: Any) -> list[str]:
        if not isinstance(carrier, Mapping):
            return []
        return [
            k[5:].lower().replace("_", "-") for k in carrier if isinstance(k, str) and k.startswith("HTTP_")
        ]


class KafkaGetter:
    """Kafka record headers: a list of (str, bytes) pairs as confluent-kafka returns them, or a dict."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        if isinstance(carrier, Mapping):
            pairs: Any = carrier.items()
        elif isinstance(carrier, list | tuple):
            pairs = carrier
        else:
            return None
        out: list[str] = []
        for pair in pairs:
            if not isinstance(pair, list | tuple) or len(pair) != 2 or not isinstance(pair[0], str):
                continue
            if pair[0].lower() == key:
                value = pair[1]
                if isinstance(value, bytes | bytearray):
                    out.append(bytes(value).decode("utf-8", "replace"))
                elif isinstance(value, str):
                    out.append(value)
        return out or None

    def keys(self, carrier: Any) -> list[str]:
        if isinstance(carrier, Mapping):
            return [k for k in carrier if isinstance(k, str)]
        if isinstance(carrier, list | tuple):
            return [p[0] for p in carrier if isinstance(p, list | tuple) and p and isinstance(p[0], str)]
        return []


class KafkaSetter:
    """Kafka record headers to produce with: replaces `key` in a list of (str, bytes) or a dict."""

    def set(self, carrier: Any, key: str, value: str) -> None:
        encoded = value.encode("utf-8")
        if isinstance(carrier, list):
            carrier[:] = [p for p in carrier if not (isinstance(p, list | tuple) and p and p[0] == key)]
            carrier.append((key, encoded))
        elif isinstance(carrier, MutableMapping):
            carrier[key] = encoded


dict_getter = DictGetter()
dict_setter = DictSetter()
headers_getter = HeadersGetter()
headers_setter = DictSetter()
asgi_getter = AsgiGetter()
asgi_setter = AsgiSetter()
wsgi_getter = WsgiGetter()
kafka_getter = KafkaGetter()
kafka_setter = KafkaSetter()
