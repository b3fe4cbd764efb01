"""Response bodies of `/v1`, as models for the OpenAPI document (routes return plain dicts of this shape)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from datatracing.model import Trace
from datatracing.pipeline.query._graph_model import TraceGraph
from datatracing.pipeline.store import DependencyEdge, Operation, TraceSampling, TraceSummary

__all__ = [
    "DependenciesBody",
    "ErrorBody",
    "OperationsBody",
    "ServicesBody",
    "StatsBody",
    "TraceBody",
    "TraceGraphBody",
    "TracePageBody",
    "error_responses",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    field: str = Field(description="The query or path parameter at fault (`request` when none).")
    message: str


class ErrorInfo(BaseModel):
    code: str = Field(
        description="`bad_request`, `not_found`, `method_not_allowed`, `store_unavailable`, ..."
    )
    message: str = Field(description="Names the parameter the request sent, e.g. `end: is before start`.")
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorBody(_Body):
    """Every error answer."""

    error: ErrorInfo


class TraceBody(_Body):
    """One trace, spans sorted by start, and the sampler's audit of it (null when none was stamped)."""

    data: Trace
    sampling: TraceSampling | None


class TraceGraphBody(_Body):
    """A trace's graph: spans in waterfall order, links, critical path, services, service graph."""

    data: TraceGraph


class TracePageBody(_Body):
    """A page of trace summaries, newest first; pass `next_cursor` as `cursor` for the next page."""

    data: list[TraceSummary]
    next_cursor: str | None


class ServicesBody(_Body):
    data: list[str]


class OperationsBody(_Body):
    data: list[Operation]


class DependenciesBody(_Body):
    data: list[DependencyEdge]


class SpanCount(_Body):
    spans: int = Field(description="Distinct spans stored (a span stored twice counts once).")


class StatsBody(_Body):
    data: SpanCount


_DESCRIPTIONS = {
    400: "A parameter is unknown, malformed or out of range; the message names it.",
    404: "No such trace.",
    503: "The trace store is unavailable; retry after `Retry-After` seconds.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of a route (FastAPI's `responses=`)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": _DESCRIPTIONS[status]}
        if status == 503:
            entry["headers"] = {
                "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
            }
        out[status] = entry
    return out
