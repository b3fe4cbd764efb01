"""`POST /v1/sql` over a real chdb store: rows, the read-only rule, the limits, the error envelope."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from datatracing.pipeline.bench._serve import serve_in_thread
from datatracing.pipeline.query import create_app
from datatracing.pipeline.sink import FaultInjectingStore
from datatracing.pipeline.store import ClickHouseTraceStore
from tests.pipeline.query.query_data import DownableStore


@pytest.fixture
def sql_client(base_url: str) -> Iterator[httpx.Client]:
    """The query service over the seeded store (`DownableStore`, whose reads fail while `down`)."""
    with httpx.Client(base_url=base_url, timeout=60) as http:
        yield http


def _error(response: httpx.Response) -> dict[str, object]:
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    return error  # type: ignore[no-any-return]


def test_sql_select_over_spans_returns_columns_rows_and_count(
    sql_client: httpx.Client, store: ClickHouseTraceStore
) -> None:
    sql = f"SELECT service, count() AS spans FROM {store.database}.spans GROUP BY service ORDER BY service"
    response = sql_client.post("/v1/sql", json={"sql": sql})

    assert response.status_code == 200
    data = response.json()["data"]
    assert [c["name"] for c in data["columns"]] == ["service", "spans"]
    assert data["rows"] == [["checkout", 5], ["ledger", 1], ["payments", 2]]
    assert data["row_count"] == 3


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO {db}.spans (name) VALUES ('x')",
        "DROP TABLE {db}.spans",
        "ALTER TABLE {db}.spans DELETE WHERE 1",
        "CREATE TABLE {db}.evil (x UInt8) ENGINE = Memory",
        "SET readonly = 0",
        "SELECT * FROM file('/etc/hostname', 'LineAsString')",
    ],
)
def test_sql_write_or_table_function_answers_403_read_only(
    sql_client: httpx.Client, store: ClickHouseTraceStore, sql: str
) -> None:
    response = sql_client.post("/v1/sql", json={"sql": sql.format(db=store.database)})

    assert response.status_code == 403
    assert _error(response)["code"] == "read_only"
    assert store.count_spans() == 8


def test_sql_bad_sql_answers_400_with_the_engine_message(sql_client: httpx.Client) -> None:
    response = sql_client.post("/v1/sql", json={"sql": "SELECT nope FROM system.one"})

    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "bad_sql"
    assert "nope" in str(error["message"])


def test_sql_two_statements_answer_400(sql_client: httpx.Client) -> None:
    response = sql_client.post("/v1/sql", json={"sql": "SELECT 1; SELECT 2"})

    assert response.status_code == 400
    assert "one statement" in str(_error(response)["message"])


def test_sql_over_row_limit_answers_413_naming_max_result_rows(sql_client: httpx.Client) -> None:
    response = sql_client.post("/v1/sql", json={"sql": "SELECT number FROM numbers(50)", "max_rows": 10})

    assert response.status_code == 413
    error = _error(response)
    assert error["code"] == "too_many_rows"
    assert "max_result_rows" in str(error["message"])


def test_sql_default_row_limit_is_ten_thousand(sql_client: httpx.Client) -> None:
    fits = sql_client.post("/v1/sql", json={"sql": "SELECT number FROM numbers(10000)"})
    over = sql_client.post("/v1/sql", json={"sql": "SELECT number FROM numbers(10001)"})

    assert fits.json()["data"]["row_count"] == 10_000
    assert over.status_code == 413


def test_sql_max_rows_above_the_service_maximum_answers_400_naming_it(sql_client: httpx.Client) -> None:
    response = sql_client.post("/v1/sql", json={"sql": "SELECT 1", "max_rows": 10**9})

    assert response.status_code == 400
    assert str(_error(response)["message"]).startswith("max_rows: at most ")


@pytest.mark.parametrize("body", [{}, {"sql": ""}, {"sql": "SELECT 1", "limit": 5}, {"sql": 5}])
def test_sql_malformed_body_answers_400(sql_client: httpx.Client, body: dict[str, object]) -> None:
    response = sql_client.post("/v1/sql", json=body)

    assert response.status_code == 400
    assert _error(response)["code"] == "bad_request"


def test_sql_store_down_answers_503_with_retry_after(
    sql_client: httpx.Client, downable: DownableStore
) -> None:
    downable.down = True
    response = sql_client.post("/v1/sql", json={"sql": "SELECT 1"})

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert _error(response)["code"] == "store_unavailable"


def test_sql_store_without_sql_answers_501(store: ClickHouseTraceStore) -> None:
    with serve_in_thread(create_app(FaultInjectingStore(store))) as url:
        response = httpx.post(f"{url}/v1/sql", json={"sql": "SELECT 1"}, timeout=30)

    assert response.status_code == 501
    assert response.json()["error"]["code"] == "not_supported"
