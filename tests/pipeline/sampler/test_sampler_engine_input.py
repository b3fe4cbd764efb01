"""Message decoding in the engine: encodings, splitting, dead letters, late spans, tenants."""

from __future__ import annotations

import json

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from datatracing.model import Span
from datatracing.pipeline.audit import HEADER_TENANT, SamplingAudit
from datatracing.pipeline.sampler._decisions import Decision, encode_decision
from datatracing.wire import (
    CONTENT_TYPE_HEADER,
    CONTENT_TYPE_MODEL_JSON,
    CONTENT_TYPE_OTLP_JSON,
    CONTENT_TYPE_OTLP_PROTO,
    MAX_START_TIME_NS,
    decode_spans,
    encode_spans,
    spans_to_request,
)
from tests.pipeline.sampler.sampler_data import (
    T0,
    Feeder,
    engine,
    model_json,
    otlp_json,
    policy,
    span,
    trace_id,
    trace_spans,
)

PROTO = [(CONTENT_TYPE_HEADER, CONTENT_TYPE_OTLP_PROTO.encode())]


def _spans_of(payloads: list[bytes]) -> list[Span]:
    return sorted((s for p in payloads for s in decode_spans(p)), key=lambda s: s.span_id)


def _mutated(spans: list[Span], index: int, what: str) -> bytes:
    request = spans_to_request(spans)
    pb = [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans][index]
    if what == "short span id":
        pb.span_id = b"\x01\x02"
    elif what == "zero trace id":
        pb.trace_id = bytes(16)
    elif what == "zero parent":
        pb.parent_span_id = bytes(8)
    elif what == "end before start":
        pb.end_time_unix_nano = pb.start_time_unix_nano - 1
    elif what == "year 2262":
        pb.start_time_unix_nano = pb.end_time_unix_nano = MAX_START_TIME_NS + 1
    elif what == "bad link":
        link = pb.links.add()
        link.trace_id, link.span_id = b"\x01" * 3, b"\x02" * 8
    return request.SerializeToString()


def test_engine_message_with_two_traces_split_per_trace() -> None:
    feed = Feeder(engine(wait_after_root=0))
    one, two = trace_spans(1, 2), trace_spans(2, 3)
    result = feed.add(one + two, at_s=0, headers=PROTO)
    assert result.buffered_spans == 5
    decided = {d.trace_id: d for d in feed.poll(0)}
    assert _spans_of(decided[trace_id(1)].payloads) == sorted(one, key=lambda s: s.span_id)
    assert _spans_of(decided[trace_id(2)].payloads) == sorted(two, key=lambda s: s.span_id)


@pytest.mark.parametrize(
    ("what", "reason"),
    [
        ("short span id", "span_id must be 8 bytes"),
        ("zero trace id", "trace_id is all zero"),
        ("zero parent", "parent_span_id is all zero"),
        ("end before start", "end_time_unix_nano is before"),
        ("year 2262", "start_time_unix_nano is past the year 2262"),
        ("bad link", "link's trace_id"),
    ],
)
def test_engine_partly_invalid_message_keeps_valid_spans(what: str, reason: str) -> None:
    feed = Feeder(engine(wait_after_root=0))
    spans = trace_spans(1, 4)
    payload = _mutated(spans, 2, what)
    result = feed.add(payload, at_s=0)
    (dead,) = result.dead_letters
    assert reason in dead.reason
    assert dead.content_type == CONTENT_TYPE_OTLP_PROTO
    bad = ExportTraceServiceRequest.FromString(dead.payload)
    assert bad.resource_spans[0].resource.attributes[0].value.string_value == "svc"
    assert len(bad.resource_spans[0].scope_spans[0].spans) == 1
    (decided,) = feed.poll(0)
    assert decided.payloads[0] is not payload
    assert _spans_of(decided.payloads) == [spans[0], spans[1], spans[3]]
    assert feed.engine.stats.dead_letters == 1


def test_engine_undecodable_message_dead_lettered_whole() -> None:
    result = Feeder(engine()).add(b"\xff\xff\xff", at_s=0)
    (dead,) = result.dead_letters
    assert dead.payload == b"\xff\xff\xff"
    assert dead.reason.startswith("undecodable")


def test_engine_oversized_message_dead_lettered_whole() -> None:
    feed = Feeder(engine(max_message_bytes=100))
    payload = encode_spans(trace_spans(1, 5))
    headers = [("Content-Type", b"application/x-protobuf")]
    (dead,) = feed.add(payload, at_s=0, headers=headers).dead_letters
    assert (dead.payload, dead.content_type) == (payload, CONTENT_TYPE_OTLP_PROTO)
    assert dead.reason.startswith(f"oversized: {len(payload)} bytes")
    assert feed.engine.committable_offset() == 1


def test_engine_unsupported_content_type_dead_lettered() -> None:
    (dead,) = (
        Feeder(engine()).add(b"hello", at_s=0, headers=[(CONTENT_TYPE_HEADER, b"text/plain")]).dead_letters
    )
    assert "unsupported content-type 'text/plain'" in dead.reason


def test_engine_empty_message_buffers_nothing() -> None:
    feed = Feeder(engine())
    result = feed.add(b"", at_s=0)
    assert (result.buffered_spans, result.dead_letters, feed.engine.committable_offset()) == (0, [], 1)


