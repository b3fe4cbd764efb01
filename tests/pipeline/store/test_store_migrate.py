"""Migrations under concurrency (the schema lock), retention changes as `MODIFY TTL`, and the status.

On chdb one process owns a data path, so two migrators here are two stores on one database of the
same path, each migrating from its own thread: their statements interleave one by one (the engine
runs one statement at a time), which is where a missing lock would show."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from datatracing.pipeline.store import ClickHouseTraceStore, StoreSchemaError, open_store
from datatracing.pipeline.store._lease import MigrationLease
from datatracing.pipeline.store._schema import load_migrations

ALL = [m.name for m in load_migrations()]


@pytest.fixture
def database(backend_url: str) -> Iterator[str]:
    name = "m_" + uuid.uuid4().hex[:12]
    yield name
    cleanup = open_store(backend_url, database=name)
    try:
        cleanup.backend.execute(f"DROP DATABASE IF EXISTS {name}")
    finally:
        cleanup.close()


def _ledger(store: ClickHouseTraceStore) -> Counter[tuple[str, str]]:
    rows = store.backend.query(
        f"SELECT name, toString(state) AS state FROM {store.database}.schema_migrations"
    ).to_pylist()
    return Counter((str(r["name"]), str(r["state"])) for r in rows)


def _ttls(store: ClickHouseTraceStore) -> dict[str, str]:
    rows = store.backend.query(
        "SELECT name, create_table_query AS q FROM system.tables WHERE database = {db:String} "
        "AND name IN ('spans', 'traces', 'operations', 'spans_local', 'traces_local', 'operations_local')",
        {"db": store.database},
    ).to_pylist()
    return {str(r["name"]).removesuffix("_local"): str(r["q"]) for r in rows}


def test_migrate_two_migrators_at_once_each_migration_applied_once(backend_url: str, database: str) -> None:
    stores = [open_store(backend_url, database=database) for _ in range(3)]
    start = threading.Barrier(len(stores))
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait(timeout=30)
            results[i] = stores[i].migrate()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    try:
        assert errors == []
        applied = [name for i in sorted(results) for name in results[i]]
        assert sorted(applied) == ALL  # every migration applied, by exactly one migrator
        ledger = _ledger(stores[0])
        assert all(ledger[(m, "started")] == 1 and ledger[(m, "applied")] == 1 for m in ALL)
        assert ledger[("retention", "applied")] == 1
        events = (
            stores[0]
            .backend.query(
                "SELECT generation, toString(kind) AS kind, owner "
                f"FROM {database}.schema_lock ORDER BY generation"
            )
            .to_pylist()
        )
        generations = [int(e["generation"]) for e in events]
        assert generations == list(range(1, len(events) + 1))  # one winner per generation
        for before, after in itertools.pairwise(events):
            if after["kind"] == "acquire" and after["owner"] != before["owner"]:
                assert before["kind"] == "release"  # the lock changed hands only when released
        assert stores[1].migration_status().up_to_date
    finally:
        for store in stores:
            store.close()


def test_migrate_retention_changed_after_first_migration_modifies_ttl(
    backend_url: str, database: str
) -> None:
    first = open_store(backend_url, database=database, retention_days=30)
    try:
        first.migrate()
        assert all("toIntervalDay(30)" in q for q in _ttls(first).values())
    finally:
        first.close()
    second = open_store(backend_url, database=database, retention_days=7)
    try:
        assert second.migration_status().retention_days == 30
        assert not second.migration_status().up_to_date
        assert second.migrate() == ["retention 7 days"]
        ttls = _ttls(second)
        assert set(ttls) == {"spans", "traces", "operations"}
        assert all("toIntervalDay(7)" in q for q in ttls.values()), ttls
        assert second.migrate() == []
        status = second.migration_status()
        assert (status.retention_days, status.up_to_date) == (7, True)
    finally:
        second.close()


def test_migration_status_fresh_database_lists_everything_pending_and_creates_nothing(
    backend_url: str, database: str
) -> None:
    store = open_store(backend_url, database=database, retention_days=14)
    try:
        status = store.migration_status()
        assert (status.applied, status.pending, status.retention_days) == ([], ALL, None)
        assert "retention     none yet (settings ask for 14 days: pending)" in status.lines()
        assert store.backend.query(
            "SELECT count() AS n FROM system.databases WHERE name = {db:String}", {"db": database}
        ).to_pylist() == [{"n": 0}]
        store.migrate()
        status = store.migration_status()
        assert [name for name, _ in status.applied] == ALL
        assert (status.pending, status.retention_days, status.up_to_date) == ([], 14, True)
    finally:
        store.close()


def test_lease_holder_crashed_lock_taken_after_expiry_and_holder_sees_it_lost(
    backend_url: str, database: str
) -> None:
    store = open_store(backend_url, database=database)
    try:
        store.migrate()  # creates the lock table
        crashed = MigrationLease(store.backend, database, ttl_s=0.5, poll_s=0.05)
        crashed.acquire()  # never renewed nor released, like a killed process
        impatient = MigrationLease(store.backend, database, ttl_s=60, wait_s=0.0, poll_s=0.05)
        with pytest.raises(StoreSchemaError, match=crashed.owner):
            impatient.acquire()
        patient = MigrationLease(store.backend, database, ttl_s=60, wait_s=60, poll_s=0.05)
        patient.acquire()  # waits for the expiry
        crashed.renew()
        with pytest.raises(StoreSchemaError, match="lost the schema lock"):
            crashed.check()
        patient.check()
        patient.release()
    finally:
        store.close()


def test_cluster_rewrite_lock_table_replicated_everywhere_and_ttl_on_local_tables() -> None:
    from datatracing.pipeline.store import cluster_statements
    from datatracing.pipeline.store._lease import LOCK_TABLE
    from datatracing.pipeline.store._migrator import _RETENTION_SQL
    from datatracing.pipeline.store._schema import render, split_statements

    lock = cluster_statements([LOCK_TABLE.replace("$db", "dt").strip()], "main")
    assert len(lock) == 1  # no Distributed table: every node holds every lease event
    assert "ReplicatedMergeTree('/clickhouse/tables/all/dt/schema_lock', '{replica}')" in lock[0]
    assert "ON CLUSTER 'main'" in lock[0]
    ttl = cluster_statements(split_statements(render(_RETENTION_SQL, "dt", 7)), "main")
    assert ttl == [
        "ALTER TABLE dt.spans_local ON CLUSTER 'main' MODIFY TTL toDateTime(timestamp) + INTERVAL 7 DAY",
        "ALTER TABLE dt.traces_local ON CLUSTER 'main' MODIFY TTL toDateTime(start_time) + INTERVAL 7 DAY",
        "ALTER TABLE dt.operations_local ON CLUSTER 'main' MODIFY TTL last_seen + INTERVAL 7 DAY",
    ]
