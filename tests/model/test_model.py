from __future__ import annotations

import pytest
from pydantic import ValidationError

from datatracing.model import Resource, Span, StatusCode, Trace

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _span(span_id: str, start: int, end: int, parent: str | None = None, service: str = "a") -> Span:
    return Span(
        trace_id=TRACE,
        span_id=span_id,
        parent_span_id=parent,
        name="op",
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        resource=Resource(attributes={"service.name": service}),
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("trace_id", "XYZ"), ("trace_id", "0" * 32), ("span_id", "00f067aa0ba902b"), ("span_id", "0" * 16)],
)
def test_span_invalid_id_rejected(field: str, value: str) -> None:
    values = {
        "trace_id": TRACE,
        "span_id": "00f067aa0ba902b7",
        "name": "x",
        "start_time_unix_nano": 1,
        "end_time_unix_nano": 2,
        field: value,
    }
    with pytest.raises(ValidationError, match=field):
        Span.model_validate(values)


def test_span_end_before_start_rejected() -> None:
    with pytest.raises(ValidationError, match="before"):
        _span("00f067aa0ba902b7", 5, 4)


def test_trace_spans_sorted_by_start_then_id() -> None:
    late, early = _span("00000000000000b2", 20, 30, "00000000000000a1"), _span("00000000000000a1", 10, 40)
    trace = Trace.from_spans([late, early])
    assert [s.span_id for s in trace.spans] == ["00000000000000a1", "00000000000000b2"]
    assert trace.root == early
    assert trace.duration_ns == 30
    assert trace.services == ["a"]
    assert not trace.has_error


def test_trace_mixed_trace_ids_rejected() -> None:
    other = _span("00000000000000b2", 1, 2).model_copy(update={"trace_id": "1" * 32})
    with pytest.raises(ValidationError, match="trace's id"):
        Trace(trace_id=TRACE, spans=(_span("00000000000000a1", 1, 2), other))


def test_span_service_name_defaults_to_unknown() -> None:
    span = _span("00000000000000a1", 1, 2).model_copy(update={"resource": Resource()})
    assert span.service_name == "unknown_service"
    assert span.status.code is StatusCode.UNSET