@pytest.mark.parametrize(
    ("content_type", "encode"),
    [
        (CONTENT_TYPE_OTLP_JSON, otlp_json),
        ("application/json; charset=utf-8", otlp_json),
        (CONTENT_TYPE_MODEL_JSON, model_json),
    ],
)
def test_engine_json_encodings_decide_like_protobuf(content_type: str, encode: object) -> None:
    spans = [*trace_spans(1, 3), span(2, 1, error=True)]
    compiled = policy({"name": "errors", "type": "status_code"})
    feed = Feeder(engine(compiled, wait_after_root=0))
    feed.add(encode(spans), at_s=0, headers=[(CONTENT_TYPE_HEADER, content_type.encode())])  # type: ignore[operator]
    decided = {d.trace_id: d for d in feed.poll(0)}
    assert (decided[trace_id(1)].keep, decided[trace_id(2)].keep) == (False, True)
    assert _spans_of(decided[trace_id(1)].payloads) == trace_spans(1, 3)


def test_engine_otlp_json_invalid_span_dead_lettered_in_json() -> None:
    doc = json.loads(otlp_json(trace_spans(1, 3)))
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["spanId"] = "not-hex"
    feed = Feeder(engine(wait_after_root=0))
    result = feed.add(json.dumps(doc).encode(), at_s=0, headers=[(CONTENT_TYPE_HEADER, b"application/json")])
    (dead,) = result.dead_letters
    assert dead.content_type == CONTENT_TYPE_OTLP_JSON
    assert "spanId is not hex" in dead.reason
    piece = json.loads(dead.payload)
    assert piece["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] == "not-hex"
    (decided,) = feed.poll(0)
    assert decided.span_count == 2


def test_engine_otlp_json_hex_id_with_spaces_dead_lettered_like_the_gateway() -> None:
    doc = json.loads(otlp_json(trace_spans(1, 2)))
    span_doc = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
    span_doc["traceId"] = span_doc["traceId"][:4] + " " + span_doc["traceId"][4:]
    feed = Feeder(engine(wait_after_root=0))
    result = feed.add(json.dumps(doc).encode(), at_s=0, headers=[(CONTENT_TYPE_HEADER, b"application/json")])
    (dead,) = result.dead_letters
    assert dead.reason.startswith("invalid span: traceId is not hex")
    (decided,) = feed.poll(0)
    assert decided.span_count == 1


@pytest.mark.parametrize("payload", [b"{not json", b'{"resourceSpans": 3}', b"[]"])
def test_engine_otlp_json_undecodable_dead_lettered_whole(payload: bytes) -> None:
    result = Feeder(engine()).add(payload, at_s=0, headers=[(CONTENT_TYPE_HEADER, b"application/json")])
    (dead,) = result.dead_letters
    assert (dead.payload, dead.reason.startswith("undecodable")) == (payload, True)


def test_engine_model_json_invalid_item_dead_lettered_rest_kept() -> None:
    items = [s.model_dump(mode="json") for s in trace_spans(1, 3)]
    items[1]["span_id"] = "0" * 16
    items.append({"name": "no ids"})
    feed = Feeder(engine(wait_after_root=0))
    result = feed.add(
        json.dumps({"spans": items}).encode(),
        at_s=0,
        headers=[(CONTENT_TYPE_HEADER, CONTENT_TYPE_MODEL_JSON.encode())],
    )
    assert [json.loads(d.payload)[0].get("name") for d in result.dead_letters] == ["work", "no ids"]
    assert all(d.content_type == CONTENT_TYPE_MODEL_JSON for d in result.dead_letters)
    assert "span_id" in result.dead_letters[0].reason
    assert result.buffered_spans == 2


def test_engine_late_spans_follow_keep_and_drop() -> None:
    compiled = policy({"name": "errors", "type": "status_code"})
    feed = Feeder(engine(compiled, wait_after_root=0))
    feed.add([span(1, 1, error=True)], at_s=0)
    feed.add([span(2, 1)], at_s=0)
    assert {d.trace_id: d.keep for d in feed.poll(0)} == {trace_id(1): True, trace_id(2): False}
    late_payload = encode_spans([span(1, 2, 1), span(1, 3, 1)])
    kept = feed.add(late_payload, at_s=1).late
    dropped = feed.add([span(2, 2, 1)], at_s=1).late
    assert [(x.keep, x.audit.policy, x.span_count) for x in kept] == [(True, "errors", 2)]
    assert kept[0].payloads == [late_payload]
    assert [(x.keep, x.span_count) for x in dropped] == [(False, 1)]
    stats = feed.engine.stats
    assert (stats.late_kept, stats.late_dropped, stats.buffered_traces) == (2, 1, 0)
    assert feed.engine.committable_offset() == 4


def test_engine_late_after_cache_ttl_starts_new_trace() -> None:
    feed = Feeder(engine(wait_after_root=0, decision_cache_ttl=10))
    feed.add([span(1, 1)], at_s=0)
    feed.poll(0)
    assert feed.add([span(1, 2, 1)], at_s=11).late == []
    assert feed.engine.stats.buffered_traces == 1


def test_engine_restored_decision_answers_replayed_spans() -> None:
    target = engine()
    audit = SamplingAudit("errors", "v1", 1.0, "acme")
    record = encode_decision(Decision(trace_id(7), True, audit, T0, 3, "idle"))
    target.decisions.restore(record, T0)
    result = target.add(0, encode_spans(trace_spans(7, 2)), (), T0 + 1)
    assert [(x.keep, x.audit) for x in result.late] == [(True, audit)]
    assert target.committable_offset() == 1


def test_engine_tenant_header_recorded_on_audit() -> None:
    feed = Feeder(engine(wait_after_root=0, tenant="fallback"))
    feed.add(trace_spans(1, 1), at_s=0, headers=[(HEADER_TENANT, b"acme")])
    feed.add(trace_spans(2, 1), at_s=0, headers=[(HEADER_TENANT, None)])
    decided = {d.trace_id: d.audit for d in feed.poll(0)}
    assert (decided[trace_id(1)].tenant, decided[trace_id(2)].tenant) == ("acme", "fallback")
    assert decided[trace_id(1)].policy_version == feed.engine.policy.version
