"""API-key authentication of the HTTP services (the query API with its UI, the ingest gateway).

Shared by both services, so it sits below them, beside `http_errors`.

Keys are never kept in clear: a key is known by the sha256 digest of its UTF-8 bytes, and a request's
key is hashed and compared with every known digest by `hmac.compare_digest`, so neither the compare
nor the number of keys tried tells a caller how close a guess was. A keys file has one key a line,
`name:tenant:sha256hex` (`#` starts a comment); `datatracing auth hash-key` prints such a line.

Clients send `Authorization: Bearer <key>` or `X-API-Key: <key>`. A request without a known key is
answered 401 with the JSON error envelope and `WWW-Authenticate: Bearer`; an accepted request carries
its `Principal` (key name and tenant) on `request.state.principal`.

Example:
    >>> auth = Authenticator([ApiKey.from_plain("ci", "default", "s3cret")])
    >>> auth.authenticate({"authorization": "Bearer s3cret"})
    Principal(name='ci', tenant='default')
    >>> auth.authenticate({"authorization": "Bearer guess"}) is None
    True
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datatracing.pipeline.config import DEFAULT_TENANT, KEY_DIGEST_PREFIX, AuthSettings
from datatracing.pipeline.errors import ConfigError
from datatracing.pipeline.http_errors import envelope

__all__ = [
    "OPEN_PATHS",
    "ApiKey",
    "AuthMiddleware",
    "Authenticator",
    "Principal",
    "hash_key",
    "keys_file_line",
    "load_keys_file",
    "presented_key",
    "unauthorized_response",
]

log = logging.getLogger(__name__)

#: Paths answered without a key on every service: probes and Prometheus scrapes carry none.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9_.@-]+")

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


def hash_key(key: str) -> str:
    """The sha256 hex digest a keys file stores for `key`."""
    return hashlib.sha256(key.encode()).hexdigest()


def keys_file_line(name: str, tenant: str, key: str) -> str:
    """One keys-file line for `key`: `name:tenant:sha256hex`."""
    for field, value in (("name", name), ("tenant", tenant)):
        if not _NAME.fullmatch(value):
            raise ConfigError(f"{field} {value!r}: use letters, digits and _.@- only")
    return f"{name}:{tenant}:{hash_key(key)}"


@dataclass(frozen=True)
class Principal:
    """Who a request's key belongs to: the key's name and its tenant."""

    name: str
    tenant: str


@dataclass(frozen=True)
class ApiKey:
    """A known key: its principal and the sha256 digest of its bytes (never the key itself)."""

    name: str
    tenant: str
    digest: bytes

    @classmethod
    def from_plain(cls, name: str, tenant: str, key: str) -> ApiKey:
        return cls(name, tenant, hashlib.sha256(key.encode()).digest())

    def __repr__(self) -> str:  # the digest is no secret, but has no use in a log line either
        return f"ApiKey(name={self.name!r}, tenant={self.tenant!r})"


def load_keys_file(path: Path) -> list[ApiKey]:
    """The keys of a keys file; a malformed line raises `ConfigError` naming `path:line`."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the keys file: {exc.strerror or exc}") from exc
    keys: list[ApiKey] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(":")
        if len(parts) != 3:
            raise ConfigError(f"{path}:{number}: expected name:tenant:sha256hex, got {len(parts)} fields")
        name, tenant, digest = (p.strip() for p in parts)
        if not _NAME.fullmatch(name) or not _NAME.fullmatch(tenant):
            raise ConfigError(f"{path}:{number}: name and tenant use letters, digits and _.@- only")
        if not _HEX64.fullmatch(digest.lower()):
            raise ConfigError(f"{path}:{number}: the digest must be 64 hex characters (sha256)")
        keys.append(ApiKey(name, tenant, bytes.fromhex(digest)))
    return keys


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a request presents (`Authorization: Bearer`, else `X-API-Key`), or None."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


class Authenticator:
    """Checks a request's key against known digests; `from_settings` builds one (or None when off)."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self.keys = tuple(keys)
        if not self.keys:
            raise ConfigError("auth: no API key configured")

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> Authenticator | None:
        """The authenticator of `settings`, None when auth is off; a bad keys file raises `ConfigError`."""
        if not settings.enabled:
            return None
        keys = load_keys_file(settings.keys_file) if settings.keys_file is not None else []
        for index, secret in enumerate(settings.keys):
            value, name = secret.get_secret_value(), f"key{index}"
            if value.startswith(KEY_DIGEST_PREFIX):
                keys.append(ApiKey(name, DEFAULT_TENANT, bytes.fromhex(value[len(KEY_DIGEST_PREFIX) :])))
            else:
                keys.append(ApiKey.from_plain(name, DEFAULT_TENANT, value))
        if not keys:
            where = f"{settings.keys_file}: " if settings.keys_file is not None else ""
            raise ConfigError(f"{where}auth is enabled but no API key is configured")
        return cls(keys)

    def authenticate(self, headers: Mapping[str, str]) -> Principal | None:
        """The principal of the presented key, None when it is missing or unknown."""
        key = presented_key(headers)
        if key is None:
            return None
        digest = hashlib.sha256(key.encode()).digest()
        found: ApiKey | None = None
        for known in self.keys:  # every digest is compared: the time does not depend on which matched
            if hmac.compare_digest(digest, known.digest) and found is None:
                found = known
        return Principal(found.name, found.tenant) if found is not None else None


def unauthorized_response(has_key: bool) -> Any:
    """401 with the error envelope and `WWW-Authenticate: Bearer`."""
    message = "the API key is not valid" if has_key else "an API key is required: Authorization: Bearer <key>"
    return envelope(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


class _Headers(dict[str, str]):
    @classmethod
    def of(cls, scope: Mapping[str, Any]) -> _Headers:
        out = cls()
        for name, value in scope.get("headers", ()):
            if name in (b"authorization", b"x-api-key"):
                out[name.decode("latin-1")] = value.decode("latin-1")
        return out


class AuthMiddleware:
    """ASGI middleware refusing HTTP requests without a known key, except `OPEN_PATHS` and the paths
    `is_open` accepts (the UI's page shell and static files, say). Accepted requests get
    `scope["state"]["principal"]`, which Starlette shows as `request.state.principal`."""

    def __init__(
        self, app: ASGIApp, authenticator: Authenticator, is_open: Callable[[str], bool] | None = None
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.is_open = is_open or (lambda _path: False)

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path in OPEN_PATHS or self.is_open(path):
            await self.app(scope, receive, send)
            return
        headers = _Headers.of(scope)
        principal = self.authenticator.authenticate(headers)
        if principal is None:
            log.debug("refused %s %s: missing or unknown API key", scope.get("method"), path)
            response = unauthorized_response(presented_key(headers) is not None)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
