"""Query-service fixtures: the app served over HTTP (uvicorn in a thread) over a real chdb store,
seeded with known traces.

chdb opens one data path per process: the module keeps one open, and each test gets a fresh
database on it. `DownableStore` puts the store behind `FaultInjectingStore` with a switch that makes
reads fail as an unreachable ClickHouse does (`StoreUnavailableError`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from datatracing.pipeline.bench._serve import serve_in_thread
from datatracing.pipeline.query import create_app
from datatracing.pipeline.sink import FaultInjectingStore
from datatracing.pipeline.store import ClickHouseTraceStore, open_store
from tests.pipeline.query.query_data import DownableStore, Seeded, seed


@pytest.fixture(scope="module")
def chdb_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = "chdb://" + str(tmp_path_factory.mktemp("chdb").resolve())
    keeper = open_store(url)
    yield url
    keeper.close()


@pytest.fixture
def store(chdb_url: str) -> Iterator[ClickHouseTraceStore]:
    opened = open_store(chdb_url, database="q_" + uuid.uuid4().hex[:12])
    opened.migrate()
    yield opened
    try:
        opened.backend.execute(f"DROP DATABASE IF EXISTS {opened.database}")
    finally:
        opened.close()


@pytest.fixture
def downable(store: ClickHouseTraceStore) -> DownableStore:
    return DownableStore(FaultInjectingStore(store), store)


@pytest.fixture
def seeded(store: ClickHouseTraceStore) -> Seeded:
    return seed(store)


@pytest.fixture
def base_url(downable: DownableStore, seeded: Seeded) -> Iterator[str]:
    """The query service over the seeded store (through `DownableStore`), on a free port."""
    with serve_in_thread(create_app(downable)) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        yield http
