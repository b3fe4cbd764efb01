from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datatracing.pipeline.errors import ConfigError
from datatracing.pipeline.store import (
    ClickHouseTraceStore,
    SpanBatch,
    StoreQueryError,
    StoreSchemaError,
    TraceQuery,
    cluster_statements,
)
from datatracing.pipeline.store._schema import default_schema_dir, load_migrations, render, split_statements
from datatracing.pipeline.store._sql import PROMOTED
from tests.pipeline.store.store_data import StoreFactory, rich_trace, trace_id

ALL = [
    "0001_spans.sql",
    "0002_traces.sql",
    "0003_operations.sql",
    "0004_codecs.sql",
    "0005_read_path.sql",
    "0006_spans_layout.sql",
    "0007_compact_fresh_parts.sql",
    "0008_operations_by_writer.sql",
    "0009_merge_selector.sql",
    "0010_wider_merges.sql",
]


def _copy_schema(tmp_path: Path) -> Path:
    target = tmp_path / "schema"
    target.mkdir()
    for migration in default_schema_dir().glob("*.sql"):
        shutil.copy(migration, target / migration.name)
    return target


def test_migrate_fresh_database_applies_all_then_nothing(store_factory: StoreFactory) -> None:
    store = store_factory(migrate=False)

    assert store.migrate() == ALL
    assert store.migrate() == []
    assert store.count_spans() == 0


def test_migrate_new_file_applies_only_it(store_factory: StoreFactory, tmp_path: Path) -> None:
    schema = _copy_schema(tmp_path)
    store = store_factory(schema_dir=schema)
    (schema / "0099_extra.sql").write_text(
        "CREATE TABLE IF NOT EXISTS ${database}.extra (x UInt8) ENGINE = MergeTree ORDER BY x;"
    )

    assert store.migrate() == ["0099_extra.sql"]
    assert store.migrate() == []


def test_migrate_half_applied_migration_refused(store_factory: StoreFactory, tmp_path: Path) -> None:
    schema = _copy_schema(tmp_path)
    store = store_factory(schema_dir=schema)
    (schema / "0099_broken.sql").write_text(
        "CREATE TABLE IF NOT EXISTS ${database}.ok (x UInt8) ENGINE = MergeTree ORDER BY x;\n"
        "CREATE TABLE ${database}.bad (x NoSuchType) ENGINE = MergeTree ORDER BY x;\n"
    )
    with pytest.raises(StoreQueryError):
        store.migrate()

    with pytest.raises(StoreSchemaError, match=r"0099_broken.sql is half-applied"):
        store.migrate()


def test_migrate_edited_applied_migration_refused(store_factory: StoreFactory, tmp_path: Path) -> None:
    schema = _copy_schema(tmp_path)
    store = store_factory(schema_dir=schema)
    path = schema / "0003_operations.sql"
    path.write_text(path.read_text() + "\n-- edited\n")

    with pytest.raises(StoreSchemaError, match="edited after it was applied"):
        store.migrate()


def test_migrate_database_from_newer_version_refused(store_factory: StoreFactory, tmp_path: Path) -> None:
    schema = _copy_schema(tmp_path)
    store = store_factory(schema_dir=schema)
    (schema / "0003_operations.sql").unlink()

    with pytest.raises(StoreSchemaError, match=r"does not know: 0003_operations\.sql"):
        store.migrate()


