"""The runbook's backup and restore, run on the embedded engine (chdb) with our real schema.

chdb takes a ClickHouse config file in its connection string; the one here sets
`backups.allowed_path`, as deploy/clickhouse/backups.xml does for the server. chdb is built without
zip support, so the backup is a directory (`File('.../name')`, no `.zip`); a server can write either.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chdb
import pytest

from datatracing.model import Resource, Span
from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.store import ClickHouseTraceStore, SpanBatch, open_store
from datatracing.wire import encode_spans


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(data path, backups folder) of a chdb engine that may write backups under the folder."""
    base = tmp_path_factory.mktemp("backup").resolve()
    backups = base / "backups"
    backups.mkdir()
    config = base / "config.xml"
    config.write_text(
        f"<clickhouse><backups><allowed_path>{backups}/</allowed_path></backups></clickhouse>\n"
    )
    data = base / "data"
    # The first connection of the process fixes the engine's configuration; the store's own
    # connection to the same path shares it.
    conn = chdb.connect(f"file:{data}?config-file={config}")
    yield data, backups
    conn.close()


@pytest.fixture
def store(engine: tuple[Path, Path]) -> Iterator[ClickHouseTraceStore]:
    opened = open_store(f"chdb://{engine[0]}", database="b_" + uuid.uuid4().hex[:10])
    opened.migrate()
    yield opened
    opened.close()


def _spans(count: int) -> list[Span]:
    now = time.time_ns() - 60 * 10**9
    return [
        Span(
            trace_id=f"{n + 1:032x}",
            span_id=f"{n + 1:016x}",
            name="load",
            start_time_unix_nano=now + n,
            end_time_unix_nano=now + n + 1_000_000,
            resource=Resource(attributes={"service.name": "etl"}),
        )
        for n in range(count)
    ]


def _rows(store: ClickHouseTraceStore, sql: str) -> Any:
    return store.backend.query(sql.format(db=store.database)).to_pylist()


def test_backup_database_then_restore_after_drop_keeps_every_trace(
    store: ClickHouseTraceStore, engine: tuple[Path, Path]
) -> None:
    spans = _spans(25)
    store.insert(SpanBatch.from_otlp([(encode_spans(spans), SamplingAudit())]))
    target = engine[1] / f"{store.database}-full"
    store.backend.execute(f"BACKUP DATABASE {store.database} TO File('{target}')")
    assert target.is_dir()

    store.backend.execute(f"DROP DATABASE {store.database} SYNC")
    store.backend.execute(f"RESTORE DATABASE {store.database} FROM File('{target}')")

    assert store.count_spans() == 25
    assert store.get_trace(spans[7].trace_id) is not None
    ledger = _rows(
        store, "SELECT name FROM {db}.schema_migrations WHERE state = 'applied' AND name LIKE '%.sql'"
    )
    assert len(ledger) == len(list(Path(__file__).resolve().parents[2].joinpath("schema").glob("*.sql")))
    # Migrations are recorded as applied in the restored ledger: migrate is a no-op.
    assert store.migrate() == []


def test_backup_restore_as_another_database_leaves_the_original(
    store: ClickHouseTraceStore, engine: tuple[Path, Path]
) -> None:
    store.insert(SpanBatch.from_otlp([(encode_spans(_spans(5)), SamplingAudit())]))
    target = engine[1] / f"{store.database}-copy"
    store.backend.execute(f"BACKUP DATABASE {store.database} TO File('{target}')")
    copy = f"{store.database}_restored"
    store.backend.execute(f"RESTORE DATABASE {store.database} AS {copy} FROM File('{target}')")
    try:
        assert _rows(store, f"SELECT count() AS n FROM {copy}.spans") == [{"n": 5}]
        assert store.count_spans() == 5
    finally:
        store.backend.execute(f"DROP DATABASE IF EXISTS {copy} SYNC")
