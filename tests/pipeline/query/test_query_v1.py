"""Contract tests of `/v1` over HTTP (the app in-process over a real chdb store): every route, every
filter, the cursor, 404, 400s naming the parameter, 503 with Retry-After while the store is down."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.pipeline.query.query_data import AUDIT, BASE_NS, MS, DownableStore, Seeded


def _iso(offset_ms: int) -> str:
    return datetime.fromtimestamp(BASE_NS / 1e9 + offset_ms / 1000, tz=UTC).isoformat()


def _found(client: httpx.Client, params: Any) -> set[str]:
    response = client.get("/v1/traces", params=params)
    assert response.status_code == 200, response.text
    return {hit["trace_id"] for hit in response.json()["data"]}


def _names(seeded: Seeded, *names: str) -> set[str]:
    return {seeded[name] for name in names}


# --- GET /v1/traces/{trace_id} ---------------------------------------------------------------------


def test_get_trace_returns_spans_and_sampling_audit(client: httpx.Client, seeded: Seeded) -> None:
    response = client.get(f"/v1/traces/{seeded['wide']}")

    body = response.json()
    assert response.status_code == 200
    assert [s["name"] for s in body["data"]["spans"]] == ["GET /cart", "pay", "book"]
    assert body["sampling"] == {
        "policy": AUDIT.policy,
        "policy_version": AUDIT.policy_version,
        "sample_rate": AUDIT.sample_rate,
    }


def test_get_trace_without_audit_has_null_sampling(client: httpx.Client, seeded: Seeded) -> None:
    body = client.get(f"/v1/traces/{seeded['long'].upper()}").json()
    assert body["sampling"] is None
    assert len(body["data"]["spans"]) == 3


def test_get_trace_short_id_is_left_padded(client: httpx.Client, seeded: Seeded) -> None:
    short = seeded["wide"].lstrip("0")
    assert client.get(f"/v1/traces/{short}").json()["data"]["trace_id"] == seeded["wide"]


@pytest.mark.parametrize("trace_id", ["f" * 32, "0" * 32, "0"])
def test_get_trace_unknown_is_404_envelope(client: httpx.Client, trace_id: str) -> None:
    response = client.get(f"/v1/traces/{trace_id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("trace_id", ["not-hex", "a" * 33])
def test_get_trace_malformed_id_is_400_naming_trace_id(client: httpx.Client, trace_id: str) -> None:
    response = client.get(f"/v1/traces/{trace_id}")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("trace_id")


# --- GET /v1/traces: every filter ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"long", "wide", "short", "pay"}),
        ({"service": "payments"}, {"wide", "pay"}),
        ({"operation": "step"}, {"long"}),
        ({"service": "checkout", "operation": "GET /cart"}, {"long", "wide", "short"}),
        ({"status": "error"}, {"wide"}),
        ({"status": "unset", "service": "ledger"}, set()),
        ({"start": _iso(150), "end": _iso(350)}, {"wide", "short"}),
        ({"min_duration_ms": 50}, {"long", "pay"}),
        ({"min_duration_ms": 50, "duration_scope": "span"}, {"pay"}),
        ({"max_duration_ms": 20.5}, {"wide", "short"}),
        ({"min_duration_ms": 4.5, "max_duration_ms": 6, "duration_scope": "span"}, {"wide", "short"}),
        ({"trace_service": ["checkout", "payments"]}, {"wide"}),
        ({"trace_service": "payments"}, {"wide", "pay"}),
        ({"min_spans": 3}, {"long", "wide"}),
        ({"max_spans": 1}, {"short", "pay"}),
        ({"has_error": "true"}, {"wide"}),
        ({"has_error": "false", "service": "checkout"}, {"long", "short"}),
        ({"service": "checkout", "has_error": "true"}, {"wide"}),
        ({"service": "checkout", "status": "error"}, set()),
        ({"attr": "http.method=POST"}, {"wide"}),
        ({"resource_attr": "region=us"}, {"short"}),
        ({"resource_attr": ["region=eu", "service.name=payments"]}, {"wide", "pay"}),
    ],
)
def test_search_filter_returns_matching_traces(
    client: httpx.Client, seeded: Seeded, params: dict[str, Any], expected: set[str]
) -> None:
    assert _found(client, params) == _names(seeded, *expected)


def test_search_page_is_newest_first_with_trace_summaries(client: httpx.Client, seeded: Seeded) -> None:
    body = client.get("/v1/traces").json()

    assert [hit["trace_id"] for hit in body["data"]] == [seeded[n] for n in ("pay", "short", "wide", "long")]
    wide = body["data"][2]
    assert wide["services"] == ["checkout", "ledger", "payments"]
    assert (wide["span_count"], wide["has_error"], wide["duration_ns"]) == (3, True, 20 * MS)
    assert body["next_cursor"] is None


def test_search_cursor_pages_cover_every_trace_once(client: httpx.Client, seeded: Seeded) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1} if cursor is None else {"limit": 1, "cursor": cursor}
        body = client.get("/v1/traces", params=params).json()
        seen += [hit["trace_id"] for hit in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [seeded[n] for n in ("pay", "short", "wide", "long")]


# --- 400s ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/v1/traces", {"servise": "checkout"}, "servise"),
        ("/v1/traces", {"min_duration": "5"}, "min_duration"),
        ("/v1/services", {"limit": "5"}, "limit"),
        ("/v1/stats", {"x": "1"}, "x"),
        ("/v1/traces/ab", {"start": "1"}, "start"),
        ("/v1/traces", {"min_duration_ms": "inf"}, "min_duration_ms"),
        ("/v1/traces", {"max_duration_ms": "nan"}, "max_duration_ms"),
        ("/v1/traces", {"max_duration_ms": "1e309"}, "max_duration_ms"),
        ("/v1/traces", {"min_duration_ms": "-1"}, "min_duration_ms"),
        ("/v1/traces", {"min_duration_ms": "1e300"}, "min_duration_ms"),
        ("/v1/traces", {"min_duration_ms": "5", "max_duration_ms": "4"}, "max_duration_ms"),
        ("/v1/traces", {"min_spans": "3", "max_spans": "2"}, "max_spans"),
        ("/v1/traces", {"max_spans": str(2**70)}, "max_spans"),
        ("/v1/traces", {"min_spans": "1.5"}, "min_spans"),
        ("/v1/traces", {"start": _iso(10), "end": _iso(0)}, "end"),
        ("/v1/dependencies", {"start": _iso(10), "end": _iso(0)}, "end"),
        ("/v1/traces", {"end": "0000-01-01T00:00:00"}, "end"),
        ("/v1/traces", {"end": "yesterday"}, "end"),
        ("/v1/traces", {"limit": "0"}, "limit"),
        ("/v1/traces", {"limit": "1001"}, "limit"),
        ("/v1/traces", {"limit": "many"}, "limit"),
        ("/v1/traces", {"status": "failed"}, "status"),
        ("/v1/traces", {"duration_scope": "both"}, "duration_scope"),
        ("/v1/traces", {"has_error": "maybe"}, "has_error"),
        ("/v1/traces", {"attr": "no-equals-sign"}, "attr"),
        ("/v1/traces", {"resource_attr": "=value"}, "resource_attr"),
        ("/v1/traces", {"attr": "k=" + "v" * 5000}, "attr"),
        ("/v1/traces", {"trace_service": ""}, "trace_service"),
        ("/v1/traces", {"cursor": "not-a-cursor"}, "cursor"),
        ("/v1/traces", {"service": ""}, "service"),
    ],
)
def test_bad_parameter_is_400_naming_it(
    client: httpx.Client, seeded: Seeded, path: str, params: dict[str, str], parameter: str
) -> None:
    response = client.get(path, params=params)

    error = response.json()["error"]
    assert response.status_code == 400, response.text
    assert error["code"] == "bad_request"
    assert parameter in error["message"].split(":")[0] or f"'{parameter}'" in error["message"]
    assert "_ns" not in error["message"]


@pytest.mark.parametrize(
    "end", ["0001-01-01T00:00:00", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-23:00"]
)
def test_search_time_far_from_now_is_clamped_not_500(client: httpx.Client, seeded: Seeded, end: str) -> None:
    response = client.get("/v1/traces", params={"end": end})
    assert response.status_code == 200


def test_search_naive_time_means_utc(client: httpx.Client, seeded: Seeded) -> None:
    naive = _iso(150).removesuffix("+00:00")
    assert _found(client, {"start": naive, "end": _iso(250)}) == _names(seeded, "wide")


# --- the other routes ------------------------------------------------------------------------------


def test_services_operations_dependencies_stats(client: httpx.Client, seeded: Seeded) -> None:
    window = {"start": _iso(-1000), "end": _iso(1000)}

    services = client.get("/v1/services").json()["data"]
    operations = client.get("/v1/services/checkout/operations").json()["data"]
    unknown = client.get("/v1/services/nobody/operations").json()["data"]
    edges = client.get("/v1/dependencies", params=window).json()["data"]
    stats = client.get("/v1/stats").json()["data"]

    assert services == ["checkout", "ledger", "payments"]
    assert operations == [
        {"name": "GET /cart", "span_kind": "server"},
        {"name": "step", "span_kind": "client"},
    ]
    assert unknown == []
    assert edges == [
        {"parent": "checkout", "child": "payments", "call_count": 1},
        {"parent": "payments", "child": "ledger", "call_count": 1},
    ]
    assert stats == {"spans": 8}


def test_unknown_path_is_404_envelope(client: httpx.Client) -> None:
    response = client.get("/v1/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_undeclared_method_is_405_with_allow(client: httpx.Client, seeded: Seeded) -> None:
    response = client.post(f"/v1/traces/{seeded['wide']}")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()["error"]["code"] == "method_not_allowed"


# --- 503 while the store is down -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/traces/" + "a" * 32,
        "/v1/traces",
        "/v1/services",
        "/v1/services/checkout/operations",
        "/v1/dependencies",
        "/v1/stats",
    ],
)
def test_store_down_is_503_with_retry_after_then_recovers(
    client: httpx.Client, downable: DownableStore, path: str
) -> None:
    downable.down = True
    down = client.get(path)
    downable.down = False
    up = client.get(path)

    assert down.status_code == 503
    assert int(down.headers["retry-after"]) > 0
    assert down.json()["error"]["code"] == "store_unavailable"
    assert up.status_code in (200, 404)
