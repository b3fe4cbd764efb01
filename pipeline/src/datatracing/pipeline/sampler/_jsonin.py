"""JSON inputs of the spans topic, converted to an OTLP protobuf request piece by piece.

Two encodings, told apart by the content-type header:

- OTLP JSON (`application/json`): lowerCamelCase (snake_case accepted), ids in hex as the OTLP
  spec says. Protobuf's stock JSON parser expects base64 ids, so ids are converted first.
- The model's JSON (`application/vnd.datatracing.spans+json`): a list of `datatracing.model.Span`
  objects, or `{"spans": [...]}`.

Each span is converted on its own: an invalid one becomes a dead letter in the message's own
encoding, and the rest of the message goes on. Not on the hot path (upb protobuf is).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from pydantic import ValidationError

from datatracing.errors import InvalidDataError
from datatracing.model import Span
from datatracing.pipeline.sampler._results import DeadLetter
from datatracing.wire import CONTENT_TYPE_MODEL_JSON, CONTENT_TYPE_OTLP_JSON, spans_to_request

__all__ = ["model_json_request", "otlp_json_request"]

_ID_FIELDS = ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")
_PIECE_ERRORS = (json_format.ParseError, ValueError, TypeError, AttributeError, KeyError)

Converted = tuple[ExportTraceServiceRequest, list[DeadLetter]]


def _get(doc: dict[str, Any], camel: str, snake: str) -> Any:
    return doc.get(camel, doc.get(snake))


def _hex_ids_to_base64(doc: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    for name in _ID_FIELDS:
        value = out.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a hex string")
        try:
            out[name] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
        except ValueError as exc:
            raise ValueError(f"{name} is not hex: {value[:40]!r}") from exc
    return out


def _span_dict(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise TypeError("a span must be a JSON object")
    span = _hex_ids_to_base64(doc)
    links = span.get("links")
    if links:
        span["links"] = [_hex_ids_to_base64(link) for link in links]
    return span


def _otlp_piece(resource: Any, scope: Any, span: Any) -> bytes:
    doc = {
        "resourceSpans": [
            {"resource": resource or {}, "scopeSpans": [{"scope": scope or {}, "spans": [span]}]}
        ]
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def otlp_json_request(payload: bytes) -> Converted | DeadLetter:
    """OTLP JSON → request of the valid spans + dead letters; a `DeadLetter` if nothing decodes."""
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        return DeadLetter(payload, f"undecodable: not JSON: {exc}", CONTENT_TYPE_OTLP_JSON)
    resource_spans = _get(doc, "resourceSpans", "resource_spans") if isinstance(doc, dict) else None
    if not isinstance(resource_spans, list):
        return DeadLetter(
            payload, "undecodable: OTLP JSON needs a resourceSpans list", CONTENT_TYPE_OTLP_JSON
        )
    request = ExportTraceServiceRequest()
    dead: list[DeadLetter] = []
    for rs_doc in resource_spans:
        rs = request.resource_spans.add()
        try:
            json_format.ParseDict(rs_doc.get("resource") or {}, rs.resource, ignore_unknown_fields=True)
            rs.schema_url = _get(rs_doc, "schemaUrl", "schema_url") or ""
            scope_spans = _get(rs_doc, "scopeSpans", "scope_spans") or []
            for ss_doc in scope_spans:
                _add_scope_spans(rs, ss_doc, rs_doc.get("resource"), dead)
        except _PIECE_ERRORS as exc:
            del request.resource_spans[-1]
            piece = json.dumps({"resourceSpans": [rs_doc]}, separators=(",", ":")).encode()
            dead.append(DeadLetter(piece, f"invalid resource spans: {exc}", CONTENT_TYPE_OTLP_JSON))
    return request, dead


def _add_scope_spans(rs: Any, ss_doc: Any, resource_doc: Any, dead: list[DeadLetter]) -> None:
    ss = rs.scope_spans.add()
    json_format.ParseDict(ss_doc.get("scope") or {}, ss.scope, ignore_unknown_fields=True)
    ss.schema_url = _get(ss_doc, "schemaUrl", "schema_url") or ""
    for span_doc in ss_doc.get("spans") or []:
        target = ss.spans.add()
        try:
            json_format.ParseDict(_span_dict(span_doc), target, ignore_unknown_fields=True)
        except _PIECE_ERRORS as exc:
            del ss.spans[-1]
            piece = _otlp_piece(resource_doc, ss_doc.get("scope"), span_doc)
            dead.append(DeadLetter(piece, f"invalid span: {exc}", CONTENT_TYPE_OTLP_JSON))


def model_json_request(payload: bytes) -> Converted | DeadLetter:
    """The model's JSON → request of the valid spans + dead letters; a `DeadLetter` if nothing decodes."""
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        return DeadLetter(payload, f"undecodable: not JSON: {exc}", CONTENT_TYPE_MODEL_JSON)
    items = doc.get("spans") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        return DeadLetter(payload, "undecodable: expected a list of spans", CONTENT_TYPE_MODEL_JSON)
    spans: list[Span] = []
    dead: list[DeadLetter] = []
    for item in items:
        try:
            span = Span.model_validate(item)
            spans_to_request([span])  # the model allows ints that OTLP's int64 cannot carry
        except (ValidationError, InvalidDataError) as exc:
            reason = _first_error(exc)
            piece = json.dumps([item], separators=(",", ":")).encode()
            dead.append(DeadLetter(piece, f"invalid span: {reason}", CONTENT_TYPE_MODEL_JSON))
            continue
        spans.append(span)
    return spans_to_request(spans), dead


def _first_error(exc: ValidationError | InvalidDataError) -> str:
    if isinstance(exc, InvalidDataError):
        return str(exc)
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "span"
    return f"{where}: {first['msg']}"
