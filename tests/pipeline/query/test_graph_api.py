"""`GET /v1/traces/{trace_id}/graph` over a real chdb store."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from datatracing.model import SpanKind
from datatracing.pipeline.bench._serve import serve_in_thread
from datatracing.pipeline.query import create_app
from datatracing.pipeline.store import ClickHouseTraceStore, SpanBatch, open_store
from tests.pipeline.query.graph_data import OTHER_TRACE_ID, TRACE_ID, make_span, sid

BASE = (time.time_ns() // 10**9 - 1800) * 10**9  # half an hour ago: inside the store's retention


@pytest.fixture(scope="module")
def chdb_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A chdb path held open for the module (one chdb path per process)."""
    url = "chdb://" + str(tmp_path_factory.mktemp("graph-chdb").resolve())
    keeper = open_store(url)
    yield url
    keeper.close()


@pytest.fixture
def store(chdb_url: str) -> Iterator[ClickHouseTraceStore]:
    store = open_store(chdb_url, database="g_" + uuid.uuid4().hex[:12])
    store.migrate()
    yield store
    try:
        store.backend.execute(f"DROP DATABASE IF EXISTS {store.database}")
    finally:
        store.close()


@pytest.fixture
def client(store: ClickHouseTraceStore) -> Iterator[httpx.Client]:
    """The query service with the graph route over `store`, served on a free port in a thread."""
    with serve_in_thread(create_app(store)) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http


def test_graph_route_stored_trace_answers_the_graph_with_stored_links(
    store: ClickHouseTraceStore, client: httpx.Client
) -> None:
    missing = "2" * 32
    store.insert(
        SpanBatch.from_spans(
            [
                make_span("req", 0, 100, kind=SpanKind.SERVER, service="api", base=BASE),
                make_span("send", 10, 20, parent="req", kind=SpanKind.PRODUCER, service="api", base=BASE),
                make_span(
                    "proc",
                    30,
                    90,
                    parent="send",
                    kind=SpanKind.CONSUMER,
                    service="enricher",
                    links=((OTHER_TRACE_ID, "up"), (missing, "up")),
                    base=BASE,
                ),
                make_span("orphan", 40, 60, parent="gone", service="enricher", base=BASE),
                make_span("up", 0, 5, trace_id=OTHER_TRACE_ID, base=BASE),
            ]
        )
    )

    response = client.get(f"/v1/traces/{TRACE_ID.upper()}/graph")

    assert response.status_code == 200
    graph = response.json()["data"]
    assert graph["trace_id"] == TRACE_ID
    assert graph["span_count"] == 4
    assert [(n["span_id"], n["depth"], n["orphan"]) for n in graph["nodes"]] == [
        (sid("req"), 0, False),
        (sid("send"), 1, False),
        (sid("proc"), 2, False),
        (sid("orphan"), 0, True),
    ]
    assert [(link["linked_trace_id"], link["in_trace"], link["stored"]) for link in graph["links"]] == [
        (OTHER_TRACE_ID, False, True),
        (missing, False, False),
    ]
    assert graph["critical_path"][0] == {"span_id": sid("req"), "start_ns": BASE, "end_ns": BASE + 10}
    assert graph["service_graph"]["edges"][0]["kind"] == "messaging"


def test_graph_route_links_to_more_than_a_thousand_traces_are_checked_in_chunks(
    store: ClickHouseTraceStore, client: httpx.Client
) -> None:
    linked = [f"{n:032x}" for n in range(1, 1201)]
    batch = make_span(
        "batch", 0, 50, kind=SpanKind.CONSUMER, links=tuple((t, "p") for t in linked), base=BASE
    )
    producers = [
        make_span("p", 0, 1, kind=SpanKind.PRODUCER, trace_id=t, base=BASE) for t in (linked[0], linked[-1])
    ]
    store.insert(SpanBatch.from_spans([batch, *producers]))

    response = client.get(f"/v1/traces/{TRACE_ID}/graph")

    assert response.status_code == 200
    stored = [link["linked_trace_id"] for link in response.json()["data"]["links"] if link["stored"]]
    assert stored == [linked[0], linked[-1]]


def test_graph_route_unknown_trace_is_a_404_envelope(client: httpx.Client) -> None:
    response = client.get(f"/v1/traces/{'f' * 32}/graph")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_graph_route_all_zero_id_is_a_404_like_get_trace(client: httpx.Client) -> None:
    response = client.get("/v1/traces/0/graph")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("bad", ["xyz", "1" * 33])
def test_graph_route_malformed_id_is_a_400_naming_trace_id(client: httpx.Client, bad: str) -> None:
    response = client.get(f"/v1/traces/{bad}/graph")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "bad_request"
    assert error["message"].startswith("trace_id:")
