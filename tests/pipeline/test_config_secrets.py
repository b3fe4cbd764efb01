"""Secrets given to the pipeline (Kafka SASL and key passwords, the store password, a password in
the store URL) never appear in `repr(settings)`, in log lines at debug level, or in error messages."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datatracing.pipeline.config import load_settings
from datatracing.pipeline.errors import ConfigError, StoreError, redact_url

SECRETS = ("kafka-sasl-S3CRET", "kafka-key-S3CRET", "store-field-S3CRET", "store-url-S3CRET")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_worker_paths_known_secrets_absent_from_logs_repr_and_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from datatracing.pipeline.sampler.worker import build_sampler_app
    from datatracing.pipeline.store import open_store

    env = {
        "DATATRACING_DATA_DIR": str(tmp_path),
        "DATATRACING_WORKER__LOG_LEVEL": "debug",
        "DATATRACING_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{_closed_port()}",
        "DATATRACING_KAFKA__SECURITY__PROTOCOL": "SASL_PLAINTEXT",
        "DATATRACING_KAFKA__SECURITY__SASL_USERNAME": "svc",
        "DATATRACING_KAFKA__SECURITY__SASL_PASSWORD": SECRETS[0],
        "DATATRACING_KAFKA__SECURITY__SSL_KEY_PASSWORD": SECRETS[1],
        "DATATRACING_STORE__PASSWORD": SECRETS[2],
        "DATATRACING_STORE__URL": f"clickhouses://svc:{SECRETS[3]}@127.0.0.1:{_closed_port()}/db?verify=false",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)

    settings = load_settings()
    logging.getLogger("datatracing.test").debug("settings: %r", settings)
    build_sampler_app(settings, with_web=False)
    with pytest.raises(StoreError) as caught:
        open_store(
            settings.store_url,
            retention_days=settings.store.retention_days,
            password=settings.store.secret_password(),
        )
    logging.getLogger("datatracing.test").debug("store failed: %s", caught.value)

    seen = "\n".join(
        [caplog.text, repr(settings), str(settings), str(caught.value), str(caught.value.__cause__)]
    )
    assert [s for s in SECRETS if s in seen] == []
    assert "svc:***@127.0.0.1" in repr(settings)


_USERINFO = st.text(
    alphabet=st.characters(codec="ascii", exclude_characters="@/?#:'\" \t\r\n\x0b\x0c"), min_size=1
)


@given(
    scheme=st.sampled_from(["clickhouse", "clickhouses", "kafka", "http"]),
    user=_USERINFO,
    password=_USERINFO.map(lambda p: "Q" + p + "Z"),
    host=st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True),
    before=st.sampled_from(["", "cannot reach ", "url="]),
    after=st.sampled_from(["", "/db", ":8443/db?verify=false", " failed"]),
)
def test_redact_url_any_userinfo_password_replaced_user_and_host_kept(
    scheme: str, user: str, password: str, host: str, before: str, after: str
) -> None:
    text = f"{before}{scheme}://{user}:{password}@{host}{after}"
    redacted = redact_url(text)
    assert redacted == f"{before}{scheme}://{user}:***@{host}{after}"


@given(text=st.text(alphabet=st.characters(exclude_characters="@"), max_size=60))
def test_redact_url_text_without_userinfo_unchanged(text: str) -> None:
    assert redact_url(text) == text


def test_kafka_tls_file_missing_raises_config_error_naming_the_setting(tmp_path: Path) -> None:
    from datatracing.pipeline.broker import faust_credentials
    from datatracing.pipeline.config import KafkaSecuritySettings

    missing = str(tmp_path / "nope.pem")
    with pytest.raises(ConfigError, match=r"kafka\.security\.ssl_ca_location"):
        faust_credentials(KafkaSecuritySettings(protocol="SSL", ssl_ca_location=missing))
