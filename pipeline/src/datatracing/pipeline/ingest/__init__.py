"""The ingest gateway: OTLP/HTTP export requests in, the spans topic out (`datatracing ingest`).

Any OpenTelemetry SDK (or ours, `OtlpHttpSpanExporter`) can point its OTLP/HTTP exporter at it;
each request is decoded and split per trace id by `datatracing.wire` (`split_request`, the same
codec the sampler uses) and published keyed like our Kafka exporter's messages.

Example:
    >>> from datatracing.pipeline.ingest import IngestSettings, create_ingest_app, make_ingest_producer
    >>> settings = IngestSettings()
    >>> producer = make_ingest_producer(settings, "127.0.0.1:9092")  # doctest: +SKIP
    >>> app = create_ingest_app(producer, "otlp_spans", settings)  # doctest: +SKIP
"""

from __future__ import annotations

from datatracing.pipeline.config import IngestSettings
from datatracing.pipeline.ingest._app import ApiKeyCheck, create_ingest_app
from datatracing.pipeline.ingest._connections import ClientStats
from datatracing.pipeline.ingest._errors import BrokerSaturatedError, UnauthorizedError
from datatracing.pipeline.ingest._http import rpc_status_class
from datatracing.pipeline.ingest._publish import IngestStats, ProducerPort
from datatracing.pipeline.ingest._server import (
    ingest_producer_config,
    ingest_server_config,
    make_ingest_producer,
    run_ingest,
)

__all__ = [
    "ApiKeyCheck",
    "BrokerSaturatedError",
    "ClientStats",
    "IngestSettings",
    "IngestStats",
    "ProducerPort",
    "UnauthorizedError",
    "create_ingest_app",
    "ingest_producer_config",
    "ingest_server_config",
    "make_ingest_producer",
    "rpc_status_class",
    "run_ingest",
]
