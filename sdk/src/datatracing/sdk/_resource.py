"""Building the `Resource` that describes this process, from arguments and the OTEL_* variables.

This is the only place the SDK reads the environment (`OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`); `TracerProvider` calls it once when it is given no resource.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import metadata
from urllib.parse import unquote

from datatracing.model import AttributeValue, Resource

__all__ = ["build_resource", "sdk_version"]


def sdk_version() -> str:
    """The installed datatracing-sdk version, or "0" when running from a source tree."""
    try:
        return metadata.version("datatracing-sdk")
    except metadata.PackageNotFoundError:  # pragma: no cover - always installed in our environments
        return "0"


def _parse_resource_attributes(raw: str) -> dict[str, AttributeValue]:
    # Format of the spec: comma-separated key=value, values percent-encoded; bad members are skipped.
    out: dict[str, AttributeValue] = {}
    for member in raw.split(","):
        key, sep, value = member.partition("=")
        key = key.strip()
        if sep and key:
            out[unquote(key)] = unquote(value.strip())
    return out


def build_resource(
    service_name: str | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Resource:
    """The process resource. Later sources win: SDK defaults, `OTEL_RESOURCE_ATTRIBUTES`,
    `OTEL_SERVICE_NAME`, `attributes`, then `service_name`.

    Example:
        >>> build_resource("checkout", environ={}).service_name
        'checkout'
    """
    env = os.environ if environ is None else environ
    merged: dict[str, AttributeValue] = {
        "service.name": "unknown_service",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "datatracing",
        "telemetry.sdk.version": sdk_version(),
    }
    merged.update(_parse_resource_attributes(env.get("OTEL_RESOURCE_ATTRIBUTES", "")))
    env_service = env.get("OTEL_SERVICE_NAME", "").strip()
    if env_service:
        merged["service.name"] = env_service
    if attributes:
        merged.update(attributes)
    if service_name:
        merged["service.name"] = service_name
    return Resource(attributes=merged)
