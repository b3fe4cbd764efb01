"""The `/v1` OpenAPI document: fresh, complete, and obeyed by the live app (schemathesis over HTTP)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from datatracing.pipeline.query import create_app, v1_document, v1_document_text
from datatracing.pipeline.query._v1_params import time_ns
from datatracing.pipeline.store import ClickHouseTraceStore
from tests.pipeline.query.query_data import Seeded

# Longer query strings exceed the HTTP server's request-line limit (h11: 16 KiB for the whole head).
_MAX_QUERY_CHARS = 12_000
DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "openapi-v1.json"
_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_checked_in_document_is_what_the_code_generates(store: ClickHouseTraceStore) -> None:
    assert DOCUMENT.read_text(encoding="utf-8") == v1_document_text(create_app(store))


def test_document_has_every_v1_route_and_only_v1(store: ClickHouseTraceStore) -> None:
    document = v1_document(create_app(store))

    assert set(document["paths"]) == {
        "/v1/traces/{trace_id}",
        "/v1/traces/{trace_id}/graph",
        "/v1/traces",
        "/v1/services",
        "/v1/services/{service}/operations",
        "/v1/dependencies",
        "/v1/stats",
        "/v1/sql",
    }
    for path, item in document["paths"].items():
        (operation,) = item.values()  # one method per path
        responses = operation["responses"]
        assert "422" not in responses
        assert {"200", "400", "503"} <= set(responses), path
        assert "Retry-After" in responses["503"]["headers"]
    assert "404" in document["paths"]["/v1/traces/{trace_id}"]["get"]["responses"]


def _conflicting(query: dict[str, Any]) -> bool:
    """Whether a schema-valid query breaks a rule between parameters the document states in words
    (ranges in order) or carries a cursor this service did not hand out: a 400 is the right answer."""
    if "cursor" in query:
        return True
    now = time.time_ns()
    start = time_ns(str(query["start"]), "start") if "start" in query else None
    end = time_ns(str(query["end"]), "end") if "end" in query else now
    if start is not None and end is not None and start > end:
        return True
    for low, high in (("min_duration_ms", "max_duration_ms"), ("min_spans", "max_spans")):
        if low in query and high in query and float(query[high]) < float(query[low]):
            return True
    return False


def _operations() -> list[Any]:
    schema = schemathesis.openapi.from_path(DOCUMENT)
    return [result.ok() for result in schema.get_all_operations()]


def _cases() -> list[Any]:
    """(operation, mode): invalid requests only where the operation has parameters to get wrong."""
    paths = json.loads(DOCUMENT.read_text(encoding="utf-8"))["paths"]
    return [
        pytest.param(op, mode, id=f"{op.label}-{mode.value}")
        for op in _operations()
        for mode in GenerationMode
        if mode is GenerationMode.POSITIVE
        or any(map(_can_be_invalid, paths[op.path][op.method.lower()].get("parameters", [])))
    ]


def _can_be_invalid(parameter: dict[str, Any]) -> bool:
    """A parameter some request could get wrong (any string is a valid service name)."""
    schema = parameter["schema"]
    return schema.get("type") != "string" or bool(set(schema) - {"type", "title", "description"})


@pytest.mark.parametrize(("operation", "mode"), _cases())
def test_schemathesis_no_server_error_and_every_answer_documented(
    base_url: str, seeded: Seeded, operation: Any, mode: GenerationMode
) -> None:
    """Generated requests (valid ones, and invalid ones that must be refused with a 4xx) against the
    live app: no 500, and each answer's status, headers and body are those the document declares."""
    checks = _CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
        ],
    )
    def run(case: Any) -> None:
        if len(urlencode(case.query or {}, doseq=True)) > _MAX_QUERY_CHARS:
            # uvicorn refuses a request line this long itself (400, text/plain) before the app runs.
            case.call_and_validate(base_url=base_url, checks=[not_a_server_error])
            return
        # Generated SQL text is rarely a valid statement: only GET requests must be accepted.
        get = operation.method.lower() == "get"
        valid = mode is GenerationMode.POSITIVE and get and not _conflicting(case.query or {})
        case.call_and_validate(
            base_url=base_url, checks=checks + ([positive_data_acceptance] if valid else [])
        )

    run()


@pytest.mark.parametrize("name", ["long", "wide"])
def test_schemathesis_real_trace_answer_matches_the_document(
    base_url: str, seeded: Seeded, name: str
) -> None:
    operation = next(op for op in _operations() if op.path == "/v1/traces/{trace_id}")
    case = operation.Case(path_parameters={"trace_id": seeded[name]})

    response = case.call_and_validate(base_url=base_url, checks=_CHECKS)

    assert response.status_code == 200


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    params=st.dictionaries(
        st.sampled_from(
            ["min_duration_ms", "max_duration_ms", "min_spans", "max_spans", "limit", "start", "end"]
        ),
        st.one_of(
            st.sampled_from(["inf", "-inf", "nan", "1e309", "-0", "1e-400", "0x10", " 1", "", "١٢"]),
            st.floats(allow_nan=True, allow_infinity=True).map(repr),
            st.integers(min_value=-(2**80), max_value=2**80).map(str),
            st.datetimes().map(lambda d: d.isoformat()),
            st.text(max_size=20),
        ),
        max_size=4,
    )
)
def test_odd_search_values_are_never_a_server_error(
    client: httpx.Client, seeded: Seeded, params: dict[str, str]
) -> None:
    response = client.get("/v1/traces", params=params)

    assert response.status_code in (200, 400), response.text
    body = response.json()
    if response.status_code == 400:
        assert body["error"]["message"].split(":")[0] in params
    assert json.dumps(body)
