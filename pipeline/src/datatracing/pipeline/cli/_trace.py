"""`datatracing trace ID`: fetch a trace from the query service and print it in the terminal.

Without options: the span tree (`GET /v1/traces/{id}`). `--graph`: the service graph and the
per-service summary as tables; `--critical-path`: the span tree with the critical-path spans
highlighted, and the path's segments (both from `GET /v1/traces/{id}/graph`).

Exit codes: 0 printed; 1 the trace is not found, or the query service is unreachable or answers with
an error; 2 the trace id is malformed. Every error is one line on stderr, `error: ...`.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from datatracing.model import Span, StatusCode, Trace
from datatracing.pipeline.cli._base import api_key_headers

__all__ = [
    "TraceLookupError",
    "fetch",
    "print_trace",
    "render_critical_path",
    "render_service_graph",
    "render_tree",
]

_HEX = re.compile(r"^[0-9a-fA-F]{1,32}$")
EXIT_NOT_FOUND = 1
EXIT_BAD_ID = 2


class TraceLookupError(Exception):
    """A lookup that failed, with the process exit code to end with."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.1f}ms"


def _label(span: Span, trace_start: int) -> str:
    offset_ms = (span.start_time_unix_nano - trace_start) / 1e6
    duration_ms = span.duration_ns / 1e6
    error = " [bold red]ERROR[/]" if span.status.code is StatusCode.ERROR else ""
    return (
        f"[cyan]{span.service_name}[/] {span.name} "
        f"[dim]+{offset_ms:.1f}ms[/] [bold]{duration_ms:.1f}ms[/]{error} [dim]{span.span_id}[/]"
    )


def render_tree(trace: Trace) -> Tree:
    """A rich Tree of the spans, children under parents (orphans under the trace node), by start."""
    start = trace.start_time_unix_nano
    root = Tree(
        f"trace [bold]{trace.trace_id}[/] {len(trace.spans)} spans, {trace.duration_ns / 1e6:.1f}ms, "
        f"services: {', '.join(trace.services)}"
    )
    ids = {s.span_id for s in trace.spans}
    children: dict[str | None, list[Span]] = {}
    for span in trace.spans:
        parent = span.parent_span_id if span.parent_span_id in ids else None
        children.setdefault(parent, []).append(span)

    def add(node: Tree, parent: str | None) -> None:
        for span in children.get(parent, []):
            add(node.add(_label(span, start)), span.span_id)

    add(root, None)
    return root


def render_critical_path(graph: dict[str, Any]) -> Group:
    """The waterfall with the spans on the critical path highlighted (their time on it in yellow),
    then the path's segments in time order."""
    start = graph["start_ns"]
    on_path = sum(segment["end_ns"] - segment["start_ns"] for segment in graph["critical_path"])
    tree = Tree(
        Text.from_markup(
            f"trace [bold]{graph['trace_id']}[/] {graph['span_count']} spans, {_ms(graph['duration_ns'])}, "
            f"critical path {_ms(on_path)} in {len(graph['critical_path'])} segments"
        )
    )
    by_id: dict[str, dict[str, Any]] = {}
    stack: list[Tree] = [tree]
    for node in graph["nodes"]:
        by_id.setdefault(node["span_id"], node)
        del stack[node["depth"] + 1 :]
        critical = node["critical_ns"]
        label = Text.from_markup(
            f"[cyan]{node['service']}[/] {node['name']} [dim]+{_ms(node['start_ns'] - start)}[/] "
            f"[bold]{_ms(node['duration_ns'])}[/]"
            + (f" [bold yellow]◆ {_ms(critical)} on path[/]" if critical else "")
            + (" [bold red]ERROR[/]" if node["is_error"] else "")
            + (" [magenta]orphan[/]" if node["orphan"] else "")
            + f" [dim]{node['span_id']}[/]"
        )
        if not critical:
            label.stylize("dim")
        stack.append(stack[-1].add(label))
    table = Table(title="critical path segments")
    for column in ("#", "start", "length"):
        table.add_column(column, justify="right")
    for column in ("service", "span", "span id"):
        table.add_column(column)
    for number, segment in enumerate(graph["critical_path"], start=1):
        node = by_id.get(segment["span_id"], {})
        table.add_row(
            str(number),
            "+" + _ms(segment["start_ns"] - start),
            _ms(segment["end_ns"] - segment["start_ns"]),
            str(node.get("service", "")),
            str(node.get("name", "")),
            segment["span_id"],
        )
    return Group(tree, table)


def render_service_graph(graph: dict[str, Any]) -> Group:
    """The service graph's edges and the per-service summary, as tables."""
    edges = Table(title=f"service graph of trace {graph['trace_id']}")
    for column in ("from", "to", "kind", "calls", "time"):
        edges.add_column(column, justify="right" if column in ("calls", "time") else "left")
    for edge in graph["service_graph"]["edges"]:
        edges.add_row(
            edge["parent"], edge["child"], edge["kind"], str(edge["calls"]), _ms(edge["duration_ns"])
        )
    summary = Table(title="services")
    for column in ("service", "spans", "errors", "self time", "on critical path"):
        summary.add_column(column, justify="left" if column == "service" else "right")
    for row in graph["services"]:
        summary.add_row(
            row["service"],
            str(row["spans"]),
            f"[bold red]{row['errors']}[/]" if row["errors"] else "0",
            _ms(row["self_ns"]),
            _ms(row["critical_ns"]),
        )
    return Group(edges, summary)


def fetch(query_url: str, trace_id: str, suffix: str = "") -> Any:
    """The `data` of `GET {query_url}/v1/traces/{trace_id}{suffix}`; raises `TraceLookupError`."""
    raw = trace_id.strip()
    if not _HEX.match(raw) or int(raw, 16) == 0:
        raise TraceLookupError(f"trace id: {raw[:64]!r} is not 1-32 hex characters, non-zero", EXIT_BAD_ID)
    url = f"{query_url}/v1/traces/{raw.lower()}{suffix}"
    try:
        response = httpx.get(url, timeout=30, headers=api_key_headers())
    except httpx.HTTPError as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TraceLookupError(f"query service at {query_url} unreachable: {message}", 1) from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict) and "data" in body:
        return body["data"]
    error = body.get("error") if isinstance(body, dict) else None
    message = str(error.get("message") or "") if isinstance(error, dict) else ""
    if response.status_code == 404:
        raise TraceLookupError(message or f"trace {raw} not found", EXIT_NOT_FOUND)
    code = EXIT_BAD_ID if response.status_code == 400 else 1
    detail = message or f"HTTP {response.status_code} without an error message"
    raise TraceLookupError(f"query service at {query_url}: {detail}", code)


def print_trace(
    query_url: str,
    trace_id: str,
    console: Console | None = None,
    *,
    graph: bool = False,
    critical_path: bool = False,
) -> int:
    """Print the trace (see the module doc for what each option prints); returns the exit code."""
    out = console or Console()
    try:
        if graph or critical_path:
            data = fetch(query_url, trace_id, "/graph")
            if critical_path:
                out.print(render_critical_path(data))
            if graph:
                out.print(render_service_graph(data))
        else:
            out.print(render_tree(Trace.model_validate(fetch(query_url, trace_id))))
    except TraceLookupError as exc:
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    return 0
