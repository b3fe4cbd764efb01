"""The resource comes from arguments and the standard OTEL_* variables, in a defined precedence."""

from __future__ import annotations

import pytest

from datatracing.model import Resource
from datatracing.sdk import TracerProvider, build_resource


def test_build_resource_no_sources_unknown_service_and_sdk_attributes() -> None:
    resource = build_resource(environ={})
    assert resource.service_name == "unknown_service"
    assert resource.attributes["telemetry.sdk.name"] == "datatracing"
    assert resource.attributes["telemetry.sdk.language"] == "python"


def test_build_resource_env_attributes_parsed_and_decoded() -> None:
    env = {"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod, team=a%20b,broken,service.name=x"}
    resource = build_resource(environ=env)
    assert resource.attributes["deployment.environment"] == "prod"
    assert resource.attributes["team"] == "a b"
    assert resource.service_name == "x"


def test_build_resource_precedence_argument_over_env_service_over_attributes() -> None:
    env = {"OTEL_RESOURCE_ATTRIBUTES": "service.name=attr", "OTEL_SERVICE_NAME": "env"}
    assert build_resource(environ=env).service_name == "env"
    assert build_resource("arg", environ=env).service_name == "arg"
    assert build_resource(attributes={"service.name": "explicit"}, environ=env).service_name == "explicit"


def test_provider_reads_env_when_no_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    assert TracerProvider(shutdown_on_exit=False).resource.service_name == "from-env"
    assert TracerProvider(service_name="arg", shutdown_on_exit=False).resource.service_name == "arg"


def test_provider_given_resource_and_service_name_merged() -> None:
    resource = Resource(attributes={"service.name": "old", "k": "v"})
    provider = TracerProvider(resource, service_name="new", shutdown_on_exit=False)
    assert provider.resource.attributes == {"service.name": "new", "k": "v"}
