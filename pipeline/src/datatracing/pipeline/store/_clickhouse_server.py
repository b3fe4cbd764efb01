"""The ClickHouse server adapter (clickhouse-connect over HTTP), imported only when used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from datatracing.pipeline.errors import ConfigError
from datatracing.pipeline.store._backend import Params, Settings, StageLease
from datatracing.pipeline.store._errors import translate
from datatracing.pipeline.store.write._engine import OtlpStage

__all__ = ["ServerBackend", "TlsOptions", "client_settings"]

# Ask for the Arrow types the chdb adapter produces, so one reader serves both.
_READ_SETTINGS = {
    "output_format_arrow_string_as_string": 1,
    "output_format_arrow_fixed_string_as_fixed_byte_array": 1,
    "output_format_arrow_low_cardinality_as_dictionary": 0,
}


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """How an HTTPS connection checks the server and presents itself (clickhouse-connect's names).

    `ca_cert` is a PEM file of the CA that signed the server's certificate (`certifi` for the
    certifi bundle; the system CAs when None); `verify=False` accepts any certificate.
    """

    verify: bool = True
    ca_cert: str | None = None
    client_cert: str | None = None
    client_cert_key: str | None = None


def client_settings(
    *,
    host: str,
    port: int,
    username: str,
    password: str,
    secure: bool,
    tls: TlsOptions | None = None,
    connect_timeout: float = 10.0,
    send_receive_timeout: float = 300.0,
) -> dict[str, Any]:
    """The keyword arguments of `clickhouse_connect.get_client` for one server connection."""
    settings: dict[str, Any] = {
        "host": host,
        "port": port,
        "username": username,
        "password": password,
        "secure": secure,
        "connect_timeout": connect_timeout,
        "send_receive_timeout": send_receive_timeout,
        "autogenerate_session_id": False,  # sessions serialise queries; the store needs none
    }
    if secure:
        tls = tls or TlsOptions()
        settings.update(verify=tls.verify, ca_cert=tls.ca_cert)
        if tls.client_cert is not None:
            settings.update(client_cert=tls.client_cert, client_cert_key=tls.client_cert_key)
    return settings


class ServerBackend:
    """A ClickHouse server over HTTP(S). clickhouse-connect encodes `{name:Type}` values itself."""

    def __init__(self, settings: dict[str, Any]) -> None:
        """Connect with `settings`, the keyword arguments `client_settings` builds."""
        import clickhouse_connect

        host, port = settings["host"], settings["port"]
        try:
            self._client: Any = clickhouse_connect.get_client(**settings)
        except Exception as exc:
            raise translate(exc, f"connecting to ClickHouse at {host}:{port}") from exc
        self._closed = False
        self._lease: StageLease | None = None

    def stage(self) -> OtlpStage:
        """Batches are decoded by the embedded engine in this process, then sent as Arrow."""
        self._check_open()
        if self._lease is None:
            self._lease = StageLease()
        return self._lease.stage()

    def execute(self, sql: str, params: Params | None = None) -> None:
        self._check_open()
        try:
            self._client.command(sql, parameters=dict(params or {}))
        except Exception as exc:
            raise translate(exc, "statement") from exc

    def query(self, sql: str, params: Params | None = None) -> pa.Table:
        self._check_open()
        try:
            table: pa.Table = self._client.query_arrow(
                sql, parameters=dict(params or {}), settings=_READ_SETTINGS, use_strings=True
            )
        except Exception as exc:
            raise translate(exc, "query") from exc
        return table

    def insert_arrow(self, table: str, data: pa.Table, settings: Settings | None = None) -> None:
        self._check_open()
        database, _, name = table.partition(".")
        try:
            self._client.insert_arrow(name, data, database=database, settings=dict(settings or {}))
        except Exception as exc:
            raise translate(exc, f"insert into {table}") from exc

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._client.close()
            if self._lease is not None:
                self._lease.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("the store is closed")
