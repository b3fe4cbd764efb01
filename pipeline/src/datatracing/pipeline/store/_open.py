"""`open_store(url)`: pick the backend from the URL scheme."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from datatracing.pipeline.errors import ConfigError, redact_url
from datatracing.pipeline.store._backend import Backend, ChdbBackend
from datatracing.pipeline.store._schema import check_identifier
from datatracing.pipeline.store._store import ClickHouseTraceStore

if TYPE_CHECKING:
    from datatracing.pipeline.store._clickhouse_server import TlsOptions

__all__ = ["ServerTarget", "open_store", "server_target"]

_USAGE = (
    "use chdb:///absolute/path, chdb://relative/path or "
    "clickhouse[s]://user:password@host:port/database[?cluster=&ca_cert=&verify=&client_cert=&client_cert_key=]"
)
_TLS_OPTIONS = ("ca_cert", "verify", "client_cert", "client_cert_key")
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def open_store(
    url: str,
    *,
    retention_days: int = 30,
    database: str = "datatracing",
    schema_dir: Path | None = None,
    password: str | None = None,
) -> ClickHouseTraceStore:
    """Open the trace store named by `url` (call `migrate()` before first use).

    - `chdb:///abs/path` or `chdb://relative/path`: embedded chdb keeping its data under that path
      (one path per process; stores opened on the same path share one connection).
    - `clickhouse://user:pass@host:8123/db` (or `clickhouses://` for TLS, port 8443 by default):
      a ClickHouse server over HTTP; the URL's database, when given, overrides `database`.
      Options: `?cluster=name` applies the cluster variant of the schema (see schema/README.md);
      with `clickhouses://`, `ca_cert=/path/ca.pem` (or `certifi`) verifies the server against that
      CA, `verify=false` turns verification off (tests only), `client_cert=` and `client_cert_key=`
      present a client certificate (mutual TLS).

    `password`, when given, overrides the URL's (so a secret store can hold it apart from the URL).
    Every error message quotes the URL with its password replaced by `***`.

    Example:
        >>> store = open_store("chdb:///tmp/datatracing-doc")  # doctest: +SKIP
        >>> url = "clickhouses://app@db:8443/traces?ca_cert=/etc/ca.pem"
        >>> store = open_store(url, password=password)  # doctest: +SKIP
    """
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigError(f"invalid store URL {shown!r}: {redact_url(str(exc))}; {_USAGE}") from exc
    scheme = parts.scheme.lower()
    backend: Backend
    cluster: str | None = None
    if scheme == "chdb":
        raw = unquote((parts.netloc or "") + (parts.path or ""))
        if not raw or raw == "/" or parts.query or parts.fragment:
            raise ConfigError(f"store URL {shown!r} names no data path; {_USAGE}")
        backend = ChdbBackend(Path(raw))
    elif scheme in ("clickhouse", "clickhouses"):
        from datatracing.pipeline.store._clickhouse_server import ServerBackend, client_settings

        target = server_target(url, password=password)
        cluster = target.cluster
        database = target.database or database
        backend = ServerBackend(client_settings(**target.client_arguments()))
    else:
        raise ConfigError(f"unsupported store URL scheme in {shown!r}; {_USAGE}")
    try:
        return ClickHouseTraceStore(
            backend, database=database, retention_days=retention_days, schema_dir=schema_dir, cluster=cluster
        )
    except BaseException:
        backend.close()
        raise


@dataclass(frozen=True, slots=True)
class ServerTarget:
    """What a `clickhouse[s]://` URL names: where to connect, as whom, how (TLS) and what schema."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    secure: bool
    tls: TlsOptions
    database: str | None
    cluster: str | None

    def client_arguments(self) -> dict[str, Any]:
        """The keyword arguments of `client_settings` for this server."""
        return {
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "secure": self.secure,
            "tls": self.tls,
        }


def server_target(url: str, *, password: str | None = None) -> ServerTarget:
    """Parse a `clickhouse[s]://` store URL; `password` overrides the URL's. Errors quote the URL
    redacted."""
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"store URL {shown!r} is invalid ({redact_url(str(exc))}); {_USAGE}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("clickhouse", "clickhouses"):
        raise ConfigError(f"store URL {shown!r} is not a clickhouse[s]:// URL; {_USAGE}")
    if not parts.hostname:
        raise ConfigError(f"store URL {shown!r} names no host; {_USAGE}")
    options = dict(parse_qsl(parts.query))
    cluster = options.pop("cluster", None)
    tls = _tls_options(shown, scheme, {k: options.pop(k) for k in _TLS_OPTIONS if k in options})
    if options:
        raise ConfigError(f"store URL {shown!r} has unknown options {sorted(options)}; {_USAGE}")
    database: str | None = None
    name = parts.path.strip("/")
    if name:
        try:
            database = check_identifier(unquote(name))
        except ConfigError as exc:
            raise ConfigError(f"store URL {shown!r}: {exc}; {_USAGE}") from exc
    return ServerTarget(
        host=parts.hostname,
        port=port or (8443 if scheme == "clickhouses" else 8123),
        username=unquote(parts.username or "default"),
        password=password if password is not None else unquote(parts.password or ""),
        secure=scheme == "clickhouses",
        tls=tls,
        database=database,
        cluster=cluster,
    )


def _tls_options(shown: str, scheme: str, given: dict[str, str]) -> TlsOptions:
    """The TLS options of a server URL, checked: only with `clickhouses://`, `verify` a boolean, a
    client key only beside a client certificate."""
    if given and scheme != "clickhouses":
        raise ConfigError(f"store URL {shown!r}: {', '.join(sorted(given))} needs clickhouses:// (TLS)")
    verify_text = given.get("verify", "true").lower()
    if verify_text not in _BOOLEANS:
        raise ConfigError(f"store URL {shown!r}: verify must be true or false, got {verify_text!r}")
    if "client_cert_key" in given and "client_cert" not in given:
        raise ConfigError(f"store URL {shown!r}: client_cert_key needs client_cert")
    from datatracing.pipeline.store._clickhouse_server import TlsOptions

    return TlsOptions(
        verify=_BOOLEANS[verify_text],
        ca_cert=given.get("ca_cert"),
        client_cert=given.get("client_cert"),
        client_cert_key=given.get("client_cert_key"),
    )
