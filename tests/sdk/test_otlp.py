"""The SDK's OTLP encoding (the wire encoder over span slots) decodes to exactly the spans' models."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from datatracing.model import Resource, SpanKind, StatusCode
from datatracing.sdk import (
    Link,
    NonRecordingSpan,
    ReadableSpan,
    SpanContext,
    TracerProvider,
    encode_otlp_spans,
    set_span_in_context,
)
from datatracing.wire import decode_spans, encode_spans
from tests.strategies import attribute_maps, hex16, hex32, text

u32 = st.integers(min_value=0, max_value=2**32 - 1)
times = st.integers(min_value=0, max_value=2**63 - 1)  # up to datatracing.wire.MAX_START_TIME_NS


@dataclass
class SpanSpec:
    tracer: int
    name: str
    kind: SpanKind
    start: int
    duration: int
    attributes: dict[str, object]
    events: list[tuple[str, dict[str, object], int]]
    links: list[tuple[str, str, str, dict[str, object]]]
    status: tuple[StatusCode, str]
    parent: tuple[str, str, int, str, bool] | None


span_specs = st.builds(
    SpanSpec,
    tracer=st.integers(min_value=0, max_value=3),
    name=text,
    kind=st.sampled_from(SpanKind),
    start=times,
    duration=st.integers(min_value=0, max_value=2**40),
    attributes=attribute_maps,
    events=st.lists(st.tuples(text, attribute_maps, times), max_size=2),
    links=st.lists(st.tuples(hex32, hex16, text, attribute_maps), max_size=2),
    status=st.tuples(st.sampled_from(StatusCode), text),
    parent=st.none() | st.tuples(hex32, hex16, st.sampled_from([0, 1]), text, st.booleans()),
)


def _build(specs: list[SpanSpec], resources: list[Resource]) -> list[ReadableSpan]:
    collected: list[ReadableSpan] = []

    class Collect:
        def on_start(self, span: object, parent_context: object) -> None:
            pass

        def on_end(self, span: ReadableSpan) -> None:
            collected.append(span)

        def shutdown(self) -> None:
            pass

        def force_flush(self, timeout_s: float = 30) -> bool:
            return True

    providers = [TracerProvider(resource, shutdown_on_exit=False) for resource in resources]
    for provider in providers:
        provider.add_span_processor(Collect())
    tracers = [providers[i % len(providers)].get_tracer(f"scope{i // 2}", "v") for i in range(4)]
    for spec in specs:
        context = None
        if spec.parent is not None:
            trace_id, span_id, _, state, remote = spec.parent
            # A sampled parent, so every span records; the flags still vary through is_remote.
            parent = SpanContext(trace_id, span_id, 1, state, remote)
            context = set_span_in_context(NonRecordingSpan(parent))
        span = tracers[spec.tracer].start_span(
            spec.name,
            context=context,
            kind=spec.kind,
            attributes=spec.attributes,
            links=[Link(SpanContext(t, s, 1, ts), a) for t, s, ts, a in spec.links],
            start_time_unix_nano=spec.start,
        )
        for name, attributes, when in spec.events:
            span.add_event(name, attributes, when)
        span.set_status(*spec.status)
        span.end(min(spec.start + spec.duration, 2**64 - 1))
    return collected


@given(st.lists(span_specs, max_size=6), attribute_maps)
def test_encode_otlp_one_resource_one_scope_decodes_to_models_in_order(
    specs: list[SpanSpec], resource_attributes: dict[str, object]
) -> None:
    for spec in specs:
        spec.tracer = 0
    spans = _build(specs, [Resource(attributes=resource_attributes)])  # type: ignore[arg-type]
    assert decode_spans(encode_otlp_spans(spans)) == [s.to_model() for s in spans]


@given(st.lists(span_specs, max_size=6), attribute_maps)
def test_encode_otlp_one_tracer_same_bytes_as_wire_encoder_of_models(
    specs: list[SpanSpec], resource_attributes: dict[str, object]
) -> None:
    for spec in specs:
        spec.tracer = 0
    spans = _build(specs, [Resource(attributes=resource_attributes)])  # type: ignore[arg-type]
    assert encode_otlp_spans(spans) == encode_spans([s.to_model() for s in spans])


@given(st.lists(span_specs, max_size=8), attribute_maps, attribute_maps)
def test_encode_otlp_mixed_scopes_decodes_to_models_grouped(
    specs: list[SpanSpec], first: dict[str, object], second: dict[str, object]
) -> None:
    spans = _build(specs, [Resource(attributes=first), Resource(attributes=second)])  # type: ignore[arg-type]
    models = [s.to_model() for s in spans]
    # Expected order: by resource, then scope, each in order of first appearance; stable inside.
    resources: list[Resource] = []
    scopes: list[tuple[int, object]] = []
    keys = []
    for span in spans:
        if span.resource not in resources:
            resources.append(span.resource)
        scope = (resources.index(span.resource), span._tracer)
        if scope not in scopes:
            scopes.append(scope)
        keys.append((scope[0], scopes.index(scope)))
    order = sorted(range(len(spans)), key=lambda i: (*keys[i], i))
    assert decode_spans(encode_otlp_spans(spans)) == [models[i] for i in order]


def test_encode_otlp_empty_batch_empty_request() -> None:
    assert encode_otlp_spans([]) == b""
    assert decode_spans(b"") == []


def test_encode_otlp_long_and_edge_values_decode_exactly() -> None:
    specs = [
        SpanSpec(
            tracer=0,
            name="n" * 300,
            kind=SpanKind.SERVER,
            start=1,
            duration=2**40,
            attributes={
                "k" * 200: "v" * 125,
                "long": "é" * 500,
                "boundary": "x" * 126,
                "negative": -(2**63),
                "max": 2**63 - 1,
                "small": 127,
                "big": 128,
                "floats": [0.0, -1.5, 1e308],
                "empty": "",
                "false": False,
                "nested": {"list": [None, b"", {"deep": "yes"}]},
            },
            events=[("e" * 200, {"a": "b" * 1000}, 2**63)],
            links=[("1" * 32, "2" * 16, "vendor=x", {"l": 1})],
            status=(StatusCode.ERROR, "m" * 300),
            parent=("3" * 32, "4" * 16, 1, "a=b", True),
        )
    ]
    spans = _build(specs * 3, [Resource(attributes={"service.name": "s" * 400})])
    assert decode_spans(encode_otlp_spans(spans)) == [s.to_model() for s in spans]
