from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from clickhouse_connect.driver import exceptions as cc

from datatracing.errors import InvalidDataError, TransientError, UsageError
from datatracing.pipeline.errors import ConfigError, StoreError, StoreRejectedError, StoreUnavailableError
from datatracing.pipeline.store import ClickHouseTraceStore, StoreQueryError, open_store
from datatracing.pipeline.store._errors import REJECTED_CODES, UNAVAILABLE_CODES, classify, translate


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELEKT 1", StoreQueryError),
        ("SELECT * FROM no_such_db.no_such_table", StoreQueryError),
        ("SELECT toUInt8('abc')", StoreRejectedError),
        ("SELECT throwIf(1)", StoreRejectedError),
        (
            "SELECT count() FROM numbers(10000000000) SETTINGS max_execution_time = 0.05",
            StoreUnavailableError,
        ),
        (
            "SELECT groupArray(number) FROM numbers(100000000) SETTINGS max_memory_usage = 1000000",
            StoreUnavailableError,
        ),
    ],
)
def test_backend_engine_error_maps_to_store_error(
    store: ClickHouseTraceStore, sql: str, expected: type[StoreError]
) -> None:
    with pytest.raises(expected) as raised:
        store.backend.query(sql)

    assert type(raised.value) is expected
    assert raised.value.__cause__ is not None


def test_insert_arrow_wrong_columns_maps_to_query_error(store: ClickHouseTraceStore) -> None:
    import pyarrow as pa

    with pytest.raises(StoreQueryError):
        store.backend.insert_arrow(f"{store.database}.spans", pa.table({"no_such_column": [1]}))


@pytest.mark.parametrize("code", sorted(UNAVAILABLE_CODES))
def test_classify_unavailable_codes_retry(code: int) -> None:
    assert issubclass(classify(code, ""), TransientError)


@pytest.mark.parametrize("code", sorted(REJECTED_CODES))
def test_classify_rejected_codes_dead_letter(code: int) -> None:
    assert issubclass(classify(code, ""), InvalidDataError)


def test_classify_code_sets_disjoint() -> None:
    assert not UNAVAILABLE_CODES & REJECTED_CODES


def test_translate_too_many_parts_message_is_unavailable() -> None:
    exc = RuntimeError(
        "Code: 252. DB::Exception: Too many parts (300). Merges are processing slower. (TOO_MANY_PARTS)"
    )

    assert isinstance(translate(exc, "insert"), StoreUnavailableError)


def test_translate_network_errors_are_unavailable() -> None:
    assert isinstance(translate(ConnectionRefusedError("refused"), "x"), StoreUnavailableError)
    assert isinstance(translate(TimeoutError(), "x"), StoreUnavailableError)
    assert isinstance(translate(RuntimeError("read timed out"), "x"), StoreUnavailableError)


def _clickhouse_connect_errors() -> list[type[BaseException]]:
    return [
        cls
        for _, cls in inspect.getmembers(cc, inspect.isclass)
        if issubclass(cls, Exception) and cls.__module__ == cc.__name__
    ]


@pytest.mark.parametrize("cls", _clickhouse_connect_errors(), ids=lambda c: c.__name__)
def test_translate_every_clickhouse_connect_error_maps_to_store_error(cls: type[Exception]) -> None:
    try:
        exc = cls("boom")
    except TypeError:
        exc = cls()

    mapped = translate(exc, "query")

    assert isinstance(mapped, StoreError)
    assert isinstance(mapped, TransientError | InvalidDataError | UsageError)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (cc.OperationalError("HTTP driver error: connection refused"), StoreUnavailableError),
        (cc.DataError("bad value"), StoreRejectedError),
        (cc.DatabaseError("Code: 252. DB::Exception: Too many parts"), StoreUnavailableError),
        (cc.DatabaseError("x", code=53), StoreRejectedError),
        (cc.ProgrammingError("Code: 62. DB::Exception: Syntax error"), StoreQueryError),
    ],
)
def test_translate_clickhouse_connect_error_by_kind_and_code(
    exc: Exception, expected: type[StoreError]
) -> None:
    assert type(translate(exc, "query")) is expected


def test_open_store_unreachable_server_raises_unavailable() -> None:
    with pytest.raises(StoreUnavailableError):
        open_store("clickhouse://default:@127.0.0.1:1/db")


def test_open_store_second_chdb_path_in_process_raises_config_error(chdb_url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="one data path per process"):
        open_store("chdb://" + str(tmp_path / "other"))


def test_closed_store_raises_usage_error(chdb_url: str) -> None:
    store = open_store(chdb_url)
    store.close()
    store.close()  # idempotent

    with pytest.raises(UsageError):
        store.services()
