from __future__ import annotations

import inspect
import uuid
from pathlib import Path

import pytest

import datatracing.pipeline.store as store_pkg
from datatracing.pipeline.errors import ConfigError
from datatracing.pipeline.store import ClickHouseTraceStore, TraceStore, open_store


@pytest.mark.parametrize(
    "url",
    [
        "",
        "postgres://h/db",
        "chdb://",
        "chdb:///",
        "chdb:///tmp/x?cluster=a",
        "clickhouse://",
        "clickhouse://:8123/db",
        "clickhouse://host:notaport/db",
        "clickhouse://host:8123/bad-name",
        "clickhouse://host:8123/db?unknown=1",
        "/just/a/path",
    ],
)
def test_open_store_bad_url_raises_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="chdb:///"):
        open_store(url)


def test_open_store_same_chdb_path_shares_connection(chdb_url: str) -> None:
    first = open_store(chdb_url, database="share_a")
    second = open_store(chdb_url, database="share_b")
    first.close()

    assert second.backend.query("SELECT 1 AS one").to_pylist() == [{"one": 1}]  # still usable
    second.close()


def test_open_store_relative_chdb_path_resolves_from_cwd(
    chdb_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(chdb_url.removeprefix("chdb://"))
    monkeypatch.chdir(root.parent)

    store = open_store("chdb://" + root.name)

    assert isinstance(store, ClickHouseTraceStore)
    store.close()


def test_open_store_bad_retention_raises_config_error(chdb_url: str) -> None:
    with pytest.raises(ConfigError, match="retention_days"):
        open_store(chdb_url, retention_days=0)


def _port_methods() -> list[str]:
    return sorted(
        name for name, value in vars(TraceStore).items() if callable(value) and not name.startswith("_")
    )


def test_store_implements_every_trace_store_method_with_the_port_signature() -> None:
    assert "search" in _port_methods()  # the port's members are found at all
    for name in _port_methods():
        ours = inspect.signature(getattr(ClickHouseTraceStore, name))
        port = inspect.signature(getattr(TraceStore, name))
        assert ours == port, f"{name}: store {ours} != port {port}"


def test_opened_store_is_a_trace_store_that_answers_port_calls(chdb_url: str) -> None:
    store: TraceStore = open_store(chdb_url, database="port_" + uuid.uuid4().hex[:8])
    try:
        assert store.migrate()  # a fresh database: every migration applied now
        assert store.migrate() == []
        assert store.services() == []
        assert store.count_spans() == 0
        assert store.get_trace("0" * 31 + "1") is None
    finally:
        store.close()


def test_public_api_all_sorted_and_exported() -> None:
    assert store_pkg.__all__ == sorted(store_pkg.__all__)
    assert all(hasattr(store_pkg, name) for name in store_pkg.__all__)


def test_open_store_bad_cluster_name_raises_config_error() -> None:
    from datatracing.pipeline.store import ClickHouseTraceStore as Store

    class NoBackend:
        def close(self) -> None:
            pass

    with pytest.raises(ConfigError, match="cluster name"):
        Store(NoBackend(), cluster="x'; DROP")  # type: ignore[arg-type]


def test_chdb_query_results_outlive_later_statements(chdb_url: str) -> None:
    # Results are copied out of the engine's buffer, which later statements reuse.
    store = open_store(chdb_url)
    try:
        sql = "SELECT number AS n, repeat(toString(number), 20) AS s FROM numbers({k:UInt32}, 50000)"
        first = store.backend.query(sql, {"k": 0})
        for k in range(1, 6):
            store.backend.query(sql, {"k": k * 50000})

        assert first.column("n").to_pylist() == list(range(50000))
        assert first.column("s")[49999].as_py() == "49999" * 20
    finally:
        store.close()
