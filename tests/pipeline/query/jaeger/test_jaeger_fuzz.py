"""Arbitrary parameter values on the Jaeger and Tempo routes: a 2xx, 400 or 404, never a 500."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

_values = st.one_of(
    st.text(max_size=12),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["1ms", "-1s", "1.5h", "{}", '{"k":"v"}', '{"k":1}', "[", "2026-01-01T00:00:00Z", "k:v"]),
)
_v1 = st.dictionaries(
    st.sampled_from(
        [
            "service",
            "operation",
            "tags",
            "tag",
            "minDuration",
            "maxDuration",
            "start",
            "end",
            "limit",
            "traceID",
        ]
    ),
    _values,
    max_size=5,
)
_v3 = st.dictionaries(
    st.sampled_from(
        [
            "query.serviceName",
            "query.operationName",
            "query.attributes",
            "query.durationMin",
            "query.durationMax",
            "query.searchDepth",
            "query.startTimeMin",
            "query.startTimeMax",
        ]
    ),
    _values,
    max_size=6,
)
_fixture_ok = settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_fixture_ok
@given(_v1)
def test_jaeger_search_any_parameters_never_500(client: TestClient, params: dict[str, str]) -> None:
    response = client.get("/api/traces?" + urlencode(params))
    assert response.status_code in (200, 400), response.text
    assert set(response.json()) == {"data", "total", "limit", "offset", "errors"}


@_fixture_ok
@given(_v3, st.sampled_from(["/api/v3/traces", "/api/v3/trace-summaries"]))
def test_jaeger_v3_search_any_parameters_never_500(
    client: TestClient, params: dict[str, str], path: str
) -> None:
    response = client.get(path + "?" + urlencode(params))
    assert response.status_code in (200, 400, 404), response.text
    assert "error" in response.json() or response.status_code == 200


@_fixture_ok
@given(
    st.text(min_size=1, max_size=40), st.dictionaries(st.sampled_from(["start", "end"]), _values, max_size=2)
)
def test_trace_by_id_any_id_never_500(client: TestClient, raw_id: str, params: dict[str, str]) -> None:
    path = quote(raw_id, safe="")
    for prefix in ("/api/traces/", "/api/v3/traces/", "/api/v2/traces/"):
        response = client.get(prefix + path + "?" + urlencode(params))
        assert response.status_code in (200, 400, 404), (prefix, response.text)
