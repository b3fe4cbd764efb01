"""JSON export requests ⇄ OTLP protobuf: OTLP JSON, and the model's own JSON.

OTLP JSON is protobuf's JSON mapping with three differences that protobuf's stock `json_format`
does not know: trace and span ids are hex strings (not base64), keys are lowerCamelCase (the
original snake_case names are accepted too, as `json_format` does), and enums are integers. 64-bit
integers may be strings or numbers; unknown fields are ignored, as the spec requires of receivers.
Other `bytes` fields (an attribute's `bytesValue`) stay base64.

The model's JSON (`application/vnd.datatracing.spans+json`) is a list of `datatracing.model.Span`
objects, or `{"spans": [...]}`.

Each span is converted on its own, so one bad span is refused (`RejectedJson`, with the span alone
in the request's own encoding for a dead letter) while the rest of the request goes on; a request
whose structure is wrong (not JSON, not an object, a resource that does not parse) raises
`InvalidDataError`. The converted request still has to pass the rules of `split_request`.
"""

from __future__ import annotations

import base64
import json
from typing import Any, NamedTuple

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2
from pydantic import ValidationError

from datatracing.errors import InvalidDataError
from datatracing.model import Span
from datatracing.wire._encode import spans_to_request
from datatracing.wire._jsonspan import fast_span, parse_span_slow
from datatracing.wire._rules import RejectReason

__all__ = [
    "JsonRequest",
    "RejectedJson",
    "otlp_json_to_request",
    "parse_model_json",
    "parse_otlp_json",
    "request_to_otlp_json",
]

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


class RejectedJson:
    """A span that does not convert, with why; `payload()` is that span alone, in the request's
    JSON encoding (with its resource and scope for OTLP JSON), built only when asked."""

    __slots__ = ("_piece", "reason")

    def __init__(self, reason: str, piece: Any) -> None:
        self.reason = reason
        self._piece = piece

    def payload(self) -> bytes:
        return json.dumps(self._piece, separators=(",", ":")).encode()

    def __repr__(self) -> str:
        return f"RejectedJson({self.reason!r})"


class JsonRequest(NamedTuple):
    """The request of every span that converted, and the spans that did not (in request order)."""

    request: ExportTraceServiceRequest
    rejected: list[RejectedJson]


def _loads(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidDataError(f"not JSON: {exc}") from exc


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


def _str(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidDataError(f"{what} must be a string")
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


def _piece(resource: Any, scope: Any, span: Any) -> dict[str, Any]:
    scope_spans = {"scope": scope or {}, "spans": [span]}
    return {"resourceSpans": [{"resource": resource or {}, "scopeSpans": [scope_spans]}]}


def otlp_json_to_request(doc: Any) -> JsonRequest:
    """Convert a decoded OTLP JSON document; bad spans are left out and reported.

    Raises `InvalidDataError` when the document's structure (outside single spans) is wrong.

    Example:
        >>> doc = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "01" * 16,
        ...     "spanId": "02" * 8, "name": "x", "startTimeUnixNano": "5", "kind": 2}]}]}]}
        >>> otlp_json_to_request(doc).request.resource_spans[0].scope_spans[0].spans[0].span_id.hex()
        '0202020202020202'
    """
    rejected: list[RejectedJson] = []
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
                    piece = _piece(rs_doc.get("resource"), ss_doc.get("scope"), span_doc)
                    rejected.append(RejectedJson(RejectReason.NOT_A_SPAN.text(error=exc), piece))
    return JsonRequest(request, rejected)


def parse_otlp_json(payload: bytes) -> JsonRequest:
    """Decode OTLP JSON bytes (UTF-8); `InvalidDataError` when they are not JSON or not a request."""
    return otlp_json_to_request(_loads(payload))


def _model_error(exc: ValidationError | InvalidDataError) -> str:
    if isinstance(exc, InvalidDataError):
        return str(exc)
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "span"
    return f"{where}: {first['msg']}"


def parse_model_json(payload: bytes) -> JsonRequest:
    """Decode the model's JSON (a list of spans, or `{"spans": [...]}`) into one OTLP request.

    Raises `InvalidDataError` when the payload is not JSON or holds no list of spans.
    """
    doc = _loads(payload)
    items = doc.get("spans") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise InvalidDataError("expected a list of spans")
    spans: list[Span] = []
    rejected: list[RejectedJson] = []
    for item in items:
        try:
            span = Span.model_validate(item)
            spans_to_request([span])  # the model allows ints that OTLP's int64 cannot carry
        except (ValidationError, InvalidDataError) as exc:
            rejected.append(RejectedJson(RejectReason.NOT_A_SPAN.text(error=_model_error(exc)), [item]))
            continue
        spans.append(span)
    return JsonRequest(spans_to_request(spans), rejected)


def _ids_to_hex(doc: dict[str, Any], names: tuple[str, ...]) -> None:
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
                _ids_to_hex(span, ("traceId", "spanId", "parentSpanId"))
                for link in span.get("links", ()):
                    _ids_to_hex(link, ("traceId", "spanId"))
    return doc
