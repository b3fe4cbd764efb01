"""Store fixtures: a migrated, empty database per test, on chdb and (when reachable) a ClickHouse server.

Backends, in order:
- `chdb`: always; one data path for the module (chdb opens one path per process), closed after the
  module so other test folders can open their own.
- `server`: `CLICKHOUSE_URL=clickhouse://user:pass@host:8123` names a server you run; otherwise a
  ClickHouse container through testcontainers when a Docker engine answers; otherwise skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from datatracing.pipeline.store import ClickHouseTraceStore, open_store
from tests.pipeline.store.store_data import StoreFactory


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of a ClickHouse server, or skip the test."""
    external = os.environ.get("CLICKHOUSE_URL")
    if external:
        yield external
        return
    if not _docker_available():
        pytest.skip("no ClickHouse server: set CLICKHOUSE_URL or start a Docker engine")
    from testcontainers.clickhouse import ClickHouseContainer  # pragma: no cover - needs Docker

    with ClickHouseContainer() as container:  # pragma: no cover - needs Docker
        host = container.get_container_host_ip()
        port = container.get_exposed_port(8123)
        yield f"clickhouse://{container.username}:{container.password}@{host}:{port}"


@pytest.fixture(scope="module")
def chdb_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A chdb data path kept open for the module (later stores on it share the connection)."""
    url = "chdb://" + str(tmp_path_factory.mktemp("chdb").resolve())
    keeper = open_store(url)
    yield url
    keeper.close()


@pytest.fixture(params=["chdb", "server"])
def backend_url(request: pytest.FixtureRequest) -> str:
    """Each store test runs on every backend that is available."""
    if request.param == "chdb":
        url: str = request.getfixturevalue("chdb_url")
    else:
        url = request.getfixturevalue("server_url")
    return url


@pytest.fixture
def store_factory(backend_url: str) -> Iterator[StoreFactory]:
    """`store_factory(retention_days=30, schema_dir=None, migrate=True)` gives a store on a fresh database."""
    opened: list[ClickHouseTraceStore] = []

    def make(
        *, retention_days: int = 30, schema_dir: Path | None = None, migrate: bool = True
    ) -> ClickHouseTraceStore:
        database = "t_" + uuid.uuid4().hex[:12]
        store = open_store(
            backend_url, database=database, retention_days=retention_days, schema_dir=schema_dir
        )
        opened.append(store)
        if migrate:
            store.migrate()
        return store

    yield make
    for store in opened:
        try:
            store.backend.execute(f"DROP DATABASE IF EXISTS {store.database}")
        finally:
            store.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> ClickHouseTraceStore:
    """A migrated store on a fresh, empty database."""
    return store_factory()
