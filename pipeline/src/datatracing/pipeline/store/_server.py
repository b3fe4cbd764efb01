"""The ClickHouse server adapter (clickhouse-connect over HTTP), imported only when used."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from datatracing.pipeline.errors import ConfigError
from datatracing.pipeline.store._backend import Params, Settings, StageLease
from datatracing.pipeline.store._errors import translate
from datatracing.pipeline.store._stage import OtlpStage

__all__ = ["ServerBackend"]

# Ask for the Arrow types the chdb adapter produces, so one reader serves both.
_READ_SETTINGS = {
    "output_format_arrow_string_as_string": 1,
    "output_format_arrow_fixed_string_as_fixed_byte_array": 1,
    "output_format_arrow_low_cardinality_as_dictionary": 0,
}


class ServerBackend:
    """A ClickHouse server over HTTP(S). clickhouse-connect encodes `{name:Type}` values itself."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        secure: bool,
        connect_timeout: float = 10.0,
        send_receive_timeout: float = 300.0,
    ) -> None:
        import clickhouse_connect

        try:
            self._client: Any = clickhouse_connect.get_client(
                host=host,
                port=port,
                username=username,
                password=password,
                secure=secure,
                connect_timeout=connect_timeout,
                send_receive_timeout=send_receive_timeout,
                autogenerate_session_id=False,  # sessions serialise queries; the store needs none
            )
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
