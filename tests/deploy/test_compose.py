"""docker-compose.yml read as data (no Docker here): references resolve, workers restart and report
health, settings exist, and the auth key every client of the stack sends matches the keys file."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.deploy_support import COMPOSE_FILE, ROOT, settings_env_problems

WORKERS = ("ingest", "sampler", "sink", "query")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = compose["services"]
    assert isinstance(services, dict)
    return services


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_compose_every_service_has_an_image_or_build(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        assert "image" in service or "build" in service, name
        build = service.get("build")
        if build:
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name


def test_compose_depends_on_targets_exist_with_known_conditions(compose: dict[str, Any]) -> None:
    services = _services(compose)
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        for target, spec in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert spec["condition"] in conditions, f"{name} -> {target}"
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}'s health: none defined"


def test_compose_workers_have_healthcheck_and_restart_policy(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name in (*WORKERS, "kafka", "clickhouse", "prometheus", "grafana"):
        assert name in services, name
        assert services[name].get("restart") == "unless-stopped", name
        assert services[name].get("healthcheck", {}).get("test"), name


def test_compose_health_checks_probe_each_workers_own_port(compose: dict[str, Any]) -> None:
    # sampler: web_port; sink: web_port + 1; ingest and query: their HTTP port.
    ports = {"ingest": 4318, "sampler": 6066, "sink": 6067, "query": 16686}
    for name, port in ports.items():
        test = " ".join(_services(compose)[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/readyz" in test, name


def test_compose_migrate_runs_once_before_store_writers(compose: dict[str, Any]) -> None:
    services = _services(compose)
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in ("sink", "query"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    commands = {name: service.get("command") for name, service in services.items()}
    assert [n for n, c in commands.items() if c == ["migrate"]] == ["migrate"]
    assert commands["sink"] == ["worker", "sink"]


def test_compose_sampler_scales_without_clashes(compose: dict[str, Any]) -> None:
    sampler = _services(compose)["sampler"]
    assert "container_name" not in sampler
    # A published host port ("6066:6066") would clash on the second replica.
    assert all(":" not in str(port) for port in sampler.get("ports", []))


def test_compose_kafka_is_reachable_from_outside(compose: dict[str, Any]) -> None:
    kafka = _services(compose)["kafka"]
    env = _environment(kafka)
    assert "kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert ":9094" in env["KAFKA_ADVERTISED_LISTENERS"].split("EXTERNAL://", 1)[1]
    assert "9094:9094" in kafka["ports"]
    assert "image" in kafka
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in env["KAFKA_PROCESS_ROLES"]


def test_compose_workers_listen_on_all_interfaces(compose: dict[str, Any]) -> None:
    services = _services(compose)
    assert _environment(services["ingest"])["DATATRACING_INGEST__HOST"] == "0.0.0.0"
    assert _environment(services["query"])["DATATRACING_QUERY__HOST"] == "0.0.0.0"
    for name in ("sampler", "sink"):
        assert _environment(services[name])["DATATRACING_WORKER__HOST"] == "0.0.0.0"


def test_compose_datatracing_env_names_are_settings(compose: dict[str, Any]) -> None:
    env: dict[str, str] = {}
    for service in _services(compose).values():
        env.update({k: v for k, v in _environment(service).items() if k.startswith("DATATRACING_")})
    assert env
    assert settings_env_problems(env) == []


def test_compose_auth_is_on_with_keys_from_a_secret(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name in ("ingest", "query"):
        env = _environment(services[name])
        assert env["DATATRACING_AUTH__ENABLED"] == "true"
        assert env["DATATRACING_AUTH__KEYS_FILE"] == "/run/secrets/datatracing-keys"
        assert "datatracing-keys" in services[name]["secrets"]


def test_compose_secrets_and_mounted_files_exist(compose: dict[str, Any]) -> None:
    for name, secret in compose["secrets"].items():
        assert (ROOT / secret["file"]).is_file(), name
    for name, service in _services(compose).items():
        for secret in service.get("secrets", []):
            assert secret in compose["secrets"], f"{name}: unknown secret {secret}"
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source}"
            else:
                assert source in compose["volumes"], f"{name}: unknown volume {source}"


def test_compose_demo_key_matches_the_keys_file() -> None:
    raw = (ROOT / "deploy/compose/api-key").read_bytes()
    # Grafana's `$__file{}` and Prometheus' credentials_file send the file as it is: no newline.
    assert raw == raw.strip()
    key = raw.decode()
    lines = [
        line.strip()
        for line in (ROOT / "deploy/compose/datatracing-keys").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    hashes = {line.split(":")[2] for line in lines}
    assert all(len(line.split(":")) == 3 for line in lines)
    assert hashlib.sha256(key.encode()).hexdigest() in hashes


def test_compose_prometheus_scrapes_every_worker() -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(WORKERS) <= set(jobs)
    # Every sampler replica, not one: DNS discovery of the compose service.
    assert jobs["sampler"]["dns_sd_configs"][0]["names"] == ["sampler"]
    assert jobs["sink"]["static_configs"][0]["targets"] == ["sink:6067"]


def test_compose_grafana_provisions_dashboards_and_data_sources(compose: dict[str, Any]) -> None:
    grafana = _services(compose)["grafana"]
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in grafana["volumes"]}
    provisioning = ROOT / mounts["/etc/grafana/provisioning"]
    sources = yaml.safe_load((provisioning / "datasources/datatracing.yml").read_text())["datasources"]
    by_type = {s["type"]: s for s in sources}
    assert by_type["prometheus"]["url"] == "http://prometheus:9090"
    jaeger = by_type["jaeger"]
    assert jaeger["url"] == "http://query:16686"
    assert jaeger["jsonData"]["httpHeaderName1"] == "Authorization"
    assert jaeger["secureJsonData"]["httpHeaderValue1"].startswith("Bearer ")
    provider = yaml.safe_load((provisioning / "dashboards/datatracing.yml").read_text())["providers"][0]
    dashboards = ROOT / mounts[provider["options"]["path"]]
    assert list(Path(dashboards).glob("*.json"))


def test_compose_env_check_planted_unknown_name_and_bad_value_reported() -> None:
    assert settings_env_problems({"DATATRACING_QUERY__HOSTNAME": "x"}) == [
        "DATATRACING_QUERY__HOSTNAME: no setting query.hostname"
    ]
    assert settings_env_problems({"DATATRACING_KAFKA": "x"})
    assert settings_env_problems({"DATATRACING_QUERY__PORT": "not-a-port"})
