"""Query fixtures: one migrated chdb store per module, and an app with the Jaeger and Tempo routers."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator

import pytest

from datatracing.pipeline.query import create_app
from datatracing.pipeline.store import ClickHouseTraceStore, open_store

with warnings.catch_warnings():
    # Starlette warns at import that its client will move to `httpx2`; the client works as it is.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseTraceStore]:
    """A migrated chdb store shared by the module's tests (each test uses its own trace ids/services)."""
    url = "chdb://" + str(tmp_path_factory.mktemp("chdb").resolve())
    opened = open_store(url, database="q_" + uuid.uuid4().hex[:12])
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def client(store: ClickHouseTraceStore) -> Iterator[TestClient]:
    """The whole query app (`create_app` mounts the Jaeger and Tempo routers)."""
    app = create_app(store)
    with TestClient(app) as test_client:
        yield test_client
