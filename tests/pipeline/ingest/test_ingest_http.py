"""Body handling of the gateway: content types, bounded decompression, status bodies."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datatracing.pipeline.ingest._http import (
    Encoding,
    RequestRejected,
    decompress,
    encoding_of,
    raw_error_response,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/x-protobuf", "proto"),
        ("Application/X-Protobuf; charset=binary", "proto"),
        ("application/protobuf", "proto"),
        ("application/json", "json"),
        ("application/json; charset=utf-8", "json"),
        ("text/plain", None),
        ("", None),
        (None, None),
    ],
)
def test_encoding_of_media_type_parameters_ignored(header: str | None, expected: str | None) -> None:
    assert encoding_of(header) == expected


@given(st.binary(max_size=4096), st.sampled_from(["gzip", "deflate", "identity", None]))
def test_decompress_round_trip_within_limit(data: bytes, coding: str | None) -> None:
    body = gzip.compress(data) if coding == "gzip" else zlib.compress(data) if coding == "deflate" else data
    assert decompress(body, coding, 4096) == data


def test_decompress_gzip_members_concatenated() -> None:
    assert decompress(gzip.compress(b"abc") + gzip.compress(b"def"), "gzip", 100) == b"abcdef"


@pytest.mark.parametrize(
    ("body", "coding", "status"),
    [
        (gzip.compress(bytes(5000)), "gzip", 413),
        (gzip.compress(b"x" * 100)[:-8], "gzip", 400),
        (b"plain", "gzip", 400),
        (zlib.compress(b"x") + b"junk", "deflate", 400),
        (b"x", "br", 415),
    ],
)
def test_decompress_bad_or_oversized_rejected(body: bytes, coding: str, status: int) -> None:
    with pytest.raises(RequestRejected) as caught:
        decompress(body, coding, 4096)
    assert caught.value.status == status


@pytest.mark.parametrize(
    ("encoding", "media"), [("proto", b"application/x-protobuf"), (None, b"application/json")]
)
def test_raw_error_response_whole_answer_closes_connection(encoding: Encoding | None, media: bytes) -> None:
    raw = raw_error_response(encoding, RequestRejected(503, "too many connections"), 9)
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = dict(line.split(b": ", 1) for line in lines)
    assert status == b"HTTP/1.1 503 Service Unavailable"
    assert headers[b"connection"] == b"close"
    assert headers[b"retry-after"] == b"9"
    assert headers[b"content-type"] == media
    assert int(headers[b"content-length"]) == len(body)
