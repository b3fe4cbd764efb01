"""`open_store(url)`: pick the backend from the URL scheme."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from datatracing.pipeline.errors import ConfigError
from datatracing.pipeline.store._backend import Backend, ChdbBackend
from datatracing.pipeline.store._schema import check_identifier
from datatracing.pipeline.store._store import ClickHouseTraceStore

__all__ = ["open_store"]

_USAGE = "use chdb:///absolute/path, chdb://relative/path or clickhouse[s]://user:password@host:port/database"


def open_store(
    url: str,
    *,
    retention_days: int = 30,
    database: str = "datatracing",
    schema_dir: Path | None = None,
) -> ClickHouseTraceStore:
    """Open the trace store named by `url` (call `migrate()` before first use).

    - `chdb:///abs/path` or `chdb://relative/path`: embedded chdb keeping its data under that path
      (one path per process; stores opened on the same path share one connection).
    - `clickhouse://user:pass@host:8123/db` (or `clickhouses://` for TLS, port 8443 by default):
      a ClickHouse server over HTTP; the URL's database, when given, overrides `database`;
      `?cluster=name` applies the cluster variant of the schema (see schema/README.md).

    Example:
        >>> store = open_store("chdb:///tmp/datatracing-doc")  # doctest: +SKIP
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigError(f"invalid store URL {url!r}: {exc}; {_USAGE}") from exc
    scheme = parts.scheme.lower()
    backend: Backend
    cluster: str | None = None
    if scheme == "chdb":
        raw = unquote((parts.netloc or "") + (parts.path or ""))
        if not raw or raw == "/" or parts.query or parts.fragment:
            raise ConfigError(f"store URL {url!r} names no data path; {_USAGE}")
        backend = ChdbBackend(Path(raw))
    elif scheme in ("clickhouse", "clickhouses"):
        from datatracing.pipeline.store._server import ServerBackend

        if not parts.hostname:
            raise ConfigError(f"store URL {url!r} names no host; {_USAGE}")
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"store URL {url!r} has an invalid port; {_USAGE}") from exc
        options = dict(parse_qsl(parts.query))
        cluster = options.pop("cluster", None)
        if options:
            raise ConfigError(
                f"store URL {url!r} has unknown options {sorted(options)} (only cluster=); {_USAGE}"
            )
        name = parts.path.strip("/")
        if name:
            try:
                database = check_identifier(unquote(name))
            except ConfigError as exc:
                raise ConfigError(f"store URL {url!r}: {exc}; {_USAGE}") from exc
        backend = ServerBackend(
            host=parts.hostname,
            port=port or (8443 if scheme == "clickhouses" else 8123),
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            secure=scheme == "clickhouses",
        )
    else:
        raise ConfigError(f"unsupported store URL scheme in {url!r}; {_USAGE}")
    try:
        return ClickHouseTraceStore(
            backend, database=database, retention_days=retention_days, schema_dir=schema_dir, cluster=cluster
        )
    except BaseException:
        backend.close()
        raise
