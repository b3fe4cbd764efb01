"""`read_sql`: analysts' SQL on the store, refused by the engine itself when it would write.

The engine tests call `read_sql` without the statement guard, so they show what ClickHouse
(`readonly = 1`, run as a subquery) refuses on its own; the guard has its own property tests.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datatracing.pipeline.store import (
    ClickHouseTraceStore,
    SqlLimitError,
    SqlReader,
    SqlReadOnlyError,
    StoreQueryError,
    check_read_statement,
)

LIMITS = {"max_rows": 100, "max_seconds": 10.0}


def test_store_read_sql_select_returns_columns_and_json_rows(store: ClickHouseTraceStore) -> None:
    result = store.read_sql(
        "SELECT number AS n, toString(number) AS s, [number, 1] AS a, "
        "toDateTime64('2026-01-02 03:04:05', 3, 'UTC') AS t, toFixedString('ab', 2) AS f, NULL AS z "
        "FROM numbers(2) ORDER BY n;",
        **LIMITS,
    )

    assert [c.name for c in result.columns] == ["n", "s", "a", "t", "f", "z"]
    assert result.rows[0][:3] == [0, "0", [0, 1]]
    assert result.rows[1][0:2] == [1, "1"]
    assert result.rows[0][3].startswith("2026-01-02T03:04:05")
    assert result.rows[0][4:] == ["ab", None]


def test_store_read_sql_reads_the_spans_table(store: ClickHouseTraceStore) -> None:
    result = store.read_sql(f"SELECT count() AS spans FROM {store.database}.spans", **LIMITS)

    assert result.rows == [[0]]


def test_store_satisfies_sql_reader_port(store: ClickHouseTraceStore) -> None:
    assert isinstance(store, SqlReader)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM file('/etc/hostname', 'LineAsString')",
        "SELECT * FROM url('http://127.0.0.1:9/x', 'CSV', 'a String')",
        "EXPLAIN SELECT 1",
    ],
)
def test_store_read_sql_table_function_refused_by_engine_as_read_only(
    store: ClickHouseTraceStore, sql: str
) -> None:
    with pytest.raises(SqlReadOnlyError, match=r"readonly|read-only"):
        store.read_sql(sql, **LIMITS)


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO {db}.spans (name) VALUES ('x')",
        "DROP TABLE {db}.spans",
        "ALTER TABLE {db}.spans DELETE WHERE 1",
        "CREATE TABLE {db}.evil (x UInt8) ENGINE = Memory",
        "SET max_threads = 1",
        "SELECT 1; DROP TABLE {db}.spans",
        "SELECT 1) SETTINGS readonly = 0 /*",
    ],
)
def test_store_read_sql_write_refused_by_engine_and_table_intact(
    store: ClickHouseTraceStore, sql: str
) -> None:
    with pytest.raises(StoreQueryError):
        store.read_sql(sql.format(db=store.database), **LIMITS)

    assert store.read_sql(f"SELECT count() FROM {store.database}.spans", **LIMITS).rows == [[0]]
    tables = store.read_sql(f"SELECT name FROM system.tables WHERE database = '{store.database}'", **LIMITS)
    assert ["evil"] not in tables.rows


def test_store_read_sql_inner_settings_cannot_lift_the_row_limit(store: ClickHouseTraceStore) -> None:
    with pytest.raises(SqlLimitError) as caught:
        store.read_sql("SELECT number FROM numbers(1000) SETTINGS max_result_rows = 0", **LIMITS)

    assert caught.value.limit == "max_result_rows"
    assert "100 rows" in str(caught.value)


def test_store_read_sql_over_time_limit_names_max_execution_time(store: ClickHouseTraceStore) -> None:
    with pytest.raises(SqlLimitError) as caught:
        store.read_sql("SELECT count() FROM numbers(100000000000)", max_rows=10, max_seconds=0.5)

    assert caught.value.limit == "max_execution_time"


def test_store_read_sql_bad_sql_carries_engine_message(store: ClickHouseTraceStore) -> None:
    with pytest.raises(StoreQueryError, match=r"UNKNOWN_TABLE|Unknown table") as caught:
        store.read_sql(f"SELECT * FROM {store.database}.nope", **LIMITS)

    assert not isinstance(caught.value, (SqlLimitError, SqlReadOnlyError))


# --- the statement guard ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1", "SELECT 1"),
        ("  select 1 ;; ", "  select 1"),
        ("WITH x AS (SELECT 1) SELECT * FROM x;", "WITH x AS (SELECT 1) SELECT * FROM x"),
        ("(SELECT 1) UNION ALL (SELECT 2)", "(SELECT 1) UNION ALL (SELECT 2)"),
        ("SELECT ';' AS semi, 'it''s' AS q -- DROP; \n", "SELECT ';' AS semi, 'it''s' AS q -- DROP"),
        ("/* note; */ SELECT `a;b` FROM t", "/* note; */ SELECT `a;b` FROM t"),
    ],
)
def test_check_read_statement_one_select_returned_without_trailing_semicolons(
    sql: str, expected: str
) -> None:
    assert check_read_statement(sql) == expected


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO t VALUES (1)",
        "DROP TABLE t",
        "SET readonly = 0",
        "SHOW TABLES",
        "-- SELECT\nDELETE FROM t",
    ],
)
def test_check_read_statement_other_statement_raises_read_only(sql: str) -> None:
    with pytest.raises(SqlReadOnlyError, match="only SELECT or WITH"):
        check_read_statement(sql)


@pytest.mark.parametrize(
    "sql",
    ["SELECT 1; SELECT 2", "SELECT 1) SETTINGS readonly = 0 --", "SELECT ')", "SELECT 1 /* x", "SELECT (1"],
)
def test_check_read_statement_several_or_unbalanced_raises_query_error(sql: str) -> None:
    with pytest.raises(StoreQueryError, match=r"^sql: "):
        check_read_statement(sql)


@given(st.text(max_size=200))
def test_check_read_statement_any_text_accepted_only_as_one_balanced_select(text: str) -> None:
    try:
        out = check_read_statement(text)
    except StoreQueryError:
        return
    assert out.lstrip("( \t\r\n\f\v").lower().startswith(("select", "with")) or out.lstrip().startswith(
        ("--", "/*", "#")
    )
    assert not out.endswith(";")


@given(
    st.sampled_from(["INSERT", "DROP", "ALTER", "CREATE", "SET", "TRUNCATE", "GRANT"]), st.text(max_size=50)
)
def test_check_read_statement_write_keyword_first_always_refused(keyword: str, rest: str) -> None:
    with pytest.raises(StoreQueryError):
        check_read_statement(f"{keyword} {rest}")


@given(st.text(alphabet=st.characters(blacklist_characters="'\"`\\"), max_size=40))
def test_check_read_statement_string_literal_content_never_matters(inner: str) -> None:
    assert (
        check_read_statement(f"SELECT '{inner}' AS v")
        == f"SELECT '{inner}' AS v".rstrip().rstrip(";").rstrip()
    )
