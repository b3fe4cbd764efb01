"""Jaeger's `/api/*` query routes over a real chdb store, with the requests Jaeger UI and Grafana send."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from starlette.testclient import TestClient

from datatracing.model import SpanKind
from datatracing.pipeline.store import ClickHouseTraceStore
from tests.pipeline.query.jaeger.jaeger_data import BASE_NS, insert, new_trace_id, rich_trace, sid, span

ENVELOPE_KEYS = {"data", "total", "limit", "offset", "errors"}
START_US = (BASE_NS - 60 * 10**9) // 1000
END_US = time.time_ns() // 1000 + 60 * 10**6


def _ok(client: TestClient, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ENVELOPE_KEYS
    assert (body["limit"], body["offset"]) == (0, 0)
    return body


def _jaeger_error(client: TestClient, url: str, status: int) -> str:
    response = client.get(url)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["data"] is None
    assert (body["total"], body["limit"], body["offset"]) == (0, 0, 0)
    (error,) = body["errors"]
    assert error["code"] == status
    message: str = error["msg"]
    return message


@pytest.fixture(scope="module")
def rich(store: ClickHouseTraceStore) -> str:
    tid = new_trace_id()
    insert(store, rich_trace(tid, "ja"))
    return tid


def test_services_lists_every_service_with_total(client: TestClient, rich: str) -> None:
    body = _ok(client, "/api/services")
    assert {"ja-web", "ja-pay", "ja-db"} <= set(body["data"])
    assert body["total"] == len(body["data"])
    assert body["errors"] is None


def test_service_operations_legacy_route_names_only(client: TestClient, rich: str) -> None:
    body = _ok(client, "/api/services/ja-pay/operations")
    assert (body["data"], body["total"]) == (["charge"], 1)


def test_operations_with_span_kind_objects(client: TestClient, store: ClickHouseTraceStore) -> None:
    tid = new_trace_id()
    insert(
        store,
        [
            span(tid, 1, service="ops svc", name="recv", kind=SpanKind.SERVER),
            span(tid, 2, parent=1, service="ops svc", name="send", kind=SpanKind.PRODUCER, start=1),
        ],
    )
    body = _ok(client, "/api/operations?" + urlencode({"service": "ops svc"}))
    assert sorted(body["data"], key=lambda o: o["name"]) == [
        {"name": "recv", "spanKind": "server"},
        {"name": "send", "spanKind": "producer"},
    ]
    body = _ok(client, "/api/operations?service=ops%20svc&spanKind=producer")
    assert (body["data"], body["total"]) == ([{"name": "send", "spanKind": "producer"}], 1)
    # Grafana joins the service into the path with url.JoinPath, which escapes it.
    assert sorted(_ok(client, "/api/services/" + quote("ops svc") + "/operations")["data"]) == [
        "recv",
        "send",
    ]


def test_operations_without_service_400_names_parameter(client: TestClient) -> None:
    assert _jaeger_error(client, "/api/operations", 400) == "parameter 'service' is required"


def test_trace_by_id_whole_trace_in_data(client: TestClient, rich: str) -> None:
    body = _ok(client, f"/api/traces/{rich}")
    (trace,) = body["data"]
    assert trace["traceID"] == rich
    assert body["errors"] is None
    assert [s["operationName"] for s in trace["spans"]] == ["GET /checkout", "charge", "SELECT cards"]
    root, charge, query = trace["spans"]
    services = {pid: p["serviceName"] for pid, p in trace["processes"].items()}
    assert [services[s["processID"]] for s in trace["spans"]] == ["ja-web", "ja-pay", "ja-db"]
    assert root["references"] == []
    assert charge["references"] == [
        {"refType": "CHILD_OF", "traceID": rich, "spanID": sid(1)},
        {"refType": "FOLLOWS_FROM", "traceID": "f" * 32, "spanID": "e" * 16},
    ]
    assert query["references"] == [{"refType": "CHILD_OF", "traceID": rich, "spanID": sid(2)}]
    assert (charge["startTime"], charge["duration"]) == ((BASE_NS + 1_000_000) // 1000, 39_000)
    assert {"key": "error", "type": "bool", "value": True} in charge["tags"]
    assert root["logs"] == [
        {
            "timestamp": (BASE_NS + 10_000) // 1000,
            "fields": [
                {"key": "event", "type": "string", "value": "cache miss"},
                {"key": "key", "type": "string", "value": "k1"},
            ],
        }
    ]
    web = trace["processes"][root["processID"]]
    assert web["tags"] == [
        {"key": "host.name", "type": "string", "value": "web-1"},
        {"key": "pid", "type": "int64", "value": 42},
    ]


def test_trace_by_id_upper_case_and_time_window_accepted(client: TestClient, rich: str) -> None:
    body = _ok(client, f"/api/traces/{rich.upper()}?start={START_US}&end={END_US}")
    assert body["data"][0]["traceID"] == rich


def test_trace_by_id_unknown_404_trace_not_found(client: TestClient) -> None:
    assert _jaeger_error(client, "/api/traces/" + "9" * 32, 404) == "trace not found"


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("/api/traces/xyz", "traceID"),
        ("/api/traces/" + "0" * 32, "traceID"),
        ("/api/traces/" + "a" * 33, "traceID"),
        ("/api/traces/" + "a" * 32 + "?start=soon", "'start'"),
    ],
)
def test_trace_by_id_bad_parameter_400_names_it(client: TestClient, url: str, needle: str) -> None:
    assert needle in _jaeger_error(client, url, 400)


def test_trace_by_id_accept_protobuf_otlp_traces_data(client: TestClient, rich: str) -> None:
    response = client.get(f"/api/traces/{rich}", headers={"Accept": "application/protobuf"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/protobuf"
    data = TracesData.FromString(response.content)
    assert sorted(s.name for rs in data.resource_spans for ss in rs.scope_spans for s in ss.spans) == [
        "GET /checkout",
        "SELECT cards",
        "charge",
    ]


def _search(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    base = {"start": START_US, "end": END_US}
    body = _ok(client, "/api/traces?" + urlencode({**base, **params}, doseq=True))
    assert body["total"] == 0
    assert body["errors"] is None
    data: list[dict[str, Any]] = body["data"]
    return data


def test_search_span_filters_return_whole_traces(client: TestClient, rich: str) -> None:
    (trace,) = _search(client, service="ja-db")
    assert trace["traceID"] == rich
    assert len(trace["spans"]) == 3
    assert [t["traceID"] for t in _search(client, service="ja-pay", operation="charge")] == [rich]
    assert _search(client, service="ja-pay", operation="nope") == []


def test_search_tags_json_and_tag_pairs_match_attributes(client: TestClient, rich: str) -> None:
    assert [
        t["traceID"] for t in _search(client, service="ja-web", tags=json.dumps({"http.method": "GET"}))
    ] == [rich]
    assert [t["traceID"] for t in _search(client, service="ja-pay", tag="payment.id:p-1")] == [rich]
    assert _search(client, service="ja-pay", tag="payment.id:p-2") == []


def test_search_error_tag_filters_on_status(client: TestClient, rich: str) -> None:
    assert [t["traceID"] for t in _search(client, service="ja-pay", tags='{"error":"true"}')] == [rich]
    assert _search(client, service="ja-web", tags='{"error":"true"}') == []
    assert [t["traceID"] for t in _search(client, service="ja-web", tag="otel.status_code:OK")] == [rich]


def test_search_go_durations_bound_span_duration(client: TestClient, rich: str) -> None:
    assert [t["traceID"] for t in _search(client, service="ja-pay", minDuration="38ms")] == [rich]
    assert _search(client, service="ja-pay", minDuration="39.001ms") == []
    assert [t["traceID"] for t in _search(client, service="ja-pay", maxDuration="1s", minDuration="1us")] == [
        rich
    ]


def test_search_limit_newest_first(client: TestClient, store: ClickHouseTraceStore) -> None:
    tids = [new_trace_id() for _ in range(3)]
    insert(store, [span(tid, 1, service="ja-limit", start=i * 1_000_000) for i, tid in enumerate(tids)])
    assert [t["traceID"] for t in _search(client, service="ja-limit", limit=2)] == [tids[2], tids[1]]


def test_search_default_window_finds_recent_trace(client: TestClient, rich: str) -> None:
    body = _ok(client, "/api/traces?service=ja-web&lookback=2h")  # Jaeger UI sends lookback; it is ignored
    assert [t["traceID"] for t in body["data"]] == [rich]


def test_search_trace_ids_missing_one_reported_in_errors(client: TestClient, rich: str) -> None:
    missing = "0" * 16 + "7" * 16
    body = _ok(client, f"/api/traces?traceID={rich}&traceID={missing}")
    assert [t["traceID"] for t in body["data"]] == [rich]
    assert body["errors"] == [{"msg": "trace not found", "traceID": "7" * 16}]


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("", "parameter 'service' is required"),
        ("service=a&limit=0", "limit must be greater than 0"),
        ("service=a&limit=ten", "'limit'"),
        ("service=a&start=abc", "'start'"),
        ("service=a&start=20&end=10", "start time must be before end time"),
        ("service=a&minDuration=5", "'minDuration'"),
        ("service=a&maxDuration=1x", "'maxDuration'"),
        ("service=a&minDuration=-1s", "'minDuration'"),
        ("service=a&minDuration=2s&maxDuration=1s", "'maxDuration' should be greater than 'minDuration'"),
        ("service=a&tags=%7Bbad", "malformed 'tags' parameter"),
        ("service=a&tags=%7B%22k%22%3A1%7D", "malformed 'tags' parameter"),
        ("service=a&tag=nocolon", "malformed 'tag' parameter"),
        ("traceID=zz", "cannot parse traceID param"),
    ],
)
def test_search_bad_parameter_400_jaeger_envelope(client: TestClient, query: str, needle: str) -> None:
    assert needle in _jaeger_error(client, "/api/traces?" + query, 400)


def test_dependencies_sum_calls_per_edge_and_filter_by_service(client: TestClient, rich: str) -> None:
    end_ms = time.time_ns() // 10**6 + 60_000
    body = _ok(client, f"/api/dependencies?endTs={end_ms}&lookback={3 * 3600 * 1000}")
    edges = {(d["parent"], d["child"]): d["callCount"] for d in body["data"]}
    assert edges[("ja-web", "ja-pay")] == 1
    assert edges[("ja-pay", "ja-db")] == 1
    assert set(body["data"][0]) == {"parent", "child", "callCount"}
    only = _ok(client, f"/api/dependencies?endTs={end_ms}&lookback={3 * 3600 * 1000}&service=ja-db")["data"]
    assert only == [{"parent": "ja-pay", "child": "ja-db", "callCount": 1}]
    assert _ok(client, f"/api/dependencies?endTs={end_ms}&lookback=1")["data"] == []


def test_dependencies_bad_end_400_names_it(client: TestClient) -> None:
    assert "'endTs'" in _jaeger_error(client, "/api/dependencies?endTs=yesterday", 400)


def test_grafana_jaeger_requests_parse_as_its_client_does(client: TestClient, rich: str) -> None:
    # The URLs grafana-jaeger-datasource's pkg/jaeger/client.go and querydata.go build (search in µs,
    # trace by id and dependencies in ms), and the fields it reads.
    assert "ja-web" in _ok(client, "/api/services")["data"]
    assert _ok(client, "/api/services/ja-web/operations")["data"] == ["GET /checkout"]
    params = {
        "service": "ja-web",
        "operation": "GET /checkout",
        "tags": json.dumps({"http.method": "GET"}),
        "minDuration": "1ms",
        "maxDuration": "1s",
        "limit": "20",
        "start": str(START_US),
        "end": str(END_US),
    }
    (hit,) = _ok(client, "/api/traces?" + urlencode(params))["data"]
    earliest = min(hit["spans"], key=lambda s: s["startTime"])
    assert hit["processes"][earliest["processID"]]["serviceName"] == "ja-web"
    assert (earliest["operationName"], earliest["duration"]) == ("GET /checkout", 50_000)
    # querydata.go passes the time range in milliseconds to the trace-by-id call (Jaeger reads µs).
    trace = _ok(client, f"/api/traces/{rich}?start={START_US // 1000}&end={END_US // 1000}")["data"][0]
    for s in trace["spans"]:
        assert {
            "traceID",
            "spanID",
            "operationName",
            "references",
            "startTime",
            "duration",
            "tags",
            "logs",
        } <= set(s)
        assert s["processID"] in trace["processes"]
        assert isinstance(s["startTime"], int)
        assert isinstance(s["duration"], int)
    # utils.TransformTraceResponse: the parent is the first CHILD_OF reference.
    parents = {}
    for s in trace["spans"]:
        child_of = [r["spanID"] for r in s["references"] if r["refType"] == "CHILD_OF"]
        parents[s["spanID"]] = child_of[0] if child_of else None
    assert parents == {sid(1): None, sid(2): sid(1), sid(3): sid(2)}
    end_ms = time.time_ns() // 10**6
    deps = _ok(client, f"/api/dependencies?endTs={end_ms}&lookback=7200000")["data"]
    assert {"parent": "ja-web", "child": "ja-pay", "callCount": 1} in deps
