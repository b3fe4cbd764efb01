"""Ingest fixtures: a 4-partition spans topic and a factory of gateways publishing to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from datatracing.pipeline.ingest import (
    ApiKeyCheck,
    IngestSettings,
    create_ingest_app,
    make_ingest_producer,
)
from tests.pipeline.ingest.ingest_support import PARTITIONS, GatewayFactory


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def spans_topic(topic_factory: Callable[..., str]) -> str:
    return topic_factory("ingest", partitions=PARTITIONS)


@pytest.fixture
def gateway(kafka_bootstrap: str, spans_topic: str) -> Iterator[GatewayFactory]:
    """`gateway(settings=..., api_key_check=..., bootstrap=..., extra=...)` builds an app on `spans_topic`."""
    producers: list[Any] = []

    def make(
        settings: IngestSettings | None = None,
        api_key_check: ApiKeyCheck | None = None,
        bootstrap: str | None = None,
        extra: dict[str, object] | None = None,
    ) -> FastAPI:
        settings = settings or IngestSettings(flush_timeout_s=5)
        producer = make_ingest_producer(settings, bootstrap or kafka_bootstrap, extra)
        producers.append(producer)
        return create_ingest_app(producer, spans_topic, settings, api_key_check)

    yield make
    for producer in producers:
        producer.flush(0)
    producers.clear()
