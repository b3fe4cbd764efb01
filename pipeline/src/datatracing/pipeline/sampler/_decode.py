"""One spans-topic message into per-trace parts and dead letters, through `datatracing.wire`.

The content-type header picks the decoder (OTLP protobuf, OTLP JSON, the model's JSON); the wire
codec's `split_request` cuts the request per trace and refuses the spans that break the pipeline's
rules, with the same reason the store would give. A message that does not decode is one dead letter
holding its original bytes; each refused span is one dead letter holding that span alone (with its
resource and scope) in the message's encoding, so the valid spans of the same message are never lost.
"""

from __future__ import annotations

from datatracing.errors import InvalidDataError
from datatracing.pipeline.sampler._results import DeadLetter
from datatracing.wire import (
    CONTENT_TYPE_MODEL_JSON,
    CONTENT_TYPE_OTLP_JSON,
    CONTENT_TYPE_OTLP_PROTO,
    TracePart,
    parse_model_json,
    parse_otlp_json,
    parse_request,
    split_request,
)

__all__ = ["content_type_of", "split_message"]

_JSON_DECODERS = {CONTENT_TYPE_OTLP_JSON: parse_otlp_json, CONTENT_TYPE_MODEL_JSON: parse_model_json}


def content_type_of(value: bytes | None) -> str:
    """Normalise a content-type header value (parameters dropped, lower case); absent → protobuf."""
    if not value:
        return CONTENT_TYPE_OTLP_PROTO
    return value.decode("latin-1").split(";", 1)[0].strip().lower()


def split_message(payload: bytes, content_type: str) -> tuple[list[TracePart], list[DeadLetter]]:
    """Decode one message (by its normalised content type) into per-trace parts and dead letters."""
    dead: list[DeadLetter] = []
    if content_type == CONTENT_TYPE_OTLP_PROTO:
        try:
            request = parse_request(payload)
        except InvalidDataError as exc:
            return [], [DeadLetter(payload, f"undecodable: {exc}", content_type)]
        parts, rejected = split_request(request, payload)
    else:
        decode = _JSON_DECODERS.get(content_type)
        if decode is None:
            return [], [DeadLetter(payload, f"unsupported content-type {content_type!r}", content_type)]
        try:
            request, rejected_json = decode(payload)
        except InvalidDataError as exc:
            return [], [DeadLetter(payload, f"undecodable: {exc}", content_type)]
        dead.extend(DeadLetter(r.payload(), r.reason, content_type) for r in rejected_json)
        parts, rejected = split_request(request)
    if rejected:
        dead.extend(DeadLetter(r.payload(), r.reason) for r in rejected)
    return parts, dead
