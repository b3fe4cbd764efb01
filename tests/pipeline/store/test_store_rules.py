"""The store's write path holds spans to the wire codec's rules: both decoders, same inputs, same reasons.

The columnar (engine) path and the Python path must accept and refuse exactly the same messages
with the same reason, and that reason is the one the sampler gives for the same span, so a trace
the sampler keeps is a trace the store can write.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.store import SpanBatch, open_store
from datatracing.pipeline.store.write._engine import OtlpStage
from datatracing.wire import invalid_span_reason, split_request
from tests.wire.pb_strategies import rule_requests

_KEYS = [("trace_id", "ascending"), ("span_id", "ascending"), ("timestamp", "ascending")]


@pytest.fixture(scope="module")
def stage(chdb_url: str) -> Iterator[OtlpStage]:
    store = open_store(chdb_url)
    yield store.backend.stage()
    store.close()


def _first_reason(request: ExportTraceServiceRequest) -> str | None:
    spans = (span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans)
    return next((r for r in map(invalid_span_reason, spans) if r is not None), None)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests=st.lists(rule_requests(), min_size=1, max_size=4))
def test_store_rules_engine_and_python_paths_refuse_alike_with_the_codecs_reason(
    stage: OtlpStage, requests: list[ExportTraceServiceRequest]
) -> None:
    messages = [(r.SerializeToString(), SamplingAudit()) for r in requests]

    python, python_rejects = SpanBatch.from_otlp_with_rejects(messages)
    engine, engine_rejects = SpanBatch.from_otlp_with_rejects(messages, stage=stage)

    assert engine_rejects == python_rejects
    assert engine.table.sort_by(_KEYS).to_pylist() == python.table.sort_by(_KEYS).to_pylist()
    expected = [(i, reason) for i, r in enumerate(requests) if (reason := _first_reason(r)) is not None]
    assert python_rejects == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=rule_requests())
def test_store_rules_every_part_the_sampler_keeps_is_stored(
    stage: OtlpStage, request: ExportTraceServiceRequest
) -> None:
    parts, _ = split_request(request, request.SerializeToString())
    messages = [(part.payload, SamplingAudit()) for part in parts]

    batch, rejects = SpanBatch.from_otlp_with_rejects(messages, stage=stage)

    assert rejects == []
    assert len(batch) == sum(part.span_count for part in parts)
