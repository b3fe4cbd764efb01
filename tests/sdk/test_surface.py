"""The SDK's public surface and its lightness at import time."""

from __future__ import annotations

import subprocess
import sys

import datatracing.sdk
import datatracing.sdk.exporters


def test_sdk_all_names_exist_and_exporters_reexported() -> None:
    for name in datatracing.sdk.__all__:
        assert getattr(datatracing.sdk, name) is not None
    assert set(datatracing.sdk.exporters.__all__) <= set(datatracing.sdk.__all__)


def test_sdk_import_loads_neither_kafka_client_nor_opentelemetry_sdk() -> None:
    # opentelemetry-proto is a dependency (the wire codec); the OpenTelemetry API and SDK are not.
    forbidden = ("confluent_kafka", "opentelemetry.sdk", "opentelemetry.trace", "opentelemetry.context")
    code = f"import sys, datatracing.sdk; print([m for m in sys.modules if m.startswith({forbidden!r})])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
