"""Dead-letter keys and headers: every dead letter names its source message and can be deduplicated."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from datatracing.pipeline.broker import (
    DEAD_LETTER_PREFIX_BYTES,
    HEADER_PAYLOAD_BYTES,
    SourceRef,
    bounded_payload,
    dead_letter_headers,
    dead_letter_key,
    parse_dead_letter_key,
    read_source,
    source_headers,
)

_names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@given(_names, _names, st.integers(0, 10_000), st.integers(0, 2**62), _names)
def test_dead_letter_key_round_trips(stage: str, topic: str, partition: int, offset: int, part: str) -> None:
    stage = stage.replace(":", "_")
    part = part.replace("/", "_")
    key = dead_letter_key(stage, topic, partition, offset, part)
    assert parse_dead_letter_key(key) == SourceRef(stage, topic, partition, offset, part)


def test_parse_dead_letter_key_foreign_keys_none() -> None:
    assert [parse_dead_letter_key(k) for k in (None, b"", b"abc", b"s:t/x/1/0", b"\xff")] == [None] * 5


def test_read_source_from_dead_letter_and_forward_headers() -> None:
    assert read_source(dead_letter_headers("bad", "otlp_spans", 3, 42)) == ("otlp_spans", 3, 42)
    assert read_source(source_headers("otlp_spans", 1, 7)) == ("otlp_spans", 1, 7)
    assert read_source([("dt-source-topic", b"t")]) is None
    assert read_source(None) is None


def test_bounded_payload_cuts_only_over_the_contract() -> None:
    assert bounded_payload(b"x" * 100, 100) == (b"x" * 100, [])
    value, headers = bounded_payload(b"y" * (DEAD_LETTER_PREFIX_BYTES * 3), DEAD_LETTER_PREFIX_BYTES * 2)
    assert value == b"y" * DEAD_LETTER_PREFIX_BYTES
    assert dict(headers)[HEADER_PAYLOAD_BYTES] == str(DEAD_LETTER_PREFIX_BYTES * 3).encode()
