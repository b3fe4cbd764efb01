"""OTLP/HTTP plumbing: content types, bounded body reading, decompression and the answers' bodies.

Answers are encoded like the request, as the OTLP/HTTP spec asks:

- success: `ExportTraceServiceResponse` (empty, or with `partial_success`) as protobuf or OTLP JSON;
- failure, protobuf client: a protobuf `google.rpc.Status` (`code` a gRPC code, `message` the
  reason), which is what the spec prescribes for every 4xx/5xx;
- failure, any other client (JSON, unknown content type): the project's JSON error envelope
  `{"error": {"code", "message", "details"}}`, the same as the query service's.

Every 503 carries `Retry-After`. A 408 (headers or body too slow) and a 503 refusing a connection over
`max_connections` are written by the connection itself (`raw_error_response`), then it is closed.
"""

from __future__ import annotations

import http
import zlib
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi.responses import Response
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from datatracing.pipeline.http_errors import envelope
from datatracing.wire import CONTENT_TYPE_OTLP_JSON, CONTENT_TYPE_OTLP_PROTO

__all__ = [
    "Encoding",
    "RequestRejected",
    "decompress",
    "encoding_of",
    "error_response",
    "raw_error_response",
    "read_limited",
    "rpc_status_class",
    "success_response",
]

Encoding = Literal["proto", "json"]

_ENCODINGS: dict[str, Encoding] = {
    CONTENT_TYPE_OTLP_PROTO: "proto",
    "application/protobuf": "proto",
    CONTENT_TYPE_OTLP_JSON: "json",
}
# gRPC status codes for `google.rpc.Status.code` (the spec lets servers omit it; we fill it in).
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 408: 4, 413: 8, 415: 3, 500: 13, 503: 14}
_JSON_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    503: "unavailable",
}


class RequestRejected(Exception):
    """Answer the request with `status` and `message` (in the client's encoding)."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _JSON_CODES.get(status, "error")


def _status_class() -> Any:
    # google.rpc.Status lives in googleapis-common-protos, which we do not depend on; its two
    # scalar fields are declared here, in a private pool so an installed copy never clashes.
    proto = descriptor_pb2.FileDescriptorProto(
        name="datatracing/ingest/google_rpc_status.proto", package="google.rpc", syntax="proto3"
    )
    message = proto.message_type.add(name="Status")
    field = descriptor_pb2.FieldDescriptorProto
    message.field.add(name="code", number=1, type=field.TYPE_INT32, label=field.LABEL_OPTIONAL)
    message.field.add(name="message", number=2, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("google.rpc.Status"))


#: The `google.rpc.Status` message class (fields `code` and `message`; `details` is never sent).
rpc_status_class: Any = _status_class()


def encoding_of(content_type: str | None) -> Encoding | None:
    """`proto` or `json` for an OTLP content type (parameters ignored), None for anything else."""
    if not content_type:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    return _ENCODINGS.get(media)


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """Collect a request body, refusing it with 413 as soon as it passes `limit` bytes."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise RequestRejected(413, f"request body larger than {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def decompress(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo `Content-Encoding` (gzip, deflate or identity) with the output bounded by `limit`."""
    coding = (content_encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return body
    if coding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif coding == "deflate":
        wbits = zlib.MAX_WBITS  # HTTP's "deflate" is the zlib format
    else:
        raise RequestRejected(415, f"unsupported Content-Encoding {coding!r}; use gzip, deflate or none")
    out: list[bytes] = []
    size = 0
    data = body
    try:
        # A gzip body may hold several members back to back; each is decompressed in turn.
        while data:
            inflater = zlib.decompressobj(wbits)
            chunk = inflater.decompress(data, limit - size + 1)
            size += len(chunk)
            if size > limit or inflater.unconsumed_tail:
                raise RequestRejected(413, f"decompressed request body larger than {limit} bytes")
            if not inflater.eof:
                raise RequestRejected(400, f"truncated {coding} body")
            out.append(chunk)
            data = inflater.unused_data
    except zlib.error as exc:
        raise RequestRejected(400, f"body is not valid {coding}: {exc}") from exc
    return b"".join(out)


def success_response(encoding: Encoding, rejected: int = 0, message: str = "") -> Response:
    """200 with an `ExportTraceServiceResponse`, `partial_success` set when spans were rejected."""
    answer = ExportTraceServiceResponse()
    if rejected:
        answer.partial_success.rejected_spans = rejected
        answer.partial_success.error_message = message
    if encoding == "proto":
        return Response(answer.SerializeToString(), media_type=CONTENT_TYPE_OTLP_PROTO)
    body = json_format.MessageToJson(answer, indent=None).encode()
    return Response(body, media_type=CONTENT_TYPE_OTLP_JSON)


def error_response(encoding: Encoding | None, error: RequestRejected, retry_after_s: int) -> Response:
    """The failure answer: `google.rpc.Status` for protobuf clients, the JSON envelope otherwise."""
    headers = {"Retry-After": str(retry_after_s)} if error.status in (429, 503) else None
    if encoding == "proto":
        status = rpc_status_class(code=_GRPC_CODES.get(error.status, 2), message=error.message)
        return Response(
            status.SerializeToString(),
            status_code=error.status,
            media_type=CONTENT_TYPE_OTLP_PROTO,
            headers=headers,
        )
    response = envelope(error.status, error.code, error.message)
    if headers:
        response.headers.update(headers)
    return response


def raw_error_response(encoding: Encoding | None, error: RequestRejected, retry_after_s: int) -> bytes:
    """`error_response` as the bytes of a whole HTTP/1.1 answer with `connection: close`.

    For answers written by the connection itself (a timeout, a refused connection), where no ASGI
    application is there to send one.
    """
    response = error_response(encoding, error, retry_after_s)
    phrase = http.HTTPStatus(error.status).phrase
    head = [f"HTTP/1.1 {error.status} {phrase}\r\n".encode("ascii")]
    for name, value in response.raw_headers:
        head += [name, b": ", value, b"\r\n"]
    head.append(b"connection: close\r\n\r\n")
    return b"".join(head) + bytes(response.body)
