"""The engine decoder (`write._engine`) gives exactly the rows and rejects of the Python one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.store import SpanBatch, open_store
from datatracing.pipeline.store.write._batch import _staged
from datatracing.pipeline.store.write._engine import OtlpStage
from datatracing.wire import encode_spans, spans_to_request
from tests.pipeline.store.store_data import attribute_values, model_spans, rich_trace, span, trace_id

Messages = list[tuple[bytes, SamplingAudit]]
AUDITS = [
    SamplingAudit(),
    SamplingAudit(policy="errors", policy_version="v2", sample_rate=4.0, tenant="acme"),
]


@pytest.fixture(scope="module")
def stage(chdb_url: str) -> Iterator[OtlpStage]:
    store = open_store(chdb_url)
    yield store.backend.stage()
    store.close()


def assert_same(stage: OtlpStage, messages: Messages) -> tuple[SpanBatch, list[tuple[int, str]]]:
    python, python_rejects = SpanBatch.from_otlp_with_rejects(messages)
    engine, engine_rejects = SpanBatch.from_otlp_with_rejects(messages, stage=stage)
    assert engine_rejects == python_rejects
    # Row order may differ (messages left to Python come last); compare sorted by span.
    keys = [("trace_id", "ascending"), ("span_id", "ascending"), ("timestamp", "ascending")]
    assert engine.table.sort_by(keys).to_pylist() == python.table.sort_by(keys).to_pylist()
    assert engine.table.schema == python.table.schema
    return engine, engine_rejects


def _request(spans: list[object]) -> ExportTraceServiceRequest:
    return spans_to_request(spans)  # type: ignore[arg-type]


def test_stage_rich_traces_equal_python_decode(stage: OtlpStage) -> None:
    messages = [(encode_spans(rich_trace(trace_id())), AUDITS[i % 2]) for i in range(5)]

    batch, rejects = assert_same(stage, messages)

    assert len(batch) == 15
    assert rejects == []


def test_stage_parent_in_other_message_fills_parent_service(stage: OtlpStage) -> None:
    tid = trace_id()
    root, child, grandchild = rich_trace(tid)
    messages = [(encode_spans([child]), AUDITS[0]), (encode_spans([root, grandchild]), AUDITS[0])]

    batch, _ = assert_same(stage, messages)

    assert sorted(batch.table.column("parent_service").to_pylist()) == ["", "frontend", "payments"]


def test_stage_scalar_attribute_types_equal_python_decode(stage: OtlpStage) -> None:
    attributes = {
        "s": "text",
        "i": -(2**63),
        "d": 1e16,
        "nan": float("nan"),
        "b": True,
        "raw": b"\x00\xff",
        "none": None,
        "list": ["a", 1, 2.5, False, b"\x01", None],
        "map": {"k": 1, "j": [], "b": b""},
    }
    messages = [(encode_spans([span(trace_id(), 1, attributes=attributes)]), AUDITS[1])]

    python, _ = SpanBatch.from_otlp_with_rejects(messages)
    engine, _ = SpanBatch.from_otlp_with_rejects(messages, stage=stage)

    # NaN != NaN, so compare the stored text (which is what the store keeps).
    assert engine.table.to_pylist() == python.table.to_pylist()


@pytest.mark.parametrize(
    "mutate",
    [
        "short trace id",
        "zero span id",
        "zero parent",
        "end before start",
        "year 2262",
        "bad link",
        "repeated key",
        "repeated resource key",
        "deep array",
        "kvlist in array",
        "bad utf-8",
        "garbage",
        "truncated value",
        "value with two fields",
        "bad utf-8 in a value",
    ],
)
def test_stage_left_out_messages_rejected_or_kept_like_python(stage: OtlpStage, mutate: str) -> None:
    request = _request([span(trace_id(), 1, attributes={"k": 1})])
    pb = request.resource_spans[0].scope_spans[0].spans[0]
    if mutate == "short trace id":
        pb.trace_id = b"\x01" * 15
    elif mutate == "zero span id":
        pb.span_id = b"\x00" * 8
    elif mutate == "zero parent":
        pb.parent_span_id = b"\x00" * 8
    elif mutate == "end before start":
        pb.end_time_unix_nano = pb.start_time_unix_nano - 1
    elif mutate == "year 2262":
        pb.start_time_unix_nano = pb.end_time_unix_nano = 2**63
    elif mutate == "bad link":
        link = pb.links.add()
        link.trace_id, link.span_id = b"\x01" * 16, b"\x01" * 7
    elif mutate == "repeated key":
        kv = pb.attributes.add()
        kv.key, kv.value.string_value = "k", "last"
    elif mutate == "repeated resource key":
        kv = request.resource_spans[0].resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", "other"
    elif mutate == "deep array":
        kv = pb.attributes.add()
        kv.key = "deep"
        kv.value.array_value.values.add().array_value.values.add().int_value = 1
    elif mutate == "kvlist in array":
        kv = pb.attributes.add()
        kv.key = "deep"
        inner = kv.value.array_value.values.add().kvlist_value.values.add()
        inner.key, inner.value.bool_value = "x", True
    payload = request.SerializeToString()
    if mutate == "bad utf-8":
        pb.name = "NAME-é"
        payload = request.SerializeToString().replace("é".encode(), b"\xff\xfe")
    elif mutate == "garbage":
        payload = b"\x0a\x05broken"
    elif mutate in ("truncated value", "value with two fields", "bad utf-8 in a value"):
        # Raw `AnyValue` bytes of the same length in place of a string value's (0x0A, 11, text).
        kv = pb.attributes.add()
        kv.key, kv.value.string_value = "raw", "PLACEHOLDER"
        replacement = {
            "truncated value": b"\x0a\x0fPLACEHOLDER",  # a length past the message's end
            "value with two fields": b"\x0a\x06abcdef\x18\x05\x0a\x01z",  # string, int, string
            "bad utf-8 in a value": b"\x0a\x0bPLACEHOLD\xff\xfe",
        }[mutate]
        payload = request.SerializeToString().replace(b"\x0a\x0bPLACEHOLDER", replacement)
    good = encode_spans(rich_trace(trace_id()))

    batch, rejects = assert_same(stage, [(good, AUDITS[0]), (payload, AUDITS[1]), (good, AUDITS[1])])

    if mutate in ("truncated value", "bad utf-8 in a value"):
        assert [index for index, _ in rejects] == [1]
        assert len(batch) == 6  # both good messages kept
    elif mutate == "value with two fields":
        assert rejects == []
        # The last field wins, as in the protobuf runtime.
        assert [dict(m)["raw"] for m in batch.table.column("attributes").to_pylist() if "raw" in dict(m)] == [
            "z"
        ]


def test_stage_empty_and_spanless_messages_equal_python_decode(stage: OtlpStage) -> None:
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add()

    batch, rejects = assert_same(stage, [(b"", AUDITS[0]), (request.SerializeToString(), AUDITS[0])])

    assert len(batch) == 0
    assert rejects == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_stage_random_spans_equal_python_decode(stage: OtlpStage, data: st.DataObject) -> None:
    count = data.draw(st.integers(1, 3))
    messages = [
        (encode_spans(data.draw(model_spans(trace_id()))), data.draw(st.sampled_from(AUDITS)))
        for _ in range(count)
    ]

    python, _ = SpanBatch.from_otlp_with_rejects(messages)
    engine, rejects = SpanBatch.from_otlp_with_rejects(messages, stage=stage)

    assert rejects == []
    keys = [("trace_id", "ascending"), ("span_id", "ascending")]
    # Floats are compared as stored text inside the maps; NaN only inside JSON text, also text.
    assert engine.table.sort_by(keys).to_pylist() == python.table.sort_by(keys).to_pylist()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=attribute_values)
def test_stage_any_attribute_value_equals_python_decode(stage: OtlpStage, value: object) -> None:
    messages = [(encode_spans([span(trace_id(), 1, attributes={"v": value})]), AUDITS[0])]

    python, _ = SpanBatch.from_otlp_with_rejects(messages)
    engine, _ = SpanBatch.from_otlp_with_rejects(messages, stage=stage)

    assert engine.table.to_pylist() == python.table.to_pylist()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=64))
def test_stage_random_bytes_equal_python_decode(stage: OtlpStage, payload: bytes) -> None:
    good = encode_spans([span(trace_id(), 1)])

    assert_same(stage, [(payload, AUDITS[0]), (good, AUDITS[0])])


def test_stage_decodes_scalars_events_and_links_itself_and_leaves_arrays_to_python(stage: OtlpStage) -> None:
    from datatracing.model import SpanEvent, SpanLink

    base = span(trace_id(), 1, attributes={"d": 2.5, "b": b"x", "t": True, "n": None})
    rich = base.model_copy(
        update={
            "events": (SpanEvent(name="e", time_unix_nano=base.start_time_unix_nano, attributes={"x": 1.5}),),
            "links": (SpanLink(trace_id=trace_id(), span_id="ab" * 8, attributes={"why": "retry"}),),
        }
    )
    with_list = span(trace_id(), 2, attributes={"list": ["a", 1, 2.5]})
    with_map = span(trace_id(), 3, attributes={"map": {"k": "v", "n": None}})
    messages = [
        (encode_spans([rich]), AUDITS[0]),
        (encode_spans(rich_trace(trace_id())[2:]), AUDITS[1]),
        (encode_spans([with_list]), AUDITS[0]),
        (encode_spans([with_map]), AUDITS[1]),
    ]

    staged, rest = _staged(stage, messages)

    assert staged is not None
    assert rest == [2, 3]  # the stage reads scalar values only
    assert_same(stage, messages)


@settings(max_examples=200, deadline=None)
@given(
    lists=st.lists(st.lists(st.integers(0, 99), max_size=12), max_size=30),
    distinct=st.sampled_from([3, 64, 65, 100]),
)
@example(lists=[list(range(64)), [63, 1, 63]], distinct=64)  # the bit path at its widest
@example(lists=[list(range(70)), [69, 2, 69], [5, 6]], distinct=100)  # the hashing path
def test_repeated_keys_finds_exactly_the_lists_with_a_repeat(lists: list[list[int]], distinct: int) -> None:
    import pyarrow as pa

    from datatracing.pipeline.store.write._engine_rows import _repeated_keys

    # Keys drawn from `distinct` names: up to 64 takes the bit path, more the hashing path.
    kv_type = pa.struct([("key", pa.binary())])
    arrays = pa.array(
        [[{"key": f"k{n % distinct}".encode()} for n in keys] for keys in lists], pa.list_(kv_type)
    )
    owners = pa.array([100 + i for i in range(len(lists))], pa.int64())

    found = sorted(set(_repeated_keys(arrays, owners).to_pylist()))  # a row may come twice

    expected = [100 + i for i, keys in enumerate(lists) if len({n % distinct for n in keys}) < len(keys)]
    assert found == expected
    # Sliced as the engine's struct children are: offsets that do not start at zero.
    tail = sorted(set(_repeated_keys(arrays.slice(1), owners.slice(1)).to_pylist()))
    assert tail == [row for row in expected if row > 100]


def _reference_frame(payloads: list[bytes]) -> bytes:
    """`frame` written plainly: each message as varint(size) + payload + tag + varint(position)."""
    from datatracing.pipeline.store.write._engine import INDEX_FIELD

    def varint(value: int) -> bytes:
        out = bytearray()
        while value > 0x7F:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        return bytes(out + bytes([value]))

    framed = b""
    for index, payload in enumerate(payloads):
        suffix = varint(INDEX_FIELD << 3) + varint(index)
        framed += varint(len(payload) + len(suffix)) + payload + suffix
    return framed


@settings(max_examples=100, deadline=None)
@given(sizes=st.lists(st.sampled_from([0, 1, 127, 128, 16370, 16377, 16383, 16384, 20000]), max_size=6))
def test_frame_sizes_around_the_varint_lookup_table(sizes: list[int]) -> None:
    from datatracing.pipeline.store.write._engine import frame

    payloads = [bytes([65 + i % 26]) * size for i, size in enumerate(sizes)]

    assert frame(payloads) == _reference_frame(payloads)


def test_frame_positions_past_the_varint_lookup_table() -> None:
    from datatracing.pipeline.store.write._engine import frame

    payloads = [b"x"] * 16390

    assert frame(payloads) == _reference_frame(payloads)
