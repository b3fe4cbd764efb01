"""Server store URLs: TLS options, a password held apart from the URL, and no password in messages.

No ClickHouse server runs here: these tests check what the project would hand to clickhouse-connect
(`client_settings` from `server_target`), and the message of a refused connection."""

from __future__ import annotations

import socket

import pytest

from datatracing.pipeline.errors import ConfigError, StoreError
from datatracing.pipeline.store import open_store
from datatracing.pipeline.store._clickhouse_server import client_settings
from datatracing.pipeline.store._open import server_target


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_server_target_tls_options_reach_client_settings() -> None:
    target = server_target(
        "clickhouses://app:pw@db.example:9440/traces?ca_cert=/etc/ca.pem&verify=true"
        "&client_cert=/etc/me.pem&client_cert_key=/etc/me.key&cluster=main"
    )
    settings = client_settings(**target.client_arguments())
    assert settings["secure"] is True
    assert (settings["ca_cert"], settings["verify"]) == ("/etc/ca.pem", True)
    assert (settings["client_cert"], settings["client_cert_key"]) == ("/etc/me.pem", "/etc/me.key")
    assert (settings["host"], settings["port"], settings["username"]) == ("db.example", 9440, "app")
    assert (target.database, target.cluster) == ("traces", "main")


def test_server_target_verify_false_and_default_port() -> None:
    target = server_target("clickhouses://db.example?verify=false")
    settings = client_settings(**target.client_arguments())
    assert (settings["port"], settings["verify"], settings["ca_cert"]) == (8443, False, None)


def test_server_target_plain_http_has_no_tls_settings() -> None:
    settings = client_settings(**server_target("clickhouse://db.example").client_arguments())
    assert settings["secure"] is False
    assert "verify" not in settings
    assert "ca_cert" not in settings


def test_server_target_password_argument_overrides_url_password() -> None:
    target = server_target("clickhouses://app:from-url@db.example", password="from-secret")
    assert target.password == "from-secret"
    assert server_target("clickhouses://app:from%2Furl@db.example").password == "from/url"
    assert "from-secret" not in repr(target)


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("clickhouse://db.example?ca_cert=/etc/ca.pem", "ca_cert needs clickhouses://"),
        ("clickhouses://db.example?verify=maybe", "verify must be true or false"),
        ("clickhouses://db.example?client_cert_key=/k", "client_cert_key needs client_cert"),
        ("clickhouses://db.example?ca=/etc/ca.pem", "unknown options"),
    ],
)
def test_server_target_bad_tls_option_refused_naming_it(url: str, names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        server_target(url)


@pytest.mark.parametrize(
    "url",
    [
        "clickhouse://app:hunter2-secret@127.0.0.1:{port}/bad-name",
        "clickhouse://app:hunter2-secret@127.0.0.1:{port}/db?nope=1",
        "clickhouse://app:hunter2-secret@127.0.0.1:notaport/db",
    ],
)
def test_open_store_bad_server_url_message_redacts_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_store(url.format(port=_closed_port()))
    assert "hunter2-secret" not in str(caught.value)
    assert "app:***@127.0.0.1" in str(caught.value)


def test_open_store_unreachable_server_message_has_no_password() -> None:
    url = f"clickhouses://app:hunter2-secret@127.0.0.1:{_closed_port()}/db?verify=false"
    with pytest.raises(StoreError) as caught:
        open_store(url, password="override-secret")
    text = str(caught.value) + repr(caught.value) + str(caught.value.__cause__)
    assert "hunter2-secret" not in text
    assert "override-secret" not in text
