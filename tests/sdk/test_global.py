"""The process-wide tracer provider and the tracers handed out before it is set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from datatracing.sdk import (
    InMemorySpanExporter,
    SimpleSpanProcessor,
    TracerProvider,
    _global,
    get_tracer,
    get_tracer_provider,
    set_tracer_provider,
)


@pytest.fixture
def clean_global() -> Iterator[None]:
    saved = _global._provider
    _global._provider = None
    yield
    _global._provider = saved


@pytest.mark.usefixtures("clean_global")
def test_get_tracer_before_provider_set_records_after() -> None:
    tracer = get_tracer("library", "2.0")
    assert get_tracer_provider() is None
    assert not tracer.start_span("early").is_recording()
    exporter = InMemorySpanExporter()
    provider = TracerProvider(service_name="svc", shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    set_tracer_provider(provider)
    with tracer.start_as_current_span("late") as span:
        assert span.is_recording()
    (model,) = exporter.get_finished_spans()
    assert (model.name, model.scope.name, model.scope.version) == ("late", "library", "2.0")
    assert get_tracer_provider() is provider
