"""API keys: the keys file, the header forms, the constant-time check, the settings that turn it on."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from datatracing.pipeline.config import AuthSettings, Settings, load_settings
from datatracing.pipeline.errors import ConfigError
from datatracing.pipeline.http_auth import (
    ApiKey,
    Authenticator,
    Principal,
    hash_key,
    keys_file_line,
    load_keys_file,
    presented_key,
)

_KEYS = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=64).filter(
    lambda k: k.strip() == k
)


def test_keys_file_line_loads_back_as_the_same_principal(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(
        "# our keys\n\n"
        + keys_file_line("ci", "team-a", "s3cret")
        + "  # the CI's key\n"
        + keys_file_line("ui", "default", "other")
        + "\n"
    )

    keys = load_keys_file(path)

    assert [(k.name, k.tenant) for k in keys] == [("ci", "team-a"), ("ui", "default")]
    assert keys[0].digest == hashlib.sha256(b"s3cret").digest()
    assert Authenticator(keys).authenticate({"authorization": "Bearer s3cret"}) == Principal("ci", "team-a")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("ci:default", "expected name:tenant:sha256hex"),
        ("ci:default:abc", "64 hex characters"),
        ("c i:default:" + "0" * 64, "letters, digits"),
        ("ci:default:" + "0" * 64 + ":x", "expected name:tenant:sha256hex"),
    ],
)
def test_keys_file_malformed_line_error_names_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "keys"
    path.write_text("# header\n" + keys_file_line("ok", "default", "k") + "\n" + line + "\n")

    with pytest.raises(ConfigError) as caught:
        load_keys_file(path)

    assert str(caught.value).startswith(f"{path}:3: ")
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


def test_keys_file_missing_config_error_names_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="keys file"):
        load_keys_file(tmp_path / "absent")


@pytest.mark.parametrize(
    ("headers", "key"),
    [
        ({"authorization": "Bearer abc"}, "abc"),
        ({"authorization": "bearer  abc "}, "abc"),
        ({"x-api-key": "abc"}, "abc"),
        ({"authorization": "Basic abc"}, None),
        ({"authorization": "Bearer "}, None),
        ({}, None),
    ],
)
def test_presented_key_header_forms_read_or_ignored(headers: dict[str, str], key: str | None) -> None:
    assert presented_key(headers) == key


@given(key=_KEYS, other=_KEYS)
def test_authenticator_any_key_accepted_only_itself(key: str, other: str) -> None:
    auth = Authenticator([ApiKey.from_plain("n", "t", key)])

    assert auth.authenticate({"authorization": f"Bearer {key}"}) == Principal("n", "t")
    assert auth.authenticate({"x-api-key": key}) == Principal("n", "t")
    if other != key:
        assert auth.authenticate({"authorization": f"Bearer {other}"}) is None


def test_hash_key_is_sha256_hex_of_utf8() -> None:
    assert hash_key("é") == hashlib.sha256("é".encode()).hexdigest()


def test_auth_settings_off_by_default_no_authenticator() -> None:
    assert Authenticator.from_settings(AuthSettings()) is None


def test_auth_settings_enabled_without_keys_refused() -> None:
    with pytest.raises(ValidationError, match="auth is enabled but neither"):
        AuthSettings(enabled=True)


def test_auth_settings_enabled_empty_keys_file_config_error(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("# nobody yet\n")

    with pytest.raises(ConfigError, match="no API key"):
        Authenticator.from_settings(AuthSettings(enabled=True, keys_file=path))


def test_auth_settings_plain_keys_hashed_never_kept_in_clear() -> None:
    auth = Authenticator.from_settings(AuthSettings(enabled=True, keys=[SecretStr("plain-key")]))

    assert auth is not None
    assert auth.authenticate({"authorization": "Bearer plain-key"}) == Principal("key0", "default")
    assert "plain-key" not in repr(auth.keys)
    assert all(k.digest == hashlib.sha256(b"plain-key").digest() for k in auth.keys)


def test_auth_settings_from_environment_keys_hashed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATATRACING_AUTH__ENABLED", "true")
    monkeypatch.setenv("DATATRACING_AUTH__KEYS", '["env-key-1"]')

    settings = load_settings()

    assert "env-key-1" not in repr(settings.auth)
    auth = Authenticator.from_settings(settings.auth)
    assert auth is not None
    assert auth.authenticate({"x-api-key": "env-key-1"}) == Principal("key0", "default")


def test_auth_settings_enabled_without_keys_one_line_start_up_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATATRACING_AUTH__ENABLED", "true")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert "auth" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_auth_settings_json_dump_holds_digests_that_authenticate_the_key() -> None:
    # As the embedded stack hands its settings to its workers: a JSON dump written to a file.
    settings = Settings(auth=AuthSettings(enabled=True, keys=[SecretStr("stack-key")]))
    dumped = settings.model_dump(mode="json")

    assert "stack-key" not in str(dumped)
    assert dumped["auth"]["keys"] == ["sha256:" + hash_key("stack-key")]
    auth = Authenticator.from_settings(Settings.model_validate(dumped).auth)
    assert auth is not None
    assert auth.authenticate({"x-api-key": "stack-key"}) == Principal("key0", "default")
    assert auth.authenticate({"x-api-key": "**********"}) is None
    assert auth.authenticate({"x-api-key": dumped["auth"]["keys"][0]}) is None


def test_auth_settings_malformed_digest_entry_refused() -> None:
    with pytest.raises(ValidationError, match="64 lowercase hex"):
        AuthSettings(enabled=True, keys=[SecretStr("sha256:abc")])
