"""One Kafka security block reaches every client the project builds: producers, the sampler's
consumer, its restore/replay/scan readers, the topic admin, the ingest gateway's producer and the
Faust apps (sampler and sink). Each client's settings come from one function; these tests call the
project's own factories with a security block set and read what they would hand to the client."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import certifi
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from datatracing.pipeline.broker import (
    admin_config,
    faust_credentials,
    kafka_consumer_config,
    kafka_producer_config,
    librdkafka_security,
    make_faust_app,
    reader_config,
)
from datatracing.pipeline.config import (
    IngestSettings,
    KafkaSecuritySettings,
    KafkaSettings,
    Settings,
    load_settings,
)
from datatracing.pipeline.errors import ConfigError
from datatracing.pipeline.ingest._server import gateway_producer_config

SASL = KafkaSecuritySettings(protocol="SASL_PLAINTEXT", sasl_username="alice", sasl_password="pa55word")
EXPECTED = {
    "security.protocol": "sasl_plaintext",
    "sasl.mechanism": "PLAIN",
    "sasl.username": "alice",
    "sasl.password": "pa55word",
}


def _carries_sasl(config: dict[str, Any]) -> bool:
    return all(config.get(k) == v for k, v in EXPECTED.items())


def _settings(tmp_path: Path, security: KafkaSecuritySettings = SASL) -> Settings:
    return Settings(
        data_dir=tmp_path,
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1", security=security, producer={"linger.ms": 1}),
    )


def test_librdkafka_clients_sasl_block_set_every_config_carries_it(tmp_path: Path) -> None:
    kafka = _settings(tmp_path).kafka
    configs = {
        "producer": kafka_producer_config(kafka),
        "consumer": kafka_consumer_config(kafka, "g"),
        "restore reader": reader_config(kafka, "restore"),
        "replay reader": reader_config(kafka, "replay"),
        "admin": admin_config(kafka.bootstrap_servers, kafka.security),
        "ingest producer": gateway_producer_config(IngestSettings(), kafka),
    }
    missing = [name for name, config in configs.items() if not _carries_sasl(config)]
    assert missing == []
    # The extras still apply on top of the block.
    assert configs["producer"]["linger.ms"] == 1


def test_sampler_app_sasl_block_set_consumer_readers_and_faust_carry_it(tmp_path: Path) -> None:
    from datatracing.pipeline.sampler.worker import build_sampler_app

    app = build_sampler_app(_settings(tmp_path), with_web=False)
    assert _carries_sasl(app.datatracing_loop.config)  # type: ignore[attr-defined]
    runner = app.datatracing_runner  # type: ignore[attr-defined]
    # The runner's restore and dead-letter/quarantine scans build their readers from this block.
    assert runner.kafka.security == SASL
    assert _carries_sasl(reader_config(runner.kafka, "scan-dead-letter"))
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials)
    assert auth["security_protocol"] == "SASL_PLAINTEXT"
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("alice", "pa55word")


def test_store_app_sasl_block_set_faust_consumer_carries_it(tmp_path: Path) -> None:
    from datatracing.pipeline.runtime.workers import build_store_app
    from datatracing.pipeline.store import open_store

    store = open_store(f"chdb://{tmp_path / 'ch'}")
    try:
        app, _ = build_store_app(_settings(tmp_path), store, with_query=False)
        auth = credentials_to_aiokafka_auth(app.conf.broker_credentials)
    finally:
        store.close()
    assert auth["sasl_mechanism"] == "PLAIN"
    assert auth["sasl_plain_username"] == "alice"


def test_faust_credentials_sasl_ssl_scram_gets_tls_context_and_mechanism() -> None:
    security = KafkaSecuritySettings(
        protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="bob",
        sasl_password="x",
        ssl_ca_location=certifi.where(),
    )
    auth = credentials_to_aiokafka_auth(faust_credentials(security))
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert isinstance(auth["ssl_context"], ssl.SSLContext)
    assert auth["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    config = librdkafka_security(security)
    assert config["ssl.ca.location"] == certifi.where()
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"


def test_faust_credentials_plaintext_none_ssl_ssl_credentials(tmp_path: Path) -> None:
    assert faust_credentials(KafkaSecuritySettings()) is None
    assert (
        make_faust_app(_settings(tmp_path, KafkaSecuritySettings()), "t", web_port=1).conf.broker_credentials
        is None
    )
    auth = credentials_to_aiokafka_auth(
        faust_credentials(KafkaSecuritySettings(protocol="SSL", ssl_ca_location=certifi.where()))
    )
    assert auth["security_protocol"] == "SSL"


def test_security_settings_from_environment_read_with_secret_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATATRACING_KAFKA__SECURITY__PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("DATATRACING_KAFKA__SECURITY__SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("DATATRACING_KAFKA__SECURITY__SASL_USERNAME", "svc")
    monkeypatch.setenv("DATATRACING_KAFKA__SECURITY__SASL_PASSWORD", "env-secret-1")
    monkeypatch.setenv("DATATRACING_KAFKA__SECURITY__SSL_CA_LOCATION", "/etc/ssl/ca.pem")
    settings = load_settings()
    security = settings.kafka.security
    assert (security.protocol, security.sasl_mechanism, security.sasl_username) == (
        "SASL_SSL",
        "SCRAM-SHA-256",
        "svc",
    )
    assert security.sasl_password is not None
    assert security.sasl_password.get_secret_value() == "env-secret-1"
    assert "env-secret-1" not in repr(settings)


def test_security_settings_sasl_without_password_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError, match=r"kafka\.security"):
        load_settings(kafka={"security": {"protocol": "SASL_SSL", "sasl_username": "u"}})
