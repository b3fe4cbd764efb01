"""The port between the store's SQL and a ClickHouse engine, and the embedded chdb adapter.

Both adapters run the same SQL text with server-side parameters (`{name:Type}`); each one only
encodes parameter values the way its transport expects. Every foreign exception is translated here.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from datatracing.pipeline.errors import ConfigError, StoreUnavailableError
from datatracing.pipeline.store._errors import translate
from datatracing.pipeline.store.write._engine import OtlpStage, read_arrow

__all__ = [
    "Backend",
    "ChdbBackend",
    "Params",
    "Settings",
    "StageLease",
    "escape_param",
    "insert_sql",
]

log = logging.getLogger(__name__)

Params = Mapping[str, str | int | float]
Settings = Mapping[str, str | int]

_SETTING_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_SETTING_VALUE = re.compile(r"^[A-Za-z0-9_.:,-]{0,200}$")
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")


class Backend(Protocol):
    """A connection to one ClickHouse engine. Methods block; implementations are thread-safe."""

    def execute(self, sql: str, params: Params | None = None) -> None:
        """Run a statement that returns nothing (DDL, INSERT ... SELECT, OPTIMIZE)."""

    def query(self, sql: str, params: Params | None = None) -> pa.Table:
        """Run a SELECT and return its rows as an Arrow table."""

    def insert_arrow(self, table: str, data: pa.Table, settings: Settings | None = None) -> None:
        """Insert `data` (columns matched by name) into the qualified `table`."""

    def stage(self) -> OtlpStage:
        """The embedded engine that decodes OTLP batches for this store (see `write._engine`)."""

    def close(self) -> None:
        """Release the connection; further calls fail."""


def escape_param(value: str | int | float) -> str:
    """Encode a parameter value as ClickHouse's escaped text, the form `{name:Type}` values are parsed in.

    Without this, a backslash or tab in a value would be interpreted (or refused) by the parser:
    the value is data, never SQL, but it must still arrive byte for byte.
    """
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    return (
        value.replace("\\", "\\\\")
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
        .replace("'", "\\'")
    )


def insert_sql(table: str, columns: list[str], settings: Settings | None) -> str:
    """`INSERT INTO table (cols) SETTINGS ...` with every name and value checked, not escaped."""
    if not _TABLE.match(table):
        raise ValueError(f"bad table name {table!r}")
    cols = ", ".join("`" + c.replace("`", "") + "`" for c in columns)
    sql = f"INSERT INTO {table} ({cols})"
    if settings:
        parts = []
        for key, value in settings.items():
            text = str(value)
            if not _SETTING_NAME.match(key) or not _SETTING_VALUE.match(text):
                raise ValueError(f"bad setting {key}={text!r}")
            parts.append(f"{key} = {value}" if isinstance(value, int) else f"{key} = '{text}'")
        sql += " SETTINGS " + ", ".join(parts)
    return sql


class _Shared:
    """One chdb connection per data path per process (chdb cannot open a second path)."""

    def __init__(self, path: str) -> None:
        import chdb

        self.path = path
        self.lock = threading.RLock()
        self.refs = 0
        self._stage: OtlpStage | None = None
        try:
            self.conn: Any = chdb.connect(path)
        except Exception as exc:
            # chdb lets one process at a time open a data path; another process (an old instance
            # still stopping) is the usual cause, and it clears, so callers may retry.
            raise StoreUnavailableError(
                f"cannot open the chdb data path {path}: is another process using it? ({exc})"
            ) from exc
        # Arrow results cross no network here: compressing them (LZ4 by default) only costs CPU,
        # paid per span when the sink reads back a staged batch.
        self.conn.query("SET output_format_arrow_compression_method = 'none'")

    def stage(self) -> OtlpStage:
        with self.lock:
            if self._stage is None:
                self._stage = OtlpStage(self.conn, self.lock)
            return self._stage

    def close(self) -> None:
        with self.lock:
            if self._stage is not None:
                self._stage.close()
            self.conn.close()


_REGISTRY: dict[str, _Shared] = {}
_MEMORY = ":memory:"
_REGISTRY_LOCK = threading.Lock()


def _acquire(path: str) -> _Shared:
    with _REGISTRY_LOCK:
        shared = _REGISTRY.get(path)
        if shared is None:
            if _REGISTRY:
                other = next(iter(_REGISTRY))
                raise ConfigError(
                    f"chdb can open one data path per process: {other!r} is open, so {path!r} cannot be; "
                    "close the other store first"
                )
            shared = _REGISTRY[path] = _Shared(path)
        shared.refs += 1
        return shared


def _release(shared: _Shared) -> None:
    with _REGISTRY_LOCK:
        shared.refs -= 1
        if shared.refs > 0:
            return
        _REGISTRY.pop(shared.path, None)
    shared.close()


class StageLease:
    """An OTLP stage on whatever chdb engine this process has open (an in-memory one if none).

    A process that stores into a ClickHouse server still decodes with the embedded engine; it
    must then not open a chdb data path as well (one engine per process).
    """

    def __init__(self) -> None:
        with _REGISTRY_LOCK:
            shared = next(iter(_REGISTRY.values()), None)
            if shared is None:
                shared = _REGISTRY[_MEMORY] = _Shared(_MEMORY)
            shared.refs += 1
        self._shared: _Shared | None = shared

    def stage(self) -> OtlpStage:
        if self._shared is None:
            raise ConfigError("the store is closed")
        return self._shared.stage()

    def close(self) -> None:
        shared, self._shared = self._shared, None
        if shared is not None:
            _release(shared)


class ChdbBackend:
    """Embedded ClickHouse (chdb) storing its data under `path`.

    Stores opened on the same path in one process share the connection; calls are serialised by a
    lock because the engine runs one statement at a time per connection anyway.
    """

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self._shared = _acquire(str(path.resolve()))
        self._closed = False

    @property
    def path(self) -> str:
        return self._shared.path

    def _params(self, params: Params | None) -> dict[str, str]:
        return {k: escape_param(v) for k, v in (params or {}).items()}

    def execute(self, sql: str, params: Params | None = None) -> None:
        self._call(sql, params, "CSV")

    def query(self, sql: str, params: Params | None = None) -> pa.Table:
        table: pa.Table = self._call(sql, params, "Arrow")
        return table

    def _call(self, sql: str, params: Params | None, fmt: str) -> Any:
        self._check_open()
        with self._shared.lock:
            try:
                result = self._shared.conn.query(sql, fmt, params=self._params(params))
                # Copied while no other statement can reuse the engine's result buffer.
                return read_arrow(result) if fmt == "Arrow" else result
            except Exception as exc:
                raise translate(exc, _what(sql)) from exc

    def stage(self) -> OtlpStage:
        self._check_open()
        return self._shared.stage()

    def insert_arrow(self, table: str, data: pa.Table, settings: Settings | None = None) -> None:
        self._check_open()
        sql = insert_sql(table, data.column_names, settings)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, data.schema) as writer:
            writer.write_table(data)
        payload = memoryview(sink.getvalue())  # no copy into Python bytes
        with self._shared.lock:
            try:
                with self._shared.conn.send_insert(sql, "ArrowStream") as inserter:
                    inserter.append(payload)
                    inserter.finish()
            except Exception as exc:
                raise translate(exc, f"insert into {table}") from exc

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _release(self._shared)

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("the store is closed")


def _what(sql: str) -> str:
    code = [line for line in sql.splitlines() if line.strip() and not line.lstrip().startswith("--")]
    head = " ".join(" ".join(code).split())[:80]
    return f"query {head!r}"
