"""Analysts' SQL: one read-only statement with a row and a time limit, results as JSON-ready rows.

The engine enforces the rules: the statement runs as a subquery, `SELECT * FROM (<sql>)`, with
`readonly = 1` (no writes, no setting changes, no table functions such as `file()` or `url()`),
`max_result_rows` with `result_overflow_mode = 'throw'` and `max_execution_time`. As a subquery, a
second statement or a write is a syntax error. `check_read_statement` is a second line in front of
it that refuses anything but one `SELECT`/`WITH` statement with a clear message.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import re
import uuid
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from datatracing.pipeline.errors import StoreError
from datatracing.pipeline.store._backend import Backend
from datatracing.pipeline.store._errors import StoreQueryError, error_code
from datatracing.pipeline.store._schema import quoted_end

__all__ = [
    "SqlColumn",
    "SqlLimitError",
    "SqlReadOnlyError",
    "SqlResult",
    "check_read_statement",
    "run_read_sql",
]

_READONLY = 164  # READONLY: a write, a setting change or a table function in readonly mode
_TIMEOUT = 159  # TIMEOUT_EXCEEDED
_TOO_MANY_ROWS = 396  # TOO_MANY_ROWS_OR_BYTES
_FIRST_WORDS = ("select", "with")
_WORD = re.compile(r"[A-Za-z_]+")


class SqlReadOnlyError(StoreQueryError):
    """The statement would write or change something; only reads are allowed."""


class SqlLimitError(StoreQueryError):
    """The statement went over a limit; `limit` names the ClickHouse setting."""

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


class SqlColumn(BaseModel):
    """A result column: its name and its Arrow type."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: str


class SqlResult(BaseModel):
    """The rows of a read, each a list of JSON values in column order."""

    model_config = ConfigDict(frozen=True)

    columns: list[SqlColumn]
    rows: list[list[Any]]


def _code_only(sql: str) -> str:
    """`sql` with string literals, quoted identifiers and comments blanked; `ValueError` when one is
    not closed."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`":
            end = quoted_end(sql, i)
            if end < 0:
                raise ValueError("a quoted string or identifier is not closed")
            out.append(" ")
            i = end
        elif sql.startswith("--", i) or ch == "#":
            end = sql.find("\n", i)
            out.append(" ")
            i = n if end < 0 else end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                raise ValueError("a /* comment is not closed")
            out.append(" ")
            i = end + 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def check_read_statement(sql: str) -> str:
    """The statement without trailing semicolons when it is one `SELECT` or `WITH` query with
    balanced parentheses; raise `SqlReadOnlyError` for another statement, `StoreQueryError` for
    several statements or unbalanced text.

    Example:
        >>> check_read_statement("SELECT count() FROM datatracing.spans;")
        'SELECT count() FROM datatracing.spans'
    """
    try:
        code = _code_only(sql)
    except ValueError as exc:
        raise StoreQueryError(f"sql: {exc}") from exc
    body = code.rstrip().rstrip(";").rstrip()
    if ";" in body:
        raise StoreQueryError("sql: one statement only (a ';' separates two)")
    depth = 0
    for ch in body:
        depth += 1 if ch == "(" else -1 if ch == ")" else 0
        if depth < 0:
            break
    if depth != 0:
        raise StoreQueryError("sql: unbalanced parentheses")
    first = _WORD.search(body)
    word = first.group(0).lower() if first else ""
    if word not in _FIRST_WORDS or body[: first.start() if first else 0].strip("( \t\r\n"):
        raise SqlReadOnlyError(f"sql: only SELECT or WITH queries are allowed, not {word.upper() or 'this'}")
    return sql.rstrip().rstrip(";").rstrip()


def _json(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(value).decode("ascii")
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    return str(value)


def _result(table: pa.Table) -> SqlResult:
    columns = [SqlColumn(name=field.name, type=str(field.type)) for field in table.schema]
    data = [table.column(i).to_pylist() for i in range(table.num_columns)]
    rows = [[_json(column[r]) for column in data] for r in range(table.num_rows)]
    return SqlResult(columns=columns, rows=rows)


def run_read_sql(backend: Backend, sql: str, *, max_rows: int, max_seconds: float) -> SqlResult:
    """Run `sql` read-only on `backend` within the limits (module doc); translate the engine's
    refusals into `SqlReadOnlyError`, `SqlLimitError` and `StoreQueryError`."""
    if max_rows < 1 or max_seconds <= 0:
        raise StoreQueryError("sql limits must be positive")
    body = sql.rstrip().rstrip(";")
    wrapped = (
        f"SELECT * FROM (\n{body}\n) SETTINGS readonly = 1, max_result_rows = {int(max_rows)}, "
        f"result_overflow_mode = 'throw', max_execution_time = {float(max_seconds)!r}"
    )
    try:
        table = backend.query(wrapped)
    except StoreError as exc:
        message = str(exc)
        code = error_code(message)
        detail = message.split(" failed: ", 1)[-1]
        if code == _READONLY:
            raise SqlReadOnlyError(f"sql: read-only: {detail}") from exc
        if code == _TOO_MANY_ROWS:
            raise SqlLimitError(
                f"sql: the result has more than {max_rows} rows (max_result_rows); add a LIMIT",
                "max_result_rows",
            ) from exc
        if code == _TIMEOUT:
            raise SqlLimitError(
                f"sql: the query ran longer than {max_seconds:g}s (max_execution_time)", "max_execution_time"
            ) from exc
        if isinstance(exc, StoreQueryError):
            raise StoreQueryError(f"sql: {detail}") from exc
        raise
    return _result(table)
