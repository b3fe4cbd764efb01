"""Span exporters: Kafka (the pipeline's input), OTLP/HTTP, console, JSON lines file, in memory."""

from __future__ import annotations

from datatracing.sdk.exporters._console import ConsoleSpanExporter, JsonlFileSpanExporter
from datatracing.sdk.exporters._kafka import KafkaSpanExporter
from datatracing.sdk.exporters._memory import InMemorySpanExporter
from datatracing.sdk.exporters._otlp_http import OtlpHttpSpanExporter

__all__ = [
    "ConsoleSpanExporter",
    "InMemorySpanExporter",
    "JsonlFileSpanExporter",
    "KafkaSpanExporter",
    "OtlpHttpSpanExporter",
]
