"""`datatracing sql`: send one read-only statement to the query service and print the rows.

Output: a table (plain text when stdout is not a terminal), CSV with a header line, or the API's
`data` object as one JSON document. Values that are lists or maps print as JSON in a table or CSV.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import Any, TextIO

import httpx
from rich.console import Console
from rich.table import Table

from datatracing.errors import UsageError
from datatracing.pipeline.cli._base import QueryServiceError, api_key_headers
from datatracing.pipeline.errors import PipelineError

__all__ = ["SqlRefusedError", "print_result", "run_sql"]


class SqlRefusedError(PipelineError, UsageError):
    """The query service refused the statement (bad SQL, a write, over a limit)."""


def run_sql(query_url: str, statement: str, *, max_rows: int | None = None, timeout_s: float = 120) -> Any:
    """The `data` of `POST {query_url}/v1/sql`; raises `SqlRefusedError` for a 4xx answer and
    `QueryServiceError` when the service is unreachable or failing."""
    body: dict[str, Any] = {"sql": statement}
    if max_rows is not None:
        body["max_rows"] = max_rows
    try:
        response = httpx.post(f"{query_url}/v1/sql", json=body, timeout=timeout_s, headers=api_key_headers())
    except httpx.HTTPError as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise QueryServiceError(f"query service at {query_url} unreachable: {message}") from exc
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code == 200 and isinstance(answer, dict) and "data" in answer:
        return answer["data"]
    error = answer.get("error") if isinstance(answer, dict) else None
    message = str(error.get("message") or "") if isinstance(error, dict) else ""
    code = str(error.get("code") or "") if isinstance(error, dict) else ""
    detail = f"{code}: {message}" if code and message else f"HTTP {response.status_code}"
    if 400 <= response.status_code < 500 and response.status_code not in (404, 405, 501):
        raise SqlRefusedError(detail)
    raise QueryServiceError(f"query service at {query_url}: {detail}")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def print_result(data: Any, output: str, out: TextIO | None = None) -> None:
    """Print `data` (`columns`, `rows`) as a table, CSV or JSON on `out` (stdout by default)."""
    stream = out or sys.stdout
    names = [column["name"] for column in data["columns"]]
    if output == "json":
        stream.write(json.dumps(data, ensure_ascii=False) + "\n")
        return
    if output == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([_cell(v) for v in row] for row in data["rows"])
        return
    table = Table(caption=f"{data['row_count']} rows")
    for column in data["columns"]:
        table.add_column(
            column["name"],
            justify="right"
            if column["type"].startswith(("int", "uint", "double", "float", "decimal"))
            else "left",
        )
    for row in data["rows"]:
        table.add_row(*(_cell(v) for v in row))
    Console(file=stream).print(table)