def test_migrate_rebuild_0006_keeps_every_span_and_the_views(
    store_factory: StoreFactory, tmp_path: Path
) -> None:
    schema = _copy_schema(tmp_path)
    rebuild = schema / "0006_spans_layout.sql"
    text = rebuild.read_text()
    rebuild.unlink()
    store = store_factory(schema_dir=schema)
    before = [trace_id(n) for n in range(1, 6)]
    store.insert(
        SpanBatch.from_spans([s for n, tid in enumerate(before) for s in rich_trace(tid, n * 10**9)])
    )
    expected = {tid: store.get_trace(tid) for tid in before}
    rebuild.write_text(text)

    assert store.migrate() == ["0006_spans_layout.sql"]

    assert store.count_spans() == 15
    assert {tid: store.get_trace(tid) for tid in before} == expected
    ddl = store.backend.query(f"SHOW CREATE TABLE {store.database}.spans").column(0)[0].as_py()
    assert "ORDER BY (tenant, service, toDateTime(timestamp), trace_id, span_id)" in ddl
    left = store.backend.query(
        "SELECT name FROM system.tables WHERE database = {db:String} AND name LIKE 'spans_v6%'",
        {"db": store.database},
    )
    assert left.num_rows == 0
    # traces_mv followed the name `spans` to the new table.
    late = trace_id(99)
    store.insert(SpanBatch.from_spans(rich_trace(late, 10 * 10**9)))
    page = store.search(TraceQuery(limit=10))
    assert page.traces[0].trace_id == late
    assert len(page.traces) == 6
    assert "db" in store.services()


def test_migrate_retention_days_sets_ttl(store_factory: StoreFactory) -> None:
    store = store_factory(retention_days=7)

    ddl = store.backend.query(f"SHOW CREATE TABLE {store.database}.spans").column(0)[0].as_py()

    assert "toIntervalDay(7)" in ddl
    assert "ttl_only_drop_parts = 1" in ddl


@pytest.mark.parametrize("days", [0, -1, True, 1.5])
def test_render_bad_retention_raises_config_error(days: object) -> None:
    with pytest.raises(ConfigError, match="retention_days"):
        render("x", "db", days)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "1db", "db;drop", "db name", "a.b", "x" * 65])
def test_render_bad_database_raises_config_error(name: str) -> None:
    with pytest.raises(ConfigError, match="database name"):
        render("x", name, 30)


def test_load_migrations_misnamed_file_raises_config_error(tmp_path: Path) -> None:
    (tmp_path / "1_spans.sql").write_text("SELECT 1")

    with pytest.raises(ConfigError, match=r"0001_name\.sql"):
        load_migrations(tmp_path)


def test_split_statements_ignores_semicolons_in_strings_and_comments() -> None:
    sql = "-- a; comment\nSELECT 'x;y', `a;b`, \"c;d\" /* e; f */;\n\nSELECT 'it''s; \\' ok';\n-- trailing;\n"

    assert split_statements(sql) == [
        "-- a; comment\nSELECT 'x;y', `a;b`, \"c;d\" /* e; f */",
        "SELECT 'it''s; \\' ok'",
    ]


@given(st.lists(st.text(st.characters(blacklist_characters="'\\"), max_size=10), min_size=1, max_size=5))
def test_split_statements_quoted_literals_never_split(literals: list[str]) -> None:
    sql = ";\n".join("SELECT '" + text + "'" for text in literals) + ";"

    assert split_statements(sql) == ["SELECT '" + text + "'" for text in literals]


def test_promoted_columns_match_schema_materialized_expressions() -> None:
    ddl = (default_schema_dir() / "0001_spans.sql").read_text()

    found = dict(
        (key, column)
        for column, key in re.findall(
            r"^\s*(\w+) LowCardinality\(String\) MATERIALIZED attributes\['([^']+)'\]", ddl, re.M
        )
    )

    assert found == PROMOTED


def _rendered() -> list[str]:
    return [s for m in load_migrations() for s in m.statements("dt", 30)]


