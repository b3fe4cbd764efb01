"""Jaeger's `/api/v3` routes (OTLP JSON) over a real chdb store, shaped like Jaeger's own snapshots."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from google.protobuf import json_format
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from starlette.testclient import TestClient

from datatracing.model import SpanKind
from datatracing.pipeline.store import ClickHouseTraceStore
from datatracing.wire import request_to_spans
from tests.pipeline.query.jaeger.jaeger_data import BASE_NS, insert, new_trace_id, rich_trace, span

GOLDEN = json.loads((Path(__file__).parents[3] / "fixtures" / "jaeger" / "apiv3_shapes.json").read_text())
WINDOW = {
    "query.startTimeMin": datetime.fromtimestamp(BASE_NS / 1e9 - 60, UTC).isoformat().replace("+00:00", "Z"),
    "query.startTimeMax": "2100-01-01T00:00:00.000000001Z",
}


@pytest.fixture(scope="module")
def rich(store: ClickHouseTraceStore) -> str:
    tid = new_trace_id()
    insert(store, rich_trace(tid, "v3"))
    return tid


def _keys(doc: Any) -> Any:
    """The shape of a JSON document: key sets and value types, recursively (first item of lists)."""
    if isinstance(doc, dict):
        return {k: _keys(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_keys(doc[0])] if doc else []
    return type(doc).__name__


def _spans_of(result: dict[str, Any]) -> list[Any]:
    """Parse an OTLP JSON result back through protobuf (hex ids to base64) into model spans."""
    for rs in result["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for sp in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in sp:
                        sp[key] = base64.b64encode(bytes.fromhex(sp[key])).decode()
                for link in sp.get("links", ()):
                    for key in ("traceId", "spanId"):
                        link[key] = base64.b64encode(bytes.fromhex(link[key])).decode()
    return request_to_spans(json_format.ParseDict(result, TracesData()))  # type: ignore[arg-type]


def test_v3_services_object(client: TestClient, rich: str) -> None:
    body = client.get("/api/v3/services").json()
    assert set(body) == {"services"}
    assert {"v3-web", "v3-pay", "v3-db"} <= set(body["services"])


def test_v3_operations_shape_of_jaeger_snapshot(client: TestClient, store: ClickHouseTraceStore) -> None:
    tid = new_trace_id()
    insert(store, [span(tid, 1, service="v3-ops", name="get_users", kind=SpanKind.SERVER)])
    body = client.get("/api/v3/operations?service=v3-ops").json()
    assert body == {"operations": [{"name": "get_users", "spanKind": "server"}]}
    assert _keys(body) == _keys(GOLDEN["operations"])
    assert client.get("/api/v3/operations?service=v3-ops&span_kind=client").json() == {"operations": []}


def test_v3_trace_by_id_otlp_json_hex_ids_round_trips(
    client: TestClient, store: ClickHouseTraceStore, rich: str
) -> None:
    response = client.get(f"/api/v3/traces/{rich}")
    assert response.status_code == 200
    body = response.json()
    first = body["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert first["traceId"] == rich
    assert len(first["spanId"]) == 16
    assert isinstance(first["kind"], int)
    assert isinstance(first["startTimeUnixNano"], str)
    golden_span = GOLDEN["trace"]["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert set(golden_span) <= set(first)
    trace = store.get_trace(rich)
    assert trace is not None
    assert sorted(_spans_of(body["result"]), key=lambda s: s.span_id) == sorted(
        trace.spans, key=lambda s: s.span_id
    )
    # one ResourceSpans per service, not one per change of service in time order
    assert len(body["result"]["resourceSpans"]) == 3


def test_v3_trace_by_id_unknown_404_no_traces_found(client: TestClient) -> None:
    response = client.get("/api/v3/traces/" + "9" * 32)
    assert (response.status_code, response.json()) == (404, GOLDEN["not_found"])


@pytest.mark.parametrize(
    "url",
    ["/api/v3/traces/nothex", "/api/v3/traces/" + "a" * 32 + "?startTime=yesterday"],
)
def test_v3_trace_by_id_bad_parameter_400_gateway_error(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["httpCode"] == 400
    assert error["message"].startswith("malformed parameter")


def test_v3_find_traces_filters_and_snake_case_aliases(client: TestClient, rich: str) -> None:
    params = {**WINDOW, "query.serviceName": "v3-pay", "query.attributes": json.dumps({"payment.id": "p-1"})}
    body = client.get("/api/v3/traces?" + urlencode(params)).json()
    assert {
        s["traceId"] for rs in body["result"]["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]
    } == {rich}
    snake = {
        "query.start_time_min": WINDOW["query.startTimeMin"],
        "query.start_time_max": WINDOW["query.startTimeMax"],
        "query.service_name": "v3-pay",
        "query.operation_name": "charge",
        "query.duration_min": "39ms",
        "query.num_traces": "5",
    }
    assert client.get("/api/v3/traces?" + urlencode(snake)).status_code == 200
    none = client.get(
        "/api/v3/traces?" + urlencode({**WINDOW, "query.serviceName": "v3-pay", "query.durationMin": "1h"})
    )
    assert (none.status_code, none.json()) == (404, GOLDEN["not_found"])


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"query.serviceName": "x"}, "query.startTimeMin and query.startTimeMax are required"),
        ({**WINDOW, "query.startTimeMin": "2026-13-01T00:00:00Z"}, "query.startTimeMin"),
        ({**WINDOW, "query.durationMin": "fast"}, "query.durationMin"),
        ({**WINDOW, "query.searchDepth": "many"}, "query.searchDepth"),
        ({**WINDOW, "query.searchDepth": "0"}, "query.searchDepth"),
        ({**WINDOW, "query.attributes": "[1]"}, "query.attributes"),
    ],
)
def test_v3_find_traces_bad_parameter_400_names_it(
    client: TestClient, params: dict[str, str], needle: str
) -> None:
    response = client.get("/api/v3/traces?" + urlencode(params))
    assert response.status_code == 400
    assert needle in response.json()["error"]["message"]


def test_v3_trace_summaries_counts_per_service(client: TestClient, rich: str) -> None:
    body = client.get("/api/v3/trace-summaries?" + urlencode({**WINDOW, "query.serviceName": "v3-db"})).json()
    (summary,) = body["summaries"]
    assert _keys(body) == _keys(GOLDEN["summaries"])
    assert summary == {
        "traceId": rich,
        "rootServiceName": "v3-web",
        "rootOperationName": "GET /checkout",
        "minStartTimeUnixNano": str(BASE_NS),
        "maxEndTimeUnixNano": str(BASE_NS + 50_000_000),
        "spanCount": 3,
        "errorSpanCount": 1,
        "orphanSpanCount": 0,
        "services": [
            {"name": "v3-db", "spanCount": 1, "errorSpanCount": 0},
            {"name": "v3-pay", "spanCount": 1, "errorSpanCount": 1},
            {"name": "v3-web", "spanCount": 1, "errorSpanCount": 0},
        ],
    }
    empty = client.get("/api/v3/trace-summaries?" + urlencode({**WINDOW, "query.serviceName": "v3-none"}))
    assert (empty.status_code, empty.json()) == (200, {"summaries": []})
