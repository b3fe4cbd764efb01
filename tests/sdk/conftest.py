"""Fixtures for SDK tests: a provider wired to an in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from datatracing.sdk import InMemorySpanExporter, SimpleSpanProcessor, Tracer, TracerProvider


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider(service_name="test-service", shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def tracer(provider: TracerProvider) -> Tracer:
    return provider.get_tracer("tests.sdk", "1.0")
