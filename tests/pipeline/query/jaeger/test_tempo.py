"""Tempo's `GET /api/v2/traces/{id}` over a real chdb store, as Grafana's Tempo data source calls it."""

from __future__ import annotations

import base64

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from starlette.testclient import TestClient

from datatracing.pipeline.store import ClickHouseTraceStore
from datatracing.wire import request_to_spans
from tests.pipeline.query.jaeger.jaeger_data import insert, new_trace_id, rich_trace


@pytest.fixture(scope="module")
def rich(store: ClickHouseTraceStore) -> str:
    tid = new_trace_id()
    insert(store, rich_trace(tid, "tempo"))
    return tid


def _trace_by_id_response(payload: bytes) -> TracesData:
    """Decode Tempo's `TraceByIDResponse`: field 1 (`trace`, length-delimited) holds `TracesData`."""
    assert payload[0] == 0x0A  # field 1, wire type 2
    length, shift, offset = 0, 0, 1
    while True:
        byte = payload[offset]
        length |= (byte & 0x7F) << shift
        offset, shift = offset + 1, shift + 7
        if not byte & 0x80:
            break
    assert offset + length == len(payload)
    return TracesData.FromString(payload[offset:])


def test_tempo_v2_protobuf_trace_by_id_response_holds_every_span(
    client: TestClient, store: ClickHouseTraceStore, rich: str
) -> None:
    # Grafana: Accept: application/protobuf, start/end in unix seconds.
    response = client.get(
        f"/api/v2/traces/{rich}?start=1&end=4102444800", headers={"Accept": "application/protobuf"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/protobuf"
    spans = request_to_spans(_trace_by_id_response(response.content))  # type: ignore[arg-type]
    trace = store.get_trace(rich)
    assert trace is not None
    assert sorted(spans, key=lambda s: s.span_id) == sorted(trace.spans, key=lambda s: s.span_id)


def test_tempo_v2_json_stock_protobuf_mapping_base64_ids(client: TestClient, rich: str) -> None:
    body = client.get(f"/api/v2/traces/{rich}").json()
    (first, *_) = body["trace"]["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert base64.b64decode(first["traceId"]).hex() == rich
    assert first["kind"].startswith("SPAN_KIND_")


def test_tempo_v2_unknown_id_404_so_grafana_falls_back(client: TestClient) -> None:
    response = client.get("/api/v2/traces/" + "9" * 32, headers={"Accept": "application/protobuf"})
    assert (response.status_code, response.text) == (404, "trace not found")


@pytest.mark.parametrize("url", ["/api/v2/traces/not-hex", "/api/v2/traces/" + "a" * 32 + "?start=noon"])
def test_tempo_v2_bad_parameter_400_plain_text(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
