"""OpenTelemetry SDK spans converted to the model, field for field, and through the OTLP codec."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider as OtelTracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor as OtelSimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter as OtelMemory
from opentelemetry.trace import Link as OtelLink
from opentelemetry.trace import SpanKind as OtelSpanKind
from opentelemetry.trace import Status as OtelStatus
from opentelemetry.trace import StatusCode as OtelStatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from datatracing.model import SpanKind, StatusCode
from datatracing.sdk import InMemorySpanExporter, Tracer, extract
from datatracing.sdk.otel import otel_span_to_model
from datatracing.wire import decode_spans, encode_spans

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
HEADERS = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01", "tracestate": "vendor=abc"}


def _otel() -> tuple[OtelTracerProvider, OtelMemory]:
    provider = OtelTracerProvider(resource=Resource({"service.name": "pricing", "deployment": "test"}))
    memory = OtelMemory()
    provider.add_span_processor(OtelSimpleSpanProcessor(memory))
    return provider, memory


def test_otel_span_to_model_every_field_exact() -> None:
    provider, memory = _otel()
    tracer = provider.get_tracer("pricing.engine", "2.1")
    parent = TraceContextTextMapPropagator().extract(HEADERS)
    linked = TraceContextTextMapPropagator().extract(
        {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}
    )
    link_context = otel_trace.get_current_span(linked).get_span_context()
    span = tracer.start_span(
        "price order",
        context=parent,
        kind=OtelSpanKind.CONSUMER,
        attributes={"order.id": 42, "ratio": 0.5, "express": True, "tags": ("a", "b"), "who": "x"},
        links=[OtelLink(link_context, {"link.kind": "batch"})],
        start_time=1_000,
    )
    span.add_event("cache miss", {"key": "k1"}, timestamp=1_500)
    span.set_status(OtelStatus(OtelStatusCode.ERROR, "no price"))
    span.end(end_time=2_000)
    (readable,) = memory.get_finished_spans()

    model = otel_span_to_model(readable)
    assert model.trace_id == TRACE_ID
    assert model.parent_span_id == PARENT_ID
    assert model.span_id == f"{readable.context.span_id:016x}"
    assert model.trace_state == "vendor=abc"
    assert model.flags == 0x301  # sampled, is-remote known, parent remote
    assert model.kind is SpanKind.CONSUMER
    assert (model.start_time_unix_nano, model.end_time_unix_nano) == (1_000, 2_000)
    assert model.attributes == {"order.id": 42, "ratio": 0.5, "express": True, "tags": ["a", "b"], "who": "x"}
    (event,) = model.events
    assert (event.name, event.time_unix_nano, event.attributes) == ("cache miss", 1_500, {"key": "k1"})
    (link,) = model.links
    assert (link.trace_id, link.span_id) == ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    assert link.flags == 0x300  # not sampled, remote
    assert link.attributes == {"link.kind": "batch"}
    assert (model.status.code, model.status.message) == (StatusCode.ERROR, "no price")
    assert model.resource.attributes == {"service.name": "pricing", "deployment": "test"}
    assert (model.scope.name, model.scope.version) == ("pricing.engine", "2.1")
    assert decode_spans(encode_spans([model])) == [model]


def test_otel_and_sdk_spans_same_shape_for_same_parent(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    """A child of the same remote parent looks the same on the wire from either SDK."""
    tracer.start_span("ours", context=extract(HEADERS), kind=SpanKind.SERVER).end()
    (ours,) = exporter.get_finished_spans()
    provider, memory = _otel()
    parent = TraceContextTextMapPropagator().extract(HEADERS)
    provider.get_tracer("t").start_span("theirs", context=parent, kind=OtelSpanKind.SERVER).end()
    theirs = otel_span_to_model(memory.get_finished_spans()[0])
    for field in ("trace_id", "parent_span_id", "trace_state", "flags", "kind"):
        assert getattr(theirs, field) == getattr(ours, field), field


def test_otel_root_span_flags_local_and_status_unset() -> None:
    provider, memory = _otel()
    provider.get_tracer("t").start_span("root").end()
    (readable,) = memory.get_finished_spans()
    model = otel_span_to_model(readable)
    assert model.parent_span_id is None
    # Low byte: the span's own W3C flags (sampled, and "random" where the SDK sets it); no remote bit.
    assert model.flags == 0x100 | readable.context.trace_flags
    assert model.status.code is StatusCode.UNSET
    assert model.kind is SpanKind.INTERNAL


def test_sdk_modules_outside_otel_import_no_opentelemetry_sdk() -> None:
    # Every module of the SDK distribution except the bridge itself.
    code = (
        "import importlib, pathlib, sys, datatracing.sdk\n"
        "root = pathlib.Path(datatracing.sdk.__file__).parent\n"
        "for path in sorted(root.rglob('*.py')):\n"
        "    parts = path.relative_to(root).with_suffix('').parts\n"
        "    if parts[0] != 'otel':\n"
        "        name = '.'.join(('datatracing', 'sdk', *parts))\n"
        "        importlib.import_module(name.removesuffix('.__init__'))\n"
        "print([m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'opentelemetry.trace',"
        " 'starlette', 'fastapi'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_instrumentation_import_loads_no_kafka_client_or_framework() -> None:
    code = (
        "import sys, datatracing.sdk.instrumentation, datatracing.sdk.semconv;"
        "print([m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'opentelemetry.trace',"
        " 'confluent_kafka', 'starlette', 'fastapi'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_otel_package_without_extra_import_error_names_install_hint() -> None:
    code = (
        "import sys; sys.modules['opentelemetry.sdk.trace'] = None\n"
        "try:\n    import datatracing.sdk.otel\nexcept ImportError as exc:\n    print(exc)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'datatracing-sdk[otel]'" in out


_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_SCALARS = st.one_of(st.text(max_size=20), st.booleans(), _INT64, st.floats(allow_nan=False))
_VALUES = st.one_of(
    _SCALARS,
    st.lists(st.text(max_size=5), max_size=4).map(tuple),
    st.lists(_INT64, max_size=4).map(tuple),
    st.lists(st.booleans(), max_size=4).map(tuple),
)


@given(
    attributes=st.dictionaries(st.text(min_size=1, max_size=10), _VALUES, max_size=8),
    kind=st.sampled_from(list(OtelSpanKind)),
    times=st.tuples(st.integers(0, 2**62), st.integers(0, 2**62)).map(sorted),
)
def test_otel_span_to_model_any_attributes_survive_otlp_round_trip(
    attributes: dict[str, Any], kind: OtelSpanKind, times: list[int]
) -> None:
    provider, memory = _otel()
    span = provider.get_tracer("t").start_span("s", kind=kind, attributes=attributes, start_time=times[0])
    span.end(end_time=times[1])
    (readable,) = memory.get_finished_spans()
    model = otel_span_to_model(readable)
    expected = {k: list(v) if isinstance(v, tuple) else v for k, v in (readable.attributes or {}).items()}
    assert model.attributes == expected
    assert model.kind == kind.value + 1
    assert decode_spans(encode_spans([model])) == [model]
