"""`datatracing sql "SELECT ..."` against a query service over a chdb store: formats and exit codes."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from datatracing.pipeline.bench._serve import serve_in_thread
from datatracing.pipeline.broker import free_port
from datatracing.pipeline.cli import app
from datatracing.pipeline.query import create_app
from datatracing.pipeline.store import open_store

_SQL = "SELECT number AS n, toString(number * 2) AS twice, [number] AS a FROM numbers(3) ORDER BY n"


@pytest.fixture(scope="module")
def query_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = open_store(
        "chdb://" + str(tmp_path_factory.mktemp("sql-cli-chdb")), database="s_" + uuid.uuid4().hex[:8]
    )
    store.migrate()
    with serve_in_thread(create_app(store)) as url:
        yield url
    store.close()


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["sql", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_sql_default_prints_a_table_with_headers_and_rows(query_url: str) -> None:
    code, out, err = _run(_SQL, "--query-url", query_url)

    assert code == 0, err
    assert "twice" in out
    assert "3 rows" in out
    for value in ("0", "2", "4", "[2]"):
        assert value in out


def test_sql_format_csv_prints_header_then_rows(query_url: str) -> None:
    code, out, _ = _run(_SQL, "--format", "csv", "--query-url", query_url)

    assert code == 0
    assert list(csv.reader(io.StringIO(out))) == [
        ["n", "twice", "a"],
        ["0", "0", "[0]"],
        ["1", "2", "[1]"],
        ["2", "4", "[2]"],
    ]


def test_sql_format_json_prints_one_object(query_url: str) -> None:
    code, out, _ = _run(_SQL, "--format", "json", "--query-url", query_url)

    assert code == 0
    data = json.loads(out)
    assert data["rows"] == [[0, "0", [0]], [1, "2", [1]], [2, "4", [2]]]
    assert data["row_count"] == 3


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("DROP TABLE system.one", "read_only"),
        ("SELECT nope FROM system.one", "bad_sql"),
        ("SELECT number FROM numbers(20)", "max_result_rows"),
    ],
)
def test_sql_refused_statement_exits_2_with_one_line(query_url: str, sql: str, words: str) -> None:
    code, out, err = _run(sql, "--max-rows", "10", "--query-url", query_url)

    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert words in err
    assert err.count("\n") == 1


def test_sql_query_service_unreachable_exits_1_with_one_line() -> None:
    code, _, err = _run("SELECT 1", "--query-url", f"http://127.0.0.1:{free_port()}")

    assert code == 1
    assert err.startswith("error: query service at http://127.0.0.1:")
    assert err.count("\n") == 1


def test_sql_unknown_format_exits_2() -> None:
    code, _, err = _run("SELECT 1", "--format", "xml")

    assert code == 2
    assert "--format" in err
