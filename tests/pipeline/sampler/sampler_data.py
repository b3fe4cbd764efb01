"""Builders for the sampler tests: fixture traces, spans, messages, engines with a test clock."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from datatracing.model import Resource, Span, Status, StatusCode
from datatracing.pipeline.sampler._engine import PartitionEngine, SamplerSettings
from datatracing.pipeline.sampler._results import Decided
from datatracing.pipeline.sampler.policies import CompiledPolicy, TraceView, default_policy, load_policy
from datatracing.wire import encode_spans

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "traces"
FIXTURE_NAMES = sorted(p.stem for p in FIXTURES.glob("*.json"))
S = 1_000_000_000  # one second in ns
T0 = 1_700_000_000 * S

_spans = TypeAdapter(list[Span])


def fixture_spans(name: str) -> list[Span]:
    """A trace fixture: a JSON list of `datatracing.model.Span` objects."""
    return _spans.validate_json((FIXTURES / f"{name}.json").read_bytes())


def fixture_view(name: str) -> TraceView:
    return TraceView.from_spans(fixture_spans(name))


def trace_id(n: int) -> str:
    return f"{n:032x}"


def span(
    trace: int | str,
    n: int,
    parent: int | None = None,
    *,
    name: str = "work",
    start_ms: int = 0,
    end_ms: int = 1,
    service: str = "svc",
    error: bool = False,
    attributes: dict[str, Any] | None = None,
) -> Span:
    """A small valid span; `n` is its span id, `parent` its parent's (None: a root)."""
    return Span(
        trace_id=trace if isinstance(trace, str) else trace_id(trace),
        span_id=f"{n:016x}",
        parent_span_id=None if parent is None else f"{parent:016x}",
        name=name,
        start_time_unix_nano=T0 + start_ms * 1_000_000,
        end_time_unix_nano=T0 + end_ms * 1_000_000,
        attributes=attributes or {},
        status=Status(code=StatusCode.ERROR if error else StatusCode.UNSET),
        resource=Resource(attributes={"service.name": service}),
    )


def trace_spans(trace: int, count: int, *, root: bool = True, first_id: int = 1) -> list[Span]:
    """`count` spans of one trace: a root (unless `root=False`) and children of it."""
    ids = range(first_id, first_id + count)
    return [
        span(trace, i, None if (root and i == first_id) else first_id, start_ms=i, end_ms=i + 5) for i in ids
    ]


def policy(*policies: dict[str, Any], version: str | None = None) -> CompiledPolicy:
    doc: dict[str, Any] = {"policies": list(policies)}
    if version is not None:
        doc["version"] = version
    return load_policy(doc, "<test>")


def engine(compiled: CompiledPolicy | None = None, **settings: Any) -> PartitionEngine:
    return PartitionEngine(0, compiled or default_policy(), SamplerSettings(**settings))


class Feeder:
    """Adds messages at increasing offsets with an explicit clock (seconds since T0)."""

    def __init__(self, target: PartitionEngine, start_offset: int = 0) -> None:
        self.engine = target
        self.offset = start_offset - 1
        self.decided: list[Decided] = []

    def add(
        self,
        spans: Iterable[Span] | bytes,
        at_s: float,
        headers: Sequence[tuple[str, bytes | None]] = (),
    ) -> Any:
        self.offset += 1
        payload = spans if isinstance(spans, bytes) else encode_spans(spans)
        result = self.engine.add(self.offset, payload, headers, T0 + int(at_s * S))
        self.decided.extend(result.decided)
        return result

    def poll(self, at_s: float) -> list[Decided]:
        decided = self.engine.poll(T0 + int(at_s * S))
        self.decided.extend(decided)
        return decided


def model_json(spans: Iterable[Span]) -> bytes:
    return json.dumps([s.model_dump(mode="json") for s in spans]).encode()


def otlp_json(spans: Iterable[Span]) -> bytes:
    """OTLP JSON with hex ids, built from the protobuf encoding."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    doc = json_format.MessageToDict(ExportTraceServiceRequest.FromString(encode_spans(spans)))
    for rs in doc.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for sp in ss.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in sp:
                        sp[key] = _b64_to_hex(sp[key])
    return json.dumps(doc).encode()


def _b64_to_hex(value: str) -> str:
    import base64

    return base64.b64decode(value).hex()
