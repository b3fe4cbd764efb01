"""`POST /v1/sql`: analysts' SQL, run read-only by the process that owns the store.

With embedded chdb only the store worker may open the data path, so SQL reaches the store through
this route (and `datatracing sql`, which calls it). The statement must be one `SELECT`/`WITH`
query; the store runs it with `readonly = 1`, a row limit and a time limit (see the store's
`read_sql`). Answers `{"data": {"columns", "rows", "row_count"}}`; errors use the envelope:

- 400 `bad_sql`: the engine refused the statement (its message is in the envelope);
- 403 `read_only`: a write, a setting change or a table function (`file()`, `url()`...);
- 413 `too_many_rows` past `max_result_rows`, 400 `timeout` past `max_execution_time`;
- 501 `not_supported` when the store cannot run SQL; 503 when the store is unavailable.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from datatracing.pipeline.http_errors import ApiError
from datatracing.pipeline.query._v1_models import ErrorBody, error_responses
from datatracing.pipeline.query._v1_params import reject_unknown_parameters
from datatracing.pipeline.store import (
    SqlColumn,
    SqlLimitError,
    SqlReader,
    SqlReadOnlyError,
    StoreQueryError,
    TraceStore,
    check_read_statement,
)

__all__ = ["DEFAULT_SQL_ROWS", "MAX_SQL_ROWS", "SQL_SECONDS", "sql_router"]

#: Rows a request gets when it asks for no `max_rows`.
DEFAULT_SQL_ROWS = 10_000
#: The most rows a request may ask for.
MAX_SQL_ROWS = 100_000
#: `max_execution_time` of every statement, in seconds.
SQL_SECONDS = 30.0
_MAX_SQL_CHARS = 100_000


class SqlRequest(BaseModel):
    """One read-only statement, and how many rows at most to return."""

    model_config = ConfigDict(extra="forbid")

    sql: Annotated[str, Field(min_length=1, max_length=_MAX_SQL_CHARS)]
    max_rows: Annotated[int | None, Field(ge=1)] = None


class SqlData(BaseModel):
    columns: list[SqlColumn]
    rows: list[list[Any]]
    row_count: int


class SqlBody(BaseModel):
    """The result of a statement: its columns (name, Arrow type) and its rows as JSON values."""

    data: SqlData


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "The statement is invalid (`bad_sql`, the engine's message) or ran too long (`timeout`).",
        403: "The statement would write or change settings (`read_only`).",
        413: "The result has more rows than `max_rows` (`too_many_rows`).",
        501: "This store cannot run SQL (`not_supported`).",
    }
    out: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody, "description": descriptions[status]} for status in statuses
    }
    return {**out, **error_responses(503)}


def sql_router(
    store: TraceStore,
    *,
    default_rows: int = DEFAULT_SQL_ROWS,
    max_rows: int = MAX_SQL_ROWS,
    max_seconds: float = SQL_SECONDS,
) -> APIRouter:
    """`POST /v1/sql` over `store` (`create_app` mounts it); limits as the module doc says."""
    router = APIRouter(dependencies=[Depends(reject_unknown_parameters)], tags=["v1"])

    @router.post("/v1/sql", response_model=SqlBody, responses=_errors(400, 403, 413, 501))
    def post_sql(request: SqlRequest) -> SqlBody:
        """Run one read-only SQL statement (tables: `datatracing.spans`, `datatracing.traces`...)."""
        if not isinstance(store, SqlReader):
            raise ApiError(501, "not_supported", "this store cannot run SQL")
        rows = request.max_rows or default_rows
        if rows > max_rows:
            raise ApiError(400, "bad_request", f"max_rows: at most {max_rows}, got {rows}")
        try:
            statement = check_read_statement(request.sql)
            result = store.read_sql(statement, max_rows=rows, max_seconds=max_seconds)
        except SqlReadOnlyError as exc:
            raise ApiError(403, "read_only", str(exc)) from exc
        except SqlLimitError as exc:
            status, code = (413, "too_many_rows") if exc.limit == "max_result_rows" else (400, "timeout")
            raise ApiError(status, code, str(exc), [{"field": "sql", "limit": exc.limit}]) from exc
        except StoreQueryError as exc:
            raise ApiError(400, "bad_sql", str(exc), [{"field": "sql", "message": str(exc)}]) from exc
        return SqlBody(data=SqlData(columns=result.columns, rows=result.rows, row_count=len(result.rows)))

    return router
