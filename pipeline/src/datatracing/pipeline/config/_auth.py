"""API keys for the HTTP services: `AuthSettings` and the digest form keys are kept in."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from pydantic import Field, SecretStr, field_serializer, field_validator, model_validator

from datatracing.pipeline.config._base import _Section

#: An entry of `AuthSettings.keys` starting with this is a key's sha256 digest, not the key.
KEY_DIGEST_PREFIX = "sha256:"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def key_digest_entry(key: str) -> str:
    """`key` as an `AuthSettings.keys` entry holding only its digest (`sha256:<hex>`)."""
    if key.startswith(KEY_DIGEST_PREFIX):
        return key
    return KEY_DIGEST_PREFIX + hashlib.sha256(key.encode()).hexdigest()


class AuthSettings(_Section):
    """API keys for the HTTP services (query API and UI, ingest gateway); off by default.

    Clients send `Authorization: Bearer <key>` (or `X-API-Key: <key>`). Keys are kept as sha256
    digests only: `keys_file` lists `name:tenant:sha256hex` lines (`datatracing auth hash-key` prints
    one), `keys` takes plain keys (from the environment, for tests and simple setups) that are hashed
    when loaded, or digests written `sha256:<hex>`. Dumped as JSON (the settings file the embedded
    stack hands its workers), `keys` holds digests only. Health (`/healthz`, `/readyz`) and
    `/metrics` stay open.

    Example:
        >>> AuthSettings().enabled
        False
    """

    enabled: bool = False
    keys_file: Path | None = None
    keys: list[SecretStr] = Field(default_factory=list)

    @field_validator("keys")
    @classmethod
    def _digests_well_formed(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for index, key in enumerate(keys):
            value = key.get_secret_value()
            if value.startswith(KEY_DIGEST_PREFIX) and not _SHA256_HEX.fullmatch(
                value[len(KEY_DIGEST_PREFIX) :]
            ):
                raise ValueError(
                    f"keys[{index}]: a digest is {KEY_DIGEST_PREFIX} and 64 lowercase hex characters"
                )
            if not value.strip():
                raise ValueError(f"keys[{index}]: empty key")
        return keys

    @field_serializer("keys", when_used="json")
    def _keys_as_digests(self, keys: list[SecretStr]) -> list[str]:
        # Never the plain key, and never SecretStr's mask (which a reader would take for the key).
        return [key_digest_entry(k.get_secret_value()) for k in keys]

    @model_validator(mode="after")
    def _keys_when_enabled(self) -> AuthSettings:
        if self.enabled and self.keys_file is None and not self.keys:
            raise ValueError("auth is enabled but neither auth.keys_file nor auth.keys is set")
        return self
