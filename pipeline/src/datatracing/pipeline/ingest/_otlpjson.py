"""OTLP JSON ⇄ OTLP protobuf for trace export requests.

OTLP JSON is protobuf's JSON mapping with three differences that protobuf's stock `json_format`
does not know: trace and span ids are hex strings (not base64), keys are lowerCamelCase (the
original snake_case names are accepted too, as `json_format` does), and enums are integers. 64-bit
integers may be strings or numbers; unknown fields are ignored, as the spec requires of receivers.
Other `bytes` fields (an attribute's `bytesValue`) stay base64.

Each span is converted on its own, so one bad span is rejected (and counted) while the rest of the
request goes on; a request whose structure is wrong (not an object, a resource that does not
parse) raises `InvalidDataError`.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2

from datatracing.errors import InvalidDataError
from datatracing.pipeline.ingest._jsonfast import fast_span, hex_id

__all__ = ["Rejections", "otlp_json_to_request", "parse_otlp_json", "request_to_otlp_json"]

# json_format raises these on values of the wrong type or range; ValueError covers bad hex.
_SPAN_ERRORS = (
    json_format.ParseError,
    ValueError,
    TypeError,
    AttributeError,
    KeyError,
    RecursionError,
    ArithmeticError,
)
_IDS = (("traceId", "trace_id"), ("spanId", "span_id"), ("parentSpanId", "parent_span_id"))
_LINK_IDS = (("traceId", "trace_id"), ("spanId", "span_id"))
_ID_KEYS = frozenset(k for pair in _IDS for k in pair)


class Rejections:
    """Spans a request could not accept: how many, and the first reason (for `partial_success`)."""

    __slots__ = ("count", "first_reason")

    def __init__(self) -> None:
        self.count = 0
        self.first_reason = ""

    def add(self, reason: str, count: int = 1) -> None:
        if not self.first_reason:
            self.first_reason = reason
        self.count += count

    def message(self) -> str:
        """One line for `partial_success.error_message`."""
        if self.count == 0:
            return ""
        more = f" (and {self.count - 1} more)" if self.count > 1 else ""
        return f"{self.count} span(s) rejected: {self.first_reason}{more}"


def _get(doc: dict[str, Any], camel: str, snake: str) -> Any:
    value = doc.get(camel)
    return doc.get(snake) if value is None else value


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidDataError(f"{what} must be a JSON object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidDataError(f"{what} must be a JSON array")
    return value


def _parse_into(doc: Any, target: Any, what: str) -> None:
    if doc is None:
        return
    if not isinstance(doc, dict):
        raise InvalidDataError(f"{what} must be a JSON object")
    target.SetInParent()  # present, even when empty: keeps the round trip exact
    try:
        json_format.ParseDict(doc, target, ignore_unknown_fields=True)
    except _SPAN_ERRORS as exc:
        raise InvalidDataError(f"{what}: {exc}") from exc


def _parse_span(doc: Any, target: trace_pb2.Span) -> None:
    if not isinstance(doc, dict):
        raise TypeError("a span must be a JSON object")
    if fast_span(doc, target):
        return
    target.Clear()
    parse_span_slow(doc, target)


def parse_span_slow(doc: dict[str, Any], target: trace_pb2.Span) -> None:
    """One span's OTLP JSON through protobuf's `json_format` (ids converted from hex by hand)."""
    rest = {k: v for k, v in doc.items() if k not in _ID_KEYS}
    links = rest.pop("links", None) or []
    if not isinstance(links, list):
        raise TypeError("links must be a JSON array")
    if not all(isinstance(link, dict) for link in links):
        raise TypeError("a link must be a JSON object")
    if links:
        rest["links"] = [{k: v for k, v in link.items() if k not in _ID_KEYS} for link in links]
    json_format.ParseDict(rest, target, ignore_unknown_fields=True)
    target.trace_id = hex_id(_get(doc, *_IDS[0]), "traceId")
    target.span_id = hex_id(_get(doc, *_IDS[1]), "spanId")
    target.parent_span_id = hex_id(_get(doc, *_IDS[2]), "parentSpanId")
    for link_doc, link in zip(links, target.links, strict=True):
        link.trace_id = hex_id(_get(link_doc, *_LINK_IDS[0]), "links.traceId")
        link.span_id = hex_id(_get(link_doc, *_LINK_IDS[1]), "links.spanId")


def otlp_json_to_request(doc: Any, rejections: Rejections | None = None) -> ExportTraceServiceRequest:
    """Convert a decoded OTLP JSON document to a request; bad spans are left out and counted.

    Raises `InvalidDataError` when the document's structure (outside single spans) is wrong.

    Example:
        >>> doc = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "01" * 16,
        ...     "spanId": "02" * 8, "name": "x", "startTimeUnixNano": "5", "kind": 2}]}]}]}
        >>> otlp_json_to_request(doc).resource_spans[0].scope_spans[0].spans[0].span_id.hex()
        '0202020202020202'
    """
    rejected = rejections if rejections is not None else Rejections()
    root = _object(doc, "an OTLP JSON request")
    request = ExportTraceServiceRequest()
    for rs_item in _list(_get(root, "resourceSpans", "resource_spans"), "resourceSpans"):
        rs_doc = _object(rs_item, "resourceSpans[]")
        rs = request.resource_spans.add()
        _parse_into(rs_doc.get("resource"), rs.resource, "resource")
        rs.schema_url = _str(_get(rs_doc, "schemaUrl", "schema_url"), "schemaUrl")
        for ss_item in _list(_get(rs_doc, "scopeSpans", "scope_spans"), "scopeSpans"):
            ss_doc = _object(ss_item, "scopeSpans[]")
            ss = rs.scope_spans.add()
            _parse_into(ss_doc.get("scope"), ss.scope, "scope")
            ss.schema_url = _str(_get(ss_doc, "schemaUrl", "schema_url"), "schemaUrl")
            for span_doc in _list(ss_doc.get("spans"), "spans"):
                span = ss.spans.add()
                try:
                    _parse_span(span_doc, span)
                except _SPAN_ERRORS as exc:
                    del ss.spans[-1]
                    rejected.add(f"invalid span: {exc}")
    return request


def _str(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidDataError(f"{what} must be a string")
    return value


def parse_otlp_json(payload: bytes, rejections: Rejections | None = None) -> ExportTraceServiceRequest:
    """Decode OTLP JSON bytes (UTF-8) into a request; `InvalidDataError` when it is not JSON."""
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidDataError(f"not JSON: {exc}") from exc
    return otlp_json_to_request(doc, rejections)


def _ids_tohex_id(doc: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        value = doc.get(name)
        if value:
            doc[name] = base64.b64decode(value).hex()


def request_to_otlp_json(request: ExportTraceServiceRequest) -> dict[str, Any]:
    """The OTLP JSON form of a request: hex ids, lowerCamelCase, enums as integers, int64 as strings.

    Example:
        >>> request_to_otlp_json(ExportTraceServiceRequest())
        {}
    """
    doc = json_format.MessageToDict(request, use_integers_for_enums=True)
    for rs in doc.get("resourceSpans", ()):
        for ss in rs.get("scopeSpans", ()):
            for span in ss.get("spans", ()):
                _ids_tohex_id(span, ("traceId", "spanId", "parentSpanId"))
                for link in span.get("links", ()):
                    _ids_tohex_id(link, ("traceId", "spanId"))
    return doc