def test_cluster_statements_rewrites_every_migration() -> None:
    out = cluster_statements(["CREATE DATABASE IF NOT EXISTS dt", *_rendered()], "main")

    assert out[0] == "CREATE DATABASE IF NOT EXISTS dt ON CLUSTER 'main'"
    text = "\n".join(out)
    assert "CREATE TABLE IF NOT EXISTS dt.spans_local ON CLUSTER 'main'" in text
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/dt/spans_local', '{replica}')"
        in text
    )
    assert "ENGINE = Distributed('main', 'dt', 'spans_local', cityHash64(trace_id))" in text
    assert "ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/dt/traces_local'" in text
    assert "ENGINE = Distributed('main', 'dt', 'operations_local', rand())" in text
    assert "TO dt.traces_local AS" in text
    assert "FROM dt.spans_local" in text
    # Views read local tables; only a rebuild's copy reads the Distributed one (on every shard).
    assert not any(re.search(r"FROM dt\.spans\b(?!_)", s) for s in out if not s.startswith("INSERT"))
    assert sum("CREATE MATERIALIZED VIEW" in s for s in out) == 3
    assert any(re.match(r"ALTER TABLE dt.spans_local ON CLUSTER 'main'\s+MODIFY COLUMN", s) for s in out)
    # A new column goes to the local table and to the Distributed one; settings only to the local.
    assert any(re.match(r"ALTER TABLE dt.spans_local ON CLUSTER 'main'\s+ADD COLUMN", s) for s in out)
    assert any(re.match(r"ALTER TABLE dt.spans ON CLUSTER 'main'\s+ADD COLUMN", s) for s in out)
    assert any(re.match(r"ALTER TABLE dt.traces_local ON CLUSTER 'main' MODIFY SETTING", s) for s in out)
    assert not any(re.match(r"ALTER TABLE dt.traces ON CLUSTER", s) for s in out)


def test_cluster_statements_rebuild_copies_per_shard_and_swaps_local_tables() -> None:
    out = cluster_statements(
        [s for m in load_migrations() if m.name.startswith("0006") for s in m.statements("dt", 30)], "main"
    )

    assert "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/dt/spans_v6_local'" in out[0]
    assert "TO dt.spans_v6_local AS" in out[2]
    assert "FROM dt.spans_local" in out[2]
    assert out[3] == (
        "INSERT INTO dt.spans_v6 SELECT * FROM dt.spans SETTINGS parallel_distributed_insert_select = 2"
    )
    assert out[4] == "EXCHANGE TABLES dt.spans_local AND dt.spans_v6_local ON CLUSTER 'main'"
    assert out[5] == (
        "CREATE OR REPLACE TABLE dt.spans ON CLUSTER 'main' AS dt.spans_local "
        "ENGINE = Distributed('main', 'dt', 'spans_local', cityHash64(trace_id))"
    )
    assert out[7:] == [
        "DROP VIEW IF EXISTS dt.spans_v6_forward ON CLUSTER 'main'",
        "DROP TABLE IF EXISTS dt.spans_v6 ON CLUSTER 'main'",
        "DROP TABLE IF EXISTS dt.spans_v6_local ON CLUSTER 'main' SYNC",
    ]


def test_cluster_statements_output_is_valid_sql(store: ClickHouseTraceStore) -> None:
    for statement in cluster_statements(_rendered(), "main"):
        formatted = (
            store.backend.query("SELECT formatQuery({q:String}) AS f", {"q": statement})
            .column("f")[0]
            .as_py()
        )
        # INSERT has no ON CLUSTER: it runs on the Distributed tables.
        assert "ON CLUSTER main" in formatted or formatted.startswith("INSERT INTO dt.spans_v6")


def test_cluster_statements_ledger_replicated_not_sharded() -> None:
    ddl = "CREATE TABLE IF NOT EXISTS dt.schema_migrations (name String) ENGINE = MergeTree ORDER BY name"

    [out] = cluster_statements([ddl], "main")

    assert "ReplicatedMergeTree('/clickhouse/tables/all/dt/schema_migrations', '{replica}')" in out


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE dt.spans",
        "EXCHANGE TABLES dt.schema_migrations AND dt.other",
        "INSERT INTO dt.spans SELECT * FROM dt.spans_v6 WHERE 1",
        "ALTER TABLE dt.spans DROP COLUMN x",
        "ALTER TABLE dt.spans MODIFY COLUMN x CODEC(ZSTD(1)), DROP COLUMN y",
        "ALTER TABLE dt.spans ADD COLUMN x UInt8, MODIFY SETTING index_granularity = 1",
    ],
)
def test_cluster_statements_unknown_form_raises(statement: str) -> None:
    with pytest.raises(ValueError, match="cannot rewrite"):
        cluster_statements([statement], "main")


def test_cluster_statements_bad_cluster_name_raises() -> None:
    with pytest.raises(ValueError, match="cluster name"):
        cluster_statements(_rendered(), "x'; DROP")
